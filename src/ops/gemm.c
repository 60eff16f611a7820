/* gemm.c: rg_gemm (ops_internal.h), which code computes a product:
 *
 *   - one row of C (m = 1, e.g. decoding one token of one sequence): BLIS's
 *     gemv, which reads op(B) once where a GEMM would first pack it; with
 *     two or more threads and a large enough op(B), each thread takes a
 *     part of C's columns (gemv_shared);
 *   - float32 products with 32 <= k <= 64 (OWN_K_MIN, OWN_K_MAX), on a CPU
 *     with AVX-512 or AVX2 and FMA (cpuid, at run time): relgrad's own
 *     kernels (gemm_kernel.c), one FMA chain per element of C; where BLIS
 *     runs its skx kernels, also every k >= 32 whose segments agree with
 *     BLIS's (then the two give the same bits), but long k with m >= 8 n
 *     (rg_gemm_own, measured on the Zen 5);
 *   - everything else: BLIS's gemm, with the work shared between OpenMP
 *     threads by relgrad rather than by BLIS (rg_gemm_blis); where BLIS
 *     runs its skx kernels, a float32 part with a row-major C goes to
 *     BLIS's micro-kernel through relgrad's packing (gemm_packed.c: the
 *     same bits as bli_sgemm, without BLIS 0.9's slow packing of 32-row
 *     panels).
 *
 * The rule is where the own kernels were measured faster than BLIS 0.9's
 * zen3 kernels (BLIS's choice on this Zen 4) for the linear layers of the
 * benchmark configs: tools/gemm_own, 1 thread, own and BLIS alternated in
 * the same run, median ratio BLIS time / own time over 7-15 rounds; the
 * ranges are over seven such runs on the loaded machine:
 *   k = 64, forward x W^T of config (a) (N = 1280 rows; qkv, proj, fc1):
 *     1.5-2.2 (two runs gave qkv 3.5 and 4.5); the head (20 columns)
 *     1.04-1.24. BLIS sends these to its 'sup' kernels, which read W^T's
 *     column storage with dot-product kernels;
 *   k = 64, dX = dY W: fc2's (256 columns) 1.06-1.26, proj's (64) 0.92-1.06
 *     (one run 0.43);
 *   k = 20 (the head's dX): (a) 0.92-1.12, (b) 0.62-1.08, no gain, and
 *     more instructions than BLIS under callgrind: BLIS below k = 32 (the
 *     boundary lies between the two measured k, unmeasured in between);
 *   k >= 192 (config (b)'s layers, config (a)'s dX with k = 192, 256):
 *     mostly 0.7-1.0: BLIS's large-matrix kernels win or tie;
 *   dW = dY^T X (k = N = 1280, 2048): 0.24-2.9 depending on the shape,
 *     no rule that holds for both configs.
 * So on config (a) the own kernels run the k = 64 forward products and
 * two dX products per layer; on config (b) none (its k are 20 and >= 256).
 * Two threads could not be measured on the shared machine; the own
 * kernels split C between the threads as the BLIS path does (no waits but
 * OpenMP's at the end), so the single-thread ratios should carry over.
 * Bits: the own kernels compute what BLIS's skx kernels compute, but not
 * what the zen3 'sup' dot-product kernels compute for x W^T, so float32
 * results on this CPU differ in the last bits from rg_gemm_blis's
 * (docs/performance.md).
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
    SHARE_MIN_MACS = 1 << 20,      /* below this, one thread: the fork costs more than it saves */
    GEMV_SHARE_MIN_MACS = 1 << 16, /* the same for one row (a gemv reads op(B) once, no packing) */
    OWN_K_MIN = 32,                /* the rule: relgrad's kernels for k from this ... */
    OWN_K_MAX = 64,                /* ... to this (see above) */
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
#ifndef RELGRAD_F64
    if (csc == 1 && (rsc != 1 || n == 1) && m >= 2 && rg_gemm_packed_ready()) {
        rg_gemm_packed(m, n, k, alpha, A, rsa, csa, B, rsb, csb, beta, C, rsc, csc);
        return;
    }
#endif
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

/* One row of C with its columns shared between threads: each thread the
 * gemv of its own columns. A column's sum is the same whichever thread
 * computes it, as long as a part starts at a multiple of BLIS's gemv block
 * of columns (8 on the x86-64 kernels; SPLIT_ALIGN = 32 is a multiple), so
 * the bits do not depend on the number of threads (tests/test_gemm.c).
 * Decoding config (b)'s model one token at a time: a token's 16 products
 * took 104 us on 2 threads against 220 us on 1 in a standalone timing on
 * the loaded machine (docs/performance.md, "Decoding"). */
static void gemv_shared(long n, long k, real alpha, const real *A, long csa, const real *B,
                        long rsb, long csb, real beta, real *C, long csc, int threads) {
    int parts = threads;
    if (parts > n / SPLIT_ALIGN) parts = (int)(n / SPLIT_ALIGN);
    if (parts <= 1 || n * k < GEMV_SHARE_MIN_MACS) {
        gemv_row(n, k, alpha, A, csa, B, rsb, csb, beta, C, csc);
        return;
    }
#pragma omp parallel num_threads(parts)
    {
        int p = omp_get_thread_num(), np = omp_get_num_threads();
        long a = part_start(n, p, np), b = part_start(n, p + 1, np);
        if (b > a) gemv_row(b - a, k, alpha, A, csa, B + a * csb, rsb, csb, beta, C + a * csc, csc);
    }
}

/* Do BLIS's segments of k (384 while more than 480 remain, then the rest
 * whole: gemm_packed.c) fall where the own kernels' do (every multiple of
 * 384)? They differ only when the rest is 385 to 480 values long. */
static bool same_segments(long k) {
    long r = k % 384;
    return k <= 384 || r == 0 || r > 96;
}

bool rg_gemm_own(long m, long n, long k) {
    if (k >= OWN_K_MIN && k <= OWN_K_MAX) return true;
    /* Where BLIS runs its skx kernels the own kernels compute BLIS's bits
     * whenever the segments agree, and on the Zen 5 they were faster for
     * the linear layers of configs (a) and (b) (tools/gemm_own, 7 rounds,
     * 2 threads: 1.15-1.63x on the products config (a) gave BLIS, 1.03-1.20x
     * on config (b)'s) except the long-k products of many rows and few
     * columns (b's fc2 y = x W^T and fc1 dX = dY W, k = 1024, m = 8 n:
     * 0.89x and 0.96x), which stay BLIS's. Below k = 32 BLIS as above. */
    return k >= OWN_K_MIN && same_segments(k) && !(k > 768 && m >= 8 * n) && rg_gemm_packed_ready();
}

void rg_gemm(long m, long n, long k, real alpha, const real *A, long rsa, long csa, const real *B,
             long rsb, long csb, real beta, real *C, long rsc, long csc, int threads) {
    if (m == 1 && n > 1 && k > 0) {
        gemv_shared(n, k, alpha, A, csa, B, rsb, csb, beta, C, csc, threads);
        return;
    }
#ifndef RELGRAD_F64
    if (rg_gemm_own(m, n, k)) {
        int simd = rg_sgemm_fma_level();
        if (simd != RG_SIMD_SSE4) {
            rg_sgemm_fma(simd, m, n, k, alpha, A, rsa, csa, B, rsb, csb, beta, C, rsc, csc,
                         threads);
            return;
        }
    }
#endif
    rg_gemm_blis(m, n, k, alpha, A, rsa, csa, B, rsb, csb, beta, C, rsc, csc, threads);
}

void rg_gemm_blis(long m, long n, long k, real alpha, const real *A, long rsa, long csa,
                  const real *B, long rsb, long csb, real beta, real *C, long rsc, long csc,
                  int threads) {
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
