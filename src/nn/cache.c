/* cache.c: the key/value cache of incremental decoding: its storage, the
 * positions of the tokens fed so far (and each row's run of digits, for
 * abacus ids), appending a layer's new keys and values, and the schemes'
 * position tables it keeps between calls.
 *
 * Decoding itself is the model's forward over the new tokens (model.c),
 * through the same blocks as training (block.c); the cache only says where
 * the keys before them are.
 */
#include "nn_internal.h"

#include <stdlib.h>
#include <string.h>

/* One layer's scheme tables, kept between decoding calls: they cover the
 * distances lo .. hi (n = 0: none made yet). */
typedef struct rg_kept_tables {
    int n, lo, hi;
    real *data[RG_MAX_TABLES];
    int ndim[RG_MAX_TABLES], shape[RG_MAX_TABLES][RG_MAX_DIMS];
} rg_kept_tables;

/* One (b, h) block of the transposed keys: cap rounded up to whole tiles
 * of RG_KT_TILE keys, each [dh, RG_KT_TILE]. */
static long kt_bh_size(const rg_kv_cache *kv) {
    return ((long)kv->cap + RG_KT_TILE - 1) / RG_KT_TILE * RG_KT_TILE * kv->dh;
}

/* One layer's transposed keys: B * H blocks. */
static long kt_layer_size(const rg_kv_cache *kv) {
    return (long)kv->B * kv->H * kt_bh_size(kv);
}

void rg_kv_cache_init(rg_kv_cache *kv, const rg_model *m, int B, int cap,
                      const rg_scheme_opts *opts) {
    const rg_model_config *c = &m->cfg;
    memset(kv, 0, sizeof *kv);
    kv->n_layers = c->n_layers, kv->B = B, kv->cap = cap, kv->H = c->n_heads, kv->dh = m->dh;
    size_t n = (size_t)c->n_layers * B * c->n_heads * cap * m->dh;
    kv->k = rg_xmalloc(n * sizeof(real), "a key/value cache's keys");
    kv->v = rg_xmalloc(n * sizeof(real), "a key/value cache's values");
    kv->k_t =
        rg_xmalloc(kt_layer_size(kv) * c->n_layers * sizeof(real), "a key/value cache's keys");
    kv->pos = rg_xmalloc((size_t)B * cap * sizeof(int), "a key/value cache's positions");
    kv->abacus_run = rg_xcalloc((size_t)B, sizeof(int), "a key/value cache's abacus runs");
    kv->tables = rg_xcalloc((size_t)c->n_layers, sizeof *kv->tables, "a key/value cache");
    kv->pos_shared = true;
    kv->opts = opts ? *opts : c->opts;
    kv->model = m;
}

void rg_kv_cache_free(rg_kv_cache *kv) {
    for (int l = 0; kv->tables && l < kv->n_layers; l++)
        for (int i = 0; i < kv->tables[l].n; i++) free(kv->tables[l].data[i]);
    free(kv->tables);
    free(kv->pos);
    free(kv->abacus_run);
    free(kv->k);
    free(kv->k_t);
    free(kv->v);
    memset(kv, 0, sizeof *kv);
}

void rg_kv_append(rg_ctx *ctx, rg_kv_cache *kv, int l, const rg_tensor *k, const rg_tensor *v,
                  int p0, rg_tensor **K, rg_tensor **V, rg_attn_opts *o) {
    int B = kv->B, H = kv->H, cap = kv->cap, dh = kv->dh, n = k->shape[2];
    long layer = (long)l * B * H * cap * dh;
    long kt_bh = kt_bh_size(kv);
    real *Kc = kv->k + layer, *Vc = kv->v + layer, *Kt = kv->k_t + l * kt_layer_size(kv);
    for (long bh = 0; bh < (long)B * H; bh++) {
        memcpy(Kc + (bh * cap + p0) * dh, k->data + bh * n * dh, (size_t)n * dh * sizeof(real));
        memcpy(Vc + (bh * cap + p0) * dh, v->data + bh * n * dh, (size_t)n * dh * sizeof(real));
        for (int i = 0; i < n; i++) { /* and as columns of the transposed keys' tiles */
            int j = p0 + i;
            real *col = Kt + bh * kt_bh + (long)(j / RG_KT_TILE) * dh * RG_KT_TILE + j % RG_KT_TILE;
            for (int e = 0; e < dh; e++) col[(long)e * RG_KT_TILE] = k->data[(bh * n + i) * dh + e];
        }
    }
    *K = rg_arena_alloc(&ctx->arena, sizeof **K);
    *V = rg_arena_alloc(&ctx->arena, sizeof **V);
    **K = rg_wrap(Kc, NULL, 4, (int[]){B, H, cap, dh}, "kv.k");
    **V = rg_wrap(Vc, NULL, 4, (int[]){B, H, cap, dh}, "kv.v");
    o->k_t = Kt, o->k_t_bh = kt_bh;
    if (kv->probs) { /* rows p0 .. p0+n-1 of this layer's [B,H,cap,cap] block */
        o->probs = kv->probs + (long)l * B * H * cap * cap + (long)p0 * cap;
        o->probs_bh = (long)cap * cap, o->probs_ld = cap;
    }
}

void rg_kv_tables(rg_kv_cache *kv, int l, const rg_scheme *s, rg_scheme_call *call,
                  rg_tensor **out) {
    rg_kept_tables *kept = &kv->tables[l];
    int lo = call->pos->min_dist, hi = call->pos->max_dist;
    if (!kept->n || lo < kept->lo || hi > kept->hi) {
        if (kept->n) { /* grow: at least twice the distances held, as a vector does */
            long width = (long)kept->hi - kept->lo + 1;
            if (hi > kept->hi && kept->hi + width > hi) hi = (int)(kept->hi + width);
            if (lo < kept->lo && kept->lo - width < lo) lo = (int)(kept->lo - width);
            lo = lo < kept->lo ? lo : kept->lo, hi = hi > kept->hi ? hi : kept->hi;
        }
        bool was = rg_set_no_grad(call->ctx, true);
        rg_tensor *made[RG_MAX_TABLES];
        s->tables(call, &lo, &hi, made);
        rg_set_no_grad(call->ctx, was);
        for (int i = 0; i < kept->n; i++) free(kept->data[i]);
        kept->n = s->n_tables, kept->lo = lo, kept->hi = hi;
        for (int i = 0; i < kept->n; i++) {
            kept->data[i] = rg_xmalloc((size_t)made[i]->size * sizeof(real), "a kept table");
            memcpy(kept->data[i], made[i]->data, (size_t)made[i]->size * sizeof(real));
            kept->ndim[i] = made[i]->ndim;
            memcpy(kept->shape[i], made[i]->shape, sizeof kept->shape[i]);
        }
    }
    for (int i = 0; i < kept->n; i++) {
        out[i] = rg_arena_alloc(&call->ctx->arena, sizeof *out[i]);
        *out[i] = rg_wrap(kept->data[i], NULL, kept->ndim[i], kept->shape[i], "kept table");
    }
    call->tables = out, call->table_lo = kept->lo;
}
