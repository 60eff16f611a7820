/* elementwise.c: sums, products, scaling, broadcast biases and GELU.
 *
 * Each of these is a map applied entry by entry, so each backward is the
 * chain rule entry by entry; a broadcast input sums the gradient over the
 * dims it was broadcast along.
 */
#include "ops_internal.h"

#include <math.h>
#include <omp.h>
#include <string.h>

/* The loops below are entrywise, so every entry gets the same operations
 * however they are split between threads or packed into vectors. GCC 12 at
 * -O2 leaves plain loops like these scalar; `omp simd` on each thread's
 * share (rg_static_range) makes them vector loops. (A combined `parallel
 * for simd if (...)` would drop the vectors whenever the `if` is false.) */

void rg_add_into(rg_ctx *ctx, real *g, const real *src, long n, bool fresh) {
#pragma omp parallel if (n > RG_PAR_MIN) num_threads(ctx->threads)
    {
        long lo, hi;
        rg_static_range(n, omp_get_num_threads(), omp_get_thread_num(), &lo, &hi);
        if (fresh) {
#pragma omp simd
            for (long j = lo; j < hi; j++) g[j] = src[j] + (real)0;
        } else {
#pragma omp simd
            for (long j = lo; j < hi; j++) g[j] += src[j];
        }
    }
}

/* ---- add: y = a + b -------------------------------------------------------- */

static void add_backward(rg_ctx *ctx, rg_node *node) {
    const real *dy = node->out->grad;
    long n = node->out->size;
    for (int i = 0; i < 2; i++) { /* dy/da = dy/db = 1 */
        if (!rg_wants_grad(node, i)) continue;
        bool fresh;
        real *g = rg_grad_fresh(ctx, node->in[i], &fresh);
        rg_add_into(ctx, g, dy, n, fresh);
    }
}

rg_tensor *rg_add(rg_ctx *ctx, rg_tensor *a, rg_tensor *b) {
    if (!rg_same_shape(a, b)) rg_die_shapes("add", "shapes must match", a, b);
    rg_tensor *y = rg_like(ctx, a);
    long n = y->size;
    const real *ad = a->data, *bd = b->data;
    real *yd = y->data;
#pragma omp parallel if (n > RG_PAR_MIN) num_threads(ctx->threads)
    {
        long lo, hi;
        rg_static_range(n, omp_get_num_threads(), omp_get_thread_num(), &lo, &hi);
#pragma omp simd
        for (long j = lo; j < hi; j++) yd[j] = ad[j] + bd[j];
    }
    rg_tensor *in[2] = {a, b};
    if (rg_needs_grad(ctx, in, 2)) rg_record(ctx, RG_OP_ADD, add_backward, y, in, 2);
    return y;
}

/* ---- mul: y = a * b (entrywise) --------------------------------------------- */

static void mul_backward(rg_ctx *ctx, rg_node *node) {
    const real *a = node->in[0]->data, *b = node->in[1]->data, *dy = node->out->grad;
    long n = node->out->size;
    for (int i = 0; i < 2; i++) { /* dy/da = b, dy/db = a */
        if (!rg_wants_grad(node, i)) continue;
        const real *other = i ? a : b;
        bool fresh;
        real *g = rg_grad_fresh(ctx, node->in[i], &fresh);
        if (fresh)
#pragma omp simd
            for (long j = 0; j < n; j++) g[j] = dy[j] * other[j] + (real)0;
        else
#pragma omp simd
            for (long j = 0; j < n; j++) g[j] += dy[j] * other[j];
    }
}

rg_tensor *rg_mul(rg_ctx *ctx, rg_tensor *a, rg_tensor *b) {
    if (!rg_same_shape(a, b)) rg_die_shapes("mul", "shapes must match", a, b);
    rg_tensor *y = rg_like(ctx, a);
    const real *ad = a->data, *bd = b->data;
    real *yd = y->data;
#pragma omp simd
    for (long j = 0; j < y->size; j++) yd[j] = ad[j] * bd[j];
    rg_tensor *in[2] = {a, b};
    if (rg_needs_grad(ctx, in, 2)) rg_record(ctx, RG_OP_MUL, mul_backward, y, in, 2);
    return y;
}

/* ---- scale: y = s x ------------------------------------------------------- */

static void scale_backward(rg_ctx *ctx, rg_node *node) {
    bool fresh;
    real s = node->rarg[0], *g = rg_grad_fresh(ctx, node->in[0], &fresh);
    const real *dy = node->out->grad;
    long n = node->out->size;
    if (fresh)
#pragma omp simd
        for (long j = 0; j < n; j++) g[j] = s * dy[j] + (real)0;
    else
#pragma omp simd
        for (long j = 0; j < n; j++) g[j] += s * dy[j];
}

rg_tensor *rg_scale(rg_ctx *ctx, rg_tensor *x, real s) {
    rg_tensor *y = rg_like(ctx, x);
    const real *xd = x->data;
    real *yd = y->data;
#pragma omp simd
    for (long j = 0; j < y->size; j++) yd[j] = s * xd[j];
    if (rg_needs_grad(ctx, &x, 1))
        rg_record(ctx, RG_OP_SCALE, scale_backward, y, &x, 1)->rarg[0] = s;
    return y;
}

/* ---- broadcast additions ----------------------------------------------------
 * All three are y = x + expand(b), b repeated over some dims of x:
 *   bias_add:      x [R, n],     b [n]      repeated over R rows
 *   add_bcast:     x [B, S...],  b [S...]   repeated over B
 *   add_head_bias: x [B,H,T,D],  b [H,D]    repeated over B and T
 * so one backward serves them: dx = dy, and db sums dy over the repeats.
 * node->iarg holds {b size, D, T} with T = 0 for the first two (b simply
 * repeats); for the head bias, entry ((b*H + h)*T + t)*D + d of x gets
 * u[h, d]. */

static void bcast_backward(rg_ctx *ctx, rg_node *node) {
    const real *dy = node->out->grad;
    long n = node->out->size;
    if (rg_wants_grad(node, 0)) {
        bool fresh;
        real *gx = rg_grad_fresh(ctx, node->in[0], &fresh);
        rg_add_into(ctx, gx, dy, n, fresh);
    }
    if (rg_wants_grad(node, 1) && n > 0) { /* in the order of j, so sums are as before */
        real *gb = rg_grad(ctx, node->in[1]);
        long bsize = node->iarg[0], D = node->iarg[1], T = node->iarg[2];
        if (T == 0) { /* b repeats every bsize entries */
            for (long r = 0; r < n / bsize; r++)
#pragma omp simd
                for (long c = 0; c < bsize; c++) gb[c] += dy[r * bsize + c];
        } else { /* j = (bh * T + t) * D + d, head h = bh % H */
            long H = bsize / D;
            for (long bh = 0; bh < n / (T * D); bh++)
                for (long t = 0; t < T; t++) {
                    real *g = gb + (bh % H) * D;
                    const real *d = dy + (bh * T + t) * D;
#pragma omp simd
                    for (long e = 0; e < D; e++) g[e] += d[e];
                }
        }
    }
}

static rg_tensor *bcast_add(rg_ctx *ctx, rg_op_kind kind, rg_tensor *x, rg_tensor *b, int D,
                            int T) {
    rg_tensor *y = rg_like(ctx, x);
    rg_node probe = {.iarg = {(int)b->size, D, T}};
    long n = y->size, len = T ? D : b->size, rows = len ? n / len : 0;
    /* row r of len entries gets b's row: the whole of b (T = 0), or head
     * (r / T) % H of u [H, D] */
#pragma omp parallel for schedule(static) if (n > RG_PAR_MIN) num_threads(ctx->threads)
    for (long r = 0; r < rows; r++) {
        const real *br = b->data + (T ? (r / T) % (b->size / D) * D : 0);
        const real *xr = x->data + r * len;
        real *yr = y->data + r * len;
#pragma omp simd
        for (long e = 0; e < len; e++) yr[e] = xr[e] + br[e];
    }
    rg_tensor *in[2] = {x, b};
    if (rg_needs_grad(ctx, in, 2)) {
        rg_node *node = rg_record(ctx, kind, bcast_backward, y, in, 2);
        memcpy(node->iarg, probe.iarg, sizeof probe.iarg);
    }
    return y;
}

rg_tensor *rg_bias_add(rg_ctx *ctx, rg_tensor *x, rg_tensor *b) {
    if (b->ndim != 1 || b->shape[0] != rg_last(x))
        rg_die_shapes("bias_add", "need x [..,n], b [n]", x, b);
    return bcast_add(ctx, RG_OP_BIAS_ADD, x, b, 0, 0);
}

rg_tensor *rg_add_bcast(rg_ctx *ctx, rg_tensor *x, rg_tensor *b) {
    bool ok = b->ndim == x->ndim - 1;
    for (int i = 0; ok && i < b->ndim; i++) ok = b->shape[i] == x->shape[i + 1];
    if (!ok) rg_die_shapes("add_bcast", "need x [B,...], b [...]", x, b);
    return bcast_add(ctx, RG_OP_ADD_BCAST, x, b, 0, 0);
}

rg_tensor *rg_add_head_bias(rg_ctx *ctx, rg_tensor *x, rg_tensor *u) {
    if (x->ndim != 4 || u->ndim != 2 || u->shape[0] != x->shape[1] || u->shape[1] != x->shape[3])
        rg_die_shapes("add_head_bias", "need x [B,H,T,D], u [H,D]", x, u);
    if (x->shape[2] == 0) return rg_like(ctx, x);
    return bcast_add(ctx, RG_OP_ADD_HEAD_BIAS, x, u, x->shape[3], x->shape[2]);
}

/* ---- GELU, exact form ---------------------------------------------------------
 * y = x Phi(x) with Phi(x) = 0.5 (1 + erf(x / sqrt 2)) the normal CDF, so
 * dy/dx = Phi(x) + x phi(x), phi(x) = exp(-x^2 / 2) / sqrt(2 pi).
 *
 * float32: src/ops/vmath.c, the erff and expf of glibc's 4-wide libmvec
 * (the ~10x faster vector functions a plain x86-64-v2 build calls from
 * these loops), 16 or 8 at a time where the CPU has AVX-512 or AVX2, with
 * the same bits. float64: the loops below, with libm's erf and exp. */
#ifdef RELGRAD_F64
#define GELU_ERF erf
#define GELU_EXP exp
#endif

/* node->saved: Phi(x) from the forward pass, so the backward needs no erf. */
static void gelu_backward(rg_ctx *ctx, rg_node *node) {
    const real *x = node->in[0]->data, *cdf = node->saved, *dy = node->out->grad;
    bool fresh;
    real *g = rg_grad_fresh(ctx, node->in[0], &fresh);
    long n = node->out->size;
#ifndef RELGRAD_F64
    rg_gelu_bwd_f32(rg_vmath_level(), x, cdf, dy, g, n, fresh, ctx->threads);
#else
    const real inv_sqrt_2pi = (real)(0.5 * M_2_SQRTPI * M_SQRT1_2);
    if (fresh) {
#pragma omp parallel for simd schedule(static) if (n > RG_PAR_MIN) num_threads(ctx->threads)
        for (long j = 0; j < n; j++) {
            real pdf = GELU_EXP((real)-0.5 * x[j] * x[j]) * inv_sqrt_2pi;
            g[j] = dy[j] * (cdf[j] + x[j] * pdf) + (real)0;
        }
    } else {
#pragma omp parallel for simd schedule(static) if (n > RG_PAR_MIN) num_threads(ctx->threads)
        for (long j = 0; j < n; j++) {
            real pdf = GELU_EXP((real)-0.5 * x[j] * x[j]) * inv_sqrt_2pi;
            g[j] += dy[j] * (cdf[j] + x[j] * pdf);
        }
    }
#endif
}

rg_tensor *rg_gelu(rg_ctx *ctx, rg_tensor *x) {
    rg_tensor *y = rg_like(ctx, x);
    long n = y->size;
    bool record = rg_needs_grad(ctx, &x, 1);
    real *cdf = rg_arena_alloc(&ctx->arena, (size_t)n * sizeof(real));
    const real *xd = x->data;
    real *yd = y->data;
#ifndef RELGRAD_F64
    rg_gelu_fwd_f32(rg_vmath_level(), xd, cdf, yd, n, ctx->threads);
#else
#pragma omp parallel for simd schedule(static) if (n > RG_PAR_MIN) num_threads(ctx->threads)
    for (long j = 0; j < n; j++) {
        cdf[j] = (real)0.5 * (1 + GELU_ERF(xd[j] * (real)M_SQRT1_2));
        yd[j] = xd[j] * cdf[j];
    }
#endif
    if (record) rg_record(ctx, RG_OP_GELU, gelu_backward, y, &x, 1)->saved = cdf;
    return y;
}
