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
 * program loads (target_clones). */
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

void rg_gemm_small(long m, long n, long k, real alpha, const real *A, long rsa, long csa,
                   const real *B, long rsb, long csb, real beta, real *C, long rsc, long csc,
                   real *pack) {
    if (m == 0 || n == 0) return;
    if (csc != 1) { /* C^T = op(B)^T op(A)^T: the same chains, roles swapped */
        rg_gemm_small(n, m, k, alpha, B, csb, rsb, A, csa, rsa, beta, C, csc, rsc, pack);
        return;
    }
    long j0 = 0;
    if (m < 4 && csb == 1) /* few rows: wide passes, so that enough chains run at once */
        for (; j0 + 4 * TJ <= n; j0 += 4 * TJ)
            tile_rows(m, 4 * TJ, k, alpha, A, rsa, csa, B + j0, rsb, beta, C + j0, rsc);
    for (; j0 < n; j0 += TJ) {
        int nj = n - j0 < TJ ? (int)(n - j0) : TJ;
        const real *Bt = B + j0 * csb;
        long rbt = rsb;
        if (csb != 1) {
            for (long p = 0; p < k; p++)
                for (int jj = 0; jj < nj; jj++) pack[p * TJ + jj] = B[p * rsb + (j0 + jj) * csb];
            Bt = pack, rbt = TJ;
        }
        tile_rows(m, nj, k, alpha, A, rsa, csa, Bt, rbt, beta, C + j0, rsc);
    }
}
