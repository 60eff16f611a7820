/* alibi.c: ALiBi, attention with linear biases (Press et al. 2022):
 *     S[i,j] = q_i . k_j / sqrt(dh) - s_h |p_i - p_j|
 * with a fixed slope s_h per head and no parameters, so its term has no
 * backward. The bias is computed inside the attention kernel block by block. */
#include "scheme.h"

#include <math.h>
#include <stdlib.h>

/* For H a power of two, s_h = 2^(-8(h+1)/H). Otherwise take the slopes for
 * the nearest lower power of two P, then every other slope of the 2P set
 * (its odd-numbered ones) until H are had. */
void rg_alibi_slopes(int H, double *slopes) {
    int P = 1;
    while (P * 2 <= H) P *= 2;
    for (int h = 0; h < P; h++) slopes[h] = pow(2.0, -8.0 * (h + 1) / P);
    for (int h = P, i = 0; h < H; h++, i += 2) slopes[h] = pow(2.0, -8.0 * (i + 1) / (2 * P));
}

typedef struct {
    const rg_attn_pos *pos;
    double *slopes; /* [H] */
} alibi_data;

static void add(const rg_term *t, const rg_term_block *blk) {
    const alibi_data *d = t->data;
    double s = d->slopes[blk->h];
    for (int r = 0; r < blk->n; r++) {
        int pi = rg_qpos(d->pos, blk->b, blk->i0 + r);
        real *row = blk->S + r * blk->ld;
        for (int j = blk->lo[r]; j < blk->hi[r]; j++)
            row[j] -= (real)(s * abs(pi - rg_kpos(d->pos, blk->b, j)));
    }
}

static void scores(rg_scheme_call *call) {
    alibi_data *d = rg_arena_alloc(&call->ctx->arena, sizeof *d);
    d->pos = call->pos;
    d->slopes = rg_arena_alloc(&call->ctx->arena, (size_t)call->H * sizeof(double));
    rg_alibi_slopes(call->H, d->slopes);
    rg_term_new(call, "alibi", d)->add = add;
}

const rg_scheme rg_scheme_alibi = {
    .name = "alibi",
    .summary = "a fixed per-head penalty linear in the distance (Press et al. 2022)",
    .flags = RG_SCHEME_RELATIVE,
    .scores = scores,
};
