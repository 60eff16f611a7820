/* model.c: the SPEC model's parameters, initialisation, segment memory and
 * its one forward pass (SPEC sections 1, 6 and 8): embeddings (the token's,
 * the abacus embedding of McLeish et al. 2024, an absolute scheme's), the
 * blocks (block.c), the head. Training calls it over whole segments (with segment
 * memory between them); decoding over the new tokens with a key/value cache
 * (cache.c); relgrad attention over an encoder's example, with a copy of
 * the probabilities (rg_model_forward_probs). Each layer's positional scheme
 * is one file in src/schemes/, reached through the registry.
 */
#include "nn_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- parameters ----------------------------------------------------------- */

/* The parameter list, in SPEC order: embeddings, the final LayerNorm, each
 * scheme's shared tables (registry order, when a layer uses it), then per
 * layer the block's parameters and its scheme's own. Called twice (count,
 * then fill). */
static void declare_all(rg_param_builder *pb, rg_model *m) {
    const rg_model_config *c = &m->cfg;
    int d = c->d_model, F = c->d_ff, V = m->V;
    m->tok_emb = rg_declare(pb, "tok_emb.weight", RG_SHAPE(V, d), false, RG_INIT_NORMAL, 0);
    m->lm_head = rg_declare(pb, "lm_head.weight", RG_SHAPE(V, d), true, RG_INIT_NORMAL, 0);
    /* an embedding like tok_emb: the same init (McLeish et al. initialize
     * theirs with their word embedding's rule), no weight decay */
    if (c->abacus > 0)
        m->abacus_emb = rg_declare(pb, "abacus_emb.weight", RG_SHAPE(c->abacus_max, d), false,
                                   RG_INIT_NORMAL, 0);
    m->lnf_w = rg_declare(pb, "ln_f.weight", RG_SHAPE(d), false, RG_INIT_ONES, 0);
    m->lnf_b = rg_declare(pb, "ln_f.bias", RG_SHAPE(d), false, RG_INIT_ZEROS, 0);
    for (int id = 0; id < rg_scheme_count(); id++) {
        bool used = false;
        for (int i = 0; i < c->schemes.n; i++) used |= c->schemes.id[i] == id;
        const rg_scheme *s = rg_scheme_get(id);
        if (used && s->declare_shared) s->declare_shared(pb, c, m->shared[id]);
    }
    for (int l = 0; l < c->n_layers; l++) {
        rg_layer *L = &m->layers[l];
        L->scheme = rg_scheme_of_layer(&c->schemes, l);
        char n[RG_NAME_MAX];
#define P(field, suffix, decay, init, ...)                                                         \
    snprintf(n, sizeof n, "blocks.%d.%s", l, suffix);                                              \
    L->field = rg_declare(pb, n, RG_SHAPE(__VA_ARGS__), decay, init, 0)
        P(ln1_w, "ln1.weight", false, RG_INIT_ONES, d);
        P(ln1_b, "ln1.bias", false, RG_INIT_ZEROS, d);
        P(ln2_w, "ln2.weight", false, RG_INIT_ONES, d);
        P(ln2_b, "ln2.bias", false, RG_INIT_ZEROS, d);
        P(qkv_w, "attn.qkv.weight", true, RG_INIT_NORMAL, 3 * d, d);
        P(qkv_b, "attn.qkv.bias", false, RG_INIT_ZEROS, 3 * d);
        P(proj_w, "attn.proj.weight", true, RG_INIT_NORMAL, d, d);
        P(proj_b, "attn.proj.bias", false, RG_INIT_ZEROS, d);
        P(fc1_w, "mlp.fc1.weight", true, RG_INIT_NORMAL, F, d);
        P(fc1_b, "mlp.fc1.bias", false, RG_INIT_ZEROS, F);
        P(fc2_w, "mlp.fc2.weight", true, RG_INIT_NORMAL, d, F);
        P(fc2_b, "mlp.fc2.bias", false, RG_INIT_ZEROS, d);
#undef P
        const rg_scheme *s = rg_scheme_get(L->scheme);
        if (s->declare_layer) s->declare_layer(pb, c, l, L->sp);
    }
}

int rg_model_init(rg_model *m, const rg_model_config *mc, uint64_t seed, rg_error *err) {
    memset(m, 0, sizeof *m);
    if (rg_model_config_validate(mc, "model config", err)) return 2;
    m->cfg = *mc;
    m->V = rg_vocab_size(mc->arch, mc->n_symbols, mc->n_hints); /* an encoder's has ANS too */
    m->dh = mc->d_model / mc->n_heads;
    m->layers = rg_xcalloc((size_t)mc->n_layers, sizeof *m->layers, "the model's layers");
    rg_param_builder pb = {.counting = true};
    declare_all(&pb, m);
    m->n_params = pb.n_params, m->n_values = pb.n_values;
    m->params = rg_xcalloc((size_t)m->n_params, sizeof *m->params, "the parameter list");
    m->values = rg_xcalloc((size_t)m->n_values, sizeof(real), "the parameters");
    m->grads = rg_xcalloc((size_t)m->n_values, sizeof(real), "the parameters' gradients");
    pb = (rg_param_builder){.params = m->params, .values = m->values, .grads = m->grads};
    declare_all(&pb, m);

    rg_rng rng;
    rg_rng_seed(&rng, seed);
    for (int i = 0; i < m->n_params; i++) {
        rg_param *p = &m->params[i];
        for (long j = 0; j < p->t.size; j++)
            p->t.data[j] = p->init == RG_INIT_ONES    ? 1
                           : p->init == RG_INIT_ZEROS ? 0
                           : p->init == RG_INIT_CONST ? (real)p->init_value
                                                      : (real)(mc->init_std * rg_rng_normal(&rng));
    }
    return 0;
}

void rg_model_free(rg_model *m) {
    free(m->params);
    free(m->values);
    free(m->grads);
    free(m->layers);
    memset(m, 0, sizeof *m);
}

void rg_model_zero_grad(rg_model *m) {
    memset(m->grads, 0, (size_t)m->n_values * sizeof(real));
}

rg_param *rg_model_param(rg_model *m, const char *name) {
    for (int i = 0; i < m->n_params; i++)
        if (!strcmp(m->params[i].name, name)) return &m->params[i];
    return NULL;
}

/* ---- segment memory --------------------------------------------------------- */

void rg_memory_init(rg_memory *mem, const rg_model *m, int B) {
    mem->n_layers = m->cfg.n_layers;
    mem->B = B;
    mem->cap = m->cfg.mem_len;
    mem->d = m->cfg.d_model;
    mem->len = 0;
    size_t rows = (size_t)B * (mem->cap > 0 ? mem->cap : 1);
    mem->data = rg_xcalloc(rows * mem->n_layers * mem->d, sizeof(real), "segment memory");
    mem->pos = rg_xcalloc(rows, sizeof(int), "segment memory positions");
}

void rg_memory_free(rg_memory *mem) {
    free(mem->data);
    free(mem->pos);
    mem->data = NULL, mem->pos = NULL;
}

void rg_memory_clear(rg_memory *mem) {
    mem->len = 0;
}

rg_tensor *rg_memory_rows(rg_ctx *ctx, const rg_memory *mem, int l) {
    rg_tensor *t = rg_empty(ctx, 3, (int[]){mem->B, mem->len, mem->d});
    for (int b = 0; b < mem->B; b++)
        memcpy(t->data + (long)b * mem->len * mem->d,
               mem->data + (((long)l * mem->B + b) * mem->cap) * mem->d,
               (size_t)mem->len * mem->d * sizeof(real));
    return t;
}

void rg_memory_keep(rg_memory *mem, int l, const rg_tensor *c) {
    int rows = c->shape[1], keep = rows < mem->cap ? rows : mem->cap;
    for (int b = 0; b < mem->B; b++)
        memcpy(mem->data + (((long)l * mem->B + b) * mem->cap) * mem->d,
               c->data + ((long)b * rows + rows - keep) * mem->d,
               (size_t)keep * mem->d * sizeof(real));
}

/* ---- positions ----------------------------------------------------------------- */

/* Whether row b's key positions increase strictly (so the nearest and
 * farthest key of a window are its ends). */
static bool keys_increase(const rg_attn_pos *p, int b, int Tk) {
    for (int j = 1; j < Tk; j++)
        if (rg_kpos(p, b, j) <= rg_kpos(p, b, j - 1)) return false;
    return true;
}

void rg_attn_pos_limits(rg_attn_pos *p, const rg_attn_mask *mask, int B, int T, int Tk) {
    /* every pair j <= i + diag, also those key_lo and key_end hide: a score
     * term's backward may visit them (adding zeros), so its tables must
     * reach them */
    bool per_row = p->q_stride || p->k_stride;
    int lo_d = 0, hi_d = 0;
    bool any = false;
    for (int b = 0; b < (per_row ? B : 1); b++) {
        bool ends = keys_increase(p, b, Tk);
        for (int i = 0; i < T; i++) {
            long e = (long)i + mask->diag + 1;
            int end = e > Tk ? Tk : (int)e;
            int pi = rg_qpos(p, b, i);
            for (int j = 0; j < end; j = ends && j < end - 1 ? end - 1 : j + 1) {
                int dist = pi - rg_kpos(p, b, j);
                if (!any || dist < lo_d) lo_d = dist;
                if (!any || dist > hi_d) hi_d = dist;
                any = true;
            }
        }
    }
    p->min_dist = lo_d, p->max_dist = hi_d;
}

/* Whether every layer's scheme reads positions one at a time (so they may
 * repeat or go down, as coupled positions do); else positions must increase
 * along each row. */
static bool any_order(const rg_model *m) {
    for (int l = 0; l < m->cfg.n_layers; l++)
        if (!(rg_scheme_get(m->layers[l].scheme)->flags & RG_SCHEME_ANY_ORDER)) return false;
    return true;
}

/* Check that each row's new positions (n of them, after `before` at index
 * n0 - 1 of the row; n0 = 0: none before) increase, unless the model's
 * schemes do not care. */
static void check_order(const rg_model *m, const int *pos, long stride, int B, int n,
                        const int *before, long before_stride, int n0, const char *who) {
    if (any_order(m)) return;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < n; t++) {
            int p = pos[b * stride + t];
            int prev = t > 0    ? pos[b * stride + t - 1]
                       : n0 > 0 ? before[b * before_stride + n0 - 1]
                                : p - 1;
            if (p <= prev)
                rg_die("%s: positions must increase along each row; row %d has %d after %d", who, b,
                       p, prev);
        }
}

/* The positions of a training forward: queries [B,T] (given, or offset + t)
 * and keys [B, M+T] (the memory's rows, then the queries). Rows that are all
 * alike are kept once (strides 0), so per-position work is done once. */
static void forward_positions(rg_ctx *ctx, const rg_model *m, const int *given, int offset, int B,
                              int T, const rg_memory *mem, int M, rg_attn_pos *out) {
    int Tk = M + T;
    int *q = rg_arena_alloc(&ctx->arena, (size_t)B * T * sizeof(int) + 1);
    int *k = rg_arena_alloc(&ctx->arena, (size_t)B * Tk * sizeof(int) + 1);
    for (int b = 0; b < B; b++) {
        for (int t = 0; t < T; t++)
            q[(long)b * T + t] = given ? given[(long)b * T + t] : offset + t;
        for (int j = 0; j < M; j++) k[(long)b * Tk + j] = mem->pos[(long)b * mem->cap + j];
        memcpy(k + (long)b * Tk + M, q + (long)b * T, (size_t)T * sizeof(int));
    }
    check_order(m, q, T, B, T, mem ? mem->pos : NULL, mem ? mem->cap : 0, M, "model");
    bool shared = true;
    for (int b = 1; b < B && shared; b++)
        shared = !memcmp(k, k + (long)b * Tk, (size_t)Tk * sizeof(int));
    *out = (rg_attn_pos){.q = q, .k = k, .q_stride = shared ? 0 : T, .k_stride = shared ? 0 : Tk};
}

/* ---- the forward ----------------------------------------------------------------- */

/* h + ape(positions) when the model's scheme is absolute; else h. h [B,T,d]. */
static rg_tensor *add_position_embedding(rg_ctx *ctx, const rg_model *m, rg_tensor *h,
                                         const rg_attn_pos *pos) {
    int id = m->layers[0].scheme; /* absolute schemes are never part of a list */
    const rg_scheme *s = rg_scheme_get(id);
    if (!s->embed) return h;
    int B = h->shape[0], T = h->shape[1], d = h->shape[2];
    rg_origin was = rg_set_origin(ctx, (rg_origin){-1, id}); /* the scheme's ops */
    rg_tensor *pe = s->embed(ctx, &m->cfg, m->shared[id], pos->q, pos->q_stride, B, T);
    if (pe->shape[0] == B) /* (1|B,T,d) */
        h = rg_add(ctx, h, pe);
    else
        h = rg_add_bcast(ctx, h, rg_reshape(ctx, pe, 2, (int[]){T, d})); /* (B,T,d) + (T,d) */
    rg_set_origin(ctx, was);
    return h;
}

/* h + abacus_emb[ids] (McLeish et al. 2024). h [B,T,d], ids [B,T]. */
static rg_tensor *add_abacus_embedding(rg_ctx *ctx, const rg_model *m, rg_tensor *h,
                                       const int *ids) {
    int B = h->shape[0], T = h->shape[1], d = h->shape[2], rows = m->cfg.abacus_max;
    for (long i = 0; i < (long)B * T; i++)
        if (ids[i] < 0 || ids[i] >= rows)
            rg_die(
                "model: abacus id %d (row %ld, token %ld) is outside abacus_emb's %d rows: a run "
                "of digits longer than the config allows for; raise abacus_max above %d",
                ids[i], i / T, i % T, rows, ids[i]);
    rg_tensor *a = rg_embedding(ctx, m->abacus_emb, ids, B * T);
    return rg_add(ctx, h, rg_reshape(ctx, a, 3, (int[]){B, T, d})); /* (B,T,d) */
}

/* Abacus ids computed from the tokens (no shift) into the arena, or NULL
 * when the model has no abacus embedding. */
static const int *tokens_abacus(rg_ctx *ctx, const rg_model *m, const int *tokens, int B, int T) {
    if (m->cfg.abacus <= 0) return NULL;
    int *ids = rg_arena_alloc(&ctx->arena, (size_t)B * T * sizeof(int) + 1);
    rg_abacus_ids(tokens, B, T, m->cfg.n_symbols, 0, ids);
    return ids;
}

/* The one forward: tokens [B,T] (abacus ids [B,T] with an abacus embedding,
 * else NULL) through the embeddings, every block and the head, the blocks
 * attending as f says. Logits [B,T,V], or [B,1,V] of the last token only
 * (last_only). */
static rg_tensor *forward(rg_ctx *ctx, rg_model *m, const int *tokens, const int *abacus, int B,
                          int T, const rg_fwd *f, bool last_only) {
    int d = m->cfg.d_model;
    for (long i = 0; i < (long)B * T; i++)
        if (tokens[i] < 0 || tokens[i] >= m->V)
            rg_die("model: token %d at index %ld is outside the vocabulary of %d", tokens[i], i,
                   m->V);
    rg_tensor *h = rg_reshape(ctx, rg_embedding(ctx, m->tok_emb, tokens, B * T), 3,
                              (int[]){B, T, d}); /* (B,T,d) */
    if (m->cfg.abacus > 0) h = add_abacus_embedding(ctx, m, h, abacus);
    h = add_position_embedding(ctx, m, h, f->pos);
    for (int l = 0; l < m->cfg.n_layers; l++) h = rg_block(ctx, m, l, h, f);
    if (last_only) h = rg_slice_time(ctx, h, T - 1, T); /* (B,1,d) */
    rg_tensor *x = rg_layernorm(ctx, h, m->lnf_w, m->lnf_b);
    return rg_linear(ctx, x, m->lm_head, NULL); /* (B,T|1,V) */
}

/* rg_model_forward, and with probs (no memory) rg_model_forward_probs. */
static rg_tensor *model_forward(rg_ctx *ctx, rg_model *m, const int *tokens, const int *pos,
                                const int *abacus, int B, int T, int offset, rg_memory *mem,
                                real *probs) {
    if (abacus && m->cfg.abacus <= 0)
        rg_die("model: abacus ids given, but the model has no abacus embedding (abacus = 0)");
    if (!abacus) abacus = tokens_abacus(ctx, m, tokens, B, T);
    bool recurrent = mem && mem->cap > 0;
    int M = recurrent ? mem->len : 0;
    if (recurrent && mem->B != B) rg_die("model: memory holds batch %d, got %d", mem->B, B);
    /* in the arena: score terms read it again in the backward */
    rg_attn_pos *ap = rg_arena_alloc(&ctx->arena, sizeof *ap);
    forward_positions(ctx, m, pos, offset, B, T, recurrent ? mem : NULL, M, ap);
    rg_fwd_memo memo[RG_MAX_SCHEMES] = {0};
    rg_fwd f = {.pos = ap,
                .mask = {.diag = M},
                .opts = &m->cfg.opts,
                .mem = recurrent ? mem : NULL,
                .M = M,
                .probs = probs,
                .memo = memo};
    if (m->cfg.arch == RG_ARCH_ENCODER) { /* both ways; PAD keys (at the row's end) hidden */
        if (recurrent) rg_die("model: an encoder has no segment memory");
        int *key_end = rg_arena_alloc(&ctx->arena, (size_t)B * sizeof(int));
        int pad = rg_tok_pad(m->cfg.n_symbols, m->cfg.n_hints);
        for (int b = 0; b < B; b++) {
            key_end[b] = T;
            while (key_end[b] > 0 && tokens[(long)b * T + key_end[b] - 1] == pad) key_end[b]--;
        }
        f.mask = (rg_attn_mask){.diag = T, .key_end = key_end};
    }
    rg_attn_pos_limits(ap, &f.mask, B, T, M + T);
    rg_tensor *logits = forward(ctx, m, tokens, abacus, B, T, &f, false);
    if (recurrent) { /* the memory's rows keep the positions they had */
        int keep = M + T < mem->cap ? M + T : mem->cap;
        for (int b = 0; b < B; b++)
            for (int j = 0; j < keep; j++)
                mem->pos[(long)b * mem->cap + j] = rg_kpos(ap, b, M + T - keep + j);
        mem->len = keep;
    }
    return logits;
}

rg_tensor *rg_model_forward(rg_ctx *ctx, rg_model *m, const int *tokens, const int *pos,
                            const int *abacus, int B, int T, int offset, rg_memory *mem) {
    return model_forward(ctx, m, tokens, pos, abacus, B, T, offset, mem, NULL);
}

rg_tensor *rg_model_forward_probs(rg_ctx *ctx, rg_model *m, const int *tokens, const int *pos,
                                  const int *abacus, int B, int T, real *probs) {
    return model_forward(ctx, m, tokens, pos, abacus, B, T, 0, NULL, probs);
}

rg_tensor *rg_model_loss(rg_ctx *ctx, rg_tensor *logits, const int *targets, const real *mask) {
    return rg_cross_entropy(ctx, logits, targets, mask);
}

rg_tensor *rg_model_forward_seq(rg_ctx *ctx, rg_model *m, const int *tokens, const int *pos,
                                const int *abacus, int B, int T) {
    const rg_model_config *c = &m->cfg;
    if (c->mem_len == 0 || c->segment_len == 0 || c->segment_len >= T)
        return rg_model_forward(ctx, m, tokens, pos, abacus, B, T, 0, NULL);
    if (abacus && c->abacus <= 0)
        rg_die("model: abacus ids given, but the model has no abacus embedding (abacus = 0)");
    if (!abacus) abacus = tokens_abacus(ctx, m, tokens, B, T); /* runs across segments */
    /* The memory lives in the arena: this runs every training step. */
    rg_memory mem = {c->n_layers, B, c->mem_len, c->d_model, 0, NULL, NULL};
    mem.data = rg_arena_calloc(&ctx->arena,
                               (size_t)c->n_layers * B * c->mem_len * c->d_model * sizeof(real));
    mem.pos = rg_arena_calloc(&ctx->arena, (size_t)B * c->mem_len * sizeof(int));
    int S = c->segment_len;
    int *seg = rg_arena_alloc(&ctx->arena, (size_t)B * S * sizeof(int));
    int *seg_pos = pos ? rg_arena_alloc(&ctx->arena, (size_t)B * S * sizeof(int)) : NULL;
    int *seg_ids = abacus ? rg_arena_alloc(&ctx->arena, (size_t)B * S * sizeof(int)) : NULL;
    rg_tensor *logits = NULL;
    for (int t0 = 0; t0 < T; t0 += S) {
        int n = T - t0 < S ? T - t0 : S;
        rg_columns(tokens, B, T, t0, n, sizeof(int), seg);
        rg_columns(pos, B, T, t0, n, sizeof(int), seg_pos);
        rg_columns(abacus, B, T, t0, n, sizeof(int), seg_ids);
        rg_tensor *part = rg_model_forward(ctx, m, seg, seg_pos, seg_ids, B, n, t0, &mem);
        logits = logits ? rg_concat_time(ctx, logits, part) : part;
    }
    return logits;
}

/* ---- decoding with a key/value cache ------------------------------------------- */

/* First key visible from token t: with segment recurrence, the window
 * segment-wise processing gives it. */
static int window_start(const rg_model_config *c, int t) {
    if (c->mem_len == 0 || c->segment_len == 0) return 0;
    int lo = t / c->segment_len * c->segment_len - c->mem_len;
    return lo > 0 ? lo : 0;
}

/* Feed n tokens [B,n] at positions pos [B,n] (NULL: len + i); logits of
 * every fed token [B,n,V] (all) or of the last one [B,V]. */
static rg_tensor *decode(rg_ctx *ctx, rg_model *m, rg_kv_cache *kv, const int *tokens,
                         const int *pos, int n, bool all) {
    int B = kv->B, p0 = kv->len, cap = kv->cap;
    if (p0 + n > cap) rg_die("decode: %d tokens exceed the key/value cache of %d", p0 + n, cap);
    if (kv->model != m) rg_die("decode: the cache was made for another model");
    if (m->cfg.arch == RG_ARCH_ENCODER)
        rg_die("decode: an encoder answers every slot in one forward (rg_model_forward); "
               "decoding token by token is for decoders");
    bool was = rg_set_no_grad(ctx, true);
    for (int b = 0; b < B; b++) /* the new tokens' positions join the cache's */
        for (int i = 0; i < n; i++) {
            int p = pos ? pos[(long)b * n + i] : p0 + i;
            kv->pos[(long)b * cap + p0 + i] = p;
            if (b > 0 && p != kv->pos[p0 + i]) kv->pos_shared = false;
        }
    long stride = kv->pos_shared ? 0 : cap;
    check_order(m, kv->pos + p0, cap, B, n, kv->pos, cap, p0, "decode");
    int *ids = NULL; /* abacus ids of the new tokens: the cache keeps each row's run */
    if (m->cfg.abacus > 0) {
        ids = rg_arena_alloc(&ctx->arena, (size_t)B * n * sizeof(int) + 1);
        for (int b = 0; b < B; b++)
            for (int i = 0; i < n; i++) {
                int tok = tokens[(long)b * n + i];
                kv->abacus_run[b] = tok >= 0 && tok < m->cfg.n_symbols ? kv->abacus_run[b] + 1 : 0;
                ids[(long)b * n + i] = kv->abacus_run[b];
            }
    }
    int *lo = rg_arena_alloc(&ctx->arena, (size_t)n * sizeof(int));
    for (int i = 0; i < n; i++) lo[i] = window_start(&m->cfg, p0 + i);
    rg_attn_pos *ap = rg_arena_alloc(&ctx->arena, sizeof *ap);
    *ap = (rg_attn_pos){.q = kv->pos + p0, .k = kv->pos, .q_stride = stride, .k_stride = stride};
    rg_fwd_memo memo[RG_MAX_SCHEMES] = {0};
    rg_fwd f = {.pos = ap,
                .mask = {.diag = p0, .key_lo = lo},
                .opts = &kv->opts,
                .kv = kv,
                .p0 = p0,
                .memo = memo};
    rg_attn_pos_limits(ap, &f.mask, B, n, p0 + n);
    rg_tensor *logits = forward(ctx, m, tokens, ids, B, n, &f, !all);
    kv->len = p0 + n;
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
