/* decode.c: incremental decoding with a key/value cache (no gradient).
 *
 * Each call feeds n new tokens. Per layer, their keys and values (keys after
 * RoPE rotation) are appended to the cache, and each new query attends to
 * the cached keys its window allows: with segment recurrence (mem_len M,
 * segment_len S) the query at position t sees keys from floor(t/S)*S - M to
 * t, exactly what segment-wise processing shows it, so the logits equal
 * rg_model_forward_seq's; otherwise it sees 0..t. Scores are formed one query
 * row at a time, so memory grows with the sequence, never with its square.
 */
#include "nn_internal.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* Per-layer projected position tables, fixed while the parameters are:
 * xl: r(n) for n = 0..cap-1 [cap, d]; deberta: Kr and Qr [2K, d]. Computed on
 * the first call and kept in the cache. */
typedef struct {
    real *xl_r;    /* [n_layers, cap, d]  */
    real *kr, *qr; /* [n_layers, 2K, d]   */
} position_tables;

void rg_kv_cache_init(rg_kv_cache *kv, const rg_model *m, int B, int cap) {
    const rg_config *c = &m->cfg;
    memset(kv, 0, sizeof *kv);
    kv->n_layers = c->n_layers, kv->B = B, kv->cap = cap, kv->H = c->n_heads, kv->dh = m->dh;
    size_t n = (size_t)c->n_layers * B * c->n_heads * cap * m->dh;
    kv->k = malloc(n * sizeof(real));
    kv->v = malloc(n * sizeof(real));
    position_tables *pt = calloc(1, sizeof *pt);
    if (!kv->k || !kv->v || !pt)
        rg_die("out of memory allocating a %d-position key/value cache", cap);
    kv->tables = pt;
}

void rg_kv_cache_free(rg_kv_cache *kv) {
    position_tables *pt = kv->tables;
    if (pt) free(pt->xl_r), free(pt->kr), free(pt->qr), free(pt);
    free(kv->k);
    free(kv->v);
    memset(kv, 0, sizeof *kv);
}

/* out [rows, d] = table [rows, d] W^T through the op (no grad mode). */
static real *project_table(rg_ctx *ctx, rg_tensor *table, rg_tensor *W) {
    rg_tensor *p = rg_linear(ctx, table, W, NULL);
    real *out = malloc((size_t)p->size * sizeof(real));
    if (!out) rg_die("out of memory");
    memcpy(out, p->data, (size_t)p->size * sizeof(real));
    return out;
}

static void build_tables(rg_ctx *ctx, rg_model *m, rg_kv_cache *kv) {
    position_tables *pt = kv->tables;
    const rg_config *c = &m->cfg;
    int d = c->d_model, L = c->n_layers;
    if (c->pos == RG_POS_XL && !pt->xl_r) {
        rg_tensor *e = rg_new2(ctx, kv->cap, d);
        for (int n = 0; n < kv->cap; n++) rg_sinusoid_row(n, d, e->data + (long)n * d, false);
        pt->xl_r = malloc((size_t)L * kv->cap * d * sizeof(real));
        for (int l = 0; l < L; l++) {
            real *r = project_table(ctx, e, m->layers[l].r_w);
            memcpy(pt->xl_r + (long)l * kv->cap * d, r, (size_t)kv->cap * d * sizeof(real));
            free(r);
        }
    }
    if (c->pos == RG_POS_DEBERTA && !pt->kr) {
        int R = 2 * c->deberta_span;
        pt->kr = malloc((size_t)L * R * d * sizeof(real));
        pt->qr = malloc((size_t)L * R * d * sizeof(real));
        for (int l = 0; l < L; l++) {
            real *kr = project_table(ctx, m->rel_emb, m->layers[l].pos_k);
            real *qr = project_table(ctx, m->rel_emb, m->layers[l].pos_q);
            memcpy(pt->kr + (long)l * R * d, kr, (size_t)R * d * sizeof(real));
            memcpy(pt->qr + (long)l * R * d, qr, (size_t)R * d * sizeof(real));
            free(kr), free(qr);
        }
    }
}

static real dot(const real *a, const real *b, int n) {
    real s = 0;
    for (int i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

/* First key position visible from the query at absolute position t. */
static int window_start(const rg_config *c, int t) {
    if (c->mem_len == 0 || c->segment_len == 0) return 0;
    int lo = t / c->segment_len * c->segment_len - c->mem_len;
    return lo > 0 ? lo : 0;
}

/* Attention of the n new queries q [B,H,n,dh] of layer l against the cache;
 * writes o [B,H,n,dh]. Positions: new query i is at p0 + i. */
static void cached_attention(rg_ctx *ctx, const rg_model *m, const rg_kv_cache *kv, int l, int p0,
                             int n, const real *q, real *o, const double *slopes) {
    const rg_config *c = &m->cfg;
    const position_tables *pt = kv->tables;
    int B = kv->B, H = kv->H, dh = kv->dh, cap = kv->cap, d = c->d_model;
    /* per thread: one query row of scores, and q + u, q + v for xl */
    long per_thread = p0 + n + 2L * dh;
    real *scratch = rg_arena_alloc(&ctx->arena, (size_t)(ctx->threads * per_thread) * sizeof(real));
#pragma omp parallel num_threads(ctx->threads)
    {
        int tid = omp_get_thread_num();
        real *s = scratch + tid * per_thread, *qu = s + p0 + n, *qv = qu + dh;
#pragma omp for collapse(2) schedule(static)
        for (int b = 0; b < B; b++)
            for (int h = 0; h < H; h++) {
                const real *K = kv->k + (((long)l * B + b) * H + h) * cap * dh;
                const real *Vv = kv->v + (((long)l * B + b) * H + h) * cap * dh;
                for (int i = 0; i < n; i++) {
                    int t = p0 + i, lo = window_start(c, t);
                    const real *qi = q + (((long)b * H + h) * n + i) * dh;
                    real mx = -INFINITY;
                    if (c->pos == RG_POS_XL)
                        for (int e = 0; e < dh; e++)
                            qu[e] = qi[e] + m->layers[l].r_u->data[h * dh + e],
                            qv[e] = qi[e] + m->layers[l].r_v->data[h * dh + e];
                    for (int j = lo; j <= t; j++) {
                        const real *kj = K + (long)j * dh;
                        real sc;
                        switch (c->pos) {
                        case RG_POS_XL: {
                            const real *r = pt->xl_r + ((long)l * cap + (t - j)) * d + h * dh;
                            sc = (dot(qu, kj, dh) + dot(qv, r, dh)) / sqrt((real)dh);
                            break;
                        }
                        case RG_POS_DEBERTA: {
                            int K2 = c->deberta_span, R = 2 * K2;
                            const real *kr =
                                pt->kr + ((long)l * R + rg_deberta_rel(t - j, K2)) * d + h * dh;
                            const real *qr =
                                pt->qr + ((long)l * R + rg_deberta_rel(j - t, K2)) * d + h * dh;
                            sc = (dot(qi, kj, dh) + dot(qi, kr, dh) + dot(kj, qr, dh)) /
                                 sqrt((real)(3 * dh));
                            break;
                        }
                        case RG_POS_ALIBI:
                            sc = dot(qi, kj, dh) / sqrt((real)dh) - (real)(slopes[h] * (t - j));
                            break;
                        case RG_POS_T5:
                            sc = dot(qi, kj, dh) / sqrt((real)dh) +
                                 m->t5_bias->data[(long)rg_t5_bucket(t - j, c->t5_buckets,
                                                                     c->t5_max_distance) *
                                                      H +
                                                  h];
                            break;
                        default:
                            sc = dot(qi, kj, dh) / sqrt((real)dh);
                        }
                        s[j] = sc;
                        mx = sc > mx ? sc : mx;
                    }
                    real sum = 0;
                    for (int j = lo; j <= t; j++) sum += (s[j] = exp(s[j] - mx));
                    real *oi = o + (((long)b * H + h) * n + i) * dh;
                    memset(oi, 0, (size_t)dh * sizeof(real));
                    for (int j = lo; j <= t; j++)
                        for (int e = 0; e < dh; e++) oi[e] += s[j] / sum * Vv[(long)j * dh + e];
                }
            }
    }
}

/* Feed n tokens; logits of every fed position [B,n,V] (all = true) or of the
 * last one [B,V]. */
static rg_tensor *decode(rg_ctx *ctx, rg_model *m, rg_kv_cache *kv, const int *tokens, int n,
                         bool all) {
    const rg_config *c = &m->cfg;
    int B = kv->B, d = c->d_model, H = c->n_heads, dh = m->dh, p0 = kv->len;
    if (p0 + n > kv->cap)
        rg_die("decode: %d positions exceed the key/value cache of %d", p0 + n, kv->cap);
    if (c->pos == RG_POS_LEARNED && p0 + n > c->max_positions)
        rg_die("learned positions: position %d >= max_positions %d; raise max_positions or "
               "evaluate shorter sequences",
               p0 + n - 1, c->max_positions);
    bool was = rg_set_no_grad(ctx, true);
    build_tables(ctx, m, kv);
    double *slopes = rg_arena_alloc(&ctx->arena, (size_t)H * sizeof(double));
    if (c->pos == RG_POS_ALIBI) rg_alibi_slopes(H, slopes);

    rg_tensor *h =
        rg_reshape(ctx, rg_embedding(ctx, m->tok_emb, tokens, B * n), 3, (int[]){B, n, d});
    if (c->pos == RG_POS_SINUSOIDAL || c->pos == RG_POS_LEARNED) {
        rg_tensor *pe = rg_new2(ctx, n, d);
        for (int t = 0; t < n; t++) {
            if (c->pos == RG_POS_SINUSOIDAL)
                rg_sinusoid_row(p0 + t, d, pe->data + (long)t * d, true);
            else
                memcpy(pe->data + (long)t * d, m->pos_emb->data + (long)(p0 + t) * d,
                       (size_t)d * sizeof(real));
        }
        h = rg_add_bcast(ctx, h, pe);
    }
    for (int l = 0; l < c->n_layers; l++) {
        rg_layer *L = &m->layers[l];
        rg_tensor *a = rg_layernorm(ctx, h, L->ln1_w, L->ln1_b);
        rg_tensor *qkv = rg_linear(ctx, a, L->qkv_w, L->qkv_b); /* (B,n,3d) */
        rg_tensor *q = rg_split_heads(ctx, qkv, 0, H, dh);      /* (B,H,n,dh) */
        rg_tensor *k = rg_split_heads(ctx, qkv, d, H, dh);
        rg_tensor *v = rg_split_heads(ctx, qkv, 2 * d, H, dh);
        if (c->pos == RG_POS_ROPE) {
            q = rg_rope(ctx, q, p0, (real)c->rope_base, (real)c->rope_scale);
            k = rg_rope(ctx, k, p0, (real)c->rope_base, (real)c->rope_scale);
        }
        for (int b = 0; b < B; b++) /* append to the cache */
            for (int hh = 0; hh < H; hh++) {
                long dst = ((((long)l * B + b) * H + hh) * kv->cap + p0) * dh;
                long src = (((long)b * H + hh) * n) * dh;
                memcpy(kv->k + dst, k->data + src, (size_t)n * dh * sizeof(real));
                memcpy(kv->v + dst, v->data + src, (size_t)n * dh * sizeof(real));
            }
        rg_tensor *o = rg_new4(ctx, B, H, n, dh);
        cached_attention(ctx, m, kv, l, p0, n, q->data, o->data, slopes);
        h = rg_add(ctx, h, rg_linear(ctx, rg_merge_heads(ctx, o), L->proj_w, L->proj_b));
        h = rg_mlp_block(ctx, L, h);
    }
    kv->len = p0 + n;
    rg_tensor *last = all ? h : rg_slice_time(ctx, h, n - 1, n); /* (B,n or 1,d) */
    rg_tensor *x = rg_layernorm(ctx, last, m->lnf_w, m->lnf_b);
    rg_tensor *logits = rg_linear(ctx, x, m->lm_head, NULL);
    rg_set_no_grad(ctx, was);
    return all ? logits : rg_reshape(ctx, logits, 2, (int[]){B, m->V});
}

rg_tensor *rg_model_decode(rg_ctx *ctx, rg_model *m, rg_kv_cache *kv, const int *tokens, int n) {
    return decode(ctx, m, kv, tokens, n, false);
}

rg_tensor *rg_model_decode_all(rg_ctx *ctx, rg_model *m, rg_kv_cache *kv, const int *tokens,
                               int n) {
    return decode(ctx, m, kv, tokens, n, true);
}
