/* test_scheme_kernels.c: the positional schemes' pieces inside the attention
 * kernel, bit for bit against the formulas they replace:
 *   - RoPE's vectorized rotation (src/ops/rotate_rows.c) at every code level
 *     this CPU runs against the pair formula y0 = x0 cos - x1 sin,
 *     y1 = x0 sin + x1 cos, stored, added, or into a fresh gradient;
 *   - the distance-bias table (src/ops/distance_bias.c, ALiBi's and T5's
 *     forward) at every code level on a row of consecutive key positions (one run along the row)
 *     and a row with gaps (each key's position), against S + bias(p_i - p_j);
 *   - T5's table gradient taken a block of dS rows at a time inside the
 *     kernel (heads owned by threads) and from the whole dS after it (3
 *     heads on 2 threads): the same bits, with and without random positions;
 *   - FIRE's bias op (src/schemes/fire.c) at every vector code this CPU runs
 *     against the plain build's code, forward and every parameter's
 *     gradient, on 1 and 2 threads. */
#include "testing.h"

#include "ops/ops_internal.h"

#include <limits.h>
#include <math.h>
#include <string.h>

static void fill(real *x, long n, uint64_t seed) {
    rg_rng rng;
    rg_rng_seed(&rng, seed);
    for (long i = 0; i < n; i++) x[i] = (real)rg_rng_normal(&rng);
}

static bool same_bits(real a, real b) {
    return memcmp(&a, &b, sizeof a) == 0;
}

/* ---- RoPE's rotation --------------------------------------------------------------- */

Test(scheme_kernels, rotate_rows_every_level) {
    enum { MAX = 70 };
    const long lens[] = {2, 4, 6, 8, 10, 16, 18, 30, 34, 66};
    real x[MAX], co[MAX / 2], si[MAX / 2], C[MAX], S[MAX], y0[MAX], y[MAX];
    fill(x, MAX, 1), fill(co, MAX / 2, 2), fill(si, MAX / 2, 3), fill(y0, MAX, 4);
    x[5] = -0.0, y0[7] = -0.0;        /* signed zeros reach every mode */
    for (int m = 0; m < MAX / 2; m++) /* the tables rotate_apply builds */
        C[2 * m] = C[2 * m + 1] = co[m], S[2 * m] = -si[m], S[2 * m + 1] = si[m];
    for (int simd = RG_SIMD_SSE4; simd <= rg_rotate_level(); simd++)
        for (int li = 0; li < (int)(sizeof lens / sizeof lens[0]); li++)
            for (int mode = RG_ROT_SET; mode <= RG_ROT_FRESH; mode++) {
                long n = lens[li];
                memcpy(y, y0, sizeof y);
                rg_rotate_rows_at(simd, x, C, S, y, n, mode);
                for (long e = 0; e < MAX; e++) {
                    real want = y0[e];
                    if (e < n) {
                        long m = e / 2;
                        real v = e % 2 == 0 ? x[e] * co[m] - x[e + 1] * si[m]
                                            : x[e - 1] * si[m] + x[e] * co[m];
                        want = mode == RG_ROT_SET ? v : mode == RG_ROT_ADD ? y0[e] + v : 0 + v;
                    }
                    cr_assert(same_bits(y[e], want),
                              "level %d, n %ld, mode %d: y[%ld] = %a, the pair formula %a", simd, n,
                              mode, e, (double)y[e], (double)want);
                }
            }
}

/* ---- the distance-bias table -------------------------------------------------------- */

Test(scheme_kernels, distance_bias_both_paths) {
    enum { B = 2, T = 9, Tk = 11, H = 3 };
    /* row 0: keys at 4..14 (consecutive), queries at 6..14; row 1: gaps */
    int qpos[B * T], kpos[B * Tk];
    for (int j = 0; j < Tk; j++) kpos[j] = 4 + j, kpos[Tk + j] = 3 * j + (j > 5);
    for (int i = 0; i < T; i++) qpos[i] = 6 + i, qpos[T + i] = kpos[Tk + i + 2];
    rg_attn_pos pos = {.q = qpos, .k = kpos, .q_stride = T, .k_stride = Tk};
    pos.min_dist = INT_MAX, pos.max_dist = INT_MIN;
    for (int b = 0; b < B; b++)
        for (int i = 0; i < T; i++)
            for (int j = 0; j < Tk; j++) {
                int d = qpos[b * T + i] - kpos[b * Tk + j];
                pos.min_dist = d < pos.min_dist ? d : pos.min_dist;
                pos.max_dist = d > pos.max_dist ? d : pos.max_dist;
            }
    rg_ctx ctx;
    rg_ctx_init(&ctx, 1);
    rg_dist_bias d;
    rg_dist_bias_init(&ctx, &d, &pos, B, H, Tk);
    cr_assert_eq(d.Bp, B);
    cr_expect_eq(d.k_first[0], 4, "row 0's keys are consecutive from 4");
    cr_expect_eq(d.k_first[1], INT_MIN, "row 1's keys have gaps");
    fill(d.rev, (long)H * d.span, 5);
    int lo[T], hi[T];
    for (int r = 0; r < T; r++) lo[r] = r / 3, hi[r] = r + 2 < Tk ? r + 2 : Tk; /* windows */
    real S0[T * Tk], S[T * Tk];
    fill(S0, T * Tk, 6);
    for (int simd = RG_SIMD_SSE4; simd <= rg_dist_bias_level(); simd++)
        for (int b = 0; b < B; b++)
            for (int h = 0; h < H; h++)
                for (int i0 = 0; i0 < T; i0 += 4) { /* blocks of up to 4 rows */
                    d.simd = simd;
                    int n = T - i0 < 4 ? T - i0 : 4;
                    memcpy(S, S0, sizeof S);
                    rg_term_block blk = {.b = b,
                                         .h = h,
                                         .i0 = i0,
                                         .n = n,
                                         .lo = lo + i0,
                                         .hi = hi + i0,
                                         .S = S + (long)i0 * Tk,
                                         .ld = Tk};
                    rg_dist_bias_add(&d, &blk);
                    for (int i = 0; i < T; i++)
                        for (int j = 0; j < Tk; j++) {
                            real want = S0[i * Tk + j];
                            if (i >= i0 && i < i0 + n && j >= lo[i] && j < hi[i]) {
                                int dist = qpos[b * T + i] - kpos[b * Tk + j];
                                want += d.rev[(long)h * d.span + pos.max_dist - dist];
                            }
                            cr_assert(same_bits(S[i * Tk + j], want),
                                      "level %d, b %d h %d rows %d..: S[%d,%d] = %a, want %a", simd,
                                      b, h, i0, i, j, (double)S[i * Tk + j], (double)want);
                        }
                }
    rg_ctx_free(&ctx);
}

/* ---- T5's table gradient: per block of rows, or from the whole dS ------------------ */

/* Every parameter gradient of a tiny t5 model (3 heads) after one backward on
 * `threads` threads. */
static real *t5_grads(int threads, bool random_pos, long *n) {
    enum { B = 3, T = 37 }; /* more than one 32-query block */
    rg_config c;
    test_tiny_config(&c, "t5", 0);
    rg_model m;
    rg_error err;
    cr_assert_eq(rg_gc_model_init(&m, &c.model, 11, &err), 0, "model init failed: %s", err.msg);
    int tok[B * T], pos[B * T], targets[B * T];
    real mask[B * T];
    rg_gc_random_tokens(tok, B * T, m.V, 9);
    if (random_pos) rg_gc_random_positions(pos, B, T, 90, 23);
    for (int i = 0; i < B * T; i++) targets[i] = tok[(i + 1) % (B * T)], mask[i] = i % 3 != 0;
    rg_ctx ctx;
    rg_ctx_init(&ctx, threads);
    rg_tensor *y = rg_model_forward_seq(&ctx, &m, tok, random_pos ? pos : NULL, NULL, B, T);
    rg_model_zero_grad(&m);
    rg_backward(&ctx, rg_model_loss(&ctx, y, targets, mask));
    *n = m.n_values;
    real *g = malloc((size_t)m.n_values * sizeof(real));
    memcpy(g, m.grads, (size_t)m.n_values * sizeof(real));
    rg_ctx_free(&ctx);
    rg_model_free(&m);
    return g;
}

Test(scheme_kernels, t5_table_gradient_by_rows_equals_whole) {
    for (int random_pos = 0; random_pos < 2; random_pos++) {
        long n1, n2;
        real *by_rows = t5_grads(1, random_pos, &n1); /* 3 heads, 1 thread: per block */
        real *whole = t5_grads(2, random_pos, &n2);   /* 3 heads, 2 threads: whole dS */
        cr_assert_eq(n1, n2);
        for (long i = 0; i < n1; i++)
            cr_assert(same_bits(by_rows[i], whole[i]),
                      "%s: gradient value %ld differs: %a per block, %a from the whole dS",
                      random_pos ? "random positions" : "positions 0..T-1", i, (double)by_rows[i],
                      (double)whole[i]);
        free(by_rows), free(whole);
    }
}

/* ---- FIRE's op at each vector code ------------------------------------------------- */

/* E and the six parameter gradients of fire_bias at `simd` on `threads`
 * threads, for a fixed draw: 2 rows of 37 queries after 3 memory keys,
 * randomly spaced positions, 3 heads, width 21 (not a multiple of any
 * vector width), fire_L 2 so both sides of max(p_i, thr) occur. */
static real *fire_values(int simd, int threads, long *n) {
    enum { BP = 2, T = 37, DIAG = 3, TK = T + DIAG, H = 3, W = 21 };
    rg_rng rng;
    rg_rng_seed(&rng, 5);
    int shapes[6][2] = {{1, 1}, {1, 1}, {W, 1}, {W, 1}, {H, W}, {H, 1}};
    int ndims[6] = {1, 1, 2, 1, 2, 1};
    rg_tensor *p[6];
    for (int k = 0; k < 6; k++) {
        p[k] = rg_tensor_random(&rng, ndims[k], shapes[k], 1.0, NULL);
        p[k]->requires_grad = true;
    }
    p[0]->data[0] = (real)0.1, p[1]->data[0] = (real)2.3;
    int qpos[BP * T], kpos[BP * TK];
    for (int b = 0; b < BP; b++) {
        int at = 0;
        for (int j = 0; j < TK; j++) kpos[b * TK + j] = at, at += 1 + (int)(rg_rng_u64(&rng) % 3);
        for (int i = 0; i < T; i++) qpos[b * T + i] = kpos[b * TK + DIAG + i];
    }
    rg_ctx ctx;
    rg_ctx_init(&ctx, threads);
    rg_tensor *E = rg_fire_bias_at(&ctx, simd, qpos, kpos, BP, T, TK, DIAG, p, (real)2);
    real *seed = malloc((size_t)E->size * sizeof(real));
    fill(seed, E->size, 6);
    rg_backward_seeded(&ctx, E, seed);
    *n = E->size + 2 + 2 * W + H * W + H;
    real *out = malloc((size_t)*n * sizeof(real)), *o = out;
    memcpy(o, E->data, (size_t)E->size * sizeof(real)), o += E->size;
    for (int k = 0; k < 6; k++) {
        real *g = rg_grad(&ctx, p[k]);
        memcpy(o, g, (size_t)p[k]->size * sizeof(real)), o += p[k]->size;
        rg_tensor_free(p[k]);
    }
    free(seed);
    rg_ctx_free(&ctx);
    return out;
}

Test(scheme_kernels, fire_every_level) {
    for (int threads = 1; threads <= 2; threads++) {
        long n0, n;
        real *plain = fire_values(RG_SIMD_SSE4, threads, &n0);
        int nonzero = 0;
        for (long i = 0; i < n0; i++) nonzero += plain[i] != 0;
        cr_assert_gt(nonzero, n0 / 2, "fire's values are mostly zero: the test checks little");
        for (int simd = RG_SIMD_SSE4 + 1; simd <= rg_fire_level(); simd++) {
            real *v = fire_values(simd, threads, &n);
            cr_assert_eq(n, n0);
            for (long i = 0; i < n; i++)
                cr_assert(same_bits(v[i], plain[i]),
                          "level %d, %d threads: value %ld (E, then c, L, fc1.weight, fc1.bias, "
                          "fc2.weight, fc2.bias) = %a, the plain code's %a",
                          simd, threads, i, (double)v[i], (double)plain[i]);
            free(v);
        }
        free(plain);
    }
}
