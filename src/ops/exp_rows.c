/* exp_rows.c: rg_exp_shifted (ops_internal.h), y = exp(x - c) over a row,
 * for the attention kernel's softmax, with the bits of glibc's scalar expf.
 *
 * The kernel's softmax called expf once per score: at one query against a
 * long key/value cache (decoding), that scalar call was a large part of
 * each key's cost. glibc (2.28 and later, sysdeps/ieee754/flt-32/e_expf.c)
 * computes expf in double: kd = round(x N / ln 2) with N = 32, r = x N /
 * ln 2 - kd, s = 2^(kd/N) from a 32-entry table, exp = s (1 + C2 r + C0 r^3 +
 * C1 r^2) rounded once to float; arguments with |x| >= 88 (and infinities,
 * NaN) take a slower path. On a CPU with FMA and AVX2, glibc's ifunc picks
 * the build of it with fused multiply-adds (__expf_fma), whose operations
 * are, as its machine code has them:
 *
 *   kd = fma(InvLn2N, x, SHIFT), ki = bits(kd), kd = kd - SHIFT,
 *   r = fma(InvLn2N, x, -kd), s = double(T[ki % 32] + (ki << 47)),
 *   z = fma(C0, r, C1), y = fma(C2, r, 1), y = fma(z, r * r, y), y = y s.
 *
 * Here those same operations run 16 (AVX-512) or 8 (AVX2) lanes at a time;
 * lanes with |x| >= 88 go to expf itself. On other CPUs, and in the float64
 * build (glibc's exp), the scalar function is called as before.
 * tests/test_vmath.c checks the bits against expf over a sweep of floats. */
#include "ops_internal.h"

#include <stdint.h>
#include <string.h>

#if !defined(RELGRAD_F64) && defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define EXP_VECTOR 1
#include <immintrin.h>

/* glibc's __exp2f_data: tab[i] = bits(2^(i/32)) - (i << 47), and the
 * constants scaled for N = 32. */
static const uint64_t exp_tab[32] = {
    0x3ff0000000000000, 0x3fefd9b0d3158574, 0x3fefb5586cf9890f, 0x3fef9301d0125b51,
    0x3fef72b83c7d517b, 0x3fef54873168b9aa, 0x3fef387a6e756238, 0x3fef1e9df51fdee1,
    0x3fef06fe0a31b715, 0x3feef1a7373aa9cb, 0x3feedea64c123422, 0x3feece086061892d,
    0x3feebfdad5362a27, 0x3feeb42b569d4f82, 0x3feeab07dd485429, 0x3feea47eb03a5585,
    0x3feea09e667f3bcd, 0x3fee9f75e8ec5f74, 0x3feea11473eb0187, 0x3feea589994cce13,
    0x3feeace5422aa0db, 0x3feeb737b0cdc5e5, 0x3feec49182a3f090, 0x3feed503b23e255d,
    0x3feee89f995ad3ad, 0x3feeff76f2fb5e47, 0x3fef199bdd85529c, 0x3fef3720dcef9069,
    0x3fef5818dcfba487, 0x3fef7c97337b9b5f, 0x3fefa4afa2a490da, 0x3fefd0765b6e4540,
};
#define INV_LN2_N 0x1.71547652b82fep+5
#define SHIFT     0x1.8p+52
#define C0        0x1.c6af84b912394p-20
#define C1        0x1.ebfce50fac4f3p-13
#define C2        0x1.62e42ff0c52d6p-6

/* Those operations for 8 (AVX2) or 16 (AVX-512) lanes at a time, the last
 * vector masked; each returns whether a lane needs the scalar function
 * (|x - c| >= 88, infinities, NaN). The table lookup is one gather (AVX2)
 * or, the table held in registers, two permutes and a blend (AVX-512):
 * written as a plain loop, GCC looked each lane up with scalar extracts
 * and loads, a third of the loop's instructions. The arithmetic is the
 * same operations in the same order, so the same bits
 * (tests/test_decode_path.c checks them against expf). */

/* y = (float)(poly(r) s) for four lanes of x (as doubles), the table lookup
 * given as LOOKUP(ki & 31) -> 64-bit entries. */
#define EXP_HALF(VD, VI, xd, LOOKUP, out)                                                          \
    do {                                                                                           \
        VD kd = FMA_PD(inv_ln2_n, xd, shift);                                                      \
        VI ki = CAST_I(kd);                                                                        \
        kd = SUB_PD(kd, shift);                                                                    \
        VD r = FMSUB_PD(inv_ln2_n, xd, kd);                                                        \
        VI t = ADD_I64(LOOKUP(AND_I(ki, idx_mask)), SLL_I64(ki, 47));                              \
        VD z = FMA_PD(c0, r, c1), y = FMA_PD(c2, r, one);                                          \
        y = FMA_PD(z, MUL_PD(r, r), y);                                                            \
        out = CVT_PS(MUL_PD(y, CAST_D(t)));                                                        \
    } while (0)

__attribute__((target("avx2,fma"))) static int exp_avx2(const float *x, float c, float *out,
                                                        long n) {
#define FMA_PD    _mm256_fmadd_pd
#define FMSUB_PD  _mm256_fmsub_pd
#define SUB_PD    _mm256_sub_pd
#define MUL_PD    _mm256_mul_pd
#define CAST_I    _mm256_castpd_si256
#define CAST_D    _mm256_castsi256_pd
#define ADD_I64   _mm256_add_epi64
#define SLL_I64   _mm256_slli_epi64
#define AND_I     _mm256_and_si256
#define CVT_PS    _mm256_cvtpd_ps
#define GATHER(i) _mm256_i64gather_epi64((const long long *)exp_tab, i, 8)
    const __m256d inv_ln2_n = _mm256_set1_pd(INV_LN2_N), shift = _mm256_set1_pd(SHIFT);
    const __m256d c0 = _mm256_set1_pd(C0), c1 = _mm256_set1_pd(C1), c2 = _mm256_set1_pd(C2);
    const __m256d one = _mm256_set1_pd(1.0);
    const __m256i idx_mask = _mm256_set1_epi64x(31);
    const __m256 vc = _mm256_set1_ps(c);
    const __m256i exp_field = _mm256_set1_epi32(0x7ff), edge = _mm256_set1_epi32(0x42a);
    __m256i slow = _mm256_setzero_si256();
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (long j = 0; j < n; j += 8) { /* the last 1..8 lanes masked */
        /* plain loads and stores where all 8 lanes are live: AMD's Zen 1-3
         * take many cycles for a masked store (vmaskmovps), Intel one */
        bool full = n - j >= 8;
        __m256i live = full ? _mm256_set1_epi32(-1)
                            : _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n - j)), lane);
        __m256 xf =
            _mm256_sub_ps(full ? _mm256_loadu_ps(x + j) : _mm256_maskload_ps(x + j, live), vc);
        __m256i e = _mm256_and_si256(_mm256_srli_epi32(_mm256_castps_si256(xf), 20), exp_field);
        /* (e <= 0x7ff: the signed compare is the unsigned one) */
        slow = _mm256_or_si256(slow, _mm256_and_si256(live, _mm256_cmpgt_epi32(e, edge)));
        __m128 lo, hi;
        EXP_HALF(__m256d, __m256i, _mm256_cvtps_pd(_mm256_castps256_ps128(xf)), GATHER, lo);
        EXP_HALF(__m256d, __m256i, _mm256_cvtps_pd(_mm256_extractf128_ps(xf, 1)), GATHER, hi);
        if (full)
            _mm256_storeu_ps(out + j, _mm256_set_m128(hi, lo));
        else
            _mm256_maskstore_ps(out + j, live, _mm256_set_m128(hi, lo));
    }
#undef FMA_PD
#undef FMSUB_PD
#undef SUB_PD
#undef MUL_PD
#undef CAST_I
#undef CAST_D
#undef ADD_I64
#undef SLL_I64
#undef AND_I
#undef CVT_PS
#undef GATHER
    return !_mm256_testz_si256(slow, slow);
}

__attribute__((target("avx512f,avx512dq,avx512vl,avx2,fma"))) static int
exp_avx512(const float *x, float c, float *out, long n) {
#define FMA_PD   _mm512_fmadd_pd
#define FMSUB_PD _mm512_fmsub_pd
#define SUB_PD   _mm512_sub_pd
#define MUL_PD   _mm512_mul_pd
#define CAST_I   _mm512_castpd_si512
#define CAST_D   _mm512_castsi512_pd
#define ADD_I64  _mm512_add_epi64
#define SLL_I64  _mm512_slli_epi64
#define AND_I    _mm512_and_si512
#define CVT_PS   _mm512_cvtpd_ps
/* entries i & 15 from t0|t1 or t2|t3, the one of bit 4 */
#define PERMUTE(i)                                                                                 \
    _mm512_mask_blend_epi64(_mm512_test_epi64_mask(i, bit4), _mm512_permutex2var_epi64(t0, i, t1), \
                            _mm512_permutex2var_epi64(t2, i, t3))
    const __m512d inv_ln2_n = _mm512_set1_pd(INV_LN2_N), shift = _mm512_set1_pd(SHIFT);
    const __m512d c0 = _mm512_set1_pd(C0), c1 = _mm512_set1_pd(C1), c2 = _mm512_set1_pd(C2);
    const __m512d one = _mm512_set1_pd(1.0);
    const __m512i idx_mask = _mm512_set1_epi64(31), bit4 = _mm512_set1_epi64(16);
    const __m512i t0 = _mm512_loadu_si512(exp_tab), t1 = _mm512_loadu_si512(exp_tab + 8);
    const __m512i t2 = _mm512_loadu_si512(exp_tab + 16), t3 = _mm512_loadu_si512(exp_tab + 24);
    const __m512 vc = _mm512_set1_ps(c);
    const __m512i exp_field = _mm512_set1_epi32(0x7ff), edge = _mm512_set1_epi32(0x42a);
    __mmask16 slow = 0;
    for (long j = 0; j < n; j += 16) { /* the last 1..16 lanes masked */
        __mmask16 live = n - j < 16 ? (__mmask16)((1u << (n - j)) - 1) : 0xffff;
        __m512 xf = _mm512_sub_ps(
            live == 0xffff ? _mm512_loadu_ps(x + j) : _mm512_maskz_loadu_ps(live, x + j), vc);
        __m512i e = _mm512_and_si512(_mm512_srli_epi32(_mm512_castps_si512(xf), 20), exp_field);
        slow |= _mm512_mask_cmpgt_epi32_mask(live, e, edge);
        __m256 lo, hi;
        EXP_HALF(__m512d, __m512i, _mm512_cvtps_pd(_mm512_castps512_ps256(xf)), PERMUTE, lo);
        EXP_HALF(__m512d, __m512i,
                 _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(xf), 1))),
                 PERMUTE, hi);
        __m512 v = _mm512_insertf32x8(_mm512_castps256_ps512(lo), hi, 1);
        if (live == 0xffff) /* plain stores for full vectors: masked ones cost more on AMD */
            _mm512_storeu_ps(out + j, v);
        else
            _mm512_mask_storeu_ps(out + j, live, v);
    }
#undef FMA_PD
#undef FMSUB_PD
#undef SUB_PD
#undef MUL_PD
#undef CAST_I
#undef CAST_D
#undef ADD_I64
#undef SLL_I64
#undef AND_I
#undef CVT_PS
#undef PERMUTE
    return slow != 0;
}

int rg_exp_level(void) {
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("fma") || !__builtin_cpu_supports("avx2")) return 0;
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
                   __builtin_cpu_supports("avx512vl")
               ? 2
               : 1;
}
#else
int rg_exp_level(void) {
    return 0;
}
#endif

void rg_exp_shifted(const real *x, real c, real *y, long n) {
    rg_exp_shifted_at(rg_exp_level(), x, c, y, n);
}

void rg_exp_shifted_at(int level, const real *x, real c, real *y, long n) {
#ifdef EXP_VECTOR
    if (level > 0) {
        enum { CHUNK = 256 };
        for (long j0 = 0; j0 < n; j0 += CHUNK) { /* x's chunk kept, as y may be x */
            float keep[CHUNK];
            long m = n - j0 < CHUNK ? n - j0 : CHUNK;
            memcpy(keep, x + j0, (size_t)m * sizeof(float));
            if (level == 2 ? exp_avx512(keep, c, y + j0, m) : exp_avx2(keep, c, y + j0, m))
                for (long j = 0; j < m; j++) {
                    float xf = keep[j] - c;
                    if (!(fabsf(xf) < 88.0f)) y[j0 + j] = expf(xf); /* glibc's own path */
                }
        }
        return;
    }
#endif
    (void)level;
    for (long j = 0; j < n; j++) y[j] = exp(x[j] - c);
}
