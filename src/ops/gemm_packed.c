/* gemm_packed.c: one single-threaded float32 product on BLIS's own
 * micro-kernel, with the operands packed by relgrad (ops_internal.h:
 * rg_gemm_packed). gemm.c's BLIS path calls it in place of bli_sgemm when
 * BLIS runs its skx kernels.
 *
 * Why: BLIS 0.9 packs through per-size packing kernels, numbered up to
 * 31 rows. The skx single-precision micro-kernel takes panels of MR = 32,
 * so BLIS packs those through its generic scal2m path (a function call and
 * a multiply by one for every column of a panel), and its 12-wide panels
 * through a reference kernel that gathers one value at a time. On the Zen 5
 * that packing was 13% of config (b)'s step at 2 threads (perf: 8.7% in
 * scal2m's loop, 4.7% in the gathers) against 54% in the micro-kernel.
 *
 * What it computes is what bli_sgemm computes, bit for bit
 * (tests/test_gemm.c compares the two on shapes across every blocking
 * edge), because it makes the same micro-kernel calls: the same transposed
 * problem, the same segments of k, the same tiles, alpha and beta:
 *   - the kernel prefers column-stored C, so a row-stored C (csc = 1) is
 *     computed as C^T = B^T A^T (BLIS's bli_gemm_front does the same);
 *     below, A, B, C name that problem, m x k times k x n;
 *   - k in segments: KC (384) while more than KC_max (480) remain, then
 *     the rest in one; beta for the first segment, one after;
 *   - per segment, B's columns packed in panels of NR (12), zero beyond n,
 *     A's rows in panels of MR (32), zero beyond m, in blocks of MC rows;
 *   - the kernel on every MR x NR tile (smaller at the edges, which the
 *     kernel handles as BLIS's macro-kernel asks it to).
 * Packing is a copy: alpha goes to the kernel, as in BLIS's native path.
 *
 * The one piece of state here: each thread's packing buffers, grown to the
 * largest block it has packed and then reused (as BLIS keeps its own pool),
 * so training steps after the first allocate nothing. They hold no result
 * from one call to the next. */
#include "ops_internal.h"

#include <blis.h>
#include <immintrin.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef RELGRAD_F64
bool rg_gemm_packed_ready(void) {
    return false; /* double products stay BLIS's own */
}
#else

enum { MR = 32, NR = 12 }; /* the skx sgemm kernel's tile (checked in rg_gemm_packed_ready) */

typedef struct {
    float *buf;
    size_t cap; /* floats */
} pack_buf;

static _Thread_local pack_buf pack_a_buf, pack_b_buf;

static float *pack_room(pack_buf *p, size_t floats) {
    if (floats > p->cap) {
        free(p->buf);
        size_t bytes = (floats * sizeof(float) + 63) / 64 * 64;
        p->buf = aligned_alloc(64, bytes);
        if (!p->buf) rg_die("gemm: out of memory for a packing buffer of %zu bytes", bytes);
        p->cap = bytes / sizeof(float);
    }
    return p->buf;
}

bool rg_gemm_packed_ready(void) {
    cntx_t *cntx = (cntx_t *)bli_gks_query_cntx(); /* BLIS's getters take it non-const */
    return bli_arch_query_id() == BLIS_ARCH_SKX &&
           !bli_cntx_l3_nat_ukr_prefers_rows_dt(BLIS_FLOAT, BLIS_GEMM_UKR, cntx) &&
           bli_cntx_get_blksz_def_dt(BLIS_FLOAT, BLIS_MR, cntx) == MR &&
           bli_cntx_get_blksz_max_dt(BLIS_FLOAT, BLIS_MR, cntx) == MR &&
           bli_cntx_get_blksz_def_dt(BLIS_FLOAT, BLIS_NR, cntx) == NR &&
           bli_cntx_get_blksz_max_dt(BLIS_FLOAT, BLIS_NR, cntx) == NR &&
           /* the segments of k gemm.c's rule counts on */
           bli_cntx_get_blksz_def_dt(BLIS_FLOAT, BLIS_KC, cntx) == 384 &&
           bli_cntx_get_blksz_max_dt(BLIS_FLOAT, BLIS_KC, cntx) == 480;
}

/* The transposes below use AVX2: rg_gemm_packed runs only where BLIS runs
 * its skx kernels, that is on a CPU with AVX-512 (rg_gemm_packed_ready). */
#define AVX2 __attribute__((target("avx2")))

/* dst[p*ldd + c] = src[c*ld + p] for c, p < 8: eight rows of eight values
 * turned into eight columns (unpack pairs, then quads, then halves). */
AVX2 static inline void transpose8(const float *src, long ld, float *dst, long ldd) {
    __m256 r[8], t[8], s[8];
    for (int c = 0; c < 8; c++) r[c] = _mm256_loadu_ps(src + c * ld);
    for (int c = 0; c < 8; c += 2) {
        t[c] = _mm256_unpacklo_ps(r[c], r[c + 1]);     /* r0[0] r1[0] r0[1] r1[1] | .. */
        t[c + 1] = _mm256_unpackhi_ps(r[c], r[c + 1]); /* r0[2] r1[2] r0[3] r1[3] | .. */
    }
    for (int h = 0; h < 8; h += 4) { /* rows h .. h+3, value p in quad p % 4 of lane p / 4 */
        s[h] = _mm256_shuffle_ps(t[h], t[h + 2], 0x44);
        s[h + 1] = _mm256_shuffle_ps(t[h], t[h + 2], 0xEE);
        s[h + 2] = _mm256_shuffle_ps(t[h + 1], t[h + 3], 0x44);
        s[h + 3] = _mm256_shuffle_ps(t[h + 1], t[h + 3], 0xEE);
    }
    for (int p = 0; p < 4; p++) {
        _mm256_storeu_ps(dst + p * ldd, _mm256_permute2f128_ps(s[p], s[p + 4], 0x20));
        _mm256_storeu_ps(dst + (p + 4) * ldd, _mm256_permute2f128_ps(s[p], s[p + 4], 0x31));
    }
}

/* The same for four rows: dst[p*ldd + c] = src[c*ld + p] for c < 4, p < 8. */
AVX2 static inline void transpose4x8(const float *src, long ld, float *dst, long ldd) {
    __m256 r0 = _mm256_loadu_ps(src), r1 = _mm256_loadu_ps(src + ld),
           r2 = _mm256_loadu_ps(src + 2 * ld), r3 = _mm256_loadu_ps(src + 3 * ld);
    __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1),
           t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
    __m256 s[4] = {_mm256_shuffle_ps(t0, t2, 0x44), _mm256_shuffle_ps(t0, t2, 0xEE),
                   _mm256_shuffle_ps(t1, t3, 0x44), _mm256_shuffle_ps(t1, t3, 0xEE)};
    for (int p = 0; p < 4; p++) {
        _mm_storeu_ps(dst + p * ldd, _mm256_castps256_ps128(s[p]));
        _mm_storeu_ps(dst + (p + 4) * ldd, _mm256_extractf128_ps(s[p], 1));
    }
}

/* `len` lines of kc values, value p of line x at src[x*sx + p*sp], into
 * panels of W lines: panel q holds line q*W + w, value p at
 * dst[q*W*kc + p*W + w], zero where the line is past len. A's rows go in
 * panels of MR (32), B's columns in panels of NR (12): W is 8 j or 8 j + 4,
 * and is a constant wherever this is inlined (pack_a, pack_b). */
AVX2 static inline __attribute__((always_inline)) void
pack(int W, long len, long kc, const float *src, long sx, long sp, float *dst) {
    for (long q = 0; q < len; q += W, dst += (long)W * kc) {
        long lines = len - q < W ? len - q : W;
        const float *s = src + q * sx;
        if (sx == 1 && lines == W) { /* a panel's W values of one p are contiguous */
            for (long p = 0; p < kc; p++) memcpy(dst + p * W, s + p * sp, W * sizeof(float));
        } else if (sp == 1 && lines == W) { /* lines contiguous: transpose 8 values at a time */
            long p8 = kc / 8 * 8;
            for (long p = 0; p < p8; p += 8) {
                int w = 0;
                for (; w + 8 <= W; w += 8) transpose8(s + w * sx + p, sx, dst + p * W + w, W);
                if (w < W) transpose4x8(s + w * sx + p, sx, dst + p * W + w, W);
            }
            for (long w = 0; w < W; w++)
                for (long p = p8; p < kc; p++) dst[p * W + w] = s[w * sx + p];
        } else { /* a panel cut short, or neither way contiguous */
            for (long p = 0; p < kc; p++) {
                for (long w = 0; w < lines; w++) dst[p * W + w] = s[w * sx + p * sp];
                for (long w = lines; w < W; w++) dst[p * W + w] = 0;
            }
        }
    }
}

/* A's rows (i, p) at A[i*rs + p*cs], mc of them, in panels of MR rows */
AVX2 static void pack_a(long mc, long kc, const float *A, long rs, long cs, float *dst) {
    pack(MR, mc, kc, A, rs, cs, dst);
}

/* B's columns (p, j) at B[p*rs + j*cs], nc of them, in panels of NR columns */
AVX2 static void pack_b(long kc, long nc, const float *B, long rs, long cs, float *dst) {
    pack(NR, nc, kc, B, cs, rs, dst);
}

/* The length of the segment of k that starts at p (BLIS's
 * bli_determine_blocksize_f): the rest if it is at most the maximum,
 * else the default. */
static long segment(long k, long p, long def, long max) {
    return k - p <= max ? k - p : def;
}

void rg_gemm_packed(long m0, long n0, long k, float alpha, const float *A0, long rsa, long csa,
                    const float *B0, long rsb, long csb, float beta, float *C0, long rsc,
                    long csc) {
    cntx_t *cntx = (cntx_t *)bli_gks_query_cntx(); /* BLIS's getters take it non-const */
    /* C row-stored: compute C^T = B^T A^T, whose C is column-stored */
    long m = n0, n = m0;
    const float *A = B0, *B = A0;
    long rs_a = csb, cs_a = rsb, rs_b = csa, cs_b = rsa, rs_c = csc, cs_c = rsc;
    float *C = C0;

    long KC = bli_cntx_get_blksz_def_dt(BLIS_FLOAT, BLIS_KC, cntx),
         KC_max = bli_cntx_get_blksz_max_dt(BLIS_FLOAT, BLIS_KC, cntx),
         MC = bli_cntx_get_blksz_def_dt(BLIS_FLOAT, BLIS_MC, cntx),
         NC = bli_cntx_get_blksz_def_dt(BLIS_FLOAT, BLIS_NC, cntx);
    sgemm_ukr_ft kernel = (sgemm_ukr_ft)bli_cntx_get_l3_nat_ukr_dt(BLIS_FLOAT, BLIS_GEMM_UKR, cntx);
    float one = 1;

    long kc_cap = k <= KC_max ? k : KC_max;
    long nc_cap = (n < NC ? n : NC + NR - 1) / NR * NR + NR;
    long mc_cap = (m < MC ? m : MC + MR - 1) / MR * MR + MR;
    float *bp = pack_room(&pack_b_buf, (size_t)kc_cap * nc_cap);
    float *ap = pack_room(&pack_a_buf, (size_t)kc_cap * mc_cap);

    auxinfo_t aux;
    memset(&aux, 0, sizeof aux);
    bli_auxinfo_set_schema_a(BLIS_PACKED_ROW_PANELS, &aux);
    bli_auxinfo_set_schema_b(BLIS_PACKED_COL_PANELS, &aux);

    for (long jc = 0; jc < n; jc += NC) {
        long nc = n - jc < NC ? n - jc : NC;
        for (long pc = 0; pc < k;) {
            long kc = segment(k, pc, KC, KC_max);
            const float *beta_use = pc == 0 ? &beta : &one;
            pack_b(kc, nc, B + pc * rs_b + jc * cs_b, rs_b, cs_b, bp);
            for (long ic = 0; ic < m; ic += MC) {
                long mc = m - ic < MC ? m - ic : MC;
                pack_a(mc, kc, A + ic * rs_a + pc * cs_a, rs_a, cs_a, ap);
                for (long jr = 0; jr < nc; jr += NR) {
                    const float *b = bp + jr * kc; /* panel jr / NR */
                    long nr = nc - jr < NR ? nc - jr : NR;
                    for (long ir = 0; ir < mc; ir += MR) {
                        const float *a = ap + ir * kc;
                        long mr = mc - ir < MR ? mc - ir : MR;
                        /* the next panels, for the kernel's prefetch */
                        bool last_a = ir + MR >= mc;
                        bli_auxinfo_set_next_a((void *)(last_a ? ap : a + MR * kc), &aux);
                        bli_auxinfo_set_next_b((void *)(last_a && jr + NR < nc ? b + NR * kc : b),
                                               &aux);
                        kernel(mr, nr, kc, &alpha, (float *)a, (float *)b, (float *)beta_use,
                               C + (ic + ir) * rs_c + (jc + jr) * cs_c, rs_c, cs_c, &aux, cntx);
                    }
                }
            }
            pc += kc;
        }
    }
}

#endif
