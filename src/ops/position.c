/* position.c: differentiable pieces that positional schemes are built from.
 *
 * rotate_pairs: rotate pairs of head features by position-dependent angles
 *               (the rotary scheme).
 * fire_bias:    FIRE's learned function of the normalized distance, as a
 *               per-head bias (Li et al. 2023).
 * How the schemes use them is in src/schemes/ and docs/schemes.md.
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
        rg_record(ctx, "rotate_pairs", rotate_backward, y, &x, 1)->saved = saved;
    }
    return y;
}

/* ---- fire_bias ------------------------------------------------------------------------
 * Forward, for a visible pair at positions (p_i, p_j), with d = p_i - p_j:
 *   psi(x) = log(|c x| + 1),  thr = |L s|  (s = L_scale),  m = max(p_i, thr)
 *   z = psi(d) / (psi(m) + 1e-6)
 *   a_w = W1[w] z + b1[w],  u_w = relu(a_w),  E_h = sum_w W2[h,w] u_w + b2[h]
 * Backward, with g_h = dE_h (PyTorch's conventions at the kinks: relu'(0) = 0,
 * d|x|/dx at 0 = 0, and a tie p_i = thr splits max's gradient half and half):
 *   db2[h] += g_h,  dW2[h,w] += g_h u_w,  du_w = sum_h W2[h,w] g_h
 *   da_w = du_w [a_w > 0],  dW1[w] += da_w z,  db1[w] += da_w,  dz = sum_w W1[w] da_w
 *   with N = psi(d), Dn = psi(m) + 1e-6:
 *     dpsi(x)/dc = sgn(c x) x / (|c x| + 1),   dpsi(m)/dm = sgn(c m) c / (|c m| + 1)
 *     dc += dz (dN/dc Dn - N dDn/dc) / Dn^2
 *     dL += dz (-N / Dn^2) dpsi(m)/dm  dm/dthr  sgn(L s) s
 *   where dm/dthr = 1 if thr > p_i, 1/2 if thr = p_i, else 0.
 * The hidden layer is recomputed in the backward rather than kept. */

typedef struct {
    const int *qpos, *kpos;
    int Bp, T, Tk, diag, W, H;
    real L_scale;
} fire_args;

static double sgn(double x) {
    return (x > 0) - (x < 0);
}

static void fire_backward(rg_ctx *ctx, rg_node *node) {
    const fire_args *fa = node->saved;
    rg_tensor *c = node->in[0], *L = node->in[1], *W1 = node->in[2], *b1 = node->in[3];
    rg_tensor *W2 = node->in[4], *b2 = node->in[5];
    int W = fa->W, H = fa->H, T = fa->T, Tk = fa->Tk, threads = ctx->threads;
    /* per-thread sums of the parameter gradients, added in a fixed order after */
    long per = 2 + 2L * W + (long)H * W + H;
    double *acc = rg_arena_calloc(&ctx->arena, (size_t)(threads * per) * sizeof(double));
    const real *dE = node->out->grad;
    double cv = c->data[0], Lv = L->data[0], s = fa->L_scale;
    double thr = fabs(Lv * s);
#pragma omp parallel num_threads(threads)
    {
        double *a = acc + omp_get_thread_num() * per;
        double *dc = a, *dL = a + 1, *dW1 = a + 2, *db1 = dW1 + W, *dW2 = db1 + W,
               *db2 = dW2 + H * W;
        double hid[256], pre[256]; /* W <= 256 (checked by the forward) */
#pragma omp for schedule(static) collapse(2)
        for (int bp = 0; bp < fa->Bp; bp++)
            for (int i = 0; i < T; i++) {
                int pi = fa->qpos[(long)bp * T + i];
                double m = pi > thr ? pi : thr;
                double Dn = log(fabs(cv * m) + 1) + 1e-6;
                double dDn_dc = sgn(cv * m) * m / (fabs(cv * m) + 1);
                double dDn_dm = sgn(cv * m) * cv / (fabs(cv * m) + 1);
                double dm_dthr = thr > pi ? 1 : thr == pi ? 0.5 : 0;
                int end = i + fa->diag + 1 < Tk ? i + fa->diag + 1 : Tk;
                for (int j = 0; j < end; j++) {
                    double d = pi - fa->kpos[(long)bp * Tk + j];
                    double N = log(fabs(cv * d) + 1), z = N / Dn;
                    const real *g = dE + ((long)bp * H * T + i) * Tk + j; /* g[h * T * Tk] */
                    for (int w = 0; w < W; w++) {
                        pre[w] = W1->data[w] * z + b1->data[w];
                        hid[w] = pre[w] > 0 ? pre[w] : 0;
                    }
                    double dz = 0;
                    for (int w = 0; w < W; w++) {
                        double du = 0;
                        for (int h = 0; h < H; h++) {
                            double gh = g[(long)h * T * Tk];
                            du += W2->data[h * W + w] * gh;
                            dW2[h * W + w] += gh * hid[w];
                        }
                        double da = pre[w] > 0 ? du : 0;
                        dW1[w] += da * z;
                        db1[w] += da;
                        dz += W1->data[w] * da;
                    }
                    for (int h = 0; h < H; h++) db2[h] += g[(long)h * T * Tk];
                    double dN_dc = sgn(cv * d) * d / (fabs(cv * d) + 1);
                    *dc += dz * (dN_dc * Dn - N * dDn_dc) / (Dn * Dn);
                    *dL += dz * (-N / (Dn * Dn)) * dDn_dm * dm_dthr * sgn(Lv * s) * s;
                }
            }
    }
    rg_tensor *ins[6] = {c, L, W1, b1, W2, b2};
    long offs[6] = {0, 1, 2, 2 + W, 2 + 2L * W, 2 + 2L * W + (long)H * W};
    for (int k = 0; k < 6; k++) {
        if (!rg_wants_grad(node, k)) continue;
        real *g = rg_grad(ctx, ins[k]);
        for (long e = 0; e < ins[k]->size; e++) {
            double sum = 0;
            for (int th = 0; th < threads; th++) sum += acc[th * per + offs[k] + e];
            g[e] += (real)sum;
        }
    }
}

rg_tensor *rg_fire_bias(rg_ctx *ctx, const int *qpos, const int *kpos, int Bp, int T, int Tk,
                        int diag, rg_tensor *c, rg_tensor *L, rg_tensor *W1, rg_tensor *b1,
                        rg_tensor *W2, rg_tensor *b2, real L_scale) {
    int W = W1->shape[0], H = W2->shape[0];
    if (c->size != 1 || L->size != 1 || W1->ndim != 2 || W1->shape[1] != 1 || b1->size != W ||
        W2->ndim != 2 || W2->shape[1] != W || b2->size != H)
        rg_die_shapes("fire_bias", "need c [1], L [1], W1 [W,1], b1 [W], W2 [H,W], b2 [H]", W1, W2);
    if (W > 256) rg_die("fire_bias: width %d exceeds 256", W);
    rg_tensor *E = rg_zeros(ctx, 4, (int[]){Bp, H, T, Tk});
    double cv = c->data[0], thr = fabs(L->data[0] * (double)L_scale);
#pragma omp parallel for schedule(static) collapse(2) if ((long)Bp * T * Tk * W > RG_PAR_MIN)      \
    num_threads(ctx->threads)
    for (int bp = 0; bp < Bp; bp++)
        for (int i = 0; i < T; i++) {
            int pi = qpos[(long)bp * T + i];
            double m = pi > thr ? pi : thr, Dn = log(fabs(cv * m) + 1) + 1e-6;
            int end = i + diag + 1 < Tk ? i + diag + 1 : Tk;
            for (int j = 0; j < end; j++) {
                double d = pi - kpos[(long)bp * Tk + j], z = log(fabs(cv * d) + 1) / Dn;
                real *e = E->data + ((long)bp * H * T + i) * Tk + j; /* e[h * T * Tk] */
                for (int h = 0; h < H; h++) e[(long)h * T * Tk] = b2->data[h];
                for (int w = 0; w < W; w++) {
                    double a = W1->data[w] * z + b1->data[w];
                    if (a <= 0) continue;
                    for (int h = 0; h < H; h++)
                        e[(long)h * T * Tk] += (real)(W2->data[h * W + w] * a);
                }
            }
        }
    rg_tensor *in[6] = {c, L, W1, b1, W2, b2};
    if (rg_needs_grad(ctx, in, 6)) {
        fire_args *fa = rg_arena_alloc(&ctx->arena, sizeof *fa);
        *fa = (fire_args){qpos, kpos, Bp, T, Tk, diag, W, H, L_scale};
        rg_record(ctx, "fire_bias", fire_backward, E, in, 6)->saved = fa;
    }
    return E;
}
