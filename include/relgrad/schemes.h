/* schemes.h: the positional schemes (SPEC sections 2 and 6), seen from
 * outside: their registry, their options, and the formulas the tests check.
 *
 * Each scheme is one file in src/schemes/ behind one interface
 * (src/schemes/scheme.h) and one line in the registry
 * (src/schemes/registry.c); docs/adding-a-scheme.md walks through adding one.
 * A scheme is named by its registry index, its "id".
 */
#ifndef RELGRAD_SCHEMES_H
#define RELGRAD_SCHEMES_H

#include "relgrad/tensor.h"

#include <stdbool.h>

#define RG_MAX_SCHEMES     16     /* room in the registry                          */
#define RG_DEFAULT_POS     "rope" /* the scheme of a config that names none     */
#define RG_MAX_SCHEME_LIST 16     /* entries of a per-layer scheme list             */

/* A scheme per layer: layer l uses id[l % n] (SPEC section 6). */
typedef struct rg_scheme_list {
    int n;
    unsigned char id[RG_MAX_SCHEME_LIST];
} rg_scheme_list;

/* The schemes' own config keys (each declared by its scheme's file). */
typedef struct rg_scheme_opts {
    int max_positions;            /* learned: rows of the position table         */
    double rope_base, rope_scale; /* rope: frequency base, interpolation factor  */
    int t5_buckets, t5_max_distance;
    int deberta_span;
    int fire_width;
    double fire_L;
    int cope_npos;
    double alibi_left; /* alibi: keys before the query are penalized s_h (|r| - this) */
} rg_scheme_opts;

int rg_scheme_count(void);
const char *rg_scheme_name(int id);    /* "rope"                                */
const char *rg_scheme_summary(int id); /* one line, for `relgrad list schemes`  */
int rg_scheme_find(const char *name);  /* id, or -1                             */
/* Relative schemes add no absolute embedding and read positions through
 * differences p_i - p_j (fire also through the query's own position); they
 * allow segment memory and per-layer lists. */
bool rg_scheme_is_relative(int id);
/* Shift-invariant schemes give the same scores when every position moves
 * by the same amount (all relative schemes but fire, whose normalization
 * reads the query's own position). */
bool rg_scheme_is_shift_invariant(int id);
/* Whether the scheme reads pos_ids at all (none and cope do not: their
 * positions come from the causal mask or from the content). */
bool rg_scheme_reads_positions(int id);
/* "none, sinusoidal, learned, ..." (every registered name) into buf. */
const char *rg_scheme_names_text(char *buf, unsigned long n);

/* ---- formulas, exposed for the tests ------------------------------------------------- */

/* ALiBi slopes for H heads (Press et al. 2022). */
void rg_alibi_slopes(int H, double *slopes);
/* ALiBi's bias of slope s at distance r = p_i - p_j: -s |r|, or -s (r - left)
 * for a key before the query (r > 0) when alibi_left = left > 0. */
double rg_alibi_bias(double slope, int r, double left);
/* T5 bucket of a causal distance n >= 0 (Raffel et al. 2020). */
int rg_t5_bucket(int n, int n_buckets, int max_distance);
/* The encoder's bidirectional bucket of a signed distance r = p_i - p_j (as
 * HF T5's bidirectional=True): keys after the query (r < 0) use the upper
 * half, each half bucketed causally with n_buckets/2 buckets and the same
 * max_distance (SPEC section 7). */
int rg_t5_bucket_bidirectional(int r, int n_buckets, int max_distance);
/* DeBERTa's relative index clamp(delta, -K, K-1) + K, in 0..2K-1. */
int rg_deberta_rel(int delta, int K);
/* FIRE's bias op (src/schemes/fire.c) with its vector code chosen: simd 0
 * (SSE4, any x86-64-v2), 1 (AVX2) or 2 (AVX-512), at most rg_fire_level(),
 * the widest this CPU runs and the one the scheme uses; every level gives
 * the same bits, forward and backward. Queries at qpos [Bp,T], keys at kpos
 * [Bp,Tk], key j visible to query i when j <= i + diag; p = c [1], L [1],
 * fc1.weight [W,1], fc1.bias [W], fc2.weight [H,W], fc2.bias [H]; L_scale =
 * fire_L. Returns E [Bp,H,T,Tk]. */
int rg_fire_level(void);
rg_tensor *rg_fire_bias_at(rg_ctx *ctx, int simd, const int *qpos, const int *kpos, int Bp, int T,
                           int Tk, int diag, rg_tensor *const p[6], real L_scale);

#endif
