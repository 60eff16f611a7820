/* distance_bias.c: a per-head score bias that depends only on the distance
 * p_i - p_j (ALiBi's slope times distance, T5's bucketed table), added to
 * the attention kernel's score rows.
 *
 * The bias of each head is a table over the distances the call spans,
 * stored reversed: rev[h][m] is the bias of distance max_dist - m. When a
 * batch row's keys sit at consecutive positions (key j at c + j, as in
 * every training batch without randomized positions), query i's distances
 * to keys j = lo..hi-1 are p_i - c - j, so its biases are the contiguous
 * run rev[h][max_dist - p_i + c + j]: one vector add along the row, no
 * per-pair position reads or index arithmetic. Other rows read the table
 * through each key's position. Both add the same table values in the same
 * order, so the sums are the same bits whichever path a row takes. The
 * run is added 8 lanes at a time where the CPU has AVX2 (cpuid, at run
 * time), else 4 (SSE).
 */
#include "ops_internal.h"

#include <limits.h>

#if !defined(RELGRAD_F64) && defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define BIAS_VECTOR 1
#include <immintrin.h>

/* row[j] += src[j] for j < n, 8 lanes at a time */
__attribute__((target("avx2"))) static void run_add_avx2(float *row, const float *src, int n) {
    int j = 0;
    for (; j + 8 <= n; j += 8)
        _mm256_storeu_ps(row + j,
                         _mm256_add_ps(_mm256_loadu_ps(row + j), _mm256_loadu_ps(src + j)));
    for (; j < n; j++) row[j] += src[j];
}

int rg_dist_bias_level(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") ? RG_SIMD_AVX2 : RG_SIMD_SSE4;
}
#else
int rg_dist_bias_level(void) {
    return RG_SIMD_SSE4;
}
#endif

void rg_dist_bias_init(rg_ctx *ctx, rg_dist_bias *d, const rg_attn_pos *pos, int B, int H, int Tk) {
    int Bp = pos->k_stride ? B : 1, span = pos->max_dist - pos->min_dist + 1;
    *d = (rg_dist_bias){.pos = pos, .H = H, .span = span, .Bp = Bp, .simd = rg_dist_bias_level()};
    d->rev = rg_arena_alloc(&ctx->arena, (size_t)H * span * sizeof(real) + 1);
    int *first = rg_arena_alloc(&ctx->arena, (size_t)Bp * sizeof(int));
    for (int b = 0; b < Bp; b++) { /* key j at first[b] + j for every j < Tk? */
        int c = Tk ? rg_kpos(pos, b, 0) : 0;
        bool consecutive = true;
        for (int j = 1; j < Tk && consecutive; j++) consecutive = rg_kpos(pos, b, j) == c + j;
        first[b] = consecutive ? c : INT_MIN;
    }
    d->k_first = first;
}

/* S[r, j] += rev[h][max_dist - (p_i - p_j)] for each row r of the block and
 * its keys j in [lo[r], hi[r]). */
void rg_dist_bias_add(const rg_dist_bias *d, const rg_term_block *blk) {
    const rg_attn_pos *pos = d->pos;
    const real *rev = d->rev + (long)blk->h * d->span;
    int b = blk->b, c = d->k_first[d->Bp == 1 ? 0 : b], top = pos->max_dist;
    for (int r = 0; r < blk->n; r++) {
        int pi = rg_qpos(pos, b, blk->i0 + r), j0 = blk->lo[r], j1 = blk->hi[r];
        real *row = blk->S + r * blk->ld;
        if (c != INT_MIN) { /* distance p_i - c - j: rev index top - p_i + c + j */
            long at = (long)top - pi + c;
#ifdef BIAS_VECTOR
            if (d->simd >= RG_SIMD_AVX2 && j1 > j0) { /* (rev + at + j0 is in the table) */
                run_add_avx2(row + j0, rev + at + j0, j1 - j0);
                continue;
            }
#endif
#pragma omp simd
            for (int j = j0; j < j1; j++) row[j] += rev[at + j];
        } else {
            for (int j = j0; j < j1; j++) row[j] += rev[top - pi + rg_kpos(pos, b, j)];
        }
    }
}
