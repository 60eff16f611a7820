/* test_small_gemm.c: the attention kernel's small products (src/ops/small_gemm.c)
 * at every code level this CPU runs, bit for bit against the chains the file
 * documents: C[i, j] = alpha (sum over p in order from zero, one fused
 * multiply-add a step) (+ beta C[i, j] by one more).
 *
 * The register-blocked tiles (short chains k <= 16, narrow C n <= 16) are
 * taken at the shapes the kernel makes at small head widths: scores
 * [queries, keys] with k = D, and [rows, D] products with long k, with op(A)
 * stored either way (P or P^T), rows and columns that leave partial tiles
 * and partial vectors, beta zero (C not read: it holds NaN) and not, and C
 * transposed (csc != 1). */
#include "testing.h"

#include "ops/ops_internal.h"

#include <math.h>
#include <string.h>

static void fill(real *x, long n, uint64_t seed) {
    rg_rng rng;
    rg_rng_seed(&rng, seed);
    for (long i = 0; i < n; i++) x[i] = (real)rg_rng_normal(&rng);
}

/* The documented chain for one element (k <= 512 here: no split chains). */
static real chain(long k, real alpha, const real *a, long csa, const real *b, long rsb, real beta,
                  real c) {
    real acc = 0;
    for (long p = 0; p < k; p++) acc = fma(a[p * csa], b[p * rsb], acc);
    return beta == 0 ? alpha * acc : fma(beta, c, alpha * acc);
}

/* One shape at one level, op(A) row-major (a_t = 0) or stored transposed,
 * C row-major (c_t = 0) or transposed; fails the test at the first
 * element whose bits differ from the chain's. */
static void check_shape(int simd, long m, long n, long k, int a_t, int c_t, int with_beta) {
    long lda = (a_t ? m : k) + 3, ldb = n + 5, ldc = (c_t ? m : n) + 2;
    long rsa = a_t ? 1 : lda, csa = a_t ? lda : 1;
    long rsc = c_t ? 1 : ldc, csc = c_t ? ldc : 1;
    long a_size = (a_t ? k : m) * lda + 1, b_size = k * ldb + 1, c_size = (c_t ? n : m) * ldc;
    real *A = malloc((size_t)a_size * sizeof(real)), *B = malloc((size_t)b_size * sizeof(real));
    real *C = malloc((size_t)c_size * sizeof(real)), *C0 = malloc((size_t)c_size * sizeof(real));
    real *pack = malloc(RG_SMALL_PACK(k + 1) * sizeof(real));
    cr_assert(A && B && C && C0 && pack);
    fill(A, a_size, (uint64_t)(m * 1000 + k)), fill(B, b_size, (uint64_t)(n * 1000 + k + 7));
    real alpha = (real)0.35355339, beta = with_beta ? (real)-0.7 : 0;
    if (with_beta)
        fill(C0, c_size, 99);
    else
        for (long x = 0; x < c_size; x++) C0[x] = (real)NAN; /* beta 0: C is not read */
    memcpy(C, C0, (size_t)c_size * sizeof(real));
    rg_gemm_small_at(simd, m, n, k, alpha, A, rsa, csa, B, ldb, 1, beta, C, rsc, csc, pack);
    for (long i = 0; i < m; i++)
        for (long j = 0; j < n; j++) {
            long at = i * rsc + j * csc;
            real want = chain(k, alpha, A + i * rsa, csa, B + j, ldb, beta, C0[at]);
            cr_assert(!memcmp(&want, C + at, sizeof(real)),
                      "level %d m %ld n %ld k %ld a_t %d c_t %d beta %g: C[%ld,%ld] = %a, want %a",
                      simd, m, n, k, a_t, c_t, (double)beta, i, j, (double)C[at], (double)want);
        }
    /* nothing written outside C's m x n entries (the padding of each row) */
    for (long x = 0; x < c_size; x++) {
        long outer = x / ldc, inner = x % ldc;
        bool inside = c_t ? outer < n && inner < m : outer < m && inner < n;
        if (!inside)
            cr_assert(!memcmp(C + x, C0 + x, sizeof(real)),
                      "level %d m %ld n %ld k %ld: wrote padding entry %ld", simd, m, n, k, x);
    }
    free(A), free(B), free(C), free(C0), free(pack);
}

Test(small_gemm, every_level_same_bits) {
    const long ms[] = {1, 2, 3, 4, 5, 7, 8, 9, 13, 18, 32, 33};
    const long ns[] = {1,  2,  3,  4,  7,  8,  9,  12, 15, 16, 17,
                       18, 24, 25, 32, 40, 47, 49, 82, 97, 130};
    const long ks[] = {0, 1, 2, 3, 8, 15, 16, 17, 32, 82};
    int top = rg_small_level();
    long shapes = 0;
    for (int simd = RG_SIMD_SSE4; simd <= top; simd++)
        for (size_t a = 0; a < sizeof ms / sizeof *ms; a++)
            for (size_t b = 0; b < sizeof ns / sizeof *ns; b++)
                for (size_t c = 0; c < sizeof ks / sizeof *ks; c++)
                    for (int a_t = 0; a_t < 2; a_t++)
                        for (int with_beta = 0; with_beta < 2; with_beta++, shapes++)
                            check_shape(simd, ms[a], ns[b], ks[c], a_t, a_t & with_beta, with_beta);
    cr_log_info("small products: levels 0..%d, %ld shapes, bit for bit", top, shapes);
}

/* The level rg_gemm_small runs is the best the CPU has (float32 on x86-64
 * with AVX2 and FMA: a blocked level, so the tiles above are what runs). */
Test(small_gemm, level_is_the_cpus) {
    int level = rg_small_level();
    cr_assert(level >= RG_SIMD_SSE4 && level <= RG_SIMD_AVX512, "level %d", level);
#if defined(__x86_64__) && !defined(RELGRAD_F64)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        cr_assert(level >= RG_SIMD_AVX2, "AVX2 and FMA present, level %d", level);
#else
    cr_assert_eq(level, RG_SIMD_SSE4, "float64 or not x86-64: the loops only");
#endif
}
