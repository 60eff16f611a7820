/* matmul.c: linear layers and batched matrix products through BLIS.
 *
 * Both ops are one GEMM forward and two GEMMs backward. With Y = X W^T + b:
 *   dX = dY W          (each input feature collects from every output)
 *   dW += dY^T X       (outer products summed over rows)
 *   db += sum_rows dY
 * and with C = op(A) op(B):  d op(A) = dC op(B)^T,  d op(B) = op(A)^T dC.
 * Transposes are expressed through BLIS's row/column strides, never copies.
 */
#include "ops_internal.h"

#include <string.h>

/* ---- linear: y = x W^T + b ------------------------------------------------- */

static void linear_backward(rg_ctx *ctx, rg_node *node) {
    rg_tensor *x = node->in[0], *W = node->in[1], *b = node->in[2], *y = node->out;
    long N = rg_rows(y);
    int out = W->shape[0], in = W->shape[1];
    const real *dy = y->grad;
    if (rg_wants_grad(node, 0)) { /* dx [N,in] += dy [N,out] W [out,in] (= when fresh) */
        bool fresh;
        real *dx = rg_grad_fresh(ctx, x, &fresh);
        rg_gemm(N, in, out, 1, dy, out, 1, W->data, in, 1, fresh ? 0 : 1, dx, in, 1, ctx->threads);
    }
    if (rg_wants_grad(node, 1)) /* dW [out,in] += dy^T [out,N] x [N,in] */
        rg_gemm(out, in, N, 1, dy, 1, out, x->data, in, 1, 1, rg_grad(ctx, W), in, 1, ctx->threads);
    if (rg_wants_grad(node, 2)) { /* db [out] += dy^T [out,N] 1 [N]: a sum over rows */
        real *ones = rg_arena_alloc(&ctx->arena, (size_t)N * sizeof(real));
        for (long r = 0; r < N; r++) ones[r] = 1;
        rg_gemm(out, 1, N, 1, dy, 1, out, ones, 1, 1, 1, rg_grad(ctx, b), 1, 1, ctx->threads);
    }
}

rg_tensor *rg_linear(rg_ctx *ctx, rg_tensor *x, rg_tensor *W, rg_tensor *b) {
    if (W->ndim != 2 || rg_last(x) != W->shape[1])
        rg_die_shapes("linear", "need x [..,in] and W [out,in]", x, W);
    int out = W->shape[0], in = W->shape[1];
    if (b && (b->ndim != 1 || b->shape[0] != out))
        rg_die_shapes("linear", "bias must be [out] for W [out,in]", b, W);
    int shape[RG_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[x->ndim - 1] = out;
    rg_tensor *y = rg_empty(ctx, x->ndim, shape);
    long N = rg_rows(x);
    if (b)
        for (long r = 0; r < N; r++) memcpy(y->data + r * out, b->data, (size_t)out * sizeof(real));
    /* y [N,out] (+)= x [N,in] W^T [in,out]; W^T is W read with swapped strides */
    rg_gemm(N, out, in, 1, x->data, in, 1, W->data, 1, in, b ? 1 : 0, y->data, out, 1,
            ctx->threads);

    rg_tensor *inputs[3] = {x, W, b};
    if (rg_needs_grad(ctx, inputs, 3)) rg_record(ctx, RG_OP_LINEAR, linear_backward, y, inputs, 3);
    return y;
}

/* ---- matmul: batched over leading dims ------------------------------------- */

/* Row/column strides of op(X) for X stored as [rows, cols] row-major. */
static void op_strides(bool t, int cols, long *rs, long *cs) {
    *rs = t ? 1 : cols;
    *cs = t ? cols : 1;
}

/* node->iarg = {m, n, k, ta | tb << 1} */
static void matmul_backward(rg_ctx *ctx, rg_node *node) {
    rg_tensor *a = node->in[0], *b = node->in[1];
    int m = node->iarg[0], n = node->iarg[1], k = node->iarg[2];
    bool ta = node->iarg[3] & 1, tb = node->iarg[3] & 2;
    long batch = rg_shape_size(a->ndim - 2, a->shape);
    long b_batch = rg_shape_size(b->ndim - 2, b->shape); /* batch, or batch / shape[0] */
    long a_sz = (long)m * k, b_sz = (long)k * n, c_sz = (long)m * n;
    long rsa, csa, rsb, csb;
    op_strides(ta, rg_last(a), &rsa, &csa);
    op_strides(tb, rg_last(b), &rsb, &csb);
    const real *dc = node->out->grad;
    if (rg_wants_grad(node, 0)) {
        bool fresh;
        real *da = rg_grad_fresh(ctx, a, &fresh);
#pragma omp parallel for schedule(static) if (batch > 1) num_threads(ctx->threads)
        for (long i = 0; i < batch; i++) /* d op(A) [m,k] = dC [m,n] op(B)^T [n,k] */
            rg_gemm(m, k, n, 1, dc + i * c_sz, n, 1, b->data + (i % b_batch) * b_sz, csb, rsb,
                    fresh ? 0 : 1, da + i * a_sz, rsa, csa, batch > 1);
    }
    if (rg_wants_grad(node, 1)) {
        /* d op(B) [k,n] = op(A)^T [k,m] dC [m,n], summed over the copies of a
         * broadcast b: each thread owns one matrix of b, so no two threads
         * add into the same place. */
        bool fresh;
        real *db = rg_grad_fresh(ctx, b, &fresh);
#pragma omp parallel for schedule(static) if (b_batch > 1) num_threads(ctx->threads)
        for (long j = 0; j < b_batch; j++) /* the first product of a fresh db stores */
            for (long i = j; i < batch; i += b_batch)
                rg_gemm(k, n, m, 1, a->data + i * a_sz, csa, rsa, dc + i * c_sz, n, 1,
                        fresh && i == j ? 0 : 1, db + j * b_sz, rsb, csb, b_batch > 1);
    }
}

rg_tensor *rg_matmul(rg_ctx *ctx, rg_tensor *a, rg_tensor *b, bool ta, bool tb) {
    if (a->ndim < 2 || a->ndim != b->ndim) rg_die_shapes("matmul", "need equal ranks >= 2", a, b);
    for (int i = 0; i < a->ndim - 2; i++)
        if (a->shape[i] != b->shape[i] && !(i == 0 && b->shape[0] == 1))
            rg_die_shapes("matmul", "leading dims differ (b may have 1 in dim 0)", a, b);
    int ar = a->shape[a->ndim - 2], ac = a->shape[a->ndim - 1];
    int br = b->shape[b->ndim - 2], bc = b->shape[b->ndim - 1];
    int m = ta ? ac : ar, k = ta ? ar : ac, kb = tb ? bc : br, n = tb ? br : bc;
    if (k != kb) rg_die_shapes("matmul", "inner dims differ", a, b);
    int shape[RG_MAX_DIMS];
    memcpy(shape, a->shape, sizeof shape);
    shape[a->ndim - 2] = m;
    shape[a->ndim - 1] = n;
    rg_tensor *c = rg_empty(ctx, a->ndim, shape);
    long batch = rg_shape_size(a->ndim - 2, a->shape);
    long b_batch = rg_shape_size(b->ndim - 2, b->shape);
    long rsa, csa, rsb, csb;
    op_strides(ta, ac, &rsa, &csa);
    op_strides(tb, bc, &rsb, &csb);
    long a_sz = (long)ar * ac, b_sz = (long)br * bc, c_sz = (long)m * n;
    /* Many small products: one per thread, BLIS single-threaded inside. */
#pragma omp parallel for schedule(static) if (batch > 1) num_threads(ctx->threads)
    for (long i = 0; i < batch; i++)
        rg_gemm(m, n, k, 1, a->data + i * a_sz, rsa, csa, b->data + (i % b_batch) * b_sz, rsb, csb,
                0, c->data + i * c_sz, n, 1, batch > 1);

    rg_tensor *inputs[2] = {a, b};
    if (rg_needs_grad(ctx, inputs, 2)) {
        rg_node *node = rg_record(ctx, RG_OP_MATMUL, matmul_backward, c, inputs, 2);
        node->iarg[0] = m, node->iarg[1] = n, node->iarg[2] = k;
        node->iarg[3] = (ta ? 1 : 0) | (tb ? 2 : 0);
    }
    return c;
}
