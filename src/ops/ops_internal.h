/* ops_internal.h: helpers shared by the op files, not part of the public API. */
#ifndef RELGRAD_INTERNAL_H
#define RELGRAD_INTERNAL_H

#include "relgrad/ops.h"

#include <blis.h>
/* type-generic math: exp, erf, sqrt, log on float call expf, erff, ... in
 * the float32 build instead of converting to double */
#include <tgmath.h>

/* C = beta C + alpha op(A) op(B), with C [m,n], op(A) [m,k], op(B) [k,n], each
 * matrix given by its row and column strides (so a transpose is just swapped
 * strides). BLIS runs on `threads` threads, set for this call only (its rntm
 * object), never process-wide; inside OpenMP loops that already spread work
 * across the cores, callers pass 1. */
static inline void rg_gemm(long m, long n, long k, real alpha, const real *A, long rsa, long csa,
                           const real *B, long rsb, long csb, real beta, real *C, long rsc,
                           long csc, int threads) {
    if (m == 0 || n == 0) return;
    rntm_t rntm = BLIS_RNTM_INITIALIZER;
    bli_rntm_set_num_threads(threads > 1 ? threads : 1, &rntm);
    if (k == 0) { /* an empty product: C = beta C, where beta = 0 must not read C */
        for (long i = 0; i < m; i++)
            for (long j = 0; j < n; j++)
                C[i * rsc + j * csc] = beta == 0 ? 0 : beta * C[i * rsc + j * csc];
        return;
    }
#ifdef RELGRAD_F64
    bli_dgemm_ex(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, m, n, k, &alpha, (real *)A, rsa, csa,
                 (real *)B, rsb, csb, &beta, C, rsc, csc, NULL, &rntm);
#else
    bli_sgemm_ex(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, m, n, k, &alpha, (real *)A, rsa, csa,
                 (real *)B, rsb, csb, &beta, C, rsc, csc, NULL, &rntm);
#endif
}

/* Loops over fewer entries than this run on one thread: below it, starting
 * the OpenMP team costs more than the loop. */
#define RG_PAR_MIN 32768

/* Number of rows when the last dim is taken as the row length. */
static inline long rg_rows(const rg_tensor *t) {
    return t->size / t->shape[t->ndim - 1];
}
static inline int rg_last(const rg_tensor *t) {
    return t->shape[t->ndim - 1];
}

/* An output tensor shaped like x. */
static inline rg_tensor *rg_like(rg_ctx *ctx, const rg_tensor *x) {
    return rg_empty(ctx, x->ndim, x->shape);
}

#endif
