/* provenance.c: where a run's results came from, as its results group
 * records it (rg_run_info): the git commit of this build (the same text
 * `relgrad --version` prints, written at build time by
 * cmake/build_info.cmake), its precision, and the machine's CPU (model name,
 * family and model from /proc/cpuinfo). */
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

/* /proc/cpuinfo's first processor as "MODEL NAME (family F, model M)", or
 * "unknown". The family and model are there because the name alone can say
 * too little: on the cloud machines relgrad runs on, Zen 3, Zen 4 and Zen 5
 * all call themselves "AMD EPYC", and float32 results are bit-exact on one
 * CPU, not across them (BLIS's kernels and relgrad's vector paths are
 * chosen per CPU). */
static void cpu_model(char *buf, size_t n) {
    snprintf(buf, n, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512], name[256] = "", family[32] = "", model[32] = "";
    while (fgets(line, sizeof line, f) && line[0] != '\n') { /* the first block */
        char *colon = strchr(line, ':');
        if (!colon) continue;
        char *key_end = colon; /* "model\t\t: 2": the key is "model" */
        while (key_end > line && isspace((unsigned char)key_end[-1])) key_end--;
        *key_end = '\0';
        const char *v = colon + 1;
        while (*v == ' ' || *v == '\t') v++;
        int vlen = (int)strcspn(v, "\n");
        while (vlen > 0 && isspace((unsigned char)v[vlen - 1])) vlen--;
        if (!strcmp(line, "model name") && !name[0]) snprintf(name, sizeof name, "%.*s", vlen, v);
        if (!strcmp(line, "cpu family")) snprintf(family, sizeof family, "%.*s", vlen, v);
        if (!strcmp(line, "model")) snprintf(model, sizeof model, "%.*s", vlen, v);
    }
    fclose(f);
    if (!name[0]) return;
    if (family[0] && model[0])
        snprintf(buf, n, "%s (family %s, model %s)", name, family, model);
    else
        snprintf(buf, n, "%s", name);
}

void rg_run_info_provenance(rg_run_info *info) {
    snprintf(info->git_commit, sizeof info->git_commit, "%s", RELGRAD_GIT_COMMIT);
    snprintf(info->precision, sizeof info->precision, "%s", RG_REAL_NAME);
    cpu_model(info->cpu_model, sizeof info->cpu_model);
}
