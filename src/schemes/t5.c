/* t5.c: T5's relative position bias (Raffel et al. 2020):
 *     S[i,j] = q_i . k_j / sqrt(dh) + t5_bias[bucket(p_i - p_j), h]
 * with one learned table t5_bias.weight [t5_buckets, H] for the whole model.
 * Half the buckets hold the distances 0 .. e-1 exactly (e = t5_buckets/2),
 * the other half cover e .. t5_max_distance logarithmically, and every longer
 * distance shares the last bucket. An encoder (keys on both sides) uses the
 * bidirectional form of SPEC section 7: the two halves of the buckets for
 * keys before and after the query, each split as above.
 *
 * Backward: the table entry of (bucket, h) collects dS of every pair whose
 * distance falls in that bucket: dtable[bucket(p_i - p_j), h] += dS[b,h,i,j]. */
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
    const rg_attn_pos *pos;
    const real *table; /* [nb, H] */
    const int *bucket; /* [max_dist - min_dist + 1], from min_dist: bucket of each distance */
} t5_data;

static void add(const rg_term *t, const rg_term_block *blk) {
    const t5_data *d = t->data;
    const real *col = d->table + blk->h;
    const int *bucket = d->bucket, lo = d->pos->min_dist;
    int H = t->H;
    for (int r = 0; r < blk->n; r++) {
        int pi = rg_qpos(d->pos, blk->b, blk->i0 + r);
        real *row = blk->S + r * blk->ld;
        for (int j = blk->lo[r]; j < blk->hi[r]; j++)
            row[j] += col[(long)bucket[pi - rg_kpos(d->pos, blk->b, j) - lo] * H];
    }
}

/* Each thread owns some heads, so no two threads add into one table entry. */
static void backward(rg_ctx *ctx, const rg_term *t, const real *dS) {
    const t5_data *d = t->data;
    if (!t->in[0]->requires_grad) return;
    real *dtable = rg_grad(ctx, t->in[0]);
    int B = t->B, H = t->H, T = t->T, Tk = t->Tk;
    const int *bucket = d->bucket, lo = d->pos->min_dist;
#pragma omp parallel for schedule(static) if (H > 1) num_threads(ctx->threads)
    for (int h = 0; h < H; h++)
        for (int b = 0; b < B; b++)
            for (int i = 0; i < T; i++) {
                const real *g = dS + (((long)b * H + h) * T + i) * Tk;
                int pi = rg_qpos(d->pos, b, i), end = i + t->diag + 1 < Tk ? i + t->diag + 1 : Tk;
                for (int j = 0; j < end; j++)
                    dtable[(long)bucket[pi - rg_kpos(d->pos, b, j) - lo] * H + h] += g[j];
            }
}

static void scores(rg_scheme_call *call) {
    const rg_scheme_opts *o = call->opts;
    t5_data *d = rg_arena_alloc(&call->ctx->arena, sizeof *d);
    d->pos = call->pos;
    d->table = call->shared[TABLE]->data;
    int lo = call->pos->min_dist, hi = call->pos->max_dist;
    int *bucket = rg_arena_alloc(&call->ctx->arena, (size_t)(hi - lo + 1) * sizeof(int));
    bool both_ways = call->m->cfg.arch == RG_ARCH_ENCODER; /* keys after the query too */
    for (int n = lo; n <= hi; n++)
        bucket[n - lo] = both_ways
                             ? rg_t5_bucket_bidirectional(n, o->t5_buckets, o->t5_max_distance)
                             : rg_t5_bucket(n, o->t5_buckets, o->t5_max_distance);
    d->bucket = bucket;
    rg_term *t = rg_term_new(call, "t5", d);
    t->add = add;
    t->backward = backward;
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
