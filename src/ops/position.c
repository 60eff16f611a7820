/* position.c: differentiable pieces that positional schemes are built from.
 *
 * rotate_pairs: rotate pairs of head features by position-dependent angles
 *               (the rotary scheme).
 * A scheme's own ops that no other scheme uses live in the scheme's file
 * (src/schemes/). How the schemes use these is in docs/schemes.md.
 */
#include "ops_internal.h"

#include <omp.h>
#include <string.h>

/* ---- rotate_pairs -----------------------------------------------------------------
 * For pair m of head features at position p, with angle a = p * base^(-2m/D) / scale:
 *   y0 = x0 cos a - x1 sin a,   y1 = x0 sin a + x1 cos a        (y = R(a) x)
 * R is a rotation, so its inverse is its transpose and the backward rotates
 * the gradient by -a:
 *   dx0 = dy0 cos a + dy1 sin a,   dx1 = -dy0 sin a + dy1 cos a   (dx = R(a)^T dy) */

typedef struct {
    const int *pos;
    long pos_stride;
    real base, scale;
} rotate_args;

/* y = R(sign a) x for x [B,H,T,D] at the positions of ra (mode: rotate_rows.c).
 * The tables C, S [rows, T, D] hold each position's cos and sin per feature
 * (rotate_rows.c: v[e] = x[e] C[e] + x[e ^ 1] S[e]), computed once in double
 * per (row, t, m); then each (b, h) block, rows T*D long, is one run. */
static void rotate_apply(rg_ctx *ctx, const real *x, real *y, const rg_tensor *shape_of,
                         const rotate_args *ra, int sign, int mode) {
    int B = shape_of->shape[0], H = shape_of->shape[1], T = shape_of->shape[2];
    int D = shape_of->shape[3], half = D / 2, rows = ra->pos_stride ? B : 1;
    long run = (long)T * D;
    real *C = rg_arena_alloc(&ctx->arena, (size_t)(2L * rows * run + 1) * sizeof(real));
    real *S = C + (long)rows * run;
    /* base^(-2m/D) per pair, as the angle's formula computes it */
    double *freq = rg_arena_alloc(&ctx->arena, (size_t)(half + 1) * sizeof(double));
    for (int m = 0; m < half; m++) freq[m] = pow((double)ra->base, -2.0 * m / D);
    for (int b = 0; b < rows; b++)
        for (int t = 0; t < T; t++)
            for (int m = 0; m < half; m++) {
                double angle = (double)ra->pos[b * ra->pos_stride + t] * freq[m] / ra->scale;
                real co = (real)cos(angle), si = (real)(sign * sin(angle));
                long at = (long)b * run + (long)t * D + 2 * m;
                C[at] = co, C[at + 1] = co;
                S[at] = -si, S[at + 1] = si;
            }
    int simd = rg_rotate_level();
#pragma omp parallel for schedule(static) if ((long)B * H * T * D > RG_PAR_MIN)                    \
    num_threads(ctx->threads)
    for (long bh = 0; bh < (long)B * H; bh++) {
        long row = rows == 1 ? 0 : bh / H;
        rg_rotate_rows_at(simd, x + bh * run, C + row * run, S + row * run, y + bh * run, run,
                          mode);
    }
}

/* dx = R(a)^T dy = R(-a) dy, into a fresh gradient without zeroing it first */
static void rotate_backward(rg_ctx *ctx, rg_node *node) {
    bool fresh;
    real *dx = rg_grad_fresh(ctx, node->in[0], &fresh);
    rotate_apply(ctx, node->out->grad, dx, node->out, node->saved, -1,
                 fresh ? RG_ROT_FRESH : RG_ROT_ADD);
}

rg_tensor *rg_rotate_pairs(rg_ctx *ctx, rg_tensor *x, const int *pos, long pos_stride, real base,
                           real scale) {
    if (x->ndim != 4 || x->shape[3] % 2)
        rg_die_shapes("rotate_pairs", "need x [B,H,T,D], D even", x, NULL);
    rg_tensor *y = rg_like(ctx, x);
    rotate_args ra = {pos, pos_stride, base, scale};
    rotate_apply(ctx, x->data, y->data, x, &ra, 1, RG_ROT_SET);
    if (rg_needs_grad(ctx, &x, 1)) {
        rotate_args *saved = rg_arena_alloc(&ctx->arena, sizeof *saved);
        *saved = ra; /* pos is the caller's, alive for the step */
        rg_record(ctx, RG_OP_ROTATE_PAIRS, rotate_backward, y, &x, 1)->saved = saved;
    }
    return y;
}
