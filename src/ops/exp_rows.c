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

/* The loop, compiled once per vector width; returns whether a lane needs
 * the scalar function (|x - c| >= 88, infinities, NaN). */
#define EXP_LOOP                                                                                   \
    int slow = 0;                                                                                  \
    _Pragma("omp simd reduction(| : slow)") for (long j = 0; j < n; j++) {                         \
        float xf = x[j] - c;                                                                       \
        uint32_t ux;                                                                               \
        memcpy(&ux, &xf, sizeof ux);                                                               \
        slow |= ((ux >> 20) & 0x7ff) > 0x42a;                                                      \
        double xd = xf, kd = fma(INV_LN2_N, xd, SHIFT);                                            \
        uint64_t ki;                                                                               \
        memcpy(&ki, &kd, sizeof ki);                                                               \
        kd -= SHIFT;                                                                               \
        double r = fma(INV_LN2_N, xd, -kd);                                                        \
        uint64_t t = exp_tab[ki % 32] + (ki << 47);                                                \
        double s;                                                                                  \
        memcpy(&s, &t, sizeof s);                                                                  \
        double z = fma(C0, r, C1), y = fma(C2, r, 1.0);                                            \
        y = fma(z, r * r, y);                                                                      \
        out[j] = (float)(y * s);                                                                   \
    }                                                                                              \
    return slow

__attribute__((target("avx512f,avx512dq,avx512vl,avx2,fma"))) static int
exp_avx512(const float *x, float c, float *out, long n) {
    EXP_LOOP;
}

__attribute__((target("avx2,fma"))) static int exp_avx2(const float *x, float c, float *out,
                                                        long n) {
    EXP_LOOP;
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
