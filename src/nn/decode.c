/* decode.c: incremental decoding with a key/value cache (no gradient).
 *
 * Each call feeds n new tokens. Per layer, their keys and values (keys after
 * the scheme's rotation, if it rotates) are appended to the cache, and the
 * new queries attend to the cached keys through the same attention kernel
 * and the same scheme hooks as training (rg_attention_forward on the cache's
 * rows), so there is no second implementation of any score formula. With
 * segment recurrence (mem_len M, segment_len S) the query of token t sees
 * keys from floor(t/S)*S - M to t, exactly what segment-wise processing
 * shows it, so the logits equal rg_model_forward_seq's; otherwise it sees
 * 0..t. Scores are formed one block of queries at a time, so memory grows
 * with the sequence, never with its square.
 */
#include "nn_internal.h"

#include <stdlib.h>
#include <string.h>

void rg_kv_cache_init(rg_kv_cache *kv, const rg_model *m, int B, int cap,
                      const rg_scheme_opts *opts) {
    const rg_model_config *c = &m->cfg;
    memset(kv, 0, sizeof *kv);
    kv->n_layers = c->n_layers, kv->B = B, kv->cap = cap, kv->H = c->n_heads, kv->dh = m->dh;
    size_t n = (size_t)c->n_layers * B * c->n_heads * cap * m->dh;
    kv->k = rg_xmalloc(n * sizeof(real), "a key/value cache's keys");
    kv->v = rg_xmalloc(n * sizeof(real), "a key/value cache's values");
    kv->k_t = rg_xmalloc(n * sizeof(real), "a key/value cache's keys");
    kv->pos = rg_xmalloc((size_t)B * cap * sizeof(int), "a key/value cache's positions");
    kv->persist = rg_xcalloc((size_t)c->n_layers, sizeof *kv->persist, "a key/value cache");
    kv->pos_shared = true;
    kv->opts = opts ? *opts : c->opts;
    kv->model = m;
}

void rg_kv_cache_free(rg_kv_cache *kv) {
    for (int l = 0; kv->persist && l < kv->n_layers; l++) {
        const rg_scheme *s = rg_scheme_get(kv->model->layers[l].scheme);
        if (kv->persist[l] && s->free_persist) s->free_persist(kv->persist[l]);
    }
    free(kv->persist);
    free(kv->pos);
    free(kv->k);
    free(kv->k_t);
    free(kv->v);
    memset(kv, 0, sizeof *kv);
}

/* First key visible from token t. */
static int window_start(const rg_model_config *c, int t) {
    if (c->mem_len == 0 || c->segment_len == 0) return 0;
    int lo = t / c->segment_len * c->segment_len - c->mem_len;
    return lo > 0 ? lo : 0;
}

/* Record the new tokens' positions (given, or len + i) in the cache. */
static void add_positions(rg_kv_cache *kv, const int *pos, int n) {
    int p0 = kv->len;
    for (int b = 0; b < kv->B; b++)
        for (int i = 0; i < n; i++) {
            int p = pos ? pos[(long)b * n + i] : p0 + i;
            int before = p0 + i > 0 ? kv->pos[(long)b * kv->cap + p0 + i - 1] : -1;
            if (p0 + i > 0 && p <= before)
                rg_die("decode: positions must increase; row %d has %d after %d", b, p, before);
            kv->pos[(long)b * kv->cap + p0 + i] = p;
            if (b > 0 && p != kv->pos[p0 + i]) kv->pos_shared = false;
        }
}

/* Feed n tokens; logits of every fed token [B,n,V] (all = true) or of the
 * last one [B,V]. */
static rg_tensor *decode(rg_ctx *ctx, rg_model *m, rg_kv_cache *kv, const int *tokens,
                         const int *pos, int n, bool all) {
    const rg_model_config *c = &m->cfg;
    int B = kv->B, d = c->d_model, H = c->n_heads, dh = m->dh, p0 = kv->len, cap = kv->cap;
    if (p0 + n > cap) rg_die("decode: %d tokens exceed the key/value cache of %d", p0 + n, cap);
    if (kv->model != m) rg_die("decode: the cache was made for another model");
    bool was = rg_set_no_grad(ctx, true);
    add_positions(kv, pos, n);
    long stride = kv->pos_shared ? 0 : cap;
    int *lo = rg_arena_alloc(&ctx->arena, (size_t)n * sizeof(int));
    for (int i = 0; i < n; i++) lo[i] = window_start(c, p0 + i);
    rg_attn_pos ap = {kv->pos + p0, kv->pos, stride, stride, 0};
    ap.max_dist = rg_max_distance(&ap, B, n, lo);

    rg_tensor *h =
        rg_reshape(ctx, rg_embedding(ctx, m->tok_emb, tokens, B * n), 3, (int[]){B, n, d});
    h = rg_add_position_embedding(ctx, m, &kv->opts, h, ap.q, ap.q_stride);
    for (int l = 0; l < c->n_layers; l++) {
        rg_layer *L = &m->layers[l];
        const rg_scheme *s = rg_scheme_get(L->scheme);
        rg_tensor *a = rg_layernorm(ctx, h, L->ln1_w, L->ln1_b);
        rg_tensor *qkv = rg_linear(ctx, a, L->qkv_w, L->qkv_b); /* (B,n,3d) */
        rg_tensor *q = rg_split_heads(ctx, qkv, 0, H, dh);      /* (B,H,n,dh) */
        rg_tensor *k = rg_split_heads(ctx, qkv, d, H, dh);
        rg_tensor *v = rg_split_heads(ctx, qkv, 2 * d, H, dh);
        if (s->rotate) {
            q = s->rotate(ctx, &kv->opts, q, ap.q, ap.q_stride);
            k = s->rotate(ctx, &kv->opts, k, ap.q, ap.q_stride); /* the new keys' positions */
        }
        real *K = kv->k + (long)l * B * H * cap * dh, *Vc = kv->v + (long)l * B * H * cap * dh;
        real *Kt = kv->k_t + (long)l * B * H * cap * dh;
        for (long bh = 0; bh < (long)B * H; bh++) { /* append to the cache */
            memcpy(K + (bh * cap + p0) * dh, k->data + bh * n * dh, (size_t)n * dh * sizeof(real));
            memcpy(Vc + (bh * cap + p0) * dh, v->data + bh * n * dh, (size_t)n * dh * sizeof(real));
            for (int i = 0; i < n; i++) /* and as columns of the transposed keys */
                for (int e = 0; e < dh; e++)
                    Kt[(bh * dh + e) * cap + p0 + i] = k->data[(bh * n + i) * dh + e];
        }
        rg_scheme_call call = rg_scheme_call_for(ctx, m, &kv->opts, l, &ap, q, p0 + n, p0);
        call.k_data = K, call.k_bh = (long)cap * dh, call.persist = &kv->persist[l];
        if (s->scores) s->scores(&call);
        rg_tensor *o = rg_empty(ctx, 4, (int[]){B, H, n, dh});
        rg_attn_raw raw = {B,
                           H,
                           n,
                           p0 + n,
                           dh,
                           p0,
                           call.q_content->data,
                           K,
                           Vc,
                           (long)n * dh,
                           (long)cap * dh,
                           (long)cap * dh,
                           o->data,
                           call.scale,
                           lo,
                           call.terms,
                           call.n_terms,
                           NULL,
                           0,
                           0,
                           Kt,
                           (long)dh * cap,
                           cap};
        if (kv->probs) { /* rows p0 .. p0+n-1 of this layer's [B,H,cap,cap] block */
            raw.probs = kv->probs + (long)l * B * H * cap * cap + (long)p0 * cap;
            raw.probs_bh = (long)cap * cap, raw.probs_ld = cap;
        }
        rg_attention_forward(ctx, &raw);
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

rg_tensor *rg_model_decode(rg_ctx *ctx, rg_model *m, rg_kv_cache *kv, const int *tokens,
                           const int *pos, int n) {
    return decode(ctx, m, kv, tokens, pos, n, false);
}

rg_tensor *rg_model_decode_all(rg_ctx *ctx, rg_model *m, rg_kv_cache *kv, const int *tokens,
                               const int *pos, int n) {
    return decode(ctx, m, kv, tokens, pos, n, true);
}
