/* rotate_rows.c: the arithmetic of RoPE's pair rotation (ops/position.c)
 * over a run of values, vectorized:
 *
 *   v[e] = x[e] C[e] + x[e ^ 1] S[e]
 *
 * where the caller's tables hold, for pair m of each position, C = (cos a,
 * cos a) and S = (-sin a, sin a) (or the reverse, for the transposed
 * rotation). Lane 2m gives x0 cos a - x1 sin a and lane 2m+1 x1 cos a +
 * x0 sin a: the products and the one addition the scalar formula makes
 * (a + (-b) is a - b, and the addition commutes), so every level gives the
 * same bits. The pairs' swap is one in-lane shuffle (pairs never straddle a
 * vector, as runs start at even offsets). The vector code is chosen at run
 * time from cpuid (AVX-512, AVX2, else the SSE every x86-64-v2 build has).
 */
#include "ops_internal.h"

#if !defined(RELGRAD_F64) && defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define ROT_VECTOR 1
#include <immintrin.h>
#endif

/* y = v, y += v, or y = v + 0 (a fresh gradient: what adding to zeros gives) */
static inline real rot_store(real y, real v, int mode) {
    return mode == RG_ROT_SET ? v : mode == RG_ROT_ADD ? y + v : v + (real)0;
}

static void rot_scalar(const real *x, const real *C, const real *S, real *y, long j, long n,
                       int mode) {
    for (; j < n; j++) y[j] = rot_store(y[j], x[j] * C[j] + x[j ^ 1] * S[j], mode);
}

#ifdef ROT_VECTOR
static void rot_sse(const float *x, const float *C, const float *S, float *y, long n, int mode) {
    const __m128 zero = _mm_setzero_ps();
    long j = 0;
    for (; j + 4 <= n; j += 4) {
        __m128 v = _mm_loadu_ps(x + j), sw = _mm_shuffle_ps(v, v, _MM_SHUFFLE(2, 3, 0, 1));
        v = _mm_add_ps(_mm_mul_ps(v, _mm_loadu_ps(C + j)), _mm_mul_ps(sw, _mm_loadu_ps(S + j)));
        if (mode == RG_ROT_ADD) v = _mm_add_ps(_mm_loadu_ps(y + j), v);
        if (mode == RG_ROT_FRESH) v = _mm_add_ps(v, zero);
        _mm_storeu_ps(y + j, v);
    }
    rot_scalar(x, C, S, y, j, n, mode);
}

__attribute__((target("avx2"))) static void rot_avx2(const float *x, const float *C, const float *S,
                                                     float *y, long n, int mode) {
    const __m256 zero = _mm256_setzero_ps();
    long j = 0;
    for (; j + 8 <= n; j += 8) {
        __m256 v = _mm256_loadu_ps(x + j), sw = _mm256_permute_ps(v, 0xB1);
        v = _mm256_add_ps(_mm256_mul_ps(v, _mm256_loadu_ps(C + j)),
                          _mm256_mul_ps(sw, _mm256_loadu_ps(S + j)));
        if (mode == RG_ROT_ADD) v = _mm256_add_ps(_mm256_loadu_ps(y + j), v);
        if (mode == RG_ROT_FRESH) v = _mm256_add_ps(v, zero);
        _mm256_storeu_ps(y + j, v);
    }
    rot_scalar(x, C, S, y, j, n, mode);
}

__attribute__((target("avx512f"))) static void
rot_avx512(const float *x, const float *C, const float *S, float *y, long n, int mode) {
    const __m512 zero = _mm512_setzero_ps();
    long j = 0;
    for (; j + 16 <= n; j += 16) {
        __m512 v = _mm512_loadu_ps(x + j), sw = _mm512_permute_ps(v, 0xB1);
        v = _mm512_add_ps(_mm512_mul_ps(v, _mm512_loadu_ps(C + j)),
                          _mm512_mul_ps(sw, _mm512_loadu_ps(S + j)));
        if (mode == RG_ROT_ADD) v = _mm512_add_ps(_mm512_loadu_ps(y + j), v);
        if (mode == RG_ROT_FRESH) v = _mm512_add_ps(v, zero);
        _mm512_storeu_ps(y + j, v);
    }
    rot_scalar(x, C, S, y, j, n, mode);
}

int rg_rotate_level(void) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return RG_SIMD_AVX512;
    return __builtin_cpu_supports("avx2") ? RG_SIMD_AVX2 : RG_SIMD_SSE4;
}
#else
int rg_rotate_level(void) {
    return RG_SIMD_SSE4;
}
#endif

void rg_rotate_rows_at(int simd, const real *x, const real *C, const real *S, real *y, long n,
                       int mode) {
#ifdef ROT_VECTOR
    if (simd == RG_SIMD_AVX512)
        rot_avx512(x, C, S, y, n, mode);
    else if (simd == RG_SIMD_AVX2)
        rot_avx2(x, C, S, y, n, mode);
    else
        rot_sse(x, C, S, y, n, mode);
#else
    (void)simd;
    rot_scalar(x, C, S, y, 0, n, mode);
#endif
}
