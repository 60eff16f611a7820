/* small_gemm.c: rg_gemm_small (ops_internal.h), matrix products too small
 * for BLIS to pay off: those inside the attention kernel, one block of 32
 * queries of one (batch, head) against its keys.
 *
 * A BLIS call costs a few microseconds before any arithmetic (object setup,
 * control tree, OpenMP region), about as long as a 32 x 40 x 16 product
 * itself takes: on config (a) the attention kernel made ~3000 such calls per
 * training step and spent most of its time in them (docs/performance.md).
 *
 * The arithmetic is BLIS's own: every element of C is one chain of fused
 * multiply-adds over p = 0 .. k-1 in order, starting from zero, then
 * C = alpha acc + beta C (rounded once after alpha acc). So for k up to a
 * few hundred (where BLIS does not split the k loop) the results are the
 * same bits as BLIS's x86-64 kernels give, and runs keep their results.
 * (Exception: for one to three rows and k > KSPLIT_MIN, where BLIS would
 * have split the k loop too, k is cut into segments whose chains run side
 * by side and are summed at the end: decoding one token against a long
 * key/value cache.)
 * The chains of TJ neighbouring columns of C run side by side in SIMD lanes;
 * when op(B)'s columns are not contiguous, each tile of TJ columns is first
 * copied into `pack` ([k, TJ]). The loop is compiled for AVX-512, AVX2 and
 * baseline x86-64 and the best one the CPU supports is picked when the
 * program loads (target_clones); products of one to three rows (a decoded
 * token's) take rows_avx512 instead where the CPU has AVX-512: the same
 * chains with the accumulators in registers. Products with short chains
 * (k <= 16) or narrow C (n <= 16), the attention kernel's at small head
 * widths, take register-blocked tiles (blocked_avx2, blocked_avx512) where
 * the CPU has AVX2 and FMA: again the same chains, so the same bits
 * (tests/test_small_gemm.c checks every level against them). */
#include "ops_internal.h"

enum {
    TJ = 32,          /* columns of C per pass: accumulators that stay in registers */
    KSPLIT_MIN = 512, /* longer k, few rows: split into chains that run side by side */
};

/* Rows i .. i+MR-1 of C, columns [0, NJ) of the tile (NJ a constant, so the
 * MR x NJ accumulators stay in registers). */
#define ROWS_FIXED(MR, NJ)                                                                         \
    do {                                                                                           \
        real acc[MR][NJ];                                                                          \
        for (int r = 0; r < MR; r++)                                                               \
            for (int jj = 0; jj < NJ; jj++) acc[r][jj] = 0;                                        \
        for (long p = 0; p < k; p++) {                                                             \
            const real *b = Bt + p * rbt;                                                          \
            for (int r = 0; r < MR; r++) {                                                         \
                real ap = A[(i + r) * rsa + p * csa];                                              \
                _Pragma("omp simd") for (int jj = 0; jj < NJ; jj++) acc[r][jj] =                   \
                    fma(ap, b[jj], acc[r][jj]);                                                    \
            }                                                                                      \
        }                                                                                          \
        for (int r = 0; r < MR; r++) {                                                             \
            real *c = C + (i + r) * rsc;                                                           \
            if (beta == 0)                                                                         \
                for (int jj = 0; jj < NJ; jj++) c[jj] = alpha * acc[r][jj];                        \
            else                                                                                   \
                for (int jj = 0; jj < NJ; jj++) c[jj] = fma(beta, c[jj], alpha * acc[r][jj]);      \
        }                                                                                          \
    } while (0)

/* One row, NJ columns, k split into KS equal segments whose chains run side
 * by side (summed in segment order at the end): for long k and few rows,
 * where one chain per column would wait on each FMA's latency. */
#define ROW_KSPLIT(NJ, KS)                                                                         \
    do {                                                                                           \
        real acc[KS][NJ];                                                                          \
        long seg = k / KS;                                                                         \
        for (int q = 0; q < KS; q++)                                                               \
            for (int jj = 0; jj < NJ; jj++) acc[q][jj] = 0;                                        \
        for (long p = 0; p < seg; p++)                                                             \
            for (int q = 0; q < KS; q++) {                                                         \
                real ap = A[i * rsa + (q * seg + p) * csa];                                        \
                const real *b = Bt + (q * seg + p) * rbt;                                          \
                _Pragma("omp simd") for (int jj = 0; jj < NJ; jj++) acc[q][jj] =                   \
                    fma(ap, b[jj], acc[q][jj]);                                                    \
            }                                                                                      \
        for (long p = KS * seg; p < k; p++) { /* the rest, into the last segment */                \
            real ap = A[i * rsa + p * csa];                                                        \
            const real *b = Bt + p * rbt;                                                          \
            _Pragma("omp simd") for (int jj = 0; jj < NJ; jj++) acc[KS - 1][jj] =                  \
                fma(ap, b[jj], acc[KS - 1][jj]);                                                   \
        }                                                                                          \
        real *c = C + i * rsc;                                                                     \
        for (int jj = 0; jj < NJ; jj++) {                                                          \
            real sum = acc[0][jj];                                                                 \
            for (int q = 1; q < KS; q++) sum += acc[q][jj];                                        \
            c[jj] = beta == 0 ? alpha * sum : fma(beta, c[jj], alpha * sum);                       \
        }                                                                                          \
    } while (0)

/* Columns [0, nj) of C for every row, B's tile at Bt with row stride rbt. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#endif
static void
tile_rows(long m, int nj, long k, real alpha, const real *A, long rsa, long csa, const real *Bt,
          long rbt, real beta, real *C, long rsc) {
    long i = 0;
    if (m < 4 && k > KSPLIT_MIN && (nj == TJ || nj == TJ / 2)) {
        for (; i < m; i++)
            if (nj == TJ)
                ROW_KSPLIT(TJ, 4);
            else
                ROW_KSPLIT(TJ / 2, 8);
        return;
    }
    if (nj == 4 * TJ) { /* one or few rows, many columns: 4 tiles' chains side by side */
        for (; i < m; i++) ROWS_FIXED(1, 4 * TJ);
        return;
    }
    if (nj == TJ) {
        for (; i + 4 <= m; i += 4) ROWS_FIXED(4, TJ);
        for (; i < m; i++) ROWS_FIXED(1, TJ);
        return;
    }
    if (nj == TJ / 2) {
        for (; i + 4 <= m; i += 4) ROWS_FIXED(4, TJ / 2);
        for (; i < m; i++) ROWS_FIXED(1, TJ / 2);
        return;
    }
    for (; i < m; i++) { /* any other width */
        real acc[TJ], *c = C + i * rsc;
        for (int jj = 0; jj < nj; jj++) acc[jj] = 0;
        for (long p = 0; p < k; p++) {
            real ap = A[i * rsa + p * csa];
            const real *b = Bt + p * rbt;
#pragma omp simd
            for (int jj = 0; jj < nj; jj++) acc[jj] = fma(ap, b[jj], acc[jj]);
        }
        if (beta == 0)
            for (int jj = 0; jj < nj; jj++) c[jj] = alpha * acc[jj];
        else
            for (int jj = 0; jj < nj; jj++) c[jj] = fma(beta, c[jj], alpha * acc[jj]);
    }
}

#if !defined(RELGRAD_F64) && defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#include <immintrin.h>

/* One to three rows on AVX-512, with the accumulators named so that they
 * stay in registers (the loops above keep a row's 128 or a split's 4 x 32
 * in memory: GCC does not promote the arrays, and each step then waits on
 * a store and a load). Each row takes the same path tile_rows would take
 * it through, with the same chains of FMAs and the same final operations,
 * so the results are the same bits. Returns false for widths it has no
 * path for. */
#define V16          __m512
#define LOAD(p)      _mm512_loadu_ps(p)
#define FMA(a, b, c) _mm512_fmadd_ps(a, b, c)
/* c = alpha acc, or fma(beta, c, alpha acc), 16 columns at c */
#define STORE16(c, acc)                                                                            \
    _mm512_storeu_ps(c, beta == 0 ? _mm512_mul_ps(va, acc)                                         \
                                  : FMA(vb, LOAD(c), _mm512_mul_ps(va, acc)))

__attribute__((target("avx512f"))) static bool rows_avx512(long m, int nj, long k, real alpha,
                                                           const real *A, long rsa, long csa,
                                                           const real *Bt, long rbt, real beta,
                                                           real *C, long rsc) {
    V16 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    bool split = k > KSPLIT_MIN && (nj == TJ || nj == TJ / 2);
    if (!split && nj != 4 * TJ && nj != TJ && nj != TJ / 2) return false;
    for (long i = 0; i < m; i++) {
        const real *a = A + i * rsa;
        real *c = C + i * rsc;
        if (split && nj == TJ) { /* ROW_KSPLIT(TJ, 4) */
            V16 a0 = _mm512_setzero_ps(), a1 = a0, b0 = a0, b1 = a0, c0 = a0, c1 = a0, d0 = a0,
                d1 = a0;
            long seg = k / 4;
            const real *B0 = Bt, *B1 = Bt + seg * rbt, *B2 = Bt + 2 * seg * rbt,
                       *B3 = Bt + 3 * seg * rbt;
            for (long p = 0; p < seg; p++) {
                V16 x0 = _mm512_set1_ps(a[p * csa]), x1 = _mm512_set1_ps(a[(seg + p) * csa]);
                V16 x2 = _mm512_set1_ps(a[(2 * seg + p) * csa]);
                V16 x3 = _mm512_set1_ps(a[(3 * seg + p) * csa]);
                a0 = FMA(x0, LOAD(B0 + p * rbt), a0), a1 = FMA(x0, LOAD(B0 + p * rbt + 16), a1);
                b0 = FMA(x1, LOAD(B1 + p * rbt), b0), b1 = FMA(x1, LOAD(B1 + p * rbt + 16), b1);
                c0 = FMA(x2, LOAD(B2 + p * rbt), c0), c1 = FMA(x2, LOAD(B2 + p * rbt + 16), c1);
                d0 = FMA(x3, LOAD(B3 + p * rbt), d0), d1 = FMA(x3, LOAD(B3 + p * rbt + 16), d1);
            }
            for (long p = 4 * seg; p < k; p++) { /* the rest, into the last segment */
                V16 x = _mm512_set1_ps(a[p * csa]);
                d0 = FMA(x, LOAD(Bt + p * rbt), d0), d1 = FMA(x, LOAD(Bt + p * rbt + 16), d1);
            }
            STORE16(c, _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, b0), c0), d0));
            STORE16(c + 16, _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a1, b1), c1), d1));
        } else if (split) { /* ROW_KSPLIT(TJ / 2, 8) */
            V16 acc[8];
            for (int q = 0; q < 8; q++) acc[q] = _mm512_setzero_ps();
            long seg = k / 8;
            for (long p = 0; p < seg; p++)
                for (int q = 0; q < 8; q++)
                    acc[q] = FMA(_mm512_set1_ps(a[(q * seg + p) * csa]),
                                 LOAD(Bt + (q * seg + p) * rbt), acc[q]);
            for (long p = 8 * seg; p < k; p++)
                acc[7] = FMA(_mm512_set1_ps(a[p * csa]), LOAD(Bt + p * rbt), acc[7]);
            V16 sum = acc[0];
            for (int q = 1; q < 8; q++) sum = _mm512_add_ps(sum, acc[q]);
            STORE16(c, sum);
        } else if (nj == 4 * TJ) { /* ROWS_FIXED(1, 4 TJ) */
            V16 r0 = _mm512_setzero_ps(), r1 = r0, r2 = r0, r3 = r0, r4 = r0, r5 = r0, r6 = r0,
                r7 = r0;
            for (long p = 0; p < k; p++) {
                V16 x = _mm512_set1_ps(a[p * csa]);
                const real *b = Bt + p * rbt;
                r0 = FMA(x, LOAD(b), r0), r1 = FMA(x, LOAD(b + 16), r1);
                r2 = FMA(x, LOAD(b + 32), r2), r3 = FMA(x, LOAD(b + 48), r3);
                r4 = FMA(x, LOAD(b + 64), r4), r5 = FMA(x, LOAD(b + 80), r5);
                r6 = FMA(x, LOAD(b + 96), r6), r7 = FMA(x, LOAD(b + 112), r7);
            }
            STORE16(c, r0), STORE16(c + 16, r1), STORE16(c + 32, r2), STORE16(c + 48, r3);
            STORE16(c + 64, r4), STORE16(c + 80, r5), STORE16(c + 96, r6), STORE16(c + 112, r7);
        } else if (nj == TJ) { /* ROWS_FIXED(1, TJ) */
            V16 r0 = _mm512_setzero_ps(), r1 = r0;
            for (long p = 0; p < k; p++) {
                V16 x = _mm512_set1_ps(a[p * csa]);
                r0 = FMA(x, LOAD(Bt + p * rbt), r0), r1 = FMA(x, LOAD(Bt + p * rbt + 16), r1);
            }
            STORE16(c, r0), STORE16(c + 16, r1);
        } else { /* ROWS_FIXED(1, TJ / 2) */
            V16 r0 = _mm512_setzero_ps();
            for (long p = 0; p < k; p++)
                r0 = FMA(_mm512_set1_ps(a[p * csa]), LOAD(Bt + p * rbt), r0);
            STORE16(c, r0);
        }
    }
    return true;
}
#undef V16
#undef LOAD
#undef FMA
#undef STORE16
#define HAVE_ROWS_AVX512 1
#endif

#if !defined(RELGRAD_F64) && defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#include <immintrin.h>

/* Register-blocked products for short chains and narrow C: the attention
 * kernel's at small head widths D, where either k = D (scores S = q k^T,
 * dP = dO v^T: C is [queries, keys]) or n = D (O = P v, dq = dS k,
 * dk = dS^T q, dv = P^T dO: C is [rows, D]). tile_rows takes those through
 * its any-width loop one row at a time, where the loop overhead is most of
 * the work. Here MR rows by NV vectors of C are one tile whose accumulators
 * stay in registers: per step p, NV loads of op(B)'s row p and MR
 * broadcasts of op(A)'s column p; the last vector of a row is masked. Each
 * element is still one chain of fused multiply-adds over p in order from
 * zero, then alpha acc (+ beta C by one more FMA): the bits tile_rows gives.
 * W-lane vectors: 8 (AVX2 with FMA) or 16 (AVX-512). */

/* One MR x NV tile at rows i.., columns j.. (W lanes a vector), with loads
 * and stores LD(ptr, v) / ST(ptr, v, x) that mask vector v. */
#define BLOCK_TILE(VEC, W, MR, NV, ZERO, BCAST, FMA, MUL, LD, ST)                                  \
    do {                                                                                           \
        VEC acc[MR][NV];                                                                           \
        _Pragma("GCC unroll 16") for (int r = 0; r < MR; r++)                                      \
            _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) acc[r][v] = ZERO;                 \
        for (long p = 0; p < k; p++) {                                                             \
            const float *b = B + p * rsb + j;                                                      \
            VEC bv[NV];                                                                            \
            _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) bv[v] = LD(b + W * v, v);         \
            const float *a = A + i * rsa + p * csa;                                                \
            _Pragma("GCC unroll 16") for (int r = 0; r < MR; r++) {                                \
                VEC ar = BCAST(a + r * rsa);                                                       \
                _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) acc[r][v] =                   \
                    FMA(ar, bv[v], acc[r][v]);                                                     \
            }                                                                                      \
        }                                                                                          \
        _Pragma("GCC unroll 16") for (int r = 0; r < MR; r++)                                      \
            _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) {                                 \
            float *c = C + (i + r) * rsc + j + W * v;                                              \
            VEC x = MUL(va, acc[r][v]);                                                            \
            if (beta != 0) x = FMA(vb, LD(c, v), x);                                               \
            ST(c, v, x);                                                                           \
        }                                                                                          \
    } while (0)

/* Every row of C in tiles of MR rows (the rest one row at a time), columns
 * j .. j + NV W (masks mk[0..NV-1] for the columns past n). */
#define BLOCK_ROWS(TILE, MR, NV)                                                                   \
    do {                                                                                           \
        long i = 0;                                                                                \
        for (; i + MR <= m; i += MR) TILE(MR, NV);                                                 \
        for (; i < m; i++) TILE(1, NV);                                                            \
    } while (0)

/* AVX2: masks are lane vectors (all ones where the column is < n), used
 * only where a vector may be partial (masked loads cost more than loads). */
#define AVX2_LD(ptr, v)    (full[v] ? _mm256_loadu_ps(ptr) : _mm256_maskload_ps(ptr, mk[v]))
#define AVX2_ST(ptr, v, x) (full[v] ? _mm256_storeu_ps(ptr, x) : _mm256_maskstore_ps(ptr, mk[v], x))
#define AVX2_TILE(MR, NV)                                                                          \
    BLOCK_TILE(__m256, 8, MR, NV, _mm256_setzero_ps(), _mm256_broadcast_ss, _mm256_fmadd_ps,       \
               _mm256_mul_ps, AVX2_LD, AVX2_ST)
/* BLOCK_ROWS with full[] constants: every vector full, or the last one not */
#define AVX2_ROWS(MR, NV)                                                                          \
    do {                                                                                           \
        if (n - j >= 8 * NV) {                                                                     \
            static const bool full[3] = {1, 1, 1};                                                 \
            BLOCK_ROWS(AVX2_TILE, MR, NV);                                                         \
        } else {                                                                                   \
            static const bool full[3] = {NV > 1, NV > 2, 0};                                       \
            avx2_masks(j, n, NV, mk);                                                              \
            BLOCK_ROWS(AVX2_TILE, MR, NV);                                                         \
        }                                                                                          \
    } while (0)

/* Columns [j, j + 8 NV) of C: mk[v] for vector v. */
static inline __attribute__((target("avx2,fma"))) void avx2_masks(long j, long n, int NV,
                                                                  __m256i *mk) {
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (int v = 0; v < NV; v++) {
        long left = n - j - 8 * v;
        mk[v] = _mm256_cmpgt_epi32(_mm256_set1_epi32(left < 0   ? 0
                                                     : left > 8 ? 8
                                                                : (int)left),
                                   lane);
    }
}

__attribute__((target("avx2,fma"))) static void blocked_avx2(long m, long n, long k, float alpha,
                                                             const float *A, long rsa, long csa,
                                                             const float *B, long rsb, float beta,
                                                             float *C, long rsc) {
    __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
    __m256i mk[3];
    long j = 0;
    if (n <= 8) { /* O = P v and friends at D <= 8 */
        AVX2_ROWS(8, 1);
        return;
    }
    if (n <= 16) {
        AVX2_ROWS(6, 2);
        return;
    }
    for (; j + 16 < n; j += 24) /* scores: 3 vectors of keys at a time */
        AVX2_ROWS(4, 3);
    for (; j < n; j += 8) AVX2_ROWS(4, 1);
}

/* AVX-512: masks are mask registers, used only where a vector may be
 * partial (a k-masked store costs more than a plain one on AMD's Zen 5,
 * docs/performance.md); C of at most 8 columns takes the AVX2 code with the broadcasts
 * folded into the FMAs (AVX-512VL). */
#define Z_LD(ptr, v) (mk[v] == 0xffff ? _mm512_loadu_ps(ptr) : _mm512_maskz_loadu_ps(mk[v], ptr))
#define Z_ST(ptr, v, x)                                                                            \
    (mk[v] == 0xffff ? _mm512_storeu_ps(ptr, x) : _mm512_mask_storeu_ps(ptr, mk[v], x))
#define Z_TILE(MR, NV)                                                                             \
    BLOCK_TILE(__m512, 16, MR, NV, _mm512_setzero_ps(), Z_BCAST, _mm512_fmadd_ps, _mm512_mul_ps,   \
               Z_LD, Z_ST)
#define Z_BCAST(ptr) _mm512_set1_ps(*(ptr))
#define Y_TILE(MR, NV)                                                                             \
    BLOCK_TILE(__m256, 8, MR, NV, _mm256_setzero_ps(), Y_BCAST, _mm256_fmadd_ps, _mm256_mul_ps,    \
               Y_LD, Y_ST)
#define Y_BCAST(ptr)    _mm256_set1_ps(*(ptr))
#define Y_LD(ptr, v)    (ym == 0xff ? _mm256_loadu_ps(ptr) : _mm256_maskz_loadu_ps(ym, ptr))
#define Y_ST(ptr, v, x) (ym == 0xff ? _mm256_storeu_ps(ptr, x) : _mm256_mask_storeu_ps(ptr, ym, x))

__attribute__((target("avx512f"))) static inline __mmask16 z_mask(long j, long n) {
    long left = n - j;
    return left >= 16 ? 0xffff : left <= 0 ? 0 : (__mmask16)((1u << left) - 1);
}

__attribute__((target("avx512f,avx512vl,avx2,fma"))) static void
blocked_avx512(long m, long n, long k, float alpha, const float *A, long rsa, long csa,
               const float *B, long rsb, float beta, float *C, long rsc) {
    long j = 0;
    if (n <= 8) {
        __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
        __mmask8 ym = (__mmask8)((1u << n) - 1);
        BLOCK_ROWS(Y_TILE, 8, 1);
        return;
    }
    __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    __mmask16 mk[3];
    if (n <= 16) {
        mk[0] = z_mask(j, n);
        BLOCK_ROWS(Z_TILE, 8, 1);
        return;
    }
    for (; j + 32 < n; j += 48) { /* scores: 3 vectors of keys at a time */
        for (int v = 0; v < 3; v++) mk[v] = z_mask(j + 16 * v, n);
        BLOCK_ROWS(Z_TILE, 8, 3);
    }
    for (; j < n; j += 16) {
        mk[0] = z_mask(j, n);
        BLOCK_ROWS(Z_TILE, 8, 1);
    }
}
#define HAVE_BLOCKED 1
#endif

int rg_small_level(void) {
#ifdef HAVE_BLOCKED
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("fma") || !__builtin_cpu_supports("avx2")) return RG_SIMD_SSE4;
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") ? RG_SIMD_AVX512
                                                                                   : RG_SIMD_AVX2;
#else
    return RG_SIMD_SSE4;
#endif
}

/* tile_rows, or for one to three rows rows_avx512 where the CPU has it. */
static void tile(long m, int nj, long k, real alpha, const real *A, long rsa, long csa,
                 const real *Bt, long rbt, real beta, real *C, long rsc) {
#ifdef HAVE_ROWS_AVX512
    if (m < 4 && __builtin_cpu_supports("avx512f") &&
        rows_avx512(m, nj, k, alpha, A, rsa, csa, Bt, rbt, beta, C, rsc))
        return;
#endif
    tile_rows(m, nj, k, alpha, A, rsa, csa, Bt, rbt, beta, C, rsc);
}

void rg_gemm_small(long m, long n, long k, real alpha, const real *A, long rsa, long csa,
                   const real *B, long rsb, long csb, real beta, real *C, long rsc, long csc,
                   real *pack) {
    rg_gemm_small_at(rg_small_level(), m, n, k, alpha, A, rsa, csa, B, rsb, csb, beta, C, rsc, csc,
                     pack);
}

void rg_gemm_small_at(int simd, long m, long n, long k, real alpha, const real *A, long rsa,
                      long csa, const real *B, long rsb, long csb, real beta, real *C, long rsc,
                      long csc, real *pack) {
    if (m == 0 || n == 0) return;
    if (csc != 1) { /* C^T = op(B)^T op(A)^T: the same chains, roles swapped */
        rg_gemm_small_at(simd, n, m, k, alpha, B, csb, rsb, A, csa, rsa, beta, C, csc, rsc, pack);
        return;
    }
#ifdef HAVE_BLOCKED
    /* short chains or narrow C (head widths up to 32), op(B) with unit
     * column stride, and not the split chains of few rows and long k */
    if (simd > RG_SIMD_SSE4 && csb == 1 && (k <= 32 || n <= 32) && !(m < 4 && k > KSPLIT_MIN)) {
        (simd == RG_SIMD_AVX512 ? blocked_avx512 : blocked_avx2)(m, n, k, alpha, A, rsa, csa, B,
                                                                 rsb, beta, C, rsc);
        return;
    }
#else
    (void)simd;
#endif
    long j0 = 0;
    if (m < 4 && csb == 1) /* few rows: wide passes, so that enough chains run at once */
        for (; j0 + 4 * TJ <= n; j0 += 4 * TJ)
            tile(m, 4 * TJ, k, alpha, A, rsa, csa, B + j0, rsb, beta, C + j0, rsc);
    for (; j0 < n; j0 += TJ) {
        int nj = n - j0 < TJ ? (int)(n - j0) : TJ;
        const real *Bt = B + j0 * csb;
        long rbt = rsb;
        if (csb != 1) {
            for (long p = 0; p < k; p++)
                for (int jj = 0; jj < nj; jj++) pack[p * TJ + jj] = B[p * rsb + (j0 + jj) * csb];
            Bt = pack, rbt = TJ;
        }
        tile(m, nj, k, alpha, A, rsa, csa, Bt, rbt, beta, C + j0, rsc);
    }
}
