/* gemm_kernel.c: relgrad's own single-precision GEMM (ops_internal.h:
 * rg_sgemm_fma), which rg_gemm (gemm.c) runs for the small products where
 * it was measured faster than BLIS's small-matrix kernels (gemm.c's rule:
 * 32 <= k <= 64, the linear layers at d = 64). AVX-512 and AVX2
 * micro-kernels, picked at run time from cpuid, so a build for any
 * x86-64-v2 machine uses the widest vectors the CPU has; on a CPU without
 * AVX2 and FMA rg_gemm stays with BLIS.
 *
 * The arithmetic is fixed, whatever the CPU or the blocking: every element
 * of C is a chain of fused multiply-adds over p = 0 .. k-1 in order,
 * restarted from zero at every multiple of KC (384); after the first
 * segment C = alpha acc (beta = 0) or fma(beta, C, alpha acc), after each
 * further one fma(1, C, alpha acc). That is what BLIS's skx kernels
 * compute (BLIS_ARCH_TYPE=0 gives the same bits), and what rg_gemm_small
 * computes for k <= KC, so the results do not depend on the kernel set,
 * the thread count or the split of the work (tests/test_gemm.c). (BLIS's
 * zen3 configuration, which this Zen 4 gets, sends small products to its
 * 'sup' kernels instead, some of which sum in another order.) The code is
 * float whatever `real` is.
 *
 * Blocking (C row-major; a column-major C is the transposed problem):
 * threads take C's rows (or columns) in whole tiles (panels) and work
 * alone, without barriers; each, on its part,
 *   for each segment of KC values of p and each block of nc columns:
 *     packs op(B)'s block into panels of NR columns, [kc][NR], zero beyond
 *     n, in a buffer on its stack (PACK floats: nc = NC columns for kc <=
 *     128, fewer for longer segments), so a training step allocates nothing;
 *     for each tile of MR rows runs the micro-kernel against every panel,
 *     reading op(A) in place (packing only when neither its rows nor its
 *     columns are contiguous).
 * The micro-kernel keeps an MR x NR tile of C in registers (AVX-512: 12 x
 * 32 in 24 zmm registers; AVX2: 6 x 16 in 12 ymm) and per p loads NR
 * values of the panel and broadcasts MR values of A. */
#include "ops_internal.h"

#include <immintrin.h>
#include <omp.h>
#include <string.h>

enum {
    KC = 384,                   /* p segment: the rounding points (BLIS's KC on skx) */
    NC = 256,                   /* columns of op(B) packed at once, at most */
    PACK = 128 * NC,            /* floats of packed op(B) (128 KiB, on the stack) */
    MR_MAX = 12,                /* rows of a tile (AVX-512; AVX2 uses 6) */
    SHARE_MIN_MACS = 1 << 20,   /* smaller products: one thread (as gemm.c's BLIS path) */
    SIMD_NO_FMA = RG_SIMD_SSE4, /* no own kernel: BLIS */
    SIMD_AVX2 = RG_SIMD_AVX2,
    SIMD_AVX512 = RG_SIMD_AVX512,
};

int rg_sgemm_fma_level(void) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return SIMD_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return SIMD_AVX2;
    return SIMD_NO_FMA;
}

/* ---- packing ------------------------------------------------------------------------- */

/* Panels of nr columns of op(B) rows [p0, p0+kc), columns [j0, j0+nc):
 * panel q at Bp + q * kc * nr, element (p, j) at [p * nr + j], zero for
 * columns past nc. */
static void pack_b(const float *B, long rsb, long csb, long p0, long kc, long j0, long nc, int nr,
                   float *Bp) {
    for (long q = 0; q * nr < nc; q++) {
        float *dst = Bp + q * kc * nr;
        long c0 = q * nr, w = nc - c0 < nr ? nc - c0 : nr;
        const float *src = B + p0 * rsb + (j0 + c0) * csb;
        if (csb == 1) {
            for (long p = 0; p < kc; p++) {
                memcpy(dst + p * nr, src + p * rsb, (size_t)w * sizeof(float));
                for (long j = w; j < nr; j++) dst[p * nr + j] = 0;
            }
        } else {
            for (long j = 0; j < w; j++)
                for (long p = 0; p < kc; p++) dst[p * nr + j] = src[p * rsb + j * csb];
            for (long p = 0; p < kc; p++)
                for (long j = w; j < nr; j++) dst[p * nr + j] = 0;
        }
    }
}

/* mr rows of op(A) starting at row i0, p in [p0, p0+kc), as [kc][mr]. */
static void pack_a(const float *A, long rsa, long csa, long i0, int mr, long p0, long kc,
                   float *Ap) {
    const float *src = A + i0 * rsa + p0 * csa;
    if (rsa == 1) { /* A stored transposed: the mr values of one p are contiguous */
        for (long p = 0; p < kc; p++)
            memcpy(Ap + p * mr, src + p * csa, (size_t)mr * sizeof(float));
    } else {
        for (int r = 0; r < mr; r++)
            for (long p = 0; p < kc; p++) Ap[p * mr + r] = src[r * rsa + p * csa];
    }
}

/* ---- micro-kernels ---------------------------------------------------------------------
 * C[0:MR, 0:ncols] (row stride rsc) from Ap [kc][MR] and a panel Bp [kc][NR]:
 * acc = sum over p of Ap[p][r] * Bp[p][j] as one FMA chain each, then
 * C = alpha acc (beta == 0) or fma(beta, C, alpha acc). */

/* One case per tile height mr (the rows of C a tile holds), so that each
 * TILE's loop over its rows has a constant trip count: unrolled, with its
 * accumulators in registers. */
#define BY_HEIGHT_6(TILE)                                                                          \
    switch (mr) {                                                                                  \
    case 6:                                                                                        \
        TILE(6);                                                                                   \
        break;                                                                                     \
    case 5:                                                                                        \
        TILE(5);                                                                                   \
        break;                                                                                     \
    case 4:                                                                                        \
        TILE(4);                                                                                   \
        break;                                                                                     \
    case 3:                                                                                        \
        TILE(3);                                                                                   \
        break;                                                                                     \
    case 2:                                                                                        \
        TILE(2);                                                                                   \
        break;                                                                                     \
    default:                                                                                       \
        TILE(1);                                                                                   \
        break;                                                                                     \
    }
#define BY_HEIGHT_12(TILE)                                                                         \
    switch (mr) {                                                                                  \
    case 12:                                                                                       \
        TILE(12);                                                                                  \
        break;                                                                                     \
    case 11:                                                                                       \
        TILE(11);                                                                                  \
        break;                                                                                     \
    case 10:                                                                                       \
        TILE(10);                                                                                  \
        break;                                                                                     \
    case 9:                                                                                        \
        TILE(9);                                                                                   \
        break;                                                                                     \
    case 8:                                                                                        \
        TILE(8);                                                                                   \
        break;                                                                                     \
    case 7:                                                                                        \
        TILE(7);                                                                                   \
        break;                                                                                     \
    default:                                                                                       \
        BY_HEIGHT_6(TILE)                                                                          \
    }

#define TILE512(MR)                                                                                \
    do {                                                                                           \
        __m512 c0[MR], c1[MR];                                                                     \
        const float *rowp[MR];                                                                     \
        _Pragma("GCC unroll 12") for (int r = 0; r < MR; r++) rowp[r] = A + r * rsa;               \
        _Pragma("GCC unroll 12") for (int r = 0; r < MR; r++) c0[r] = c1[r] = _mm512_setzero_ps(); \
        _Pragma("GCC unroll 4") for (long p = 0; p < kc; p++) {                                    \
            __m512 b0 = _mm512_load_ps(Bp + p * 32), b1 = _mm512_load_ps(Bp + p * 32 + 16);        \
            const float *a = A + p * csa;                                                          \
            _Pragma("GCC unroll 12") for (int r = 0; r < MR; r++) {                                \
                __m512 ar = _mm512_set1_ps(ROWS_CONTIG ? a[r] : rowp[r][p]);                       \
                c0[r] = _mm512_fmadd_ps(ar, b0, c0[r]);                                            \
                c1[r] = _mm512_fmadd_ps(ar, b1, c1[r]);                                            \
            }                                                                                      \
        }                                                                                          \
        __mmask16 m0 = ncols >= 16 ? 0xffff : (__mmask16)((1u << ncols) - 1);                      \
        __mmask16 m1 = ncols >= 32  ? 0xffff                                                       \
                       : ncols > 16 ? (__mmask16)((1u << (ncols - 16)) - 1)                        \
                                    : 0;                                                           \
        __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);                              \
        _Pragma("GCC unroll 12") for (int r = 0; r < MR; r++) {                                    \
            float *cr = C + r * rsc;                                                               \
            __m512 v0 = _mm512_mul_ps(va, c0[r]), v1 = _mm512_mul_ps(va, c1[r]);                   \
            if (ncols >= 32) { /* plain: masked zmm stores cost more on AMD's Zen 5 */             \
                if (beta != 0) {                                                                   \
                    v0 = _mm512_fmadd_ps(vb, _mm512_loadu_ps(cr), v0);                             \
                    v1 = _mm512_fmadd_ps(vb, _mm512_loadu_ps(cr + 16), v1);                        \
                }                                                                                  \
                _mm512_storeu_ps(cr, v0);                                                          \
                _mm512_storeu_ps(cr + 16, v1);                                                     \
                continue;                                                                          \
            }                                                                                      \
            if (beta != 0) {                                                                       \
                v0 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m0, cr), v0);                       \
                v1 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m1, cr + 16), v1);                  \
            }                                                                                      \
            _mm512_mask_storeu_ps(cr, m0, v0);                                                     \
            _mm512_mask_storeu_ps(cr + 16, m1, v1);                                                \
        }                                                                                          \
    } while (0)

/* A's element (r, p) at A[r * rsa + p * csa]: ROWS_CONTIG (rsa == 1) reads
 * MR neighbours per p, else (csa == 1) one pointer per row. */
__attribute__((target("avx512f"))) static void tile_avx512(int mr, long kc, const float *A,
                                                           long rsa, long csa, const float *Bp,
                                                           float alpha, float beta, float *C,
                                                           long rsc, int ncols) {
    if (rsa == 1) {
#define ROWS_CONTIG 1
        BY_HEIGHT_12(TILE512);
#undef ROWS_CONTIG
        return;
    }
#define ROWS_CONTIG 0
    BY_HEIGHT_12(TILE512);
#undef ROWS_CONTIG
}

/* The AVX2 masks: lanes below n set. */
__attribute__((target("avx2,fma"))) static __m256i lanes_below(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

#define TILE256(MR)                                                                                \
    do {                                                                                           \
        __m256 c0[MR], c1[MR];                                                                     \
        const float *rowp[MR];                                                                     \
        _Pragma("GCC unroll 6") for (int r = 0; r < MR; r++) rowp[r] = A + r * rsa;                \
        _Pragma("GCC unroll 6") for (int r = 0; r < MR; r++) c0[r] = c1[r] = _mm256_setzero_ps();  \
        _Pragma("GCC unroll 4") for (long p = 0; p < kc; p++) {                                    \
            __m256 b0 = _mm256_load_ps(Bp + p * 16), b1 = _mm256_load_ps(Bp + p * 16 + 8);         \
            const float *a = A + p * csa;                                                          \
            _Pragma("GCC unroll 6") for (int r = 0; r < MR; r++) {                                 \
                __m256 ar = _mm256_broadcast_ss(ROWS_CONTIG ? a + r : rowp[r] + p);                \
                c0[r] = _mm256_fmadd_ps(ar, b0, c0[r]);                                            \
                c1[r] = _mm256_fmadd_ps(ar, b1, c1[r]);                                            \
            }                                                                                      \
        }                                                                                          \
        __m256i m0 = lanes_below(ncols), m1 = lanes_below(ncols - 8);                              \
        __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);                              \
        _Pragma("GCC unroll 6") for (int r = 0; r < MR; r++) {                                     \
            float *cr = C + r * rsc;                                                               \
            __m256 v0 = _mm256_mul_ps(va, c0[r]), v1 = _mm256_mul_ps(va, c1[r]);                   \
            if (ncols == 16) { /* plain: AMD Zen 1-3 take many cycles per masked store */          \
                if (beta != 0) {                                                                   \
                    v0 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(cr), v0);                             \
                    v1 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(cr + 8), v1);                         \
                }                                                                                  \
                _mm256_storeu_ps(cr, v0);                                                          \
                _mm256_storeu_ps(cr + 8, v1);                                                      \
                continue;                                                                          \
            }                                                                                      \
            if (beta != 0) {                                                                       \
                v0 = _mm256_fmadd_ps(vb, _mm256_maskload_ps(cr, m0), v0);                          \
                v1 = _mm256_fmadd_ps(vb, _mm256_maskload_ps(cr + 8, m1), v1);                      \
            }                                                                                      \
            _mm256_maskstore_ps(cr, m0, v0);                                                       \
            _mm256_maskstore_ps(cr + 8, m1, v1);                                                   \
        }                                                                                          \
    } while (0)

__attribute__((target("avx2,fma"))) static void tile_avx2(int mr, long kc, const float *A, long rsa,
                                                          long csa, const float *Bp, float alpha,
                                                          float beta, float *C, long rsc,
                                                          int ncols) {
    if (rsa == 1) {
#define ROWS_CONTIG 1
        BY_HEIGHT_6(TILE256);
#undef ROWS_CONTIG
        return;
    }
#define ROWS_CONTIG 0
    BY_HEIGHT_6(TILE256);
#undef ROWS_CONTIG
}

/* ---- the blocked product ------------------------------------------------------------------ */

typedef struct {
    long m, n, k;
    float alpha, beta;
    const float *A, *B;
    long rsa, csa, rsb, csb;
    float *C;
    long rsc;
    int simd, mr, nr;
} gemm_job;

/* Columns of op(B) packed at once for segments of kc values of p: NC, or
 * as many whole panels as fit in PACK. */
static long block_cols(long kc, int nr) {
    long nc = PACK / kc / nr * nr;
    return nc < NC ? nc : NC;
}

/* Rows [i0, i1) and columns [j0, j1) of C, on the calling thread, with its
 * own packed panels (on its stack). */
static void gemm_part(const gemm_job *g, long i0, long i1, long j0, long j1) {
    int mr = g->mr, nr = g->nr;
    float Bp[PACK] __attribute__((aligned(64)));        /* op(B)'s panels */
    float Ap[MR_MAX * KC] __attribute__((aligned(64))); /* op(A)'s tile, when packed */
    for (long p0 = 0; p0 < g->k; p0 += KC) {
        long kc = g->k - p0 < KC ? g->k - p0 : KC, ncb = block_cols(kc, nr);
        float beta = p0 == 0 ? g->beta : 1;
        for (long jb = j0; jb < j1; jb += ncb) {
            long nc = j1 - jb < ncb ? j1 - jb : ncb, panels = (nc + nr - 1) / nr;
            pack_b(g->B, g->rsb, g->csb, p0, kc, jb, nc, nr, Bp);
            for (long i = i0; i < i1; i += mr) { /* a tile of rows against every panel */
                int rows = i1 - i < mr ? (int)(i1 - i) : mr;
                const float *Ai = g->A + i * g->rsa + p0 * g->csa;
                long rsa = g->rsa, csa = g->csa;
                if (rsa != 1 && csa != 1) { /* neither rows nor columns contiguous: pack */
                    pack_a(g->A, g->rsa, g->csa, i, rows, p0, kc, Ap);
                    Ai = Ap, rsa = 1, csa = rows;
                }
                for (long q = 0; q < panels; q++) {
                    int ncols = nc - q * nr < nr ? (int)(nc - q * nr) : nr;
                    float *C = g->C + i * g->rsc + jb + q * nr;
                    const float *Bq = Bp + q * kc * nr;
                    if (g->simd == SIMD_AVX512)
                        tile_avx512(rows, kc, Ai, rsa, csa, Bq, g->alpha, beta, C, g->rsc, ncols);
                    else
                        tile_avx2(rows, kc, Ai, rsa, csa, Bq, g->alpha, beta, C, g->rsc, ncols);
                }
            }
        }
    }
}

/* Start of part t of nth over 0..len, in whole units. */
static long part_start(long len, long unit, int t, int nth) {
    long units = (len + unit - 1) / unit, at = units * t / nth * unit;
    return at < len ? at : len;
}

void rg_sgemm_fma(int simd, long m, long n, long k, float alpha, const float *A, long rsa, long csa,
                  const float *B, long rsb, long csb, float beta, float *C, long rsc, long csc,
                  int threads) {
    if (m == 0 || n == 0) return;
    if (csc != 1) { /* C^T = op(B)^T op(A)^T, row-major with row stride csc */
        rg_sgemm_fma(simd, n, m, k, alpha, B, csb, rsb, A, csa, rsa, beta, C, csc, rsc, threads);
        return;
    }
    if (k == 0) { /* an empty product: C = beta C, where beta = 0 must not read C */
        for (long i = 0; i < m; i++)
            for (long j = 0; j < n; j++) C[i * rsc + j] = beta == 0 ? 0 : beta * C[i * rsc + j];
        return;
    }
    if (simd == SIMD_NO_FMA || simd > rg_sgemm_fma_level())
        rg_die("rg_sgemm_fma: this CPU has no %s (use rg_gemm)",
               simd == SIMD_AVX512 ? "AVX-512" : "AVX2 with FMA");
    gemm_job g = {.m = m,
                  .n = n,
                  .k = k,
                  .alpha = alpha,
                  .beta = beta,
                  .A = A,
                  .B = B,
                  .rsa = rsa,
                  .csa = csa,
                  .rsb = rsb,
                  .csb = csb,
                  .C = C,
                  .rsc = rsc,
                  .simd = simd,
                  .mr = simd == SIMD_AVX512 ? 12 : 6,
                  .nr = simd == SIMD_AVX512 ? 32 : 16};
    /* Threads split C's rows (when m >= n; each packs all of op(B)) or its
     * columns, in whole tiles or panels, and never wait for each other
     * before the end: a thread whose partner is descheduled by another
     * process does not spin. Only products big enough to pay for the fork. */
    bool by_rows = m >= n;
    long len = by_rows ? m : n, unit = by_rows ? g.mr : g.nr;
    int nth = threads;
    if (nth > (len + unit - 1) / unit) nth = (int)((len + unit - 1) / unit);
    if (m * n * k < SHARE_MIN_MACS) nth = 1;
    if (nth <= 1) {
        gemm_part(&g, 0, m, 0, n);
        return;
    }
#pragma omp parallel num_threads(nth)
    {
        int t = omp_get_thread_num(), np = omp_get_num_threads();
        long a = part_start(len, unit, t, np), b = part_start(len, unit, t + 1, np);
        if (b > a) {
            if (by_rows)
                gemm_part(&g, a, b, 0, n);
            else
                gemm_part(&g, 0, m, a, b);
        }
    }
}
