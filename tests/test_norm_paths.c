/* test_norm_paths.c: LayerNorm's code paths (src/ops/norm.c) bit for bit.
 * The AVX2 path sums a group of 8 rows in the lanes of one vector (each
 * 8 x 8 block transposed in registers); every row's sums must still be the
 * plain path's additions in the plain path's order, so the forward (y and
 * the saved mean and rstd) and the backward (dx, fresh or accumulated, and
 * the partial sums of dg and db) must be equal to the bit. Row counts with
 * and without a last partial group, C a multiple of 8 (the vector path) or
 * not (both take the plain path), values of many magnitudes. The forward is
 * also held against a float64 computation, so equal bits cannot mean
 * equally wrong. */
#include "testing.h"

#include "ops/ops_internal.h"

#include <math.h>
#include <string.h>

static void fill(rg_rng *rng, real *x, long n, double scale) {
    for (long i = 0; i < n; i++)
        x[i] = (real)(scale * rg_rng_normal(rng) * pow(10, -2 + 3 * rg_rng_uniform(rng)));
}

static bool same(const real *a, const real *b, long n) {
    return !memcmp(a, b, (size_t)n * sizeof(real));
}

Test(norm_paths, layernorm_every_level_same_bits) {
    const int Cs[] = {64, 24, 256, 20, 7};
    const long Rs[] = {8, 43, 1280, 5};
    rg_rng rng;
    rg_rng_seed(&rng, 11);
    int checked = 0;
    for (int ci = 0; ci < 5; ci++)
        for (int ri = 0; ri < 4; ri++) {
            int C = Cs[ci];
            long R = Rs[ri], n = R * C;
            real *x = malloc(n * sizeof(real)), *dy = malloc(n * sizeof(real));
            real *g = malloc(C * sizeof(real)), *b = malloc(C * sizeof(real));
            real *y[2], *st[2], *dx[2], *part[2];
            for (int p = 0; p < 2; p++) {
                y[p] = malloc(n * sizeof(real)), st[p] = malloc(2 * R * sizeof(real));
                dx[p] = malloc(n * sizeof(real)), part[p] = calloc(2 * C, sizeof(real));
            }
            fill(&rng, x, n, 1);
            for (long i = 0; i < n; i++) x[i] += (real)(3 * (i % 5)); /* a mean to remove */
            fill(&rng, dy, n, 1);
            fill(&rng, g, C, 1);
            fill(&rng, b, C, 0.1);
            for (int simd = RG_SIMD_AVX2; simd <= rg_layernorm_level(); simd++) {
                int paths[2] = {RG_SIMD_SSE4, simd};
                for (int p = 0; p < 2; p++)
                    rg_layernorm_fwd_rows(paths[p], x, g, b, R, C, y[p], st[p], 2);
                cr_assert(same(y[0], y[1], n), "C %d R %ld: y differs between the paths", C, R);
                cr_assert(same(st[0], st[1], 2 * R), "C %d R %ld: mean/rstd differ", C, R);
                for (int fresh = 0; fresh < 2; fresh++) {
                    for (int p = 0; p < 2; p++) {
                        for (long i = 0; i < n; i++) dx[p][i] = (real)(0.25 * (i % 3));
                        memset(part[p], 0, 2 * C * sizeof(real));
                        /* two ranges, as two threads would take them */
                        long mid = R / 2;
                        rg_layernorm_bwd_rows(paths[p], x, g, dy, st[p], 0, mid, C, dx[p], fresh,
                                              part[p], part[p] + C);
                        rg_layernorm_bwd_rows(paths[p], x, g, dy, st[p], mid, R, C, dx[p], fresh,
                                              part[p], part[p] + C);
                    }
                    cr_assert(same(dx[0], dx[1], n), "C %d R %ld fresh %d: dx differs", C, R,
                              fresh);
                    cr_assert(same(part[0], part[1], 2 * C), "C %d R %ld: dg/db differ", C, R);
                }
                checked++;
            }
            /* the forward (on the widest path) against float64 */
            rg_layernorm_fwd_rows(rg_layernorm_level(), x, g, b, R, C, y[1], st[1], 1);
            for (long r = 0; r < R; r++) {
                double mean = 0, var = 0;
                for (int c = 0; c < C; c++) mean += x[r * C + c];
                mean /= C;
                for (int c = 0; c < C; c++) var += (x[r * C + c] - mean) * (x[r * C + c] - mean);
                double rstd = 1 / sqrt(var / C + 1e-5);
                for (int c = 0; c < C; c++) {
                    double xhat = (x[r * C + c] - mean) * rstd, want = g[c] * xhat + b[c];
                    double scale = fabs(g[c]) * (fabs(xhat) + 1) + fabs(b[c]);
                    cr_assert(fabs(y[1][r * C + c] - want) <= 1e-5 * scale,
                              "C %d R %ld: y[%ld,%d] = %g, float64 %g", C, R, r, c,
                              (double)y[1][r * C + c], want);
                }
            }
            for (int p = 0; p < 2; p++) free(y[p]), free(st[p]), free(dx[p]), free(part[p]);
            free(x), free(dy), free(g), free(b);
        }
    if (rg_layernorm_level() > RG_SIMD_SSE4) cr_expect_gt(checked, 0);
}
