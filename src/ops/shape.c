/* shape.c: embedding lookup and the ops that only move values around
 * (reshape, split/merge heads, concat/slice along time).
 *
 * A pure data movement y = P x (P picks or permutes entries) has backward
 * dx = P^T dy: every output gradient flows back to the entry it was copied
 * from, added where one entry was copied to several places (embedding rows
 * used twice receive both gradients).
 */
#include "ops_internal.h"

#include <string.h>

/* ---- embedding: out[n] = table[idx[n]] --------------------------------------- */

static void embedding_backward(rg_ctx *ctx, rg_node *node) {
    rg_tensor *table = node->in[0];
    const int *idx = node->saved;
    int C = rg_last(table);
    long n = rg_rows(node->out);
    real *dt = rg_grad(ctx, table);
    const real *dy = node->out->grad;
    for (long r = 0; r < n; r++) /* scatter-add; serial so repeated rows add safely */
        for (int c = 0; c < C; c++) dt[(long)idx[r] * C + c] += dy[r * C + c];
}

rg_tensor *rg_embedding(rg_ctx *ctx, rg_tensor *table, const int *idx, int n) {
    if (table->ndim != 2) rg_die_shapes("embedding", "table must be [V, C]", table, NULL);
    int V = table->shape[0], C = table->shape[1];
    rg_tensor *y = rg_empty(ctx, 2, (int[]){n, C});
    for (int r = 0; r < n; r++) {
        if (idx[r] < 0 || idx[r] >= V)
            rg_die("embedding: index %d at position %d is outside the table's %d rows", idx[r], r,
                   V);
        memcpy(y->data + (long)r * C, table->data + (long)idx[r] * C, (size_t)C * sizeof(real));
    }
    if (rg_needs_grad(ctx, &table, 1)) {
        int *saved = rg_arena_alloc(&ctx->arena, (size_t)(n > 0 ? n : 1) * sizeof(int));
        memcpy(saved, idx, (size_t)n * sizeof(int));
        rg_record(ctx, RG_OP_EMBEDDING, embedding_backward, y, &table, 1)->saved = saved;
    }
    return y;
}

/* ---- reshape: same values, new shape ------------------------------------------- */

static void copy_grad_backward(rg_ctx *ctx, rg_node *node) {
    bool fresh;
    real *dx = rg_grad_fresh(ctx, node->in[0], &fresh);
    rg_add_into(ctx, dx, node->out->grad, node->out->size, fresh);
}

rg_tensor *rg_reshape(rg_ctx *ctx, rg_tensor *x, int ndim, const int *shape) {
    if (ndim < 1 || ndim > RG_MAX_DIMS || rg_shape_size(ndim, shape) != x->size)
        rg_die("reshape: cannot view %ld values as %d dims of total %ld", x->size, ndim,
               ndim >= 1 && ndim <= RG_MAX_DIMS ? rg_shape_size(ndim, shape) : -1L);
    rg_tensor *y = rg_arena_alloc(&ctx->arena, sizeof *y);
    memset(y, 0, sizeof *y);
    y->data = x->data; /* a view: values are shared, gradients are not */
    y->ndim = ndim;
    memcpy(y->shape, shape, (size_t)ndim * sizeof(int));
    y->size = x->size;
    if (rg_needs_grad(ctx, &x, 1)) rg_record(ctx, RG_OP_RESHAPE, copy_grad_backward, y, &x, 1);
    return y;
}

/* ---- split_heads / merge_heads -------------------------------------------------
 * split: y[b,h,t,d] = x[b,t, col0 + h*D + d]     x [B,T,C] -> y [B,H,T,D]
 * merge: y[b,t,h*D + d] = x[b,h,t,d]             x [B,H,T,D] -> y [B,T,H*D]
 * Both are the same index map read in opposite directions; `heads_copy`
 * moves values (or gradients) along it either way. */

/* How heads_copy writes: copies values; adds gradients; or stores them
 * into a fresh (unzeroed) gradient buffer as adding to zeros would. */
typedef enum { HEADS_COPY, HEADS_ADD, HEADS_FRESH } heads_mode;

/* The T rows of one (b, h): flat rows C apart, head rows D apart; inlined
 * with D a constant for the usual head widths (a call to memcpy and a loop
 * of unknown length per row cost more than the copy itself at D = 8 or 16). */
static inline __attribute__((always_inline)) void
heads_rows(real *flat, real *head, int T, int C, int D, bool to_heads, heads_mode mode) {
    for (int t = 0; t < T; t++, flat += C, head += D) {
        real *dst = to_heads ? head : flat;
        const real *src = to_heads ? flat : head;
        if (mode == HEADS_ADD)
#pragma omp simd
            for (int d = 0; d < D; d++) dst[d] += src[d];
        else if (mode == HEADS_FRESH) /* what adding to zeros gives (-0 -> +0) */
#pragma omp simd
            for (int d = 0; d < D; d++) dst[d] = src[d] + (real)0;
        else
            memcpy(dst, src, (size_t)D * sizeof(real));
    }
}

static void heads_copy(const rg_ctx *ctx, real *bthd, real *bhtd, int B, int T, int H, int D, int C,
                       int col0, bool to_heads, heads_mode mode) {
#pragma omp parallel for collapse(2) schedule(static) if ((long)B * T * H * D > 32768)             \
    num_threads(ctx->threads)
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++) {
            real *flat = bthd + (long)b * T * C + col0 + (long)h * D;
            real *head = bhtd + ((long)b * H + h) * T * D;
            switch (D) {
            case 8:
                heads_rows(flat, head, T, C, 8, to_heads, mode);
                break;
            case 16:
                heads_rows(flat, head, T, C, 16, to_heads, mode);
                break;
            case 32:
                heads_rows(flat, head, T, C, 32, to_heads, mode);
                break;
            case 64:
                heads_rows(flat, head, T, C, 64, to_heads, mode);
                break;
            default:
                heads_rows(flat, head, T, C, D, to_heads, mode);
            }
        }
}

/* iarg = {col0, C}. The first split to reach a fresh x gradient (of q, k
 * and v taken from one qkv, v's: the last recorded) stores its columns and
 * zeroes only the others, which the later splits then add to. */
static void split_heads_backward(rg_ctx *ctx, rg_node *node) {
    const rg_tensor *y = node->out;
    int B = y->shape[0], H = y->shape[1], T = y->shape[2], D = y->shape[3];
    int col0 = node->iarg[0], C = node->iarg[1], HD = H * D;
    bool fresh;
    real *dx = rg_grad_fresh(ctx, node->in[0], &fresh);
    if (fresh)
        for (long r = 0; r < (long)B * T; r++) {
            memset(dx + r * C, 0, (size_t)col0 * sizeof(real));
            memset(dx + r * C + col0 + HD, 0, (size_t)(C - col0 - HD) * sizeof(real));
        }
    heads_copy(ctx, dx, y->grad, B, T, H, D, C, col0, false, fresh ? HEADS_FRESH : HEADS_ADD);
}

rg_tensor *rg_split_heads(rg_ctx *ctx, rg_tensor *x, int col0, int H, int D) {
    if (x->ndim != 3 || col0 < 0 || col0 + H * D > x->shape[2])
        rg_die("split_heads: columns %d..%d of %d heads x %d do not fit x [%d,%d,%d]", col0,
               col0 + H * D - 1, H, D, x->shape[0], x->ndim > 1 ? x->shape[1] : 0,
               x->ndim > 2 ? x->shape[2] : 0);
    int B = x->shape[0], T = x->shape[1], C = x->shape[2];
    rg_tensor *y = rg_empty(ctx, 4, (int[]){B, H, T, D});
    heads_copy(ctx, x->data, y->data, B, T, H, D, C, col0, true, HEADS_COPY);
    if (rg_needs_grad(ctx, &x, 1)) {
        rg_node *node = rg_record(ctx, RG_OP_SPLIT_HEADS, split_heads_backward, y, &x, 1);
        node->iarg[0] = col0, node->iarg[1] = C;
    }
    return y;
}

static void merge_heads_backward(rg_ctx *ctx, rg_node *node) {
    const rg_tensor *x = node->in[0];
    int B = x->shape[0], H = x->shape[1], T = x->shape[2], D = x->shape[3];
    bool fresh; /* every entry of x's gradient is written */
    real *dx = rg_grad_fresh(ctx, node->in[0], &fresh);
    heads_copy(ctx, node->out->grad, dx, B, T, H, D, H * D, 0, true,
               fresh ? HEADS_FRESH : HEADS_ADD);
}

rg_tensor *rg_merge_heads(rg_ctx *ctx, rg_tensor *x) {
    if (x->ndim != 4) rg_die_shapes("merge_heads", "need x [B,H,T,D]", x, NULL);
    int B = x->shape[0], H = x->shape[1], T = x->shape[2], D = x->shape[3];
    rg_tensor *y = rg_empty(ctx, 3, (int[]){B, T, H * D});
    heads_copy(ctx, y->data, x->data, B, T, H, D, H * D, 0, false, HEADS_COPY);
    if (rg_needs_grad(ctx, &x, 1))
        rg_record(ctx, RG_OP_MERGE_HEADS, merge_heads_backward, y, &x, 1);
    return y;
}

/* ---- concat_time / slice_time ----------------------------------------------------
 * Both see a tensor as [B, T, row] with row = everything after dim 1. */

static void concat_time_backward(rg_ctx *ctx, rg_node *node) {
    const rg_tensor *y = node->out;
    int B = y->shape[0], T1 = node->in[0]->shape[1], T2 = node->in[1]->shape[1];
    long row = node->iarg[0];
    for (int i = 0; i < 2; i++) {
        if (!rg_wants_grad(node, i)) continue;
        real *g = rg_grad(ctx, node->in[i]);
        int Ti = i ? T2 : T1, t0 = i ? T1 : 0;
        for (int b = 0; b < B; b++)
#pragma omp simd
            for (long j = 0; j < Ti * row; j++)
                g[b * Ti * row + j] += y->grad[((long)b * (T1 + T2) + t0) * row + j];
    }
}

rg_tensor *rg_concat_time(rg_ctx *ctx, rg_tensor *a, rg_tensor *b) {
    bool ok = a->ndim >= 2 && a->ndim == b->ndim && a->shape[0] == b->shape[0];
    for (int i = 2; ok && i < a->ndim; i++) ok = a->shape[i] == b->shape[i];
    if (!ok) rg_die_shapes("concat_time", "need [B,T1,...] and [B,T2,...]", a, b);
    int shape[RG_MAX_DIMS];
    memcpy(shape, a->shape, sizeof shape);
    int B = a->shape[0], T1 = a->shape[1], T2 = b->shape[1];
    shape[1] = T1 + T2;
    rg_tensor *y = rg_empty(ctx, a->ndim, shape);
    long row = a->ndim > 2 ? rg_shape_size(a->ndim - 2, a->shape + 2) : 1;
    for (int bb = 0; bb < B; bb++) {
        memcpy(y->data + (long)bb * (T1 + T2) * row, a->data + (long)bb * T1 * row,
               (size_t)(T1 * row) * sizeof(real));
        memcpy(y->data + ((long)bb * (T1 + T2) + T1) * row, b->data + (long)bb * T2 * row,
               (size_t)(T2 * row) * sizeof(real));
    }
    rg_tensor *in[2] = {a, b};
    if (rg_needs_grad(ctx, in, 2))
        rg_record(ctx, RG_OP_CONCAT_TIME, concat_time_backward, y, in, 2)->iarg[0] = (int)row;
    return y;
}

static void slice_time_backward(rg_ctx *ctx, rg_node *node) {
    rg_tensor *x = node->in[0];
    int B = x->shape[0], T = x->shape[1], t0 = node->iarg[0], n = node->out->shape[1];
    long row = node->iarg[1];
    real *g = rg_grad(ctx, x);
    for (int b = 0; b < B; b++)
#pragma omp simd
        for (long j = 0; j < n * row; j++)
            g[((long)b * T + t0) * row + j] += node->out->grad[(long)b * n * row + j];
}

rg_tensor *rg_slice_time(rg_ctx *ctx, rg_tensor *x, int t0, int t1) {
    if (x->ndim < 2 || t0 < 0 || t1 < t0 || t1 > x->shape[1])
        rg_die("slice_time: rows %d..%d are not inside time dim of length %d", t0, t1,
               x->ndim >= 2 ? x->shape[1] : 0);
    int shape[RG_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    int B = x->shape[0], T = x->shape[1];
    shape[1] = t1 - t0;
    rg_tensor *y = rg_empty(ctx, x->ndim, shape);
    long row = x->ndim > 2 ? rg_shape_size(x->ndim - 2, x->shape + 2) : 1;
    for (int b = 0; b < B; b++)
        memcpy(y->data + (long)b * (t1 - t0) * row, x->data + ((long)b * T + t0) * row,
               (size_t)((t1 - t0) * row) * sizeof(real));
    if (rg_needs_grad(ctx, &x, 1)) {
        rg_node *node = rg_record(ctx, RG_OP_SLICE_TIME, slice_time_backward, y, &x, 1);
        node->iarg[0] = t0, node->iarg[1] = (int)row;
    }
    return y;
}
