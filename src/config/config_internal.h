/* config_internal.h: what the config files share, grouped by the file that
 * defines it. The files depend one way, keys.c <- parse.c <- validate.c: a
 * file uses what is declared here for itself and the files above it in this
 * list, never below (tests/structure/layers.sh checks it with nm). */
#ifndef RELGRAD_CONFIG_INTERNAL_H
#define RELGRAD_CONFIG_INTERNAL_H

#include "relgrad/config.h"

#include <stdio.h>

/* Longest input length we accept (keeps sequence lengths far from int
 * overflow) and the largest alphabet. */
#define RG_MAX_LEN     1000000
#define RG_MAX_SYMBOLS 1000000

/* ---- keys.c: the key table, messages, one key's own checks ---------------------- */

/* err->msg = the formatted text; returns 2. */
int rg_fail(rg_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "WHERE: key 'KEY': ..." ; returns 2. */
int rg_fail_key(rg_error *err, const char *where, int k, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Where key k's value lives in c. */
void *rg_key_ptr(rg_config *c, int k);
const void *rg_key_cptr(const rg_config *c, int k);
/* Where key k was set, or `fallback` when it still has its default. */
const char *rg_key_origin(const rg_config *c, int k, const char *fallback);
/* " (set at quick.ini:3)" or " (default)": for the other key of a pair. */
const char *rg_key_origin_note(const rg_config *c, int k, char *buf, size_t n);

/* The single-key checks of key k (its range, a non-empty list, no repeats). */
int rg_config_check_key(const rg_config *c, int k, const char *where, rg_error *err);

/* ---- parse.c: text into values ------------------------------------------------------- */

/* Numbers: a whole number in int range, a finite real; on failure `why`
 * says what is wrong. */
bool rg_parse_int(const char *s, int *out, char *why, size_t n);
bool rg_parse_real(const char *s, double *out, char *why, size_t n);

/* Expand a list of lengths ("8,16,20..80:5") into *out (malloc'd, count in
 * *n), each in [lo, hi], none repeated. 0, or -1 with why. */
int rg_expand_ints(const char *text, int lo, int hi, int **out, int *n, char *why, size_t nwhy);

/* The closest of n names to s when it is close enough to be a likely typo,
 * else NULL (for "did you mean" hints). */
const char *rg_closest_name(const char *s, const char *const *names, int n);

#endif
