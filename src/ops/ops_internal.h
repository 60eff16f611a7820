/* ops_internal.h: helpers shared by the op files, not part of the public API. */
#ifndef RELGRAD_INTERNAL_H
#define RELGRAD_INTERNAL_H

#include "relgrad/ops.h"

/* type-generic math: exp, erf, sqrt, log on float call expf, erff, ... in
 * the float32 build instead of converting to double */
#include <tgmath.h>

/* C = beta C + alpha op(A) op(B), with C [m,n], op(A) [m,k], op(B) [k,n], each
 * matrix given by its row and column strides (so a transpose is just swapped
 * strides), on `threads` OpenMP threads (inside OpenMP loops that already
 * spread work across the cores, callers pass 1). src/ops/gemm.c picks the
 * code: BLIS's gemv for one row; relgrad's own kernels (rg_sgemm_fma) for
 * the small float32 products where they were measured faster (rg_gemm_own);
 * otherwise BLIS, C's rows (or columns) split between the threads, each
 * making one single-threaded BLIS call (rg_gemm_blis): BLIS's own threads
 * wait for each other by spinning, which collapses when another process
 * shares the cores. Every element of C is computed the same way however
 * the work is split, so the result does not depend on `threads`. */
void rg_gemm(long m, long n, long k, real alpha, const real *A, long rsa, long csa, const real *B,
             long rsb, long csb, real beta, real *C, long rsc, long csc, int threads);
/* rg_gemm's rule: does a product of this shape run on relgrad's own
 * kernels (given the CPU has them)? */
bool rg_gemm_own(long m, long n, long k);
/* rg_gemm's BLIS path, whatever the shape (for tools that compare). */
void rg_gemm_blis(long m, long n, long k, real alpha, const real *A, long rsa, long csa,
                  const real *B, long rsb, long csb, real beta, real *C, long rsc, long csc,
                  int threads);

/* One single-threaded float32 product on BLIS's own micro-kernel with
 * relgrad's packing (src/ops/gemm_packed.c): bit for bit what bli_sgemm
 * computes, for a row-stored C (csc = 1, and rsc != 1 unless n = 1) with
 * m >= 2, n >= 1 and k >= 1, when rg_gemm_packed_ready() (BLIS runs its
 * skx kernels). */
bool rg_gemm_packed_ready(void);
void rg_gemm_packed(long m, long n, long k, float alpha, const float *A, long rsa, long csa,
                    const float *B, long rsb, long csb, float beta, float *C, long rsc, long csc);

/* relgrad's own single-precision GEMM (src/ops/gemm_kernel.c): each element
 * of C is a chain of FMAs over p in order, restarted at every multiple of
 * 384, each segment's sum then applied as C = alpha acc (first segment,
 * beta = 0) or fma(beta or 1, C, alpha acc). `simd`: RG_SIMD_AVX512 (12 x 32
 * tiles) or RG_SIMD_AVX2 (6 x 16, with FMA), at most rg_sgemm_fma_level(),
 * the best this CPU runs (RG_SIMD_SSE4: neither, so no own kernel).
 * Arguments otherwise as rg_gemm. */
int rg_sgemm_fma_level(void);
void rg_sgemm_fma(int simd, long m, long n, long k, float alpha, const float *A, long rsa, long csa,
                  const float *B, long rsb, long csb, float beta, float *C, long rsc, long csc,
                  int threads);

/* xt[d * ld + j] = x[j * D + d] for j in [j0, j1) (src/ops/attention_core.c):
 * rows of width D (keys, values, a table) made column-major, so that the
 * small products against them read op(B) with unit column stride and take
 * rg_gemm_small's register-blocked kernel. */
void rg_transpose_rows(const real *x, int D, int j0, int j1, real *xt, long ld);

/* The same product for small matrices (src/ops/small_gemm.c), without BLIS's
 * per-call cost and with BLIS's arithmetic (the same bits for k up to a few
 * hundred), single-threaded. C must have unit column or row stride. `pack`
 * is scratch for RG_SMALL_PACK(k) values, used when the operand that ends up
 * on the right (op(B), or op(A) when csc != 1) has strided columns. */
#define RG_SMALL_PACK(k) ((size_t)(k)*32)
void rg_gemm_small(long m, long n, long k, real alpha, const real *A, long rsa, long csa,
                   const real *B, long rsb, long csb, real beta, real *C, long rsc, long csc,
                   real *pack);
/* The same with the code chosen (tests): RG_SIMD_AVX512 or RG_SIMD_AVX2
 * take register-blocked tiles for short chains (k <= 16) or narrow C
 * (n <= 16), RG_SIMD_SSE4 the loops for any shape; at most
 * rg_small_level(), the best this CPU runs (RG_SIMD_SSE4 in the float64
 * build). Every level gives the same bits. */
int rg_small_level(void);
void rg_gemm_small_at(int simd, long m, long n, long k, real alpha, const real *A, long rsa,
                      long csa, const real *B, long rsb, long csb, real beta, real *C, long rsc,
                      long csc, real *pack);

/* y[j] = exp(x[j] - c) for j < n (y may be x), the same bits as the scalar
 * exp (glibc's expf in the float32 build) gives, several lanes at a time
 * where the CPU allows (src/ops/exp_rows.c). */
void rg_exp_shifted(const real *x, real c, real *y, long n);
/* The same at a given level (tests): 2 AVX-512, 1 AVX2 (each needs FMA and
 * runs glibc's FMA build's operations), 0 the scalar function; at most
 * rg_exp_level(), the widest this CPU runs (0 in the float64 build). */
int rg_exp_level(void);
void rg_exp_shifted_at(int level, const real *x, real c, real *y, long n);

/* Loops over fewer entries than this run on one thread: below it, starting
 * the OpenMP team costs more than the loop. */
#define RG_PAR_MIN 32768

/* Rows [lo, hi) of the static schedule OpenMP gives thread t of nth over n
 * iterations (libgomp's: the first n % nth threads one more), so that a
 * loop that splits its work itself keeps each thread's share of a plain
 * `omp for schedule(static)`. */
static inline void rg_static_range(long n, int nth, int t, long *lo, long *hi) {
    long q = n / nth, rem = n % nth;
    if (t < rem) q++, rem = 0;
    *lo = q * t + rem, *hi = *lo + q;
}

/* GELU's float32 loops (src/ops/vmath.c), forward cdf = 0.5 (1 + erf(x /
 * sqrt 2)), y = x cdf; backward g = g + v (fresh: v + 0), v = dy (cdf + x
 * phi(x)): the same bits as glibc's 4-wide SSE4 erff and expf give (the
 * code a plain x86-64-v2 build runs), computed 16 (RG_SIMD_AVX512) or 8
 * (RG_SIMD_AVX2) lanes at a time or by those functions (RG_SIMD_SSE4);
 * simd = rg_vmath_level() (the widest this CPU runs) or lower. n values on
 * `threads` threads. */
enum { RG_SIMD_SSE4 = 0, RG_SIMD_AVX2 = 1, RG_SIMD_AVX512 = 2 };
int rg_vmath_level(void);
void rg_gelu_fwd_f32(int simd, const float *x, float *cdf, float *y, long n, int threads);
void rg_gelu_bwd_f32(int simd, const float *x, const float *cdf, const float *dy, float *g, long n,
                     bool fresh, int threads);
/* LayerNorm's rows (norm.c) on a chosen path: RG_SIMD_AVX2 (a group of 8
 * rows' sums in one vector, where C % 8 == 0; otherwise the plain path) or
 * RG_SIMD_SSE4, at most rg_layernorm_level(); the same bits on each (tests).
 * Forward: y [R,C] and stats (mean, rstd per row, or NULL) on `threads`
 * threads. Backward of rows [lo, hi): dx (+)= (fresh: =), pg/pb (or NULL)
 * += that range's dg/db. */
int rg_layernorm_level(void);
void rg_layernorm_fwd_rows(int simd, const real *x, const real *g, const real *b, long R, int C,
                           real *y, real *stats, int threads);
void rg_layernorm_bwd_rows(int simd, const real *x, const real *g, const real *dy,
                           const real *stats, long lo, long hi, int C, real *dx, bool fresh,
                           real *pg, real *pb);
enum { RG_ERF_N = 504 };
extern const float rg_erf_t0[RG_ERF_N], rg_erf_t1[RG_ERF_N]; /* erf_table.c */

/* g[j] += src[j] for j < n, or, when g is a fresh gradient buffer
 * (rg_grad_fresh), g[j] = src[j] + 0: what adding to zeros gives. */
void rg_add_into(rg_ctx *ctx, real *g, const real *src, long n, bool fresh);

/* A per-head score bias that depends only on the distance p_i - p_j
 * (src/ops/distance_bias.c): the caller fills rev[h * span + m] with head
 * h's bias of distance pos->max_dist - m, m < span, for every distance
 * pos->min_dist .. max_dist. rg_dist_bias_add adds it to a block of the
 * kernel's score rows: along each row as one contiguous run when the batch
 * row's keys are at consecutive positions (k_first[b] + j), else through
 * each key's position; the same additions either way. */
typedef struct rg_dist_bias {
    const rg_attn_pos *pos;
    int H, span, Bp;    /* heads, distances, position rows (1: shared by the batch) */
    real *rev;          /* [H, span] */
    const int *k_first; /* [Bp]: key j at position k_first[b] + j, or INT_MIN */
    int simd;           /* RG_SIMD_AVX2 or RG_SIMD_SSE4 (rg_dist_bias_level(): the best this CPU
                           runs; tests may lower it): the same bits either way */
} rg_dist_bias;
int rg_dist_bias_level(void);
void rg_dist_bias_init(rg_ctx *ctx, rg_dist_bias *d, const rg_attn_pos *pos, int B, int H, int Tk);
void rg_dist_bias_add(const rg_dist_bias *d, const rg_term_block *blk);

/* RoPE's rotation over n values (src/ops/rotate_rows.c): v[e] = x[e] C[e] +
 * x[e ^ 1] S[e], stored as y = v (RG_ROT_SET), y += v (RG_ROT_ADD) or y = v + 0
 * (RG_ROT_FRESH, into a fresh gradient). x, C, S and y start at an even
 * offset. rg_rotate_rows_at takes the code (tests): RG_SIMD_AVX512,
 * RG_SIMD_AVX2 or RG_SIMD_SSE4, at most rg_rotate_level(); every level gives
 * the same bits. */
enum { RG_ROT_SET, RG_ROT_ADD, RG_ROT_FRESH };
int rg_rotate_level(void);
void rg_rotate_rows_at(int simd, const real *x, const real *C, const real *S, real *y, long n,
                       int mode);

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
