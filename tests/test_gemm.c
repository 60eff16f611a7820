/* test_gemm.c: the GEMMs every op rests on (src/ops/gemm.c, gemm_kernel.c).
 *
 * relgrad's own float32 kernels (rg_sgemm_fma) have fixed arithmetic: each
 * element of C is one chain of fused multiply-adds over p in order,
 * restarted at every multiple of 384, each segment's sum applied as
 * alpha acc (first segment, beta 0) or fma(beta or 1, C, alpha acc). The
 * tests compute that chain here in plain C and demand the same bits, for
 * every kernel set the CPU has (AVX2, AVX-512), shapes that end mid-tile,
 * mid-panel and mid-segment, every stride layout, 1 and 2 threads. rg_gemm
 * (own kernels, BLIS or gemv, whichever its rule picks) is checked against
 * a double-precision sum in both builds, and its choice against the rule. */
#include "ops/ops_internal.h"
#include "testing.h"

#include <blis.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Values with many significant bits, so that any other order of the sums
 * rounds differently somewhere. */
static void fill(real *x, long n, unsigned seed) {
    rg_rng rng;
    rg_rng_seed(&rng, seed);
    for (long i = 0; i < n; i++) x[i] = (real)(rg_rng_uniform(&rng) * 2 - 1);
}
static void fillf(float *x, long n, unsigned seed) {
    rg_rng rng;
    rg_rng_seed(&rng, seed);
    for (long i = 0; i < n; i++) x[i] = (float)(rg_rng_uniform(&rng) * 2 - 1);
}

typedef struct {
    long m, n, k;
    bool ta, tb, tc; /* A stored [k,m], B stored [n,k], C stored [n,m] */
    real alpha, beta;
} shape;

/* The strides of op(X) [rows, cols] stored as [rows, cols] or, transposed,
 * [cols, rows]. */
static void strides(bool t, long rows, long cols, long *rs, long *cs) {
    *rs = t ? 1 : cols;
    *cs = t ? rows : 1;
}

/* The chain, element by element. */
static void chain_ref(const shape *s, const float *A, const float *B, float *C) {
    long rsa, csa, rsb, csb, rsc, csc;
    strides(s->ta, s->m, s->k, &rsa, &csa);
    strides(s->tb, s->k, s->n, &rsb, &csb);
    strides(s->tc, s->m, s->n, &rsc, &csc);
    for (long i = 0; i < s->m; i++)
        for (long j = 0; j < s->n; j++) {
            float *c = C + i * rsc + j * csc, beta = (float)s->beta;
            if (s->k == 0) *c = beta == 0 ? 0 : beta * *c;
            for (long p0 = 0; p0 < s->k; p0 += 384, beta = 1) {
                float acc = 0;
                for (long p = p0; p < p0 + 384 && p < s->k; p++)
                    acc = fmaf(A[i * rsa + p * csa], B[p * rsb + j * csb], acc);
                *c = beta == 0 ? (float)s->alpha * acc : fmaf(beta, *c, (float)s->alpha * acc);
            }
        }
}

static const shape SHAPES[] = {
    /* config (a), N = 32 x 40 rows, d 64, d_ff 256: */
    {1280, 192, 64, false, true, false, 1, 1},  /* qkv x W^T + b */
    {1280, 256, 64, false, true, false, 1, 1},  /* fc1 */
    {1280, 20, 64, false, true, false, 1, 0},   /* the head's few columns, no bias */
    {1280, 256, 64, false, false, false, 1, 0}, /* fc2's dX = dY W, fresh */
    {1280, 64, 256, false, false, false, 1, 1}, /* fc1's dX = dY W, accumulating */
    {192, 64, 1280, true, false, false, 1, 1},  /* dW += dY^T X: four segments of p */
    /* tiles, panels and segments cut short, every stride layout */
    {64, 300, 1000, true, false, false, 1, 0}, /* more columns than rows, several blocks */
    {37, 45, 384, false, true, false, 0.25f, 0.5f},
    {13, 33, 385, false, false, true, 1, 1}, /* C column-major; one p past a segment */
    {25, 17, 767, true, true, false, 0.125f, 0},
    {40, 600, 130, false, true, true, 1, 0}, /* 130 > 128: blocks of fewer columns */
    {11, 7, 5, false, false, false, 1, 0},
    {1, 40, 3, true, false, false, 1, 1},
    {12, 32, 1, false, false, false, 1, 0},
    {3, 100, 0, false, false, false, 1, 0.5f}, /* empty product: C = beta C */
    {300, 20, 64, false, true, true, -1, 2},
};
enum { N_SHAPES = sizeof SHAPES / sizeof *SHAPES };

/* Operands for s: A, B and C in float, C's starting values also in R. */
typedef struct {
    float *A, *B, *C, *R;
    long nc, rsa, csa, rsb, csb, rsc, csc;
} operands;

static operands make_operands(const shape *s) {
    operands o = {.nc = s->m * s->n};
    long na = s->m * s->k, nb = s->k * s->n;
    o.A = malloc((size_t)(na + 1) * 4), o.B = malloc((size_t)(nb + 1) * 4);
    o.C = malloc((size_t)o.nc * 4), o.R = malloc((size_t)o.nc * 4);
    fillf(o.A, na, 1), fillf(o.B, nb, 2), fillf(o.C, o.nc, 3);
    memcpy(o.R, o.C, (size_t)o.nc * 4);
    strides(s->ta, s->m, s->k, &o.rsa, &o.csa);
    strides(s->tb, s->k, s->n, &o.rsb, &o.csb);
    strides(s->tc, s->m, s->n, &o.rsc, &o.csc);
    return o;
}

static void free_operands(operands *o) {
    free(o->A), free(o->B), free(o->C), free(o->R);
}

/* Elements of C that differ from R in any bit; the first in *first. */
static long differing(const operands *o, long *first) {
    long bad = 0;
    *first = -1;
    for (long i = 0; i < o->nc; i++)
        if (memcmp(&o->C[i], &o->R[i], 4)) bad++, *first = *first < 0 ? i : *first;
    return bad;
}

static const char *set_name(int simd) {
    return simd == RG_SIMD_AVX512 ? "AVX-512" : "AVX2";
}

/* One shape with one kernel set and thread count against the chain. */
static void expect_chain(const shape *s, int simd, int threads) {
    operands o = make_operands(s);
    rg_sgemm_fma(simd, s->m, s->n, s->k, (float)s->alpha, o.A, o.rsa, o.csa, o.B, o.rsb, o.csb,
                 (float)s->beta, o.C, o.rsc, o.csc, threads);
    chain_ref(s, o.A, o.B, o.R);
    long first, bad = differing(&o, &first);
    cr_expect_eq(bad, 0,
                 "%s kernels, %d thread(s), m=%ld n=%ld k=%ld ta=%d tb=%d tc=%d alpha=%g "
                 "beta=%g: %ld of %ld elements differ from the FMA chain (first: %.9g vs %.9g)",
                 set_name(simd), threads, s->m, s->n, s->k, s->ta, s->tb, s->tc, (double)s->alpha,
                 (double)s->beta, bad, o.nc, first >= 0 ? (double)o.C[first] : 0,
                 first >= 0 ? (double)o.R[first] : 0);
    free_operands(&o);
}

/* relgrad's kernels give the chain's bits, whichever kernel set the CPU
 * runs and however many threads share the product. (The kernels are float
 * in both builds.) */
Test(gemm, own_kernels_are_the_fma_chain) {
    int level = rg_sgemm_fma_level();
    __builtin_cpu_init();
    bool fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    cr_expect_eq(level != RG_SIMD_SSE4, fma, "rg_sgemm_fma_level %d, but AVX2+FMA %s", level,
                 fma ? "present" : "absent");
    if (__builtin_cpu_supports("avx512f")) cr_expect_eq(level, RG_SIMD_AVX512);
    for (int simd = RG_SIMD_AVX2; simd <= level; simd++)
        for (int i = 0; i < N_SHAPES; i++)
            for (int threads = 1; threads <= 2; threads++) expect_chain(&SHAPES[i], simd, threads);
}

/* Operands that are strided views (row stride larger than the row):
 * the kernels read only the view. */
Test(gemm, own_kernels_read_strided_views) {
    int level = rg_sgemm_fma_level();
    long m = 50, n = 70, k = 64, lda = 80, ldb = 75, ldc = 90;
    float *A = malloc((size_t)m * lda * 4), *B = malloc((size_t)k * ldb * 4);
    float *C = malloc((size_t)m * ldc * 4), *R = malloc((size_t)m * ldc * 4);
    for (int simd = RG_SIMD_AVX2; simd <= level; simd++) {
        fillf(A, m * lda, 11), fillf(B, k * ldb, 12), fillf(C, m * ldc, 13);
        memcpy(R, C, (size_t)m * ldc * 4);
        rg_sgemm_fma(simd, m, n, k, 1, A, lda, 1, B, ldb, 1, 1, C, ldc, 1, 1);
        for (long i = 0; i < m; i++)
            for (long j = 0; j < ldc; j++) {
                float want = R[i * ldc + j];
                if (j < n) {
                    float acc = 0;
                    for (long p = 0; p < k; p++) acc = fmaf(A[i * lda + p], B[p * ldb + j], acc);
                    want = fmaf(1, want, acc);
                }
                cr_assert_eq(memcmp(&C[i * ldc + j], &want, 4), 0,
                             "%s: C[%ld,%ld] = %.9g, want %.9g%s", set_name(simd), i, j,
                             (double)C[i * ldc + j], (double)want,
                             j < n ? "" : " (outside the view: untouched)");
            }
    }
    free(A), free(B), free(C), free(R);
}

/* For k up to a few hundred relgrad's two small-product codes compute the
 * same chain: the attention kernel's rg_gemm_small and rg_sgemm_fma. */
Test(gemm, own_kernels_agree_with_small_gemm) {
    if (sizeof(real) != 4) return; /* rg_gemm_small is in `real` */
    int level = rg_sgemm_fma_level();
    shape s = {45, 70, 64, false, true, false, 1, 0.5f};
    for (int simd = RG_SIMD_AVX2; simd <= level; simd++) {
        operands o = make_operands(&s);
        float pack[RG_SMALL_PACK(64)];
        rg_sgemm_fma(simd, s.m, s.n, s.k, 1, o.A, o.rsa, o.csa, o.B, o.rsb, o.csb, 0.5f, o.C, o.rsc,
                     o.csc, 1);
        rg_gemm_small(s.m, s.n, s.k, 1, (const real *)o.A, o.rsa, o.csa, (const real *)o.B, o.rsb,
                      o.csb, 0.5f, (real *)o.R, o.rsc, o.csc, (real *)pack);
        long first, bad = differing(&o, &first);
        cr_expect_eq(bad, 0, "%s: %ld of %ld elements differ from rg_gemm_small", set_name(simd),
                     bad, o.nc);
        free_operands(&o);
    }
}

/* rg_gemm, whatever it runs (own kernels, BLIS's gemm or, for one row,
 * gemv), against a double sum: float32 to a few ulps of the sum of |terms|,
 * float64 to 1e-13 of it; 1 and 2 threads give the same bits. */
Test(gemm, rg_gemm_matches_a_double_sum) {
    const shape extra[] = {{1, 300, 70, false, true, false, 1, 1}, /* one row: gemv */
                           {1, 1, 50, false, false, false, 1, 0},
                           /* one row, shared between threads: decoding's products */
                           {1, 768, 256, false, true, false, 1, 0},
                           {1, 1000, 257, false, false, false, 1, 1},
                           {1, 257, 1024, false, true, false, 0.5, 0}};
    enum { N_EXTRA = sizeof extra / sizeof extra[0] };
    for (int i = 0; i < N_SHAPES + N_EXTRA; i++) {
        const shape *s = i < N_SHAPES ? &SHAPES[i] : &extra[i - N_SHAPES];
        long na = s->m * s->k, nb = s->k * s->n, nc = s->m * s->n;
        real *A = malloc((size_t)(na + 1) * sizeof(real)),
             *B = malloc((size_t)(nb + 1) * sizeof(real));
        real *C = malloc((size_t)nc * sizeof(real)), *C0 = malloc((size_t)nc * sizeof(real)),
             *C1 = malloc((size_t)nc * sizeof(real));
        fill(A, na, 4), fill(B, nb, 5), fill(C0, nc, 6);
        long rsa, csa, rsb, csb, rsc, csc;
        strides(s->ta, s->m, s->k, &rsa, &csa);
        strides(s->tb, s->k, s->n, &rsb, &csb);
        strides(s->tc, s->m, s->n, &rsc, &csc);
        for (int threads = 1; threads <= 2; threads++) {
            memcpy(C, C0, (size_t)nc * sizeof(real));
            rg_gemm(s->m, s->n, s->k, s->alpha, A, rsa, csa, B, rsb, csb, s->beta, C, rsc, csc,
                    threads);
            for (long r = 0; r < s->m; r++)
                for (long c = 0; c < s->n; c++) {
                    double sum = 0, mag = 0;
                    for (long p = 0; p < s->k; p++) {
                        double t = (double)A[r * rsa + p * csa] * B[p * rsb + c * csb];
                        sum += t, mag += fabs(t);
                    }
                    double c0 = C0[r * rsc + c * csc];
                    double want = s->alpha * sum + s->beta * c0;
                    double tol = (sizeof(real) == 4 ? 4e-6 : 1e-13) *
                                 (fabs(s->alpha) * mag + fabs(s->beta * c0) + 1e-30);
                    double got = C[r * rsc + c * csc];
                    cr_assert(fabs(got - want) <= tol,
                              "m=%ld n=%ld k=%ld, %d thread(s): C[%ld,%ld] = %.17g, want %.17g",
                              s->m, s->n, s->k, threads, r, c, got, want);
                }
            if (threads == 1)
                memcpy(C1, C, (size_t)nc * sizeof(real));
            else
                cr_expect_eq(memcmp(C, C1, (size_t)nc * sizeof(real)), 0,
                             "m=%ld n=%ld k=%ld: 2 threads give other bits than 1", s->m, s->n,
                             s->k);
        }
        free(A), free(B), free(C), free(C0), free(C1);
    }
}

/* rg_gemm follows its rule: in the float32 build on a CPU with AVX2 and
 * FMA, the products the rule gives to relgrad's kernels have the chain's
 * bits, and the others BLIS's (rg_gemm_blis); elsewhere all are BLIS's. */
Test(gemm, rg_gemm_follows_its_rule) {
    bool own_ok = sizeof(real) == 4 && rg_sgemm_fma_level() != RG_SIMD_SSE4;
    int n_own = 0, n_blis = 0;
    for (int i = 0; i < N_SHAPES; i++) {
        const shape *s = &SHAPES[i];
        if (s->m == 1 || s->k == 0) continue; /* gemv, the empty product */
        bool own = own_ok && rg_gemm_own(s->m, s->n, s->k);
        n_own += own, n_blis += !own;
        operands o = make_operands(s);
        real *A = malloc((size_t)(s->m * s->k + 1) * sizeof(real)),
             *B = malloc((size_t)(s->k * s->n + 1) * sizeof(real)),
             *C = malloc((size_t)o.nc * sizeof(real)), *R = malloc((size_t)o.nc * sizeof(real));
        for (long j = 0; j < s->m * s->k; j++) A[j] = o.A[j];
        for (long j = 0; j < s->k * s->n; j++) B[j] = o.B[j];
        for (long j = 0; j < o.nc; j++) C[j] = R[j] = o.C[j];
        rg_gemm(s->m, s->n, s->k, s->alpha, A, o.rsa, o.csa, B, o.rsb, o.csb, s->beta, C, o.rsc,
                o.csc, 2);
        if (own) {
            chain_ref(s, o.A, o.B, o.R);
            for (long j = 0; j < o.nc; j++) R[j] = o.R[j];
        } else {
            rg_gemm_blis(s->m, s->n, s->k, s->alpha, A, o.rsa, o.csa, B, o.rsb, o.csb, s->beta, R,
                         o.rsc, o.csc, 2);
        }
        long bad = 0;
        for (long j = 0; j < o.nc; j++) bad += memcmp(&C[j], &R[j], sizeof(real)) != 0;
        cr_expect_eq(bad, 0, "m=%ld n=%ld k=%ld: %ld of %ld elements differ from %s", s->m, s->n,
                     s->k, bad, o.nc, own ? "the FMA chain" : "BLIS");
        free(A), free(B), free(C), free(R);
        free_operands(&o);
    }
    /* the rule itself (src/ops/gemm.c): k from 32 to 64; where BLIS runs
     * its skx kernels, also longer k whose segments agree with BLIS's,
     * but not long k with many rows and few columns */
    cr_expect(rg_gemm_own(1280, 192, 64) && rg_gemm_own(1280, 64, 32), "32 <= k <= 64: own");
    cr_expect(!rg_gemm_own(1280, 64, 31) && !rg_gemm_own(1280, 64, 20), "k < 32: BLIS");
    if (rg_gemm_packed_ready()) {
        cr_expect(rg_gemm_own(1280, 64, 65) && rg_gemm_own(192, 64, 1280) &&
                      rg_gemm_own(2048, 256, 768) && rg_gemm_own(256, 1024, 2048),
                  "BLIS on skx, segments agree: own");
        cr_expect(!rg_gemm_own(64, 64, 385) && !rg_gemm_own(64, 64, 480) &&
                      !rg_gemm_own(64, 64, 800),
                  "BLIS on skx, segments differ (rest of 385 to 480): BLIS");
        cr_expect(!rg_gemm_own(2048, 256, 1024), "BLIS on skx, k > 768 and m >= 8 n: BLIS");
    } else {
        cr_expect(!rg_gemm_own(1280, 64, 65) && !rg_gemm_own(192, 64, 1280), "k > 64: BLIS");
    }
    /* the shapes cover both sides of the rule */
    if (own_ok) cr_expect(n_own > 0 && n_blis > 0, "own %d, BLIS %d", n_own, n_blis);
}

/* rg_gemm_packed (gemm_packed.c: BLIS's skx micro-kernel fed by relgrad's
 * packing) gives bli_sgemm's bits: shapes across every blocking edge (MR =
 * 32 and NR = 12 tiles, MC = 480, NC = 3072, segments of k at 384 with the
 * rest taken whole up to 480), every layout of A and B, C row-major, alpha
 * and beta. This process asks BLIS for its skx kernels when the CPU has
 * AVX-512 (as relgrad's startup does where BLIS would run generic ones),
 * so the test runs wherever the path can run. */
Test(gemm, packed_path_has_blis_bits) {
#ifdef RELGRAD_F64
    cr_expect(!rg_gemm_packed_ready(), "the float64 build's products must stay BLIS's own");
#else
    __builtin_cpu_init();
    bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
                  __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
                  __builtin_cpu_supports("avx512cd");
    if (!avx512) { /* skx kernels cannot run here: the path must not be taken */
        cr_expect(!rg_gemm_packed_ready(), "no AVX-512, yet the packed path is ready");
        return;
    }
    setenv("BLIS_ARCH_TYPE", "0", 0); /* BLIS_ARCH_SKX, unless the environment says otherwise */
    if (!rg_gemm_packed_ready()) {    /* the environment chose other kernels */
        cr_expect_neq(bli_arch_query_id(), BLIS_ARCH_SKX,
                      "BLIS runs its skx kernels, yet the packed path is not ready");
        return;
    }
    typedef struct {
        long m, n, k;
        float alpha, beta;
    } case_t;
    const case_t cases[] = {
        {2, 2, 1, 1, 0},
        {13, 33, 5, 1, 1},
        {64, 256, 64, 1, 0},
        {100, 45, 383, 0.25f, 0.5f},
        {70, 31, 384, 1, 1},
        {33, 500, 385, -1, 0},
        {40, 481, 450, 1, 2},
        {97, 12, 480, 1, 0},
        {12, 97, 481, 0.5f, 1},
        {50, 40, 865, 1, 0},
        {257, 255, 1000, 1, 1},
        {3100, 14, 40, 1, 0},
        {64, 37, 2048, 1, 1},
        {1024, 768, 256, 1, 0},
        /* one column: a bias's gradient, dY^T times ones */
        {256, 1, 2048, 1, 1},
        {1000, 1, 450, 1, 0},
    };
    int n_cases = 0, n_own = 0;
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++)
        for (int layout = 0; layout < 4; layout++) {
            shape s = {cases[c].m,        cases[c].n, cases[c].k,     layout & 1,
                       (layout >> 1) & 1, false,      cases[c].alpha, cases[c].beta};
            operands o = make_operands(&s);
            rg_gemm_packed(s.m, s.n, s.k, cases[c].alpha, o.A, o.rsa, o.csa, o.B, o.rsb, o.csb,
                           cases[c].beta, o.C, o.rsc, o.csc);
            rntm_t rntm = BLIS_RNTM_INITIALIZER;
            bli_rntm_set_num_threads(1, &rntm);
            bli_sgemm_ex(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, s.m, s.n, s.k,
                         (float *)&cases[c].alpha, o.A, o.rsa, o.csa, o.B, o.rsb, o.csb,
                         (float *)&cases[c].beta, o.R, o.rsc, o.csc, NULL, &rntm);
            long first, bad = differing(&o, &first);
            /* where the segments of k agree, relgrad's own kernels give the
             * same bits (what rg_gemm's rule on skx counts on), 1 and 2 threads */
            long r = s.k % 384;
            if (s.k >= 32 && (s.k <= 384 || r == 0 || r > 96))
                for (int threads = 1; threads <= 2; threads++) {
                    float *own = malloc((size_t)o.nc * sizeof(float));
                    fillf(own, o.nc, 3); /* C's starting values, as make_operands */
                    rg_sgemm_fma(RG_SIMD_AVX512, s.m, s.n, s.k, cases[c].alpha, o.A, o.rsa, o.csa,
                                 o.B, o.rsb, o.csb, cases[c].beta, own, o.rsc, o.csc, threads);
                    long own_bad = 0;
                    for (long e = 0; e < o.nc; e++) own_bad += memcmp(&own[e], &o.R[e], 4) != 0;
                    cr_expect_eq(own_bad, 0,
                                 "own kernels, %d thread(s), m=%ld n=%ld k=%ld ta=%d tb=%d: %ld "
                                 "of %ld elements differ from bli_sgemm",
                                 threads, s.m, s.n, s.k, s.ta, s.tb, own_bad, o.nc);
                    free(own);
                    n_own++;
                }
            cr_expect_eq(bad, 0,
                         "m=%ld n=%ld k=%ld ta=%d tb=%d alpha=%g beta=%g: %ld of %ld elements "
                         "differ from bli_sgemm (first at %ld: %.9g vs %.9g)",
                         s.m, s.n, s.k, s.ta, s.tb, (double)s.alpha, (double)s.beta, bad, o.nc,
                         first, first >= 0 ? (double)o.C[first] : 0,
                         first >= 0 ? (double)o.R[first] : 0);
            free_operands(&o);
            n_cases++;
        }
    cr_expect_eq(n_cases, 64);
    cr_expect(n_own >= 40, "own kernels compared on %d cases", n_own);
#endif
}
