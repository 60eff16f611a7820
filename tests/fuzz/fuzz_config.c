/* fuzz_config.c: libFuzzer target for the config reader (src/config/).
 *
 * The input is used twice:
 *   1. as an INI file: rg_config_load on top of the defaults, then
 *      rg_config_validate;
 *   2. split at newlines into up to 32 "key=value" arguments:
 *      rg_config_override, then rg_config_validate.
 * Neither may crash, leak or hit undefined behaviour (the build adds
 * AddressSanitizer and UBSan). Every error message must be a terminated
 * string naming where it came from. And every config that loads must
 * survive the trip a checkpoint makes (each key to text with rg_config_get
 * and back with rg_config_set, to the same text and the same validation
 * verdict); a failure there means a run that could not be resumed or
 * evaluated from its own checkpoint.
 *
 * Built and run by tools/fuzz.sh config SECONDS; seeds in corpus_config/.
 */
#define _GNU_SOURCE
#include "relgrad/config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int mem_fd = -1;
static char mem_path[64];

static void die(const char *what, const char *key, const char *a, const char *b) {
    fprintf(stderr, "fuzz_config: %s (key %s): '%s' vs '%s'\n", what, key, a, b);
    abort();
}

/* The message is terminated and names where the bad value came from: the
 * file, an argument, or (validation of a value set elsewhere) that place. */
static void check_message(const rg_error *err, const char *source) {
    if (!memchr(err->msg, '\0', sizeof err->msg)) die("unterminated message", "-", "", "");
    if (!strstr(err->msg, source) && !strstr(err->msg, mem_path) &&
        !strstr(err->msg, "argument ") && !strstr(err->msg, "roundtrip"))
        die("message does not say where", "-", err->msg, source);
}

/* Every key to text and back, as a checkpoint stores and reloads it. */
static void roundtrip(const rg_config *c, const char *source) {
    int n = rg_config_key_count();
    rg_config copy;
    rg_config_defaults(&copy);
    rg_error err;
    for (int k = 0; k < n; k++) {
        const char *name = rg_config_key(k)->name;
        char text[4096], again[4096];
        if (rg_config_get(c, name, text, sizeof text)) die("get failed", name, "", "");
        if (rg_config_set(&copy, name, text, "roundtrip", &err))
            die("a loaded value does not set back", name, text, err.msg);
        if (rg_config_get(&copy, name, again, sizeof again)) die("get failed", name, "", "");
        if (strcmp(text, again)) die("value changed on the way back", name, text, again);
    }
    rg_error e1, e2;
    int v1 = rg_config_validate(c, source, &e1), v2 = rg_config_validate(&copy, source, &e2);
    if (v1 != v2) die("validation differs after the round trip", "-", e1.msg, e2.msg);
    if (v1) check_message(&e1, source);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    mem_fd = memfd_create("fuzz_config.ini", 0);
    if (mem_fd < 0) {
        perror("memfd_create");
        abort();
    }
    snprintf(mem_path, sizeof mem_path, "/proc/self/fd/%d", mem_fd);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* 1. as an INI file */
    if (ftruncate(mem_fd, 0) || (size && pwrite(mem_fd, data, size, 0) != (ssize_t)size)) abort();
    rg_config c;
    rg_error err;
    rg_config_defaults(&c);
    if (rg_config_load(&c, mem_path, &err) == 0) {
        roundtrip(&c, mem_path);
    } else {
        check_message(&err, mem_path);
    }

    /* 2. as key=value arguments, one per line */
    char *buf = malloc(size + 1);
    if (!buf) return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    char *argv[32];
    int argc = 0;
    for (char *line = buf; argc < 32;) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = '\0';
        argv[argc++] = line;
        if (!nl) break;
        line = nl + 1;
    }
    rg_config d;
    rg_config_defaults(&d);
    if (rg_config_override(&d, argc, argv, 2, &err) == 0)
        roundtrip(&d, "fuzz arguments");
    else
        check_message(&err, "argument ");
    free(buf);
    return 0;
}
