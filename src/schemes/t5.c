/* t5.c: T5's relative position bias (Raffel et al. 2020):
 *     S[i,j] = q_i . k_j / sqrt(dh) + t5_bias[bucket(p_i - p_j), h]
 * with one learned table t5_bias.weight [t5_buckets, H] for the whole model.
 * Half the buckets hold the distances 0 .. e-1 exactly (e = t5_buckets/2),
 * the other half cover e .. t5_max_distance logarithmically, and every longer
 * distance shares the last bucket. An encoder (keys on both sides) uses the
 * bidirectional form of SPEC section 7: the two halves of the buckets for
 * keys before and after the query, each split as above.
 *
 * The kernel adds each head's table value per distance along the score rows
 * (src/ops/distance_bias.c).
 *
 * Backward: the table entry of (bucket, h) collects dS of every pair whose
 * distance falls in that bucket: dtable[bucket(p_i - p_j), h] += dS[b,h,i,j],
 * a block of dS rows at a time inside the kernel's backward (no dS
 * [B,H,T,Tk] kept), or from the whole dS (the unfused reference). */
#include "scheme.h"

#include <math.h>
#include <stdio.h>
#include <omp.h>
#include <limits.h>
#include <stddef.h>

enum { TABLE }; /* its one shared parameter */

int rg_t5_bucket(int n, int n_buckets, int max_distance) {
    int e = n_buckets / 2;
    if (n < e) return n;
    double f = log((double)n / e) / log((double)max_distance / e) * (n_buckets - e);
    int b = e + (int)floor(f);
    return b < n_buckets - 1 ? b : n_buckets - 1;
}

int rg_t5_bucket_bidirectional(int r, int n_buckets, int max_distance) {
    int half = n_buckets / 2;
    return (r < 0 ? half : 0) + rg_t5_bucket(r < 0 ? -r : r, half, max_distance);
}

static const rg_key_info KEYS[] = {
    {.name = "t5_buckets",
     .group = "model",
     .type = RG_KEY_INT,
     .kind = RG_V_INT,
     .offset = offsetof(rg_scheme_opts, t5_buckets),
     .lo = 2,
     .hi = INT_MAX,
     .def = "32",
     .flags = RG_KEY_SCHEME,
     .help = "T5 relative-position buckets; even, >= 2"},
    {.name = "t5_max_distance",
     .group = "model",
     .type = RG_KEY_INT,
     .kind = RG_V_INT,
     .offset = offsetof(rg_scheme_opts, t5_max_distance),
     .lo = 1,
     .hi = INT_MAX,
     .def = "128",
     .flags = RG_KEY_SCHEME,
     .help = "T5 distance from which every distance shares the last bucket; > t5_buckets/2"},
};

static int validate(rg_scheme_check *chk) {
    const rg_scheme_opts *o = &chk->mc->opts;
    char note[200];
    if (o->t5_buckets % 2)
        return chk->fail(chk, "t5_buckets",
                         "%d is odd; T5 splits the buckets in two halves (exact and "
                         "logarithmic): choose an even number, e.g. %d",
                         o->t5_buckets, o->t5_buckets + 1);
    if (chk->mc->arch == RG_ARCH_ENCODER && o->t5_buckets < 4)
        return chk->fail(chk, "t5_buckets",
                         "%d is too few for an encoder (arch = encoder): its bidirectional "
                         "buckets split them into keys before and after the query, each half "
                         "again into exact and logarithmic ones; use t5_buckets >= 4",
                         o->t5_buckets);
    /* the exact-distance buckets: half of them, or half of each direction's half */
    bool enc = chk->mc->arch == RG_ARCH_ENCODER;
    int exact = enc ? o->t5_buckets / 4 : o->t5_buckets / 2;
    if (o->t5_max_distance <= exact)
        return chk->fail(chk, "t5_max_distance",
                         "%d must exceed t5_buckets/%d = %d (the exact-distance buckets%s)%s; set "
                         "t5_max_distance >= %d or fewer t5_buckets",
                         o->t5_max_distance, enc ? 4 : 2, exact,
                         enc ? " of each direction: arch = encoder" : "",
                         chk->origin(chk, "t5_buckets", note, sizeof note), exact + 1);
    return 0;
}

static void declare_shared(rg_param_builder *pb, const rg_model_config *mc, rg_tensor **slot) {
    slot[TABLE] = rg_declare(pb, "t5_bias.weight", RG_SHAPE(mc->opts.t5_buckets, mc->n_heads),
                             false, RG_INIT_NORMAL, 0);
}

typedef struct {
    rg_dist_bias bias;  /* each head's table value per distance (distance_bias.c) */
    const int *bucket;  /* [span]: bucket of distance max_dist - m, reversed as bias.rev */
    const int *run_end; /* [span]: the first m' > m whose bucket differs from m's (or span) */
    int solo0, solo1;   /* indices around distance 0 whose buckets hold no other distance */
} t5_data;

enum { SOLO_MAX = 64 }; /* most such buckets backward_rows keeps in a local copy */

static void add(const rg_term *t, const rg_term_block *blk) {
    rg_dist_bias_add(&((const t5_data *)t->data)->bias, blk);
}

/* Each thread owns some heads, so no two threads add into one table entry. */
static void backward(rg_ctx *ctx, const rg_term *t, const real *dS) {
    const t5_data *d = t->data;
    if (!t->in[0]->requires_grad) return;
    real *dtable = rg_grad(ctx, t->in[0]);
    int B = t->B, H = t->H, T = t->T, Tk = t->Tk;
    const rg_attn_pos *pos = d->bias.pos;
    const int *bucket = d->bucket, top = pos->max_dist;
#pragma omp parallel for schedule(static) if (H > 1) num_threads(ctx->threads)
    for (int h = 0; h < H; h++)
        for (int b = 0; b < B; b++)
            for (int i = 0; i < T; i++) {
                const real *g = dS + (((long)b * H + h) * T + i) * Tk;
                int pi = rg_qpos(pos, b, i), end = i + t->diag + 1 < Tk ? i + t->diag + 1 : Tk;
                for (int j = 0; j < end; j++)
                    dtable[(long)bucket[top - pi + rg_kpos(pos, b, j)] * H + h] += g[j];
            }
}

/* dtable[bucket[m], h] += g[m - at] for the table indices m in [m0, m1) of
 * one row, run by run: a run's entry is read once, its values added in
 * order in a register (left to right: C's + associates so), and written
 * back. */
static void add_runs(const t5_data *d, real *dcol, int H, const real *g, long at, long m0,
                     long m1) {
    for (long m = m0; m < m1;) {
        long me = d->run_end[m] < m1 ? d->run_end[m] : m1;
        real *entry = dcol + (long)d->bucket[m] * H, acc = *entry;
        for (; m + 4 <= me; m += 4)
            acc = acc + g[m - at] + g[m + 1 - at] + g[m + 2 - at] + g[m + 3 - at];
        for (; m < me; m++) acc += g[m - at];
        *entry = acc;
    }
}

/* The same additions from one block of dS rows (the kernel's backward_rows:
 * it walks each head's (b, rows) in the order above on one thread). Only
 * the visible keys [lo, hi) are added: dS is zero elsewhere, and adding a
 * zero to an entry that is never -0 (it starts at +0) changes nothing. With
 * consecutive keys, key j of row i is at table index m = top - p_i + c + j:
 * a row's indices are one range, falling into runs of one bucket each
 * (add_runs). The buckets of one distance each (the exact ones around
 * distance 0, indices [solo0, solo1)) get one value per row: the block
 * keeps them in a local copy and adds a row's values to it as one vector
 * run. Every entry gets its values in the order above. */
static void backward_rows(const rg_term *t, const rg_term_block *blk, real *const *grads) {
    const t5_data *d = t->data;
    if (!grads[0]) return;
    real *dcol = grads[0] + blk->h; /* dtable[., h] */
    const rg_attn_pos *pos = d->bias.pos;
    const int *bucket = d->bucket;
    int H = t->H, b = blk->b, top = pos->max_dist, c = d->bias.k_first[d->bias.Bp == 1 ? 0 : b];
    if (c == INT_MIN) { /* keys with gaps: pair by pair */
        for (int r = 0; r < blk->n; r++) {
            const real *g = blk->S + r * blk->ld;
            int pi = rg_qpos(pos, b, blk->i0 + r);
            for (int j = blk->lo[r]; j < blk->hi[r]; j++)
                dcol[(long)bucket[top - pi + rg_kpos(pos, b, j)] * H] += g[j];
        }
        return;
    }
    int s0 = d->solo0, s1 = d->solo1;
    real solo[SOLO_MAX];
    for (int m = s0; m < s1; m++) solo[m - s0] = dcol[(long)bucket[m] * H];
    for (int r = 0; r < blk->n; r++) {
        const real *g = blk->S + r * blk->ld;
        long at = (long)top - rg_qpos(pos, b, blk->i0 + r) + c;
        long m0 = at + blk->lo[r], m1 = at + blk->hi[r];
        long a = m0 > s0 ? m0 : s0, e = m1 < s1 ? m1 : s1;
        if (a >= e) {
            add_runs(d, dcol, H, g, at, m0, m1);
            continue;
        }
        add_runs(d, dcol, H, g, at, m0, a);
#pragma omp simd
        for (long m = a; m < e; m++) solo[m - s0] += g[m - at];
        add_runs(d, dcol, H, g, at, e, m1);
    }
    for (int m = s0; m < s1; m++) dcol[(long)bucket[m] * H] = solo[m - s0];
}

static void scores(rg_scheme_call *call) {
    const rg_scheme_opts *o = call->opts;
    t5_data *d = rg_arena_alloc(&call->ctx->arena, sizeof *d);
    rg_dist_bias_init(call->ctx, &d->bias, call->pos, call->B, call->H, call->Tk);
    int span = d->bias.span, top = call->pos->max_dist, H = call->H;
    int *bucket = rg_arena_alloc(&call->ctx->arena, (size_t)span * sizeof(int));
    bool both_ways = call->m->cfg.arch == RG_ARCH_ENCODER; /* keys after the query too */
    const real *table = call->shared[TABLE]->data;         /* [nb, H] */
    for (int m = 0; m < span; m++) {
        int n = top - m;
        bucket[m] = both_ways ? rg_t5_bucket_bidirectional(n, o->t5_buckets, o->t5_max_distance)
                              : rg_t5_bucket(n, o->t5_buckets, o->t5_max_distance);
        for (int h = 0; h < H; h++)
            d->bias.rev[(long)h * span + m] = table[(long)bucket[m] * H + h];
    }
    int *run_end = rg_arena_alloc(&call->ctx->arena, (size_t)span * sizeof(int));
    for (int m = span - 1; m >= 0; m--)
        run_end[m] = m + 1 < span && bucket[m + 1] == bucket[m] ? run_end[m + 1] : m + 1;
    d->bucket = bucket, d->run_end = run_end;
    /* the buckets that hold one distance of the span, around distance 0 (index top) */
    int nb = o->t5_buckets, *count = rg_arena_calloc(&call->ctx->arena, (size_t)nb * sizeof(int));
    for (int m = 0; m < span; m++)
        if (bucket[m] >= 0 && bucket[m] < nb) count[bucket[m]]++;
#define SOLO(m) (bucket[m] >= 0 && bucket[m] < nb && count[bucket[m]] == 1)
    d->solo0 = d->solo1 = 0;
    if (top >= 0 && top < span && SOLO(top)) {
        int s0 = top, s1 = top + 1;
        while (s0 > 0 && SOLO(s0 - 1) && s1 - s0 < SOLO_MAX) s0--;
        while (s1 < span && SOLO(s1) && s1 - s0 < SOLO_MAX) s1++;
        d->solo0 = s0, d->solo1 = s1;
    }
#undef SOLO
    rg_term *t = rg_term_new(call, "t5", d);
    t->add = add;
    t->backward = backward;
    t->backward_rows = backward_rows;
    t->in[0] = call->shared[TABLE], t->n_in = 1;
}

const rg_scheme rg_scheme_t5 = {
    .name = "t5",
    .summary = "a learned bias per head and log-spaced distance bucket (Raffel et al. 2020)",
    .flags = RG_SCHEME_RELATIVE,
    .keys = KEYS,
    .n_keys = RG_COUNT(KEYS),
    .validate = validate,
    .declare_shared = declare_shared,
    .scores = scores,
};
