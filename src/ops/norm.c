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
    if (record) rg_record(ctx, "layernorm", layernorm_backward, y, in, 3)->saved = stats;
    return y;
}

/* ---- softmax with causal mask ------------------------------------------------ */

/* Number of unmasked columns of row i (of Tq) with Tk columns. */
static int visible(int i, int diag, int Tk) {
    long v = (long)i + diag + 1;
    return v < 0 ? 0 : v > Tk ? Tk : (int)v;
}

static void softmax_backward(rg_ctx *ctx, rg_node *node) {
    const rg_tensor *y = node->out;
    int Tq = y->shape[y->ndim - 2], Tk = rg_last(y), diag = node->iarg[0];
    long R = rg_rows(y);
    real *dx = rg_grad(ctx, node->in[0]);
#pragma omp parallel for schedule(static) if (R * Tk > RG_PAR_MIN) num_threads(ctx->threads)
    for (long r = 0; r < R; r++) {
        const real *yr = y->data + r * Tk, *dyr = y->grad + r * Tk;
        int n = visible((int)(r % Tq), diag, Tk);
        real dot = 0;
        for (int j = 0; j < n; j++) dot += yr[j] * dyr[j];
        for (int j = 0; j < n; j++) dx[r * Tk + j] += yr[j] * (dyr[j] - dot);
    }
}

rg_tensor *rg_softmax_causal(rg_ctx *ctx, rg_tensor *x, int diag) {
    if (x->ndim < 2) rg_die_shapes("softmax_causal", "need [..., Tq, Tk]", x, NULL);
    int Tq = x->shape[x->ndim - 2], Tk = rg_last(x);
    rg_tensor *y = rg_like(ctx, x);
    long R = rg_rows(x);
#pragma omp parallel for schedule(static) if (R * Tk > RG_PAR_MIN) num_threads(ctx->threads)
    for (long r = 0; r < R; r++) {
        const real *xr = x->data + r * Tk;
        real *yr = y->data + r * Tk;
        int n = visible((int)(r % Tq), diag, Tk);
        real mx = -INFINITY, sum = 0;
        for (int j = 0; j < n; j++) mx = xr[j] > mx ? xr[j] : mx;
        for (int j = 0; j < n; j++) sum += (yr[j] = exp(xr[j] - mx));
        for (int j = 0; j < n; j++) yr[j] /= sum;
        for (int j = n; j < Tk; j++) yr[j] = 0;
    }
    if (rg_needs_grad(ctx, &x, 1))
        rg_record(ctx, "softmax_causal", softmax_backward, y, &x, 1)->iarg[0] = diag;
    return y;
}
