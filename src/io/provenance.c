/* provenance.c: where a run's results came from, as its results group
 * records it (rg_run_info): the git commit of this build (the same text
 * `relgrad --version` prints, written at build time by
 * cmake/build_info.cmake), its precision, and the machine's CPU model (the
 * first "model name" line of /proc/cpuinfo). */
#include "relgrad/io.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* Written by the CMake build; a build without that step (tools/fuzz.sh
 * compiles the sources itself) records "unknown". */
#if defined(__has_include) && __has_include("relgrad_build_info.h")
#include "relgrad_build_info.h"
#else
#define RELGRAD_GIT_COMMIT "unknown"
#endif

void rg_run_info_init(rg_run_info *info) {
    *info = (rg_run_info){.fit = -1, .selected_step = 0, .val_exact_match = NAN};
}

/* The value of /proc/cpuinfo's first "model name" line into buf, or
 * "unknown". */
static void cpu_model(char *buf, size_t n) {
    snprintf(buf, n, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10)) continue;
        const char *colon = strchr(line, ':');
        if (!colon) continue;
        const char *v = colon + 1;
        while (*v == ' ' || *v == '\t') v++;
        size_t len = strcspn(v, "\n");
        while (len > 0 && isspace((unsigned char)v[len - 1])) len--;
        if (len) snprintf(buf, n, "%.*s", (int)len, v);
        break;
    }
    fclose(f);
}

void rg_run_info_provenance(rg_run_info *info) {
    snprintf(info->git_commit, sizeof info->git_commit, "%s", RELGRAD_GIT_COMMIT);
    snprintf(info->precision, sizeof info->precision, "%s", RG_REAL_NAME);
    cpu_model(info->cpu_model, sizeof info->cpu_model);
}
