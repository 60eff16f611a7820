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

static void rotate_apply(rg_ctx *ctx, const real *x, real *y, const rg_tensor *shape_of,
                         const rotate_args *ra, int sign, bool accumulate) {
    int B = shape_of->shape[0], H = shape_of->shape[1], T = shape_of->shape[2];
    int D = shape_of->shape[3], half = D / 2, rows = ra->pos_stride ? B : 1;
    /* cos and sin of every (row, t, m), computed once in double */
    real *cs = rg_arena_alloc(&ctx->arena, (size_t)(2L * rows * T * half + 1) * sizeof(real));
    for (int b = 0; b < rows; b++)
        for (int t = 0; t < T; t++)
            for (int m = 0; m < half; m++) {
                double angle = (double)ra->pos[b * ra->pos_stride + t] *
                               pow((double)ra->base, -2.0 * m / D) / ra->scale;
                long at = 2 * (((long)b * T + t) * half + m);
                cs[at] = (real)cos(angle);
                cs[at + 1] = (real)(sign * sin(angle));
            }
#pragma omp parallel for schedule(static) if ((long)B * H * T * D > RG_PAR_MIN)                    \
    num_threads(ctx->threads)
    for (long bh = 0; bh < (long)B * H; bh++)
        for (int t = 0; t < T; t++) {
            long row = rows == 1 ? 0 : bh / H;
            const real *xr = x + (bh * T + t) * D, *c = cs + 2 * ((row * T + t) * half);
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

static void rotate_backward(rg_ctx *ctx, rg_node *node) {
    rotate_apply(ctx, node->out->grad, rg_grad(ctx, node->in[0]), node->out, node->saved, -1, true);
}

rg_tensor *rg_rotate_pairs(rg_ctx *ctx, rg_tensor *x, const int *pos, long pos_stride, real base,
                           real scale) {
    if (x->ndim != 4 || x->shape[3] % 2)
        rg_die_shapes("rotate_pairs", "need x [B,H,T,D], D even", x, NULL);
    rg_tensor *y = rg_like(ctx, x);
    rotate_args ra = {pos, pos_stride, base, scale};
    rotate_apply(ctx, x->data, y->data, x, &ra, 1, false);
    if (rg_needs_grad(ctx, &x, 1)) {
        rotate_args *saved = rg_arena_alloc(&ctx->arena, sizeof *saved);
        *saved = ra; /* pos is the caller's, alive for the step */
        rg_record(ctx, RG_OP_ROTATE_PAIRS, rotate_backward, y, &x, 1)->saved = saved;
    }
    return y;
}
