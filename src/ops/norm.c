/* norm.c: LayerNorm and the causally masked softmax.
 *
 * LayerNorm, per row of C values, with xhat = (x - mean) * rstd and
 * rstd = 1 / sqrt(var + eps):   y = g * xhat + b.
 * Backward: db += dy, dg += dy * xhat, and with dxhat = dy * g,
 *   dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))
 * (differentiating through mean and var gives the two subtracted means).
 *
 * Softmax, per row: y_j = exp(x_j - max) / sum_k exp(x_k - max) over the
 * unmasked columns. Backward: dx_j = y_j (dy_j - sum_k y_k dy_k); masked
 * columns have y_j = 0 and so receive no gradient.
 */
#include "ops_internal.h"

#include <math.h>
#include <omp.h>

#define LN_EPS 1e-5

/* ---- layernorm ---------------------------------------------------------------
 * The row sums (mean, variance, and the backward's two means) add the C
 * values of a row one after another, in order; a lone row's sum waits on
 * each addition's latency. So rows go in groups of LN_ROWS whose sums run
 * side by side (each still in its own order: the same results as one row
 * at a time), and everything else of a row is a loop over c that
 * vectorizes.
 *
 * Where the CPU has AVX2 (cpuid, at run time) and C is a multiple of 8, a
 * group's sums run in one vector of 8 lanes, lane r holding row r: each 8 x
 * 8 block of the group is transposed in registers and its 8 columns added
 * in order, so every row's sum is still the same additions in the same
 * order (same bits as the scalar code; tests/test_scheme_kernels.c
 * compares the paths). The entrywise loops of that path run 8 lanes wide. */

enum { LN_ROWS = 8 };

/* mean[r] and rstd[r] of rows r0 .. r0+n-1 of x [R, C]; inlined with n a
 * constant (LN_ROWS, or 1 for the last rows), so the n sums stay in
 * registers. */
static inline __attribute__((always_inline)) void ln_stats(const real *x, int C, long r0, int n,
                                                           real *mean, real *rstd) {
    real s[LN_ROWS] = {0}, v[LN_ROWS] = {0};
    const real *xr = x + r0 * C;
    for (int c = 0; c < C; c++)
        for (int r = 0; r < n; r++) s[r] += xr[(long)r * C + c];
    for (int r = 0; r < n; r++) mean[r] = s[r] / C;
    for (int c = 0; c < C; c++)
        for (int r = 0; r < n; r++) {
            real d = xr[(long)r * C + c] - mean[r];
            v[r] += d * d;
        }
    for (int r = 0; r < n; r++) rstd[r] = 1 / sqrt(v[r] / C + (real)LN_EPS);
}

/* The backward's sums of rows r0 .. r0+n-1: m1 = mean(dxhat), m2 =
 * mean(dxhat * xhat), dxhat = dy * g (n a constant, as in ln_stats). */
static inline __attribute__((always_inline)) void ln_back_sums(const real *x, const real *dy,
                                                               const real *g, int C, long r0, int n,
                                                               const real *stats, real *m1,
                                                               real *m2) {
    real s1[LN_ROWS] = {0}, s2[LN_ROWS] = {0}, mean[LN_ROWS], rstd[LN_ROWS];
    for (int r = 0; r < n; r++) mean[r] = stats[2 * (r0 + r)], rstd[r] = stats[2 * (r0 + r) + 1];
    const real *xr = x + r0 * C, *dyr = dy + r0 * C;
    for (int c = 0; c < C; c++)
        for (int r = 0; r < n; r++) {
            real xhat = (xr[(long)r * C + c] - mean[r]) * rstd[r];
            real dxhat = dyr[(long)r * C + c] * g[c];
            s1[r] += dxhat;
            s2[r] += dxhat * xhat;
        }
    for (int r = 0; r < n; r++) m1[r] = s1[r] / C, m2[r] = s2[r] / C;
}

#ifndef RELGRAD_F64
#include <immintrin.h>

/* t[k] = column k of the 8 x 8 block whose row r is at p + r * ld: lane r
 * of t[k] is p[r * ld + k]. */
__attribute__((target("avx2"))) static inline void ln_block8(const float *p, long ld, __m256 t[8]) {
    __m256 a0 = _mm256_loadu_ps(p), a1 = _mm256_loadu_ps(p + ld);
    __m256 a2 = _mm256_loadu_ps(p + 2 * ld), a3 = _mm256_loadu_ps(p + 3 * ld);
    __m256 a4 = _mm256_loadu_ps(p + 4 * ld), a5 = _mm256_loadu_ps(p + 5 * ld);
    __m256 a6 = _mm256_loadu_ps(p + 6 * ld), a7 = _mm256_loadu_ps(p + 7 * ld);
    __m256 u0 = _mm256_unpacklo_ps(a0, a1), u1 = _mm256_unpackhi_ps(a0, a1);
    __m256 u2 = _mm256_unpacklo_ps(a2, a3), u3 = _mm256_unpackhi_ps(a2, a3);
    __m256 u4 = _mm256_unpacklo_ps(a4, a5), u5 = _mm256_unpackhi_ps(a4, a5);
    __m256 u6 = _mm256_unpacklo_ps(a6, a7), u7 = _mm256_unpackhi_ps(a6, a7);
    __m256 v0 = _mm256_shuffle_ps(u0, u2, 0x44), v1 = _mm256_shuffle_ps(u0, u2, 0xEE);
    __m256 v2 = _mm256_shuffle_ps(u1, u3, 0x44), v3 = _mm256_shuffle_ps(u1, u3, 0xEE);
    __m256 v4 = _mm256_shuffle_ps(u4, u6, 0x44), v5 = _mm256_shuffle_ps(u4, u6, 0xEE);
    __m256 v6 = _mm256_shuffle_ps(u5, u7, 0x44), v7 = _mm256_shuffle_ps(u5, u7, 0xEE);
    t[0] = _mm256_permute2f128_ps(v0, v4, 0x20), t[4] = _mm256_permute2f128_ps(v0, v4, 0x31);
    t[1] = _mm256_permute2f128_ps(v1, v5, 0x20), t[5] = _mm256_permute2f128_ps(v1, v5, 0x31);
    t[2] = _mm256_permute2f128_ps(v2, v6, 0x20), t[6] = _mm256_permute2f128_ps(v2, v6, 0x31);
    t[3] = _mm256_permute2f128_ps(v3, v7, 0x20), t[7] = _mm256_permute2f128_ps(v3, v7, 0x31);
}

/* ln_stats of 8 rows (C % 8 == 0), lane r = row r0 + r. */
__attribute__((target("avx2"))) static void ln_stats8_avx2(const float *x, int C, long r0,
                                                           float *mean, float *rstd) {
    const float *xr = x + r0 * C;
    __m256 s = _mm256_setzero_ps(), v = _mm256_setzero_ps(), t[8];
    for (int c = 0; c < C; c += 8) {
        ln_block8(xr + c, C, t);
        for (int k = 0; k < 8; k++) s = _mm256_add_ps(s, t[k]);
    }
    __m256 mv = _mm256_div_ps(s, _mm256_set1_ps((float)C));
    for (int c = 0; c < C; c += 8) {
        ln_block8(xr + c, C, t);
        for (int k = 0; k < 8; k++) {
            __m256 d = _mm256_sub_ps(t[k], mv);
            v = _mm256_add_ps(v, _mm256_mul_ps(d, d));
        }
    }
    float vs[8];
    _mm256_storeu_ps(mean, mv);
    _mm256_storeu_ps(vs, v);
    for (int r = 0; r < 8; r++) rstd[r] = 1 / sqrt(vs[r] / C + (real)LN_EPS);
}

/* ln_back_sums of 8 rows (C % 8 == 0), lane r = row r0 + r. */
__attribute__((target("avx2"))) static void ln_back_sums8_avx2(const float *x, const float *dy,
                                                               const float *g, int C, long r0,
                                                               const float *stats, float *m1,
                                                               float *m2) {
    float mean[8], rstd[8];
    for (int r = 0; r < 8; r++) mean[r] = stats[2 * (r0 + r)], rstd[r] = stats[2 * (r0 + r) + 1];
    __m256 mv = _mm256_loadu_ps(mean), sv = _mm256_loadu_ps(rstd);
    __m256 s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps(), tx[8], tdy[8];
    const float *xr = x + r0 * C, *dyr = dy + r0 * C;
    for (int c = 0; c < C; c += 8) {
        ln_block8(xr + c, C, tx);
        ln_block8(dyr + c, C, tdy);
        for (int k = 0; k < 8; k++) {
            __m256 xhat = _mm256_mul_ps(_mm256_sub_ps(tx[k], mv), sv);
            __m256 dxhat = _mm256_mul_ps(tdy[k], _mm256_set1_ps(g[c + k]));
            s1 = _mm256_add_ps(s1, dxhat);
            s2 = _mm256_add_ps(s2, _mm256_mul_ps(dxhat, xhat));
        }
    }
    __m256 cv = _mm256_set1_ps((float)C);
    _mm256_storeu_ps(m1, _mm256_div_ps(s1, cv));
    _mm256_storeu_ps(m2, _mm256_div_ps(s2, cv));
}
#endif

/* y = g * xhat + b and the stats of one group of n rows from r0. */
static inline __attribute__((always_inline)) void ln_fwd_group(int simd, const real *x,
                                                               const real *gd, const real *bd,
                                                               int C, long r0, int n, real *y,
                                                               real *stats) {
    real mean[LN_ROWS], rstd[LN_ROWS];
    (void)simd;
#ifndef RELGRAD_F64
    if (simd == RG_SIMD_AVX2 && n == LN_ROWS)
        ln_stats8_avx2(x, C, r0, mean, rstd);
    else
#endif
        if (n == LN_ROWS)
        ln_stats(x, C, r0, LN_ROWS, mean, rstd);
    else
        for (int q = 0; q < n; q++) ln_stats(x, C, r0 + q, 1, mean + q, rstd + q);
    for (int q = 0; q < n; q++) {
        const real *xr = x + (r0 + q) * C;
        real *yr = y + (r0 + q) * C, m = mean[q], s = rstd[q];
#pragma omp simd
        for (int c = 0; c < C; c++) yr[c] = gd[c] * (xr[c] - m) * s + bd[c];
        if (stats) stats[2 * (r0 + q)] = m, stats[2 * (r0 + q) + 1] = s;
    }
}

/* Groups [g0, g1) of the forward; simd a constant where inlined. */
static inline __attribute__((always_inline)) void ln_fwd_groups(int simd, const real *x,
                                                                const real *g, const real *b,
                                                                long R, int C, long g0, long g1,
                                                                real *y, real *stats) {
    for (long grp = g0; grp < g1; grp++) {
        long r0 = grp * LN_ROWS;
        int n = R - r0 < LN_ROWS ? (int)(R - r0) : LN_ROWS;
        ln_fwd_group(simd, x, g, b, C, r0, n, y, stats);
    }
}

static void ln_fwd_groups_plain(const real *x, const real *g, const real *b, long R, int C, long g0,
                                long g1, real *y, real *stats) {
    ln_fwd_groups(RG_SIMD_SSE4, x, g, b, R, C, g0, g1, y, stats);
}

#ifndef RELGRAD_F64
__attribute__((target("avx2"))) static void ln_fwd_groups_avx2(const real *x, const real *g,
                                                               const real *b, long R, int C,
                                                               long g0, long g1, real *y,
                                                               real *stats) {
    ln_fwd_groups(RG_SIMD_AVX2, x, g, b, R, C, g0, g1, y, stats);
}
#endif

int rg_layernorm_level(void) {
#ifdef RELGRAD_F64
    return RG_SIMD_SSE4;
#else
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") ? RG_SIMD_AVX2 : RG_SIMD_SSE4;
#endif
}

/* The path for rows of C values: AVX2 needs whole 8 x 8 blocks. */
static int ln_path(int simd, int C) {
    return simd == RG_SIMD_AVX2 && C % 8 == 0 ? RG_SIMD_AVX2 : RG_SIMD_SSE4;
}

void rg_layernorm_fwd_rows(int simd, const real *x, const real *g, const real *b, long R, int C,
                           real *y, real *stats, int threads) {
    long groups = (R + LN_ROWS - 1) / LN_ROWS;
    simd = ln_path(simd, C);
#pragma omp parallel if (R * C > RG_PAR_MIN) num_threads(threads)
    {
        long g0, g1;
        rg_static_range(groups, omp_get_num_threads(), omp_get_thread_num(), &g0, &g1);
#ifndef RELGRAD_F64
        if (simd == RG_SIMD_AVX2)
            ln_fwd_groups_avx2(x, g, b, R, C, g0, g1, y, stats);
        else
#endif
            ln_fwd_groups_plain(x, g, b, R, C, g0, g1, y, stats);
    }
}

/* dx (+)= rstd (dxhat - m1 - xhat m2), dg += dy xhat, db += dy over rows
 * [lo, hi) (pg, pb: this thread's partial sums, or NULL); simd a constant
 * where inlined. */
static inline __attribute__((always_inline)) void
ln_back_rows(int simd, const real *xd, int C, const real *g, const real *dy, const real *stats,
             long lo, long hi, real *dx, bool fresh, real *pg, real *pb) {
    (void)simd;
    for (long r0 = lo; r0 < hi; r0 += LN_ROWS) {
        int n = hi - r0 < LN_ROWS ? (int)(hi - r0) : LN_ROWS;
        real m1[LN_ROWS], m2[LN_ROWS];
#ifndef RELGRAD_F64
        if (dx && n == LN_ROWS && simd == RG_SIMD_AVX2)
            ln_back_sums8_avx2(xd, dy, g, C, r0, stats, m1, m2);
        else
#endif
            if (dx && n == LN_ROWS)
            ln_back_sums(xd, dy, g, C, r0, LN_ROWS, stats, m1, m2);
        else if (dx)
            for (int q = 0; q < n; q++)
                ln_back_sums(xd, dy, g, C, r0 + q, 1, stats, m1 + q, m2 + q);
        for (int q = 0; q < n; q++) {
            long r = r0 + q;
            const real *xr = xd + r * C, *dyr = dy + r * C;
            real mean = stats[2 * r], rstd = stats[2 * r + 1];
            if (dx) {
                real *d = dx + r * C, a = m1[q], b = m2[q];
                if (fresh)
#pragma omp simd
                    for (int c = 0; c < C; c++) {
                        real xhat = (xr[c] - mean) * rstd, dxhat = dyr[c] * g[c];
                        d[c] = rstd * (dxhat - a - xhat * b) + (real)0;
                    }
                else
#pragma omp simd
                    for (int c = 0; c < C; c++) {
                        real xhat = (xr[c] - mean) * rstd, dxhat = dyr[c] * g[c];
                        d[c] += rstd * (dxhat - a - xhat * b);
                    }
            }
            if (pg)
#pragma omp simd
                for (int c = 0; c < C; c++) {
                    pg[c] += dyr[c] * (xr[c] - mean) * rstd;
                    pb[c] += dyr[c];
                }
        }
    }
}

static void ln_back_rows_plain(const real *x, int C, const real *g, const real *dy,
                               const real *stats, long lo, long hi, real *dx, bool fresh, real *pg,
                               real *pb) {
    ln_back_rows(RG_SIMD_SSE4, x, C, g, dy, stats, lo, hi, dx, fresh, pg, pb);
}

#ifndef RELGRAD_F64
__attribute__((target("avx2"))) static void ln_back_rows_avx2(const real *x, int C, const real *g,
                                                              const real *dy, const real *stats,
                                                              long lo, long hi, real *dx,
                                                              bool fresh, real *pg, real *pb) {
    ln_back_rows(RG_SIMD_AVX2, x, C, g, dy, stats, lo, hi, dx, fresh, pg, pb);
}
#endif

void rg_layernorm_bwd_rows(int simd, const real *x, const real *g, const real *dy,
                           const real *stats, long lo, long hi, int C, real *dx, bool fresh,
                           real *pg, real *pb) {
#ifndef RELGRAD_F64
    if (ln_path(simd, C) == RG_SIMD_AVX2) {
        ln_back_rows_avx2(x, C, g, dy, stats, lo, hi, dx, fresh, pg, pb);
        return;
    }
#endif
    (void)simd;
    ln_back_rows_plain(x, C, g, dy, stats, lo, hi, dx, fresh, pg, pb);
}

static void layernorm_backward(rg_ctx *ctx, rg_node *node) {
    rg_tensor *x = node->in[0], *g = node->in[1];
    const real *stats = node->saved; /* (mean, rstd) per row */
    long R = rg_rows(x);
    int C = rg_last(x);
    const real *dy = node->out->grad;
    bool fresh = false;
    real *dx = rg_wants_grad(node, 0) ? rg_grad_fresh(ctx, x, &fresh) : NULL;
    real *dg = rg_wants_grad(node, 1) ? rg_grad(ctx, g) : NULL;
    real *db = rg_wants_grad(node, 2) ? rg_grad(ctx, node->in[2]) : NULL;
    /* dx row by row; dg and db as sums over rows: each thread sums its
     * rows (those a static schedule gives it), then the partial sums add up
     * in thread order */
    int nth = omp_get_max_threads();
    real *part = dg || db ? rg_arena_calloc(&ctx->arena, (size_t)nth * 2 * C * sizeof(real)) : NULL;
    bool par = R * C > RG_PAR_MIN;
    int simd = rg_layernorm_level();
#pragma omp parallel if (par) num_threads(ctx->threads)
    {
        int t = omp_get_thread_num();
        long lo, hi;
        rg_static_range(R, omp_get_num_threads(), t, &lo, &hi);
        real *pg = part ? part + (size_t)t * 2 * C : NULL;
        rg_layernorm_bwd_rows(simd, x->data, g->data, dy, stats, lo, hi, C, dx, fresh, pg,
                              pg ? pg + C : NULL);
    }
    if (part)
        for (int t = 0; t < nth; t++)
            for (int c = 0; c < C; c++) {
                if (dg) dg[c] += part[(size_t)t * 2 * C + c];
                if (db) db[c] += part[(size_t)t * 2 * C + C + c];
            }
}

rg_tensor *rg_layernorm(rg_ctx *ctx, rg_tensor *x, rg_tensor *g, rg_tensor *b) {
    int C = rg_last(x);
    if (g->ndim != 1 || g->shape[0] != C) rg_die_shapes("layernorm", "gain must be [C]", x, g);
    if (b->ndim != 1 || b->shape[0] != C) rg_die_shapes("layernorm", "bias must be [C]", x, b);
    rg_tensor *y = rg_like(ctx, x);
    long R = rg_rows(x);
    rg_tensor *in[3] = {x, g, b};
    bool record = rg_needs_grad(ctx, in, 3);
    real *stats = record ? rg_arena_alloc(&ctx->arena, (size_t)(2 * R) * sizeof(real)) : NULL;
    rg_layernorm_fwd_rows(rg_layernorm_level(), x->data, g->data, b->data, R, C, y->data, stats,
                          ctx->threads);
    if (record) rg_record(ctx, RG_OP_LAYERNORM, layernorm_backward, y, in, 3)->saved = stats;
    return y;
}

/* ---- softmax with an attention mask ------------------------------------------ */

/* The visible columns [lo, hi) of row r of x [B, ..., Tq, Tk]: its query
 * index is r % Tq and its batch row r / (rows per batch row). */
static void visible(const rg_attn_mask *mask, long r, int Tq, long per_b, int Tk, int *lo,
                    int *hi) {
    int i = (int)(r % Tq);
    long e = (long)i + mask->diag + 1;
    int end = e < 0 ? 0 : e > Tk ? Tk : (int)e;
    if (mask->key_end && mask->key_end[r / per_b] < end) end = mask->key_end[r / per_b];
    int start = mask->key_lo ? mask->key_lo[i] : 0;
    *lo = start < end ? start : end, *hi = end;
}

/* y = softmax(x) on the visible columns, 0 elsewhere. Backward on the
 * visible columns: dx_j = y_j (dy_j - sum_k y_k dy_k); masked columns get 0. */
typedef struct {
    rg_attn_mask mask;
    long per_b;
} softmax_saved;

static void softmax_backward(rg_ctx *ctx, rg_node *node) {
    const softmax_saved *s = node->saved;
    const rg_tensor *y = node->out;
    int Tq = y->shape[y->ndim - 2], Tk = rg_last(y);
    long R = rg_rows(y);
    real *dx = rg_grad(ctx, node->in[0]);
#pragma omp parallel for schedule(static) if (R * Tk > RG_PAR_MIN) num_threads(ctx->threads)
    for (long r = 0; r < R; r++) {
        const real *yr = y->data + r * Tk, *dyr = y->grad + r * Tk;
        int lo, hi;
        visible(&s->mask, r, Tq, s->per_b, Tk, &lo, &hi);
        real dot = 0;
        for (int j = lo; j < hi; j++) dot += yr[j] * dyr[j];
        for (int j = lo; j < hi; j++) dx[r * Tk + j] += yr[j] * (dyr[j] - dot);
    }
}

rg_tensor *rg_softmax_masked(rg_ctx *ctx, rg_tensor *x, const rg_attn_mask *mask) {
    if (x->ndim < 2) rg_die_shapes("softmax_masked", "need [B, ..., Tq, Tk]", x, NULL);
    int Tq = x->shape[x->ndim - 2], Tk = rg_last(x);
    rg_tensor *y = rg_like(ctx, x);
    long R = rg_rows(x), per_b = R / x->shape[0];
#pragma omp parallel for schedule(static) if (R * Tk > RG_PAR_MIN) num_threads(ctx->threads)
    for (long r = 0; r < R; r++) {
        const real *xr = x->data + r * Tk;
        real *yr = y->data + r * Tk;
        int lo, hi;
        visible(mask, r, Tq, per_b, Tk, &lo, &hi);
        real mx = -INFINITY, sum = 0;
        for (int j = lo; j < hi; j++) mx = xr[j] > mx ? xr[j] : mx;
        for (int j = lo; j < hi; j++) sum += (yr[j] = exp(xr[j] - mx));
        for (int j = lo; j < hi; j++) yr[j] /= sum;
        for (int j = 0; j < lo; j++) yr[j] = 0;
        for (int j = hi; j < Tk; j++) yr[j] = 0;
    }
    if (rg_needs_grad(ctx, &x, 1)) {
        softmax_saved *s = rg_arena_alloc(&ctx->arena, sizeof *s);
        *s = (softmax_saved){.mask = *mask, .per_b = per_b};
        rg_record(ctx, RG_OP_SOFTMAX_MASKED, softmax_backward, y, &x, 1)->saved = s;
    }
    return y;
}
