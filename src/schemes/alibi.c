/* alibi.c: ALiBi, attention with linear biases (Press et al. 2022):
 *     S[i,j] = q_i . k_j / sqrt(dh) - s_h |p_i - p_j|
 * with a fixed slope s_h per head and no parameters, so its term has no
 * backward. The bias is added inside the attention kernel block by block,
 * from a table of each head's penalty per distance.
 *
 * alibi_left = a (default 0) penalizes keys before the query (r = p_i - p_j
 * > 0) by s_h (r - a) instead: Ruoss et al. 2023's code uses a = 0.5 so an
 * encoder can tell left from right (SPEC section 7's encoder form, a = 0, is
 * symmetric). */
#include "scheme.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>

static const rg_key_info KEYS[] = {
    {.name = "alibi_left",
     .group = "model",
     .type = RG_KEY_REAL,
     .kind = RG_V_REAL,
     .offset = offsetof(rg_scheme_opts, alibi_left),
     .lo = 0,
     .hi = 1,
     .def = "0",
     .flags = RG_KEY_SCHEME,
     .help = "ALiBi: keys before the query get s_h (|r| - this) instead of s_h |r|; 0..1, "
             "0 = symmetric (SPEC), 0.5 = Ruoss et al.'s code"},
};

/* For H a power of two, s_h = 2^(-8(h+1)/H). Otherwise take the slopes for
 * the nearest lower power of two P, then every other slope of the 2P set
 * (its odd-numbered ones) until H are had. */
void rg_alibi_slopes(int H, double *slopes) {
    int P = 1;
    while (P * 2 <= H) P *= 2;
    for (int h = 0; h < P; h++) slopes[h] = pow(2.0, -8.0 * (h + 1) / P);
    for (int h = P, i = 0; h < H; h++, i += 2) slopes[h] = pow(2.0, -8.0 * (i + 1) / (2 * P));
}

double rg_alibi_bias(double slope, int r, double left) {
    return r > 0 ? -slope * (r - left) : -slope * abs(r);
}

/* The penalty of each head and distance, as a table (src/ops/distance_bias.c):
 * the value the kernel adds, -(real)(s_h |r|) (r > 0: s_h (r - alibi_left)),
 * computed once per call instead of per pair (a - v and a + (-v) are the
 * same float). */
static void add(const rg_term *t, const rg_term_block *blk) {
    rg_dist_bias_add(t->data, blk);
}

static void scores(rg_scheme_call *call) {
    rg_dist_bias *d = rg_arena_alloc(&call->ctx->arena, sizeof *d);
    rg_dist_bias_init(call->ctx, d, call->pos, call->B, call->H, call->Tk);
    double *slopes = rg_arena_alloc(&call->ctx->arena, (size_t)call->H * sizeof(double));
    rg_alibi_slopes(call->H, slopes);
    double left = call->opts->alibi_left;
    for (int h = 0; h < call->H; h++)
        for (int m = 0; m < d->span; m++) /* entry m: distance max_dist - m */
            d->rev[(long)h * d->span + m] =
                (real)rg_alibi_bias(slopes[h], call->pos->max_dist - m, left);
    rg_term_new(call, "alibi", d)->add = add;
}

const rg_scheme rg_scheme_alibi = {
    .name = "alibi",
    .summary = "a fixed per-head penalty linear in the distance (Press et al. 2022)",
    .flags = RG_SCHEME_RELATIVE,
    .keys = KEYS,
    .n_keys = RG_COUNT(KEYS),
    .scores = scores,
};
