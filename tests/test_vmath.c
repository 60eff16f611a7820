/* test_vmath.c: GELU's float32 vector loops (src/ops/vmath.c). At every
 * width this CPU runs (AVX-512, AVX2), forward and backward give the same
 * bits as the 4-wide libmvec path (RG_SIMD_SSE4: glibc's SSE4 erff and expf,
 * what the plain `omp declare simd` loops call) on a sweep over the float
 * range, special values and lengths that leave a scalar tail; every width
 * stays within a stated bound of GELU computed in double with libm's erfc
 * and exp; erf_table.c equals its definition. */
#include "testing.h"

#include "ops/ops_internal.h"

#include <float.h>
#include <stdint.h>
#include <string.h>

/* x values: every STRIDE-th float bit pattern (both signs, zeros,
 * subnormals, infinities, NaNs among them), then the erf table's nodes
 * times sqrt 2 and their neighbours, the clamp at 3.9296875 sqrt 2, and the
 * region where exp's argument passes -87.34 (|x| near 13.2). */
enum { STRIDE = 4099 };

static float from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static float *sweep(long *n) {
    long cap = (long)(UINT32_MAX / STRIDE) + 1 + 3 * RG_ERF_N + 4000;
    float *x = malloc((size_t)cap * sizeof(float));
    cr_assert_not_null(x);
    long k = 0;
    for (uint64_t u = 0; u <= UINT32_MAX; u += STRIDE) x[k++] = from_bits((uint32_t)u);
    for (int i = 0; i < RG_ERF_N; i++) {
        float node = (float)(i / 128.0 * M_SQRT2);
        x[k++] = node, x[k++] = nextafterf(node, 0), x[k++] = -nextafterf(node, INFINITY);
    }
    for (int i = 0; i < 2000; i++) {
        x[k++] = 13.0f + i * 0.0003f;
        x[k++] = -(5.0f + i * 0.0007f);
    }
    cr_assert_leq(k, cap);
    *n = k;
    return x;
}

/* Bit-for-bit equality of two float arrays. */
static void same_bits(const float *a, const float *b, const float *x, long n, const char *what,
                      int simd, int threads) {
    for (long j = 0; j < n; j++)
        if (memcmp(a + j, b + j, sizeof(float)))
            cr_assert_fail(
                "%s, width %d, %d threads, x = %a (element %ld of %ld): %a, libmvec path "
                "%a",
                what, simd, threads, x[j], j, n, a[j], b[j]);
}

/* Forward and backward (fresh and accumulating) at width `simd` against
 * RG_SIMD_SSE4 on the first n values of x. */
static void compare_width(int simd, const float *x, long n, int threads) {
    size_t sz = (size_t)n * sizeof(float);
    float *cdf = malloc(sz), *y = malloc(sz), *cdf0 = malloc(sz), *y0 = malloc(sz);
    float *dy = malloc(sz), *g = malloc(sz), *g0 = malloc(sz);
    cr_assert(cdf && y && cdf0 && y0 && dy && g && g0);
    rg_gelu_fwd_f32(simd, x, cdf, y, n, threads);
    rg_gelu_fwd_f32(RG_SIMD_SSE4, x, cdf0, y0, n, threads);
    same_bits(cdf, cdf0, x, n, "forward cdf", simd, threads);
    same_bits(y, y0, x, n, "forward y", simd, threads);
    for (long j = 0; j < n; j++) dy[j] = (float)((j % 7) - 3) * 0.25f + 0.125f;
    rg_gelu_bwd_f32(simd, x, cdf0, dy, g, n, true, threads);
    rg_gelu_bwd_f32(RG_SIMD_SSE4, x, cdf0, dy, g0, n, true, threads);
    same_bits(g, g0, x, n, "backward (fresh)", simd, threads);
    for (long j = 0; j < n; j++) g[j] = g0[j] = (float)(j % 5) - 2.0f;
    rg_gelu_bwd_f32(simd, x, cdf0, dy, g, n, false, threads);
    rg_gelu_bwd_f32(RG_SIMD_SSE4, x, cdf0, dy, g0, n, false, threads);
    same_bits(g, g0, x, n, "backward (accumulating)", simd, threads);
    free(cdf), free(y), free(cdf0), free(y0), free(dy), free(g), free(g0);
}

Test(vmath, widths_same_bits_as_libmvec_sse4) {
    long n;
    float *x = sweep(&n);
    int level = rg_vmath_level();
    int tested = 0;
    for (int simd = RG_SIMD_AVX2; simd <= level; simd++) {
        /* the whole sweep (> RG_PAR_MIN: 1 and 2 threads), and lengths that
         * leave 1-3 values for the scalar tail or fill less than a vector */
        compare_width(simd, x, n, 1);
        compare_width(simd, x, n, 2);
        compare_width(simd, x, n - 3, 2);
        for (long len = 0; len <= 37; len++) compare_width(simd, x + 1000 * len, len, 1);
        tested++;
    }
    cr_log_info("widths tested bit for bit against libmvec's 4-wide path: %d (level %d)", tested,
                level);
    free(x);
}

/* n <= RG_PAR_MIN: every width runs the scalar erff and expf on every
 * value, as the `if (n > RG_PAR_MIN)` clause made the plain loops do
 * (vmath.c), so small tensors (decoding, small batches) keep their bits.
 * (volatile: the products are not contracted into FMAs here either.) */
Test(vmath, small_tensors_scalar_libm) {
    long n;
    float *x = sweep(&n);
    long m = RG_PAR_MIN;
    float *cdf = malloc((size_t)m * sizeof(float)), *y = malloc((size_t)m * sizeof(float));
    float *g = malloc((size_t)m * sizeof(float));
    cr_assert(cdf && y && g);
    const float k = (float)(0.5 * M_2_SQRTPI * M_SQRT1_2);
    for (int simd = RG_SIMD_SSE4; simd <= rg_vmath_level(); simd++)
        for (long off = 0; off + m <= n; off += n / 5) {
            const float *xs = x + off;
            rg_gelu_fwd_f32(simd, xs, cdf, y, m, 2);
            for (long j = 0; j < m; j++) g[j] = 1;
            rg_gelu_bwd_f32(simd, xs, cdf, cdf, g, m, false, 2); /* dy = cdf */
            for (long j = 0; j < m; j++) {
                float c = 0.5f * (1 + erff(xs[j] * (float)M_SQRT1_2));
                volatile float yv = xs[j] * c, pdf = expf(-0.5f * xs[j] * xs[j]) * k;
                volatile float xpdf = xs[j] * pdf, sum = c + xpdf, v = c * sum;
                float gv = 1 + v, yy = yv;
                cr_assert(!memcmp(&cdf[j], &c, 4) && !memcmp(&y[j], &yy, 4) &&
                              !memcmp(&g[j], &gv, 4),
                          "width %d, x = %a: cdf %a y %a g %a, scalar libm: %a %a %a", simd, xs[j],
                          cdf[j], y[j], g[j], c, yy, gv);
            }
        }
    free(cdf), free(y), free(g), free(x);
}

/* GELU in double with libm: Phi(x) = erfc(-x / sqrt 2) / 2 (no
 * cancellation for negative x) and phi(x) = exp(-x^2 / 2) / sqrt(2 pi).
 * The float32 loops round 1 + erf(x / sqrt 2) to float, so Phi's error is
 * bounded in absolute terms: CDF_ABS = 2^-23 (one ulp of 1; libmvec's erff
 * is within a few ulp of erf, and erf < 1 there); y = x Phi with the same
 * bound times |x| plus its own rounding. The backward's factor
 * Phi + x phi, given the forward's float cdf, within DER_ABS = 2^-22
 * (expf's error, the rounding of -x^2/2 and of the products, all below an
 * ulp of 1 where the factor is at most ~1.13). Finite x only. */
#define CDF_ABS 0x1p-23
#define DER_ABS 0x1p-22

static void check_accuracy(int simd, const float *x, long n) {
    size_t sz = (size_t)n * sizeof(float);
    float *cdf = malloc(sz), *y = malloc(sz), *dy = malloc(sz), *g = malloc(sz);
    cr_assert(cdf && y && dy && g);
    for (long j = 0; j < n; j++) dy[j] = 1;
    rg_gelu_fwd_f32(simd, x, cdf, y, n, 1);
    rg_gelu_bwd_f32(simd, x, cdf, dy, g, n, true, 1);
    double worst_cdf = 0, worst_y = 0, worst_der = 0;
    for (long j = 0; j < n; j++) {
        double xd = x[j];
        if (!isfinite(xd)) continue;
        double phi_big = 0.5 * erfc(-xd * M_SQRT1_2);
        double e_cdf = fabs(cdf[j] - phi_big);
        double e_y = fabs(y[j] - xd * phi_big) /
                     (fabs(xd) * CDF_ABS + FLT_MIN + fabs(xd * phi_big) * FLT_EPSILON);
        double der = (double)cdf[j] + xd * exp(-0.5 * xd * xd) * (0.5 * M_2_SQRTPI * M_SQRT1_2);
        double e_der = fabs(g[j] - der);
        cr_assert_leq(e_cdf, CDF_ABS, "width %d, x = %a: cdf %a, libm %a", simd, x[j], cdf[j],
                      phi_big);
        cr_assert_leq(e_y, 1.0, "width %d, x = %a: y %a, libm %a", simd, x[j], y[j], xd * phi_big);
        cr_assert_leq(e_der, DER_ABS, "width %d, x = %a: Phi + x phi %a, libm %a", simd, x[j], g[j],
                      der);
        if (e_cdf > worst_cdf) worst_cdf = e_cdf;
        if (e_y > worst_y) worst_y = e_y;
        if (e_der > worst_der) worst_der = e_der;
    }
    cr_log_info("width %d: worst |cdf - Phi| = %g, y at %g of its bound, |Phi + x phi| error %g",
                simd, worst_cdf, worst_y, worst_der);
    free(cdf), free(y), free(dy), free(g);
}

Test(vmath, gelu_within_bound_of_libm) {
    long n;
    float *x = sweep(&n);
    for (int simd = RG_SIMD_SSE4; simd <= rg_vmath_level(); simd++) check_accuracy(simd, x, n);
    free(x);
}

/* erf_table.c holds erf(i/128) and 2/sqrt(pi) exp(-(i/128)^2), float32. */
Test(vmath, erf_table_is_its_definition) {
    for (int i = 0; i < RG_ERF_N; i++) {
        double x0 = i / 128.0;
        cr_assert_eq(rg_erf_t0[i], (float)erf(x0), "rg_erf_t0[%d] = %a, erf(%g) = %a", i,
                     rg_erf_t0[i], x0, (float)erf(x0));
        cr_assert_eq(rg_erf_t1[i], (float)(M_2_SQRTPI * exp(-x0 * x0)),
                     "rg_erf_t1[%d] = %a, 2/sqrt(pi) exp(-%g^2) = %a", i, rg_erf_t1[i], x0,
                     (float)(M_2_SQRTPI * exp(-x0 * x0)));
    }
}
