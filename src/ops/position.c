/* ops_position.c: the differentiable pieces positional schemes are built from.
 *
 * rope:         rotate pairs of head features by a position-dependent angle.
 * rel_gather:   pick, for each (query, key), a column of a [query, distance]
 *               table (Transformer-XL, DeBERTa).
 * bucket_bias:  look up a learned per-head bias by distance bucket (T5).
 * How the schemes use them is in src/attention.c and docs/schemes.md.
 */
#include "ops_internal.h"

#include <math.h>

/* ---- RoPE -----------------------------------------------------------------------
 * For pair m of head features at position p, with angle a = p * base^(-2m/D) / scale:
 *   y0 = x0 cos a - x1 sin a,   y1 = x0 sin a + x1 cos a        (y = R(a) x)
 * R is a rotation, so its inverse is its transpose and the backward rotates
 * the gradient by -a:
 *   dx0 = dy0 cos a + dy1 sin a,   dx1 = -dy0 sin a + dy1 cos a   (dx = R(a)^T dy) */

static void rope_apply(rg_ctx *ctx, const real *x, real *y, const rg_tensor *shape_of, int pos0,
                       real base, real scale, int sign, bool accumulate) {
    int B = shape_of->shape[0], H = shape_of->shape[1], T = shape_of->shape[2];
    int D = shape_of->shape[3], half = D / 2;
    /* cos and sin of every (t, m), computed once in double */
    real *cs = rg_arena_alloc(&ctx->arena, (size_t)(2 * T * half + 1) * sizeof(real));
    for (int t = 0; t < T; t++)
        for (int m = 0; m < half; m++) {
            double angle = (double)(pos0 + t) * pow((double)base, -2.0 * m / D) / scale;
            cs[2 * (t * half + m)] = (real)cos(angle);
            cs[2 * (t * half + m) + 1] = (real)(sign * sin(angle));
        }
#pragma omp parallel for schedule(static) if ((long)B * H * T * D > 32768)
    for (long bh = 0; bh < (long)B * H; bh++)
        for (int t = 0; t < T; t++) {
            const real *xr = x + (bh * T + t) * D, *c = cs + 2L * t * half;
            real *yr = y + (bh * T + t) * D;
            for (int m = 0; m < half; m++) {
                real co = c[2 * m], si = c[2 * m + 1];
                real y0 = xr[2 * m] * co - xr[2 * m + 1] * si,
                     y1 = xr[2 * m] * si + xr[2 * m + 1] * co;
                if (accumulate)
                    yr[2 * m] += y0, yr[2 * m + 1] += y1;
                else
                    yr[2 * m] = y0, yr[2 * m + 1] = y1;
            }
        }
}

static void rope_backward(rg_ctx *ctx, rg_node *node) {
    rope_apply(ctx, node->out->grad, rg_grad(ctx, node->in[0]), node->out, node->iarg[0],
               node->rarg[0], node->rarg[1], -1, true);
}

rg_tensor *rg_rope(rg_ctx *ctx, rg_tensor *x, int pos0, real base, real scale) {
    if (x->ndim != 4 || x->shape[3] % 2) rg_die_shapes("rope", "need x [B,H,T,D], D even", x, NULL);
    rg_tensor *y = rg_like(ctx, x);
    rope_apply(ctx, x->data, y->data, x, pos0, base, scale, 1, false);
    if (rg_needs_grad(ctx, &x, 1)) {
        rg_node *node = rg_record(ctx, "rope", rope_backward, y, &x, 1);
        node->iarg[0] = pos0;
        node->rarg[0] = base, node->rarg[1] = scale;
    }
    return y;
}

/* ---- rel_gather --------------------------------------------------------------------
 * out[.., i, j] = x[.., r, idx[i*Tk + j]] with r = i (or r = j when transposed).
 * A gather's backward is the matching scatter-add: dx[.., r, idx] += dout[.., i, j]. */

/* iarg = {Tq, Tk, transpose} */
static void rel_gather_backward(rg_ctx *ctx, rg_node *node) {
    rg_tensor *x = node->in[0];
    const int *idx = node->saved;
    int Tq = node->iarg[0], Tk = node->iarg[1], tr = node->iarg[2];
    int rows = x->shape[x->ndim - 2], R = rg_last(x);
    long nmat = x->size / ((long)rows * R > 0 ? (long)rows * R : 1);
    real *dx = rg_grad(ctx, x);
    const real *dy = node->out->grad;
#pragma omp parallel for schedule(static) if (nmat > 1)
    for (long b = 0; b < nmat; b++) /* each (batch, head) matrix is scattered by one thread */
        for (int i = 0; i < Tq; i++)
            for (int j = 0; j < Tk; j++) {
                int k = idx[i * Tk + j];
                if (k < 0) continue;
                dx[(b * rows + (tr ? j : i)) * R + k] += dy[(b * Tq + i) * Tk + j];
            }
}

rg_tensor *rg_rel_gather(rg_ctx *ctx, rg_tensor *x, const int *idx, int Tq, int Tk,
                         bool transpose) {
    int rows = x->ndim >= 2 ? x->shape[x->ndim - 2] : -1, R = rg_last(x);
    if (x->ndim < 2 || rows != (transpose ? Tk : Tq))
        rg_die("rel_gather: x has %d rows, expected %s = %d", rows, transpose ? "Tk" : "Tq",
               transpose ? Tk : Tq);
    for (long n = 0; n < (long)Tq * Tk; n++)
        if (idx[n] >= R) rg_die("rel_gather: index %d at %ld is outside %d columns", idx[n], n, R);
    int shape[RG_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) shape[i] = x->shape[i];
    shape[x->ndim - 2] = Tq;
    shape[x->ndim - 1] = Tk;
    rg_tensor *y = rg_empty(ctx, x->ndim, shape);
    long nmat = y->size / ((long)Tq * Tk > 0 ? (long)Tq * Tk : 1);
#pragma omp parallel for schedule(static) if (y->size > 32768)
    for (long b = 0; b < nmat; b++)
        for (int i = 0; i < Tq; i++)
            for (int j = 0; j < Tk; j++) {
                int k = idx[i * Tk + j];
                y->data[(b * Tq + i) * Tk + j] =
                    k < 0 ? 0 : x->data[(b * rows + (transpose ? j : i)) * R + k];
            }
    if (rg_needs_grad(ctx, &x, 1)) {
        int *saved = rg_arena_alloc(&ctx->arena, (size_t)Tq * Tk * sizeof(int) + 1);
        for (long n = 0; n < (long)Tq * Tk; n++) saved[n] = idx[n];
        rg_node *node = rg_record(ctx, "rel_gather", rel_gather_backward, y, &x, 1);
        node->saved = saved;
        node->iarg[0] = Tq, node->iarg[1] = Tk, node->iarg[2] = transpose;
    }
    return y;
}

/* ---- bucket_bias: out[h, i, j] = table[bucket[i*Tk + j], h] ------------------------- */

static void bucket_bias_backward(rg_ctx *ctx, rg_node *node) {
    rg_tensor *table = node->in[0];
    const int *bucket = node->saved;
    int H = table->shape[1], Tq = node->iarg[0], Tk = node->iarg[1];
    real *dt = rg_grad(ctx, table);
    for (int h = 0; h < H; h++)
        for (long n = 0; n < (long)Tq * Tk; n++)
            if (bucket[n] >= 0)
                dt[(long)bucket[n] * H + h] += node->out->grad[h * (long)Tq * Tk + n];
}

rg_tensor *rg_bucket_bias(rg_ctx *ctx, rg_tensor *table, const int *bucket, int Tq, int Tk) {
    if (table->ndim != 2) rg_die_shapes("bucket_bias", "table must be [buckets, H]", table, NULL);
    int nb = table->shape[0], H = table->shape[1];
    rg_tensor *y = rg_empty(ctx, 3, (int[]){H, Tq, Tk});
    for (long n = 0; n < (long)Tq * Tk; n++) {
        if (bucket[n] >= nb)
            rg_die("bucket_bias: bucket %d at %ld, table has %d", bucket[n], n, nb);
        for (int h = 0; h < H; h++)
            y->data[h * (long)Tq * Tk + n] =
                bucket[n] < 0 ? 0 : table->data[(long)bucket[n] * H + h];
    }
    if (rg_needs_grad(ctx, &table, 1)) {
        int *saved = rg_arena_alloc(&ctx->arena, (size_t)Tq * Tk * sizeof(int) + 1);
        for (long n = 0; n < (long)Tq * Tk; n++) saved[n] = bucket[n];
        rg_node *node = rg_record(ctx, "bucket_bias", bucket_bias_backward, y, &table, 1);
        node->saved = saved;
        node->iarg[0] = Tq, node->iarg[1] = Tk;
    }
    return y;
}
