/* vmath.c: GELU's float32 loops at the width of the machine's vectors,
 * with the bits of the 4-wide code they replace (ops_internal.h:
 * rg_gelu_fwd_f32, rg_gelu_bwd_f32).
 *
 * The build targets any x86-64-v2 CPU, so GELU's erff and expf went to
 * glibc's libmvec in its 4-wide SSE4 versions (_ZGVbN4v_erff,
 * _ZGVbN4v_expf). libmvec's own AVX2 and AVX-512 versions use other
 * algorithms and round differently (measured over all 2^32 inputs: erff's
 * AVX-512 version differs on half of them, expf's wider ones on 17.8
 * million), which would change every trained model. So this file computes
 * the SSE4 versions' algorithms, step for step in the same IEEE operations,
 * 8 (AVX2) or 16 (AVX-512) lanes at a time, when the CPU has those
 * (chosen at run time); tests/test_vmath.c checks them bit for bit against
 * libmvec's SSE4 functions. The algorithms (glibc 2.36,
 * sysdeps/x86_64/fpu/multiarch/svml_s_{erff,expf}4_core_sse4.S):
 *
 *   erf(x):  ax = |x| clamped to 3.9296875, x0 = ax rounded to a multiple of
 *            1/128 (by adding 2^16), d = ax - x0, e = min(d, |x|);
 *            erf = T0[x0] + T1[x0] (e + e (c d^2 - x0 d)), c = -0.33333486,
 *            the d^2 term dropped for ax <= 2^-32; T0 = erf(x0),
 *            T1 = 2/sqrt(pi) exp(-x0^2) (erf_table.c); the sign of x restored.
 *   exp(x):  n = round(x / ln 2) (by adding 1.5 * 2^23), r = x - n ln2_hi -
 *            n ln2_lo, exp = 2^n (1 + r p(r)) with a degree-5 polynomial;
 *            lanes with |x| > 87.336540 go to the scalar expf.
 *
 * Which elements get the vector code matters too: the loops this replaces
 * (`omp parallel for simd if (n > RG_PAR_MIN)`) ran, on each thread's share
 * of a static schedule, 4 values at a time and then the scalar erff or
 * expf on the last (share mod 4), or on all of a share of fewer than 4; and
 * when n <= RG_PAR_MIN, the scalar functions on every value, since an `if`
 * clause on a combined construct also applies to its simd part (OpenMP 5.0;
 * GCC 12 compiles the loop without vectors then). So does this. */
#include "ops_internal.h"

#include <immintrin.h>
#include <math.h>
#include <omp.h>
#include <string.h>

/* libmvec's 4-wide SSE4 versions (what `omp declare simd` loops call on
 * an x86-64-v2 build): the reference, and the path without AVX2. */
__m128 _ZGVbN4v_erff(__m128 x);
__m128 _ZGVbN4v_expf(__m128 x);

/* The constants of the two algorithms (bit patterns). */
#define ERF_MAX        0x1.f7p+1f     /* 3.9296875: 503/128 */
#define ERF_ROUND      0x1p16f        /* adding it rounds to 1/128 */
#define ERF_ROUND_BITS 0x47800000     /* its bits: x0's index is what is added */
#define ERF_TINY       0x1p-32f       /* below it the d^2 term is dropped */
#define ERF_C          0x1.5555bcp-2f /* with a minus sign: -0.33333486 */
#define EXP_INVLN2     0x1.715476p+0f /* 1/ln 2 */
#define EXP_SHIFT      0x1.8p+23f     /* adding it rounds to an integer */
#define EXP_LN2HI      0x1.62e4p-1f
#define EXP_LN2LO      0x1.7f7d1cp-20f
#define EXP_C5         0x1.0fb3fcp-7f
#define EXP_C4         0x1.570724p-5f
#define EXP_C3         0x1.555958p-3f
#define EXP_C2         0x1.fffe68p-2f
#define EXP_C1         0x1.fffffcp-1f
#define EXP_BIG        0x42aeac4f /* |x| bits above it (87.336540): the scalar expf */

/* ---- 16 lanes (AVX-512) -------------------------------------------------------------- */

#define AVX512 __attribute__((target("avx512f")))

AVX512 static inline __m512 erf16(__m512 x) {
    __m512i bits = _mm512_castps_si512(x);
    __m512 ax = _mm512_castsi512_ps(_mm512_and_si512(bits, _mm512_set1_epi32(0x7fffffff)));
    __m512i sign = _mm512_xor_si512(bits, _mm512_castps_si512(ax));
    __m512 xc = _mm512_min_ps(ax, _mm512_set1_ps(ERF_MAX));
    __m512 t = _mm512_add_ps(_mm512_set1_ps(ERF_ROUND), xc);
    __mmask16 big = _mm512_cmp_ps_mask(_mm512_set1_ps(ERF_TINY), xc, _CMP_LT_OS);
    __m512i idx = _mm512_sub_epi32(_mm512_castps_si512(t), _mm512_set1_epi32(ERF_ROUND_BITS));
    __m512 x0 = _mm512_sub_ps(t, _mm512_set1_ps(ERF_ROUND));
    __m512 d = _mm512_sub_ps(xc, x0);
    __m512 dm = _mm512_maskz_mov_ps(big, d);
    __m512 q = _mm512_mul_ps(_mm512_mul_ps(dm, dm), _mm512_set1_ps(-ERF_C));
    q = _mm512_sub_ps(q, _mm512_mul_ps(x0, d));
    __m512 e = _mm512_min_ps(d, ax);
    __m512 poly = _mm512_add_ps(e, _mm512_mul_ps(q, e));
    __m512 t0 = _mm512_i32gather_ps(idx, rg_erf_t0, 4), t1 = _mm512_i32gather_ps(idx, rg_erf_t1, 4);
    __m512 r = _mm512_add_ps(t0, _mm512_mul_ps(t1, poly));
    return _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(r), sign));
}

AVX512 static inline __m512 exp16(__m512 x) {
    __m512 t =
        _mm512_add_ps(_mm512_mul_ps(_mm512_set1_ps(EXP_INVLN2), x), _mm512_set1_ps(EXP_SHIFT));
    __m512 n = _mm512_sub_ps(t, _mm512_set1_ps(EXP_SHIFT));
    __m512 r = _mm512_sub_ps(x, _mm512_mul_ps(_mm512_set1_ps(EXP_LN2HI), n));
    r = _mm512_sub_ps(r, _mm512_mul_ps(n, _mm512_set1_ps(EXP_LN2LO)));
    __m512 p = _mm512_mul_ps(_mm512_set1_ps(EXP_C5), r);
    p = _mm512_mul_ps(_mm512_add_ps(p, _mm512_set1_ps(EXP_C4)), r);
    p = _mm512_mul_ps(_mm512_add_ps(p, _mm512_set1_ps(EXP_C3)), r);
    p = _mm512_mul_ps(_mm512_add_ps(p, _mm512_set1_ps(EXP_C2)), r);
    p = _mm512_add_ps(p, _mm512_set1_ps(EXP_C1));
    __m512 q = _mm512_add_ps(_mm512_mul_ps(r, p), _mm512_set1_ps(1));
    __m512i scale =
        _mm512_slli_epi32(_mm512_add_epi32(_mm512_castps_si512(t), _mm512_set1_epi32(0x7f)), 23);
    __m512 res = _mm512_mul_ps(_mm512_castsi512_ps(scale), q);
    __mmask16 big = _mm512_cmpgt_epi32_mask(
        _mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32(0x7fffffff)),
        _mm512_set1_epi32(EXP_BIG));
    if (big) { /* the scalar expf, as libmvec calls it for these lanes */
        float xs[16], rs[16];
        _mm512_storeu_ps(xs, x), _mm512_storeu_ps(rs, res);
        for (int i = 0; i < 16; i++)
            if (big >> i & 1) rs[i] = expf(xs[i]);
        res = _mm512_loadu_ps(rs);
    }
    return res;
}

/* The GELU loops on [0, n), n a multiple of 4. Full vectors load and
 * store plainly and only the last, partial one goes through a mask: on
 * AMD's Zen 5 a k-masked zmm store costs far more than a plain one when
 * the data streams from memory (GELU's arrays do). */
AVX512 static inline __m512 load16(const float *p, __mmask16 m) {
    return m == 0xffff ? _mm512_loadu_ps(p) : _mm512_maskz_loadu_ps(m, p);
}

AVX512 static inline void store16(float *p, __mmask16 m, __m512 v) {
    if (m == 0xffff)
        _mm512_storeu_ps(p, v);
    else
        _mm512_mask_storeu_ps(p, m, v);
}

AVX512 static void gelu_fwd16(const float *x, float *cdf, float *y, long n) {
    for (long j = 0; j < n; j += 16) {
        __mmask16 m = n - j >= 16 ? 0xffff : (__mmask16)((1u << (n - j)) - 1);
        __m512 xv = load16(x + j, m);
        __m512 e = erf16(_mm512_mul_ps(xv, _mm512_set1_ps((float)M_SQRT1_2)));
        __m512 c = _mm512_mul_ps(_mm512_set1_ps(0.5f), _mm512_add_ps(_mm512_set1_ps(1), e));
        store16(cdf + j, m, c);
        store16(y + j, m, _mm512_mul_ps(xv, c));
    }
}

AVX512 static void gelu_bwd16(const float *x, const float *cdf, const float *dy, float *g, long n,
                              bool fresh) {
    const float k = (float)(0.5 * M_2_SQRTPI * M_SQRT1_2);
    for (long j = 0; j < n; j += 16) {
        __mmask16 m = n - j >= 16 ? 0xffff : (__mmask16)((1u << (n - j)) - 1);
        __m512 xv = load16(x + j, m);
        __m512 arg = _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(-0.5f), xv), xv);
        __m512 pdf = _mm512_mul_ps(exp16(arg), _mm512_set1_ps(k));
        __m512 v = _mm512_mul_ps(load16(dy + j, m),
                                 _mm512_add_ps(load16(cdf + j, m), _mm512_mul_ps(xv, pdf)));
        __m512 old = fresh ? _mm512_setzero_ps() : load16(g + j, m);
        store16(g + j, m, fresh ? _mm512_add_ps(v, old) : _mm512_add_ps(old, v));
    }
}

/* ---- 8 lanes (AVX2) ------------------------------------------------------------------ */

#define AVX2 __attribute__((target("avx2,fma")))

AVX2 static inline __m256 erf8(__m256 x) {
    __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    __m256 ax = _mm256_and_ps(x, absmask);
    __m256 sign = _mm256_xor_ps(x, ax);
    __m256 xc = _mm256_min_ps(ax, _mm256_set1_ps(ERF_MAX));
    __m256 t = _mm256_add_ps(_mm256_set1_ps(ERF_ROUND), xc);
    __m256 big = _mm256_cmp_ps(_mm256_set1_ps(ERF_TINY), xc, _CMP_LT_OS);
    __m256i idx = _mm256_sub_epi32(_mm256_castps_si256(t), _mm256_set1_epi32(ERF_ROUND_BITS));
    __m256 x0 = _mm256_sub_ps(t, _mm256_set1_ps(ERF_ROUND));
    __m256 d = _mm256_sub_ps(xc, x0);
    __m256 dm = _mm256_and_ps(big, d);
    __m256 q = _mm256_mul_ps(_mm256_mul_ps(dm, dm), _mm256_set1_ps(-ERF_C));
    q = _mm256_sub_ps(q, _mm256_mul_ps(x0, d));
    __m256 e = _mm256_min_ps(d, ax);
    __m256 poly = _mm256_add_ps(e, _mm256_mul_ps(q, e));
    __m256 t0 = _mm256_i32gather_ps(rg_erf_t0, idx, 4), t1 = _mm256_i32gather_ps(rg_erf_t1, idx, 4);
    __m256 r = _mm256_add_ps(t0, _mm256_mul_ps(t1, poly));
    return _mm256_or_ps(r, sign);
}

AVX2 static inline __m256 exp8(__m256 x) {
    __m256 t =
        _mm256_add_ps(_mm256_mul_ps(_mm256_set1_ps(EXP_INVLN2), x), _mm256_set1_ps(EXP_SHIFT));
    __m256 n = _mm256_sub_ps(t, _mm256_set1_ps(EXP_SHIFT));
    __m256 r = _mm256_sub_ps(x, _mm256_mul_ps(_mm256_set1_ps(EXP_LN2HI), n));
    r = _mm256_sub_ps(r, _mm256_mul_ps(n, _mm256_set1_ps(EXP_LN2LO)));
    __m256 p = _mm256_mul_ps(_mm256_set1_ps(EXP_C5), r);
    p = _mm256_mul_ps(_mm256_add_ps(p, _mm256_set1_ps(EXP_C4)), r);
    p = _mm256_mul_ps(_mm256_add_ps(p, _mm256_set1_ps(EXP_C3)), r);
    p = _mm256_mul_ps(_mm256_add_ps(p, _mm256_set1_ps(EXP_C2)), r);
    p = _mm256_add_ps(p, _mm256_set1_ps(EXP_C1));
    __m256 q = _mm256_add_ps(_mm256_mul_ps(r, p), _mm256_set1_ps(1));
    __m256i scale =
        _mm256_slli_epi32(_mm256_add_epi32(_mm256_castps_si256(t), _mm256_set1_epi32(0x7f)), 23);
    __m256 res = _mm256_mul_ps(_mm256_castsi256_ps(scale), q);
    __m256i big =
        _mm256_cmpgt_epi32(_mm256_and_si256(_mm256_castps_si256(x), _mm256_set1_epi32(0x7fffffff)),
                           _mm256_set1_epi32(EXP_BIG));
    int mask = _mm256_movemask_ps(_mm256_castsi256_ps(big));
    if (mask) {
        float xs[8], rs[8];
        _mm256_storeu_ps(xs, x), _mm256_storeu_ps(rs, res);
        for (int i = 0; i < 8; i++)
            if (mask >> i & 1) rs[i] = expf(xs[i]);
        res = _mm256_loadu_ps(rs);
    }
    return res;
}

/* Full vectors load and store plainly and only a last group of 4 goes
 * through a mask: AMD's Zen 1-3 take many cycles for each masked store
 * (vmaskmovps), Intel one, and these loops run over every activation. */
AVX2 static inline __m256 load8(const float *p, bool full, __m256i m) {
    return full ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, m);
}
AVX2 static inline void store8(float *p, bool full, __m256i m, __m256 v) {
    if (full)
        _mm256_storeu_ps(p, v);
    else
        _mm256_maskstore_ps(p, m, v);
}

/* n a multiple of 4: 8 at a time, then one group of 4 in the low lanes. */
AVX2 static void gelu_fwd8(const float *x, float *cdf, float *y, long n) {
    const __m256i low4 = _mm256_setr_epi32(-1, -1, -1, -1, 0, 0, 0, 0);
    for (long j = 0; j < n; j += 8) {
        bool full = n - j >= 8;
        __m256 xv = load8(x + j, full, low4);
        __m256 e = erf8(_mm256_mul_ps(xv, _mm256_set1_ps((float)M_SQRT1_2)));
        __m256 c = _mm256_mul_ps(_mm256_set1_ps(0.5f), _mm256_add_ps(_mm256_set1_ps(1), e));
        store8(cdf + j, full, low4, c);
        store8(y + j, full, low4, _mm256_mul_ps(xv, c));
    }
}

AVX2 static void gelu_bwd8(const float *x, const float *cdf, const float *dy, float *g, long n,
                           bool fresh) {
    const float k = (float)(0.5 * M_2_SQRTPI * M_SQRT1_2);
    const __m256i low4 = _mm256_setr_epi32(-1, -1, -1, -1, 0, 0, 0, 0);
    for (long j = 0; j < n; j += 8) {
        bool full = n - j >= 8;
        __m256 xv = load8(x + j, full, low4);
        __m256 arg = _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(-0.5f), xv), xv);
        __m256 pdf = _mm256_mul_ps(exp8(arg), _mm256_set1_ps(k));
        __m256 v = _mm256_mul_ps(load8(dy + j, full, low4),
                                 _mm256_add_ps(load8(cdf + j, full, low4), _mm256_mul_ps(xv, pdf)));
        __m256 old = fresh ? _mm256_setzero_ps() : load8(g + j, full, low4);
        store8(g + j, full, low4, fresh ? _mm256_add_ps(v, old) : _mm256_add_ps(old, v));
    }
}

/* ---- 4 lanes (libmvec itself) and the scalar tail --------------------------------------- */

static void gelu_fwd4(const float *x, float *cdf, float *y, long n) {
    for (long j = 0; j < n; j += 4) {
        __m128 xv = _mm_loadu_ps(x + j);
        __m128 e = _ZGVbN4v_erff(_mm_mul_ps(xv, _mm_set1_ps((float)M_SQRT1_2)));
        __m128 c = _mm_mul_ps(_mm_set1_ps(0.5f), _mm_add_ps(_mm_set1_ps(1), e));
        _mm_storeu_ps(cdf + j, c);
        _mm_storeu_ps(y + j, _mm_mul_ps(xv, c));
    }
}

static void gelu_bwd4(const float *x, const float *cdf, const float *dy, float *g, long n,
                      bool fresh) {
    const float k = (float)(0.5 * M_2_SQRTPI * M_SQRT1_2);
    for (long j = 0; j < n; j += 4) {
        __m128 xv = _mm_loadu_ps(x + j);
        __m128 arg = _mm_mul_ps(_mm_mul_ps(_mm_set1_ps(-0.5f), xv), xv);
        __m128 pdf = _mm_mul_ps(_ZGVbN4v_expf(arg), _mm_set1_ps(k));
        __m128 v = _mm_mul_ps(_mm_loadu_ps(dy + j),
                              _mm_add_ps(_mm_loadu_ps(cdf + j), _mm_mul_ps(xv, pdf)));
        __m128 old = fresh ? _mm_setzero_ps() : _mm_loadu_ps(g + j);
        _mm_storeu_ps(g + j, fresh ? _mm_add_ps(v, old) : _mm_add_ps(old, v));
    }
}

static void gelu_fwd1(const float *x, float *cdf, float *y, long n) {
    for (long j = 0; j < n; j++) {
        cdf[j] = 0.5f * (1 + erff(x[j] * (float)M_SQRT1_2));
        y[j] = x[j] * cdf[j];
    }
}

static void gelu_bwd1(const float *x, const float *cdf, const float *dy, float *g, long n,
                      bool fresh) {
    const float k = (float)(0.5 * M_2_SQRTPI * M_SQRT1_2);
    for (long j = 0; j < n; j++) {
        float pdf = expf(-0.5f * x[j] * x[j]) * k, v = dy[j] * (cdf[j] + x[j] * pdf);
        g[j] = fresh ? v + 0.0f : g[j] + v;
    }
}

/* ---- the loops ------------------------------------------------------------------------- */

/* One thread's share [lo, hi): groups of 4 at the widest width, then the
 * scalar tail. */
static void gelu_fwd_share(int simd, const float *x, float *cdf, float *y, long lo, long hi) {
    long n4 = (hi - lo) / 4 * 4;
    if (simd == RG_SIMD_AVX512)
        gelu_fwd16(x + lo, cdf + lo, y + lo, n4);
    else if (simd == RG_SIMD_AVX2)
        gelu_fwd8(x + lo, cdf + lo, y + lo, n4);
    else
        gelu_fwd4(x + lo, cdf + lo, y + lo, n4);
    gelu_fwd1(x + lo + n4, cdf + lo + n4, y + lo + n4, hi - lo - n4);
}

static void gelu_bwd_share(int simd, const float *x, const float *cdf, const float *dy, float *g,
                           long lo, long hi, bool fresh) {
    long n4 = (hi - lo) / 4 * 4;
    if (simd == RG_SIMD_AVX512)
        gelu_bwd16(x + lo, cdf + lo, dy + lo, g + lo, n4, fresh);
    else if (simd == RG_SIMD_AVX2)
        gelu_bwd8(x + lo, cdf + lo, dy + lo, g + lo, n4, fresh);
    else
        gelu_bwd4(x + lo, cdf + lo, dy + lo, g + lo, n4, fresh);
    gelu_bwd1(x + lo + n4, cdf + lo + n4, dy + lo + n4, g + lo + n4, hi - lo - n4, fresh);
}

void rg_gelu_fwd_f32(int simd, const float *x, float *cdf, float *y, long n, int threads) {
    if (n <= RG_PAR_MIN) { /* the `if` clause's scalar loop */
        gelu_fwd1(x, cdf, y, n);
        return;
    }
#pragma omp parallel num_threads(threads)
    {
        long lo, hi;
        rg_static_range(n, omp_get_num_threads(), omp_get_thread_num(), &lo, &hi);
        gelu_fwd_share(simd, x, cdf, y, lo, hi);
    }
}

void rg_gelu_bwd_f32(int simd, const float *x, const float *cdf, const float *dy, float *g, long n,
                     bool fresh, int threads) {
    if (n <= RG_PAR_MIN) { /* the `if` clause's scalar loop */
        gelu_bwd1(x, cdf, dy, g, n, fresh);
        return;
    }
#pragma omp parallel num_threads(threads)
    {
        long lo, hi;
        rg_static_range(n, omp_get_num_threads(), omp_get_thread_num(), &lo, &hi);
        gelu_bwd_share(simd, x, cdf, dy, g, lo, hi, fresh);
    }
}

int rg_vmath_level(void) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return RG_SIMD_AVX512;
    if (__builtin_cpu_supports("avx2")) return RG_SIMD_AVX2;
    return RG_SIMD_SSE4;
}
