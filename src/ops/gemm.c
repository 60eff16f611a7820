/* gemm.c: rg_gemm (ops_internal.h), BLIS's gemm with the work shared between
 * OpenMP threads by relgrad rather than by BLIS.
 *
 * Why not BLIS's own threads: a BLIS thread that reaches one of BLIS's
 * internal barriers before its partners spins on an atomic without ever
 * yielding the core. When another process shares the cores and a partner
 * is descheduled, the spinning thread burns its whole time slice, at every
 * barrier of every product: two 2-thread jobs on 2 cores ran each ~7x slower
 * than alone, and a 2-thread run squeezed onto one core 180x slower (config
 * (a), docs/performance.md). Here the only waits are OpenMP's, whose policy
 * the program chooses at startup (core/runtime.c).
 *
 * The split: C's rows when m >= n (each thread packs all of op(B), the
 * smaller operand), else its columns, in parts that are whole multiples of
 * SPLIT_ALIGN so that BLIS's micro-tiles (at most 32 rows or columns on the
 * x86-64 kernels) stay whole except at the very end. */
#include "ops_internal.h"

#include <blis.h>
#include <omp.h>

enum {
    SPLIT_ALIGN = 32,
    SHARE_MIN_MACS = 1 << 20, /* below this, one thread: the fork costs more than it saves */
};

/* One single-threaded BLIS call. */
static void gemm_one(long m, long n, long k, real alpha, const real *A, long rsa, long csa,
                     const real *B, long rsb, long csb, real beta, real *C, long rsc, long csc) {
    if (m == 0 || n == 0) return;
    if (k == 0) { /* an empty product: C = beta C, where beta = 0 must not read C */
        for (long i = 0; i < m; i++)
            for (long j = 0; j < n; j++)
                C[i * rsc + j * csc] = beta == 0 ? 0 : beta * C[i * rsc + j * csc];
        return;
    }
    rntm_t rntm = BLIS_RNTM_INITIALIZER;
    bli_rntm_set_num_threads(1, &rntm);
#ifdef RELGRAD_F64
    bli_dgemm_ex(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, m, n, k, &alpha, (real *)A, rsa, csa,
                 (real *)B, rsb, csb, &beta, C, rsc, csc, NULL, &rntm);
#else
    bli_sgemm_ex(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, m, n, k, &alpha, (real *)A, rsa, csa,
                 (real *)B, rsb, csb, &beta, C, rsc, csc, NULL, &rntm);
#endif
}

/* One row of C (m == 1, e.g. decoding one token of one sequence): a
 * matrix-vector product, y = beta y + alpha op(B)^T x, which reads op(B)
 * once where gemm would first copy all of it into its packed layout.
 * (Its sums run in another order than gemm's, so these rows differ from
 * gemm's in the last bits.) */
static void gemv_row(long n, long k, real alpha, const real *A, long csa, const real *B, long rsb,
                     long csb, real beta, real *C, long csc) {
    rntm_t rntm = BLIS_RNTM_INITIALIZER;
    bli_rntm_set_num_threads(1, &rntm);
#ifdef RELGRAD_F64
    bli_dgemv_ex(BLIS_NO_TRANSPOSE, BLIS_NO_CONJUGATE, n, k, &alpha, (real *)B, csb, rsb, (real *)A,
                 csa, &beta, C, csc, NULL, &rntm);
#else
    bli_sgemv_ex(BLIS_NO_TRANSPOSE, BLIS_NO_CONJUGATE, n, k, &alpha, (real *)B, csb, rsb, (real *)A,
                 csa, &beta, C, csc, NULL, &rntm);
#endif
}

/* Start of part p of `parts` over 0..len, aligned. */
static long part_start(long len, int p, int parts) {
    if (p >= parts) return len;
    long units = (len + SPLIT_ALIGN - 1) / SPLIT_ALIGN;
    long at = units * p / parts * SPLIT_ALIGN;
    return at < len ? at : len;
}

void rg_gemm(long m, long n, long k, real alpha, const real *A, long rsa, long csa, const real *B,
             long rsb, long csb, real beta, real *C, long rsc, long csc, int threads) {
    if (m == 1 && n > 1 && k > 0) {
        gemv_row(n, k, alpha, A, csa, B, rsb, csb, beta, C, csc);
        return;
    }
    bool by_rows = m >= n;
    long len = by_rows ? m : n;
    int parts = threads;
    if (parts > (len + SPLIT_ALIGN - 1) / SPLIT_ALIGN)
        parts = (int)((len + SPLIT_ALIGN - 1) / SPLIT_ALIGN);
    if (parts <= 1 || m * n * k < SHARE_MIN_MACS) {
        gemm_one(m, n, k, alpha, A, rsa, csa, B, rsb, csb, beta, C, rsc, csc);
        return;
    }
#pragma omp parallel num_threads(parts)
    {
        int p = omp_get_thread_num(), np = omp_get_num_threads();
        long a = part_start(len, p, np), b = part_start(len, p + 1, np);
        if (b > a) {
            if (by_rows)
                gemm_one(b - a, n, k, alpha, A + a * rsa, rsa, csa, B, rsb, csb, beta, C + a * rsc,
                         rsc, csc);
            else
                gemm_one(m, b - a, k, alpha, A, rsa, csa, B + a * csb, rsb, csb, beta, C + a * csc,
                         rsc, csc);
        }
    }
}
