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

/* ---- layernorm --------------------------------------------------------------- */

static void layernorm_backward(rg_ctx *ctx, rg_node *node) {
    rg_tensor *x = node->in[0], *g = node->in[1];
    const real *stats = node->saved; /* (mean, rstd) per row */
    long R = rg_rows(x);
    int C = rg_last(x);
    const real *dy = node->out->grad;
    real *dx = rg_wants_grad(node, 0) ? rg_grad(ctx, x) : NULL;
    real *dg = rg_wants_grad(node, 1) ? rg_grad(ctx, g) : NULL;
    real *db = rg_wants_grad(node, 2) ? rg_grad(ctx, node->in[2]) : NULL;
    if (dx) { /* rows are independent */
#pragma omp parallel for schedule(static) if (R * C > RG_PAR_MIN) num_threads(ctx->threads)
        for (long r = 0; r < R; r++) {
            const real *xr = x->data + r * C, *dyr = dy + r * C;
            real mean = stats[2 * r], rstd = stats[2 * r + 1];
            real sum_dxhat = 0, sum_dxhat_xhat = 0;
            for (int c = 0; c < C; c++) {
                real xhat = (xr[c] - mean) * rstd, dxhat = dyr[c] * g->data[c];
                sum_dxhat += dxhat;
                sum_dxhat_xhat += dxhat * xhat;
            }
            real m1 = sum_dxhat / C, m2 = sum_dxhat_xhat / C;
            for (int c = 0; c < C; c++) {
                real xhat = (xr[c] - mean) * rstd, dxhat = dyr[c] * g->data[c];
                dx[r * C + c] += rstd * (dxhat - m1 - xhat * m2);
            }
        }
    }
    if (dg || db) { /* sums over rows: each thread sums its rows, then the partial sums add up */
        int nth = omp_get_max_threads();
        real *part = rg_arena_calloc(&ctx->arena, (size_t)nth * 2 * C * sizeof(real));
#pragma omp parallel if (R * C > RG_PAR_MIN) num_threads(ctx->threads)
        {
            real *pg = part + (size_t)omp_get_thread_num() * 2 * C, *pb = pg + C;
#pragma omp for schedule(static)
            for (long r = 0; r < R; r++) {
                const real *xr = x->data + r * C, *dyr = dy + r * C;
                real mean = stats[2 * r], rstd = stats[2 * r + 1];
                for (int c = 0; c < C; c++) {
                    pg[c] += dyr[c] * (xr[c] - mean) * rstd;
                    pb[c] += dyr[c];
                }
            }
        }
        for (int t = 0; t < nth; t++)
            for (int c = 0; c < C; c++) {
                if (dg) dg[c] += part[(size_t)t * 2 * C + c];
                if (db) db[c] += part[(size_t)t * 2 * C + C + c];
            }
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
#pragma omp parallel for schedule(static) if (R * C > RG_PAR_MIN) num_threads(ctx->threads)
    for (long r = 0; r < R; r++) {
        const real *xr = x->data + r * C;
        real mean = 0, var = 0;
        for (int c = 0; c < C; c++) mean += xr[c];
        mean /= C;
        for (int c = 0; c < C; c++) var += (xr[c] - mean) * (xr[c] - mean);
        var /= C;
        real rstd = 1 / sqrt(var + (real)LN_EPS);
        for (int c = 0; c < C; c++)
            y->data[r * C + c] = g->data[c] * (xr[c] - mean) * rstd + b->data[c];
        if (stats) stats[2 * r] = mean, stats[2 * r + 1] = rstd;
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
