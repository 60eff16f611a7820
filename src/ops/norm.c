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
 * vectorizes. */

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

/* dx (+)= rstd (dxhat - m1 - xhat m2), dg += dy xhat, db += dy over rows
 * [lo, hi) (pg, pb: this thread's partial sums, or NULL). */
static void ln_back_rows(const rg_tensor *x, const real *g, const real *dy, const real *stats,
                         long lo, long hi, real *dx, bool fresh, real *pg, real *pb) {
    int C = rg_last(x);
    for (long r0 = lo; r0 < hi; r0 += LN_ROWS) {
        int n = hi - r0 < LN_ROWS ? (int)(hi - r0) : LN_ROWS;
        real m1[LN_ROWS], m2[LN_ROWS];
        if (dx && n == LN_ROWS)
            ln_back_sums(x->data, dy, g, C, r0, LN_ROWS, stats, m1, m2);
        else if (dx)
            for (int q = 0; q < n; q++)
                ln_back_sums(x->data, dy, g, C, r0 + q, 1, stats, m1 + q, m2 + q);
        for (int q = 0; q < n; q++) {
            long r = r0 + q;
            const real *xr = x->data + r * C, *dyr = dy + r * C;
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
#pragma omp parallel if (par) num_threads(ctx->threads)
    {
        int t = omp_get_thread_num();
        long lo, hi;
        rg_static_range(R, omp_get_num_threads(), t, &lo, &hi);
        real *pg = part ? part + (size_t)t * 2 * C : NULL;
        ln_back_rows(x, g->data, dy, stats, lo, hi, dx, fresh, pg, pg ? pg + C : NULL);
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
    long R = rg_rows(x), groups = (R + LN_ROWS - 1) / LN_ROWS;
    rg_tensor *in[3] = {x, g, b};
    bool record = rg_needs_grad(ctx, in, 3);
    real *stats = record ? rg_arena_alloc(&ctx->arena, (size_t)(2 * R) * sizeof(real)) : NULL;
    const real *gd = g->data, *bd = b->data;
#pragma omp parallel for schedule(static) if (R * C > RG_PAR_MIN) num_threads(ctx->threads)
    for (long grp = 0; grp < groups; grp++) {
        long r0 = grp * LN_ROWS;
        int n = R - r0 < LN_ROWS ? (int)(R - r0) : LN_ROWS;
        real mean[LN_ROWS], rstd[LN_ROWS];
        if (n == LN_ROWS)
            ln_stats(x->data, C, r0, LN_ROWS, mean, rstd);
        else
            for (int q = 0; q < n; q++) ln_stats(x->data, C, r0 + q, 1, mean + q, rstd + q);
        for (int q = 0; q < n; q++) {
            const real *xr = x->data + (r0 + q) * C;
            real *yr = y->data + (r0 + q) * C, m = mean[q], s = rstd[q];
#pragma omp simd
            for (int c = 0; c < C; c++) yr[c] = gd[c] * (xr[c] - m) * s + bd[c];
            if (stats) stats[2 * (r0 + q)] = m, stats[2 * (r0 + q) + 1] = s;
        }
    }
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
