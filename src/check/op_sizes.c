/* op_sizes.c: the sizes and variants of an op check (rg_op_sizes,
 * include/relgrad/ops.h) as key=value words: their defaults, parsing one
 * word with a message that says what is wrong, and the whole set as text.
 * `relgrad gradcheck OP` and tests/test_gradcheck.c set them this way. */
#include "relgrad/gradcheck.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void rg_op_sizes_defaults(rg_op_sizes *s) {
    *s = (rg_op_sizes){.B = 2,
                       .H = 3,
                       .T = 5,
                       .Tk = 7,
                       .D = 4,
                       .C = 5,
                       .N = 6,
                       .in = 3,
                       .out = 4,
                       .V = 5,
                       .diag = -1,
                       .terms = 1,
                       .batched = 1,
                       .bias = 1,
                       .col0 = -1,
                       .t0 = -1,
                       .base = 10000,
                       .seed = 1};
}

/* The integer keys, in the order they are printed. */
static const struct {
    const char *name;
    size_t offset;
    int lo, hi;
} INT_KEYS[] = {
    {"B", offsetof(rg_op_sizes, B), 1, 64},
    {"H", offsetof(rg_op_sizes, H), 1, 64},
    {"T", offsetof(rg_op_sizes, T), 1, 256},
    {"Tk", offsetof(rg_op_sizes, Tk), 1, 256},
    {"D", offsetof(rg_op_sizes, D), 1, 256},
    {"C", offsetof(rg_op_sizes, C), 1, 256},
    {"N", offsetof(rg_op_sizes, N), 1, 4096},
    {"in", offsetof(rg_op_sizes, in), 1, 256},
    {"out", offsetof(rg_op_sizes, out), 1, 256},
    {"V", offsetof(rg_op_sizes, V), 1, 256},
    {"diag", offsetof(rg_op_sizes, diag), -1, 256},
    {"terms", offsetof(rg_op_sizes, terms), 0, 1},
    {"per_row", offsetof(rg_op_sizes, per_row), 0, 1},
    {"key_end", offsetof(rg_op_sizes, key_end), 0, 1},
    {"window", offsetof(rg_op_sizes, window), 0, 256},
    {"batched", offsetof(rg_op_sizes, batched), 0, 1},
    {"ta", offsetof(rg_op_sizes, ta), 0, 1},
    {"tb", offsetof(rg_op_sizes, tb), 0, 1},
    {"bcast", offsetof(rg_op_sizes, bcast), 0, 1},
    {"bias", offsetof(rg_op_sizes, bias), 0, 1},
    {"cols", offsetof(rg_op_sizes, cols), 0, 1024},
    {"col0", offsetof(rg_op_sizes, col0), -1, 1024},
    {"t0", offsetof(rg_op_sizes, t0), -1, 256},
    {"base", offsetof(rg_op_sizes, base), 2, 1000000},
};
enum { N_INT_KEYS = sizeof INT_KEYS / sizeof INT_KEYS[0] };

static int *int_key(rg_op_sizes *s, int k) {
    return (int *)((char *)s + INT_KEYS[k].offset);
}
static int int_value(const rg_op_sizes *s, int k) {
    return *(const int *)((const char *)s + INT_KEYS[k].offset);
}

int rg_op_sizes_set(rg_op_sizes *s, const char *key, const char *value, const char *where,
                    rg_error *err) {
    if (!strcmp(key, "seed")) {
        char *end;
        unsigned long long v = strtoull(value, &end, 10);
        if (!*value || *end || *value == '-') {
            snprintf(err->msg, sizeof err->msg,
                     "%s: key 'seed': '%s' is not a whole number >= 0; write e.g. seed=3", where,
                     value);
            return 2;
        }
        s->seed = v;
        return 0;
    }
    if (!strcmp(key, "scale")) {
        char *end;
        double v = strtod(value, &end);
        if (!*value || *end || !(v >= 0 && v <= 1000)) {
            snprintf(err->msg, sizeof err->msg,
                     "%s: key 'scale': '%s' is not a number in 0..1000 (0: the op's default); "
                     "write e.g. scale=0.7",
                     where, value);
            return 2;
        }
        s->scale = v;
        return 0;
    }
    for (int k = 0; k < N_INT_KEYS; k++) {
        if (strcmp(key, INT_KEYS[k].name)) continue;
        char *end;
        long v = strtol(value, &end, 10);
        int lo = INT_KEYS[k].lo, hi = INT_KEYS[k].hi, example = hi < 2 ? hi : lo > 2 ? lo : 2;
        if (!*value || *end || v < lo || v > hi) {
            snprintf(err->msg, sizeof err->msg,
                     "%s: key '%s': '%s' is not a whole number in %d..%d; write e.g. %s=%d", where,
                     key, value, lo, hi, key, example);
            return 2;
        }
        *int_key(s, k) = (int)v;
        return 0;
    }
    char keys[512];
    size_t at = 0;
    for (int k = 0; k < N_INT_KEYS && at < sizeof keys; k++)
        at += (size_t)snprintf(keys + at, sizeof keys - at, "%s, ", INT_KEYS[k].name);
    snprintf(err->msg, sizeof err->msg,
             "%s: key '%s' is not a size of an op check; use one of %sscale or seed "
             "(`relgrad gradcheck list` says which an op reads)",
             where, key, keys);
    return 2;
}

const char *rg_op_sizes_text(const rg_op_sizes *s, char *buf, size_t n) {
    size_t at = 0;
    buf[0] = '\0';
    for (int k = 0; k < N_INT_KEYS && at < n; k++)
        at += (size_t)snprintf(buf + at, n - at, "%s=%d ", INT_KEYS[k].name, int_value(s, k));
    if (at < n)
        snprintf(buf + at, n - at, "scale=%g seed=%llu", s->scale, (unsigned long long)s->seed);
    return buf;
}
