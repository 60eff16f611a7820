/* testing.h: helpers the test files share: configs set through the key
 * table (as a user's file would), and the registry's scheme names. */
#ifndef RELGRAD_TESTS_TESTING_H
#define RELGRAD_TESTS_TESTING_H

#include "relgrad/relgrad.h"

#include <criterion/criterion.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* Set key = value, failing the test with the config's message if refused. */
static inline void test_set(rg_config *c, const char *key, const char *value) {
    rg_error err;
    int rc = rg_config_set(c, key, value, "test", &err);
    cr_assert_eq(rc, 0, "setting %s = %s: %s", key, value, err.msg);
}

/* test_setf(c, "d_model", "%d", 12) */
static inline void test_setf(rg_config *c, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static inline void test_setf(rg_config *c, const char *key, const char *fmt, ...) {
    char value[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(value, sizeof value, fmt, ap);
    va_end(ap);
    test_set(c, key, value);
}

/* A tiny model: 3 heads (not a power of two), small tables so DeBERTa's
 * clamping and T5's log buckets are exercised at these lengths, FIRE's
 * threshold low enough that both branches of max(p_i, thr) are taken. */
static inline void test_tiny_config(rg_config *c, const char *pos, int mem_len) {
    rg_config_defaults(c);
    test_set(c, "d_model", "12");
    test_set(c, "n_heads", "3");
    test_set(c, "n_layers", "2");
    test_set(c, "d_ff", "20");
    test_set(c, "n_symbols", "5");
    test_set(c, "max_positions", "128");
    test_set(c, "t5_buckets", "8");
    test_set(c, "t5_max_distance", "20");
    test_set(c, "deberta_span", "3");
    test_set(c, "fire_width", "4");
    test_set(c, "fire_L", "4");
    test_set(c, "init_std", "0.3"); /* large enough that positional terms matter */
    test_set(c, "train_len", "4");
    test_set(c, "eval_lens", "8");
    test_set(c, "pos", pos);
    test_setf(c, "mem_len", "%d", mem_len);
    test_setf(c, "segment_len", "%d", mem_len ? 5 : 0);
}

/* A fresh directory under /tmp. */
static inline void test_temp_dir(char *buf, size_t n) {
    snprintf(buf, n, "/tmp/relgrad-test-XXXXXX");
    cr_assert(mkdtemp(buf), "mkdtemp failed");
}

static inline int test_remove_entry(const char *path, const struct stat *sb, int flag,
                                    struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

/* rm -rf dir (without a shell). */
static inline void test_remove_dir(const char *dir) {
    cr_assert_eq(nftw(dir, test_remove_entry, 16, FTW_DEPTH | FTW_PHYS), 0, "cannot remove %s",
                 dir);
}

/* The scheme's name in the registry. */
static inline const char *scheme(int id) {
    return rg_scheme_name(id);
}

#endif
