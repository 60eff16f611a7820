/* model.c: the SPEC model's parameters, initialisation, segment memory and
 * forward pass (SPEC section 1). Attention and the positional schemes are in
 * attention.c; incremental decoding is in decode.c.
 */
#include "nn_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- parameters ----------------------------------------------------------- */

typedef enum { INIT_NORMAL, INIT_ZEROS, INIT_ONES } init_kind;

typedef struct {
    rg_model *m;
    long offset;
    bool counting; /* first pass counts, second pass fills */
} param_builder;

/* Declare a parameter: on the counting pass it only adds up sizes; on the
 * filling pass it points a header into the flat buffers and returns it. */
static rg_tensor *declare(param_builder *pb, const char *name, int ndim, const int *shape,
                          bool decay) {
    rg_model *m = pb->m;
    long size = rg_shape_size(ndim, shape);
    if (pb->counting) {
        m->n_params++;
        m->n_values += size;
        return NULL;
    }
    rg_param *p = &m->params[m->n_params++];
    snprintf(p->name, sizeof p->name, "%s", name);
    p->offset = pb->offset;
    p->decay = decay;
    p->t = rg_wrap(m->values + pb->offset, m->grads + pb->offset, ndim, shape, p->name);
    pb->offset += size;
    return &p->t;
}

#define SHAPE(...)                                                                                 \
    (sizeof((int[]){__VA_ARGS__}) / sizeof(int)), (int[]) {                                        \
        __VA_ARGS__                                                                                \
    }

/* The parameter list, in SPEC order. Called twice (count, then fill). */
static void declare_all(param_builder *pb) {
    rg_model *m = pb->m;
    const rg_config *c = &m->cfg;
    int d = c->d_model, H = c->n_heads, F = c->d_ff, V = m->V;
    m->tok_emb = declare(pb, "tok_emb.weight", SHAPE(V, d), false);
    m->lm_head = declare(pb, "lm_head.weight", SHAPE(V, d), true);
    m->lnf_w = declare(pb, "ln_f.weight", SHAPE(d), false);
    m->lnf_b = declare(pb, "ln_f.bias", SHAPE(d), false);
    if (c->pos == RG_POS_LEARNED)
        m->pos_emb = declare(pb, "pos_emb.weight", SHAPE(c->max_positions, d), false);
    if (c->pos == RG_POS_T5)
        m->t5_bias = declare(pb, "t5_bias.weight", SHAPE(c->t5_buckets, H), false);
    if (c->pos == RG_POS_DEBERTA)
        m->rel_emb = declare(pb, "rel_emb.weight", SHAPE(2 * c->deberta_span, d), false);
    for (int l = 0; l < c->n_layers; l++) {
        rg_layer *L = pb->counting ? NULL : &m->layers[l];
        rg_layer dummy;
        if (!L) L = &dummy;
        char n[RG_NAME_MAX];
#define P(field, suffix, decay, ...)                                                               \
    snprintf(n, sizeof n, "blocks.%d.%s", l, suffix);                                              \
    L->field = declare(pb, n, SHAPE(__VA_ARGS__), decay)
        P(ln1_w, "ln1.weight", false, d);
        P(ln1_b, "ln1.bias", false, d);
        P(ln2_w, "ln2.weight", false, d);
        P(ln2_b, "ln2.bias", false, d);
        P(qkv_w, "attn.qkv.weight", true, 3 * d, d);
        P(qkv_b, "attn.qkv.bias", false, 3 * d);
        P(proj_w, "attn.proj.weight", true, d, d);
        P(proj_b, "attn.proj.bias", false, d);
        P(fc1_w, "mlp.fc1.weight", true, F, d);
        P(fc1_b, "mlp.fc1.bias", false, F);
        P(fc2_w, "mlp.fc2.weight", true, d, F);
        P(fc2_b, "mlp.fc2.bias", false, d);
        if (c->pos == RG_POS_XL) {
            P(r_w, "attn.r.weight", true, d, d);
            P(r_u, "attn.r_w_bias", false, H, d / H);
            P(r_v, "attn.r_r_bias", false, H, d / H);
        }
        if (c->pos == RG_POS_DEBERTA) {
            P(pos_k, "attn.pos_k.weight", true, d, d);
            P(pos_q, "attn.pos_q.weight", true, d, d);
        }
#undef P
    }
}

/* Biases, LayerNorm and XL's u/v have fixed initial values; all else is normal. */
static init_kind init_of(const char *name) {
    size_t n = strlen(name);
    bool is_ln = strstr(name, "ln1.") || strstr(name, "ln2.") || strstr(name, "ln_f.");
    bool ends_weight = n >= 7 && !strcmp(name + n - 7, ".weight");
    if (is_ln) return ends_weight ? INIT_ONES : INIT_ZEROS;
    if (strstr(name, ".bias") || strstr(name, "r_w_bias") || strstr(name, "r_r_bias"))
        return INIT_ZEROS;
    return INIT_NORMAL;
}

int rg_model_init(rg_model *m, const rg_config *cfg, uint64_t seed, rg_error *err) {
    memset(m, 0, sizeof *m);
    if (rg_config_validate(cfg, "model config", err)) return 2;
    m->cfg = *cfg;
    m->V = cfg->n_symbols + 4;
    m->dh = cfg->d_model / cfg->n_heads;
    param_builder pb = {m, 0, true};
    declare_all(&pb);
    m->params = calloc((size_t)m->n_params, sizeof *m->params);
    m->values = calloc((size_t)m->n_values, sizeof(real));
    m->grads = calloc((size_t)m->n_values, sizeof(real));
    m->layers = calloc((size_t)cfg->n_layers, sizeof *m->layers);
    if (!m->params || !m->values || !m->grads || !m->layers)
        rg_die("out of memory allocating %ld parameters", m->n_values);
    m->n_params = 0;
    pb = (param_builder){m, 0, false};
    declare_all(&pb);

    rg_rng rng;
    rg_rng_seed(&rng, seed);
    for (int i = 0; i < m->n_params; i++) {
        rg_param *p = &m->params[i];
        init_kind k = init_of(p->name);
        for (long j = 0; j < p->t.size; j++)
            p->t.data[j] = k == INIT_ONES    ? 1
                           : k == INIT_ZEROS ? 0
                                             : (real)(cfg->init_std * rg_rng_normal(&rng));
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
    size_t n = (size_t)mem->n_layers * B * (mem->cap > 0 ? mem->cap : 1) * mem->d;
    mem->data = calloc(n, sizeof(real));
    if (!mem->data) rg_die("out of memory allocating segment memory");
}

void rg_memory_free(rg_memory *mem) {
    free(mem->data);
    mem->data = NULL;
}

void rg_memory_clear(rg_memory *mem) {
    mem->len = 0;
}

/* Layer l's memory as an arena tensor [B, len, d] (a copy: the memory is
 * overwritten with the new rows while this step's tape still exists). */
static rg_tensor *memory_tensor(rg_ctx *ctx, const rg_memory *mem, int l) {
    rg_tensor *t = rg_empty(ctx, 3, (int[]){mem->B, mem->len, mem->d});
    for (int b = 0; b < mem->B; b++)
        memcpy(t->data + (long)b * mem->len * mem->d,
               mem->data + (((long)l * mem->B + b) * mem->cap) * mem->d,
               (size_t)mem->len * mem->d * sizeof(real));
    return t;
}

/* New memory for layer l: the last min(cap, rows) rows of c [B, rows, d]. */
static void memory_store(rg_memory *mem, int l, const rg_tensor *c) {
    int rows = c->shape[1], keep = rows < mem->cap ? rows : mem->cap;
    for (int b = 0; b < mem->B; b++)
        memcpy(mem->data + (((long)l * mem->B + b) * mem->cap) * mem->d,
               c->data + ((long)b * rows + rows - keep) * mem->d,
               (size_t)keep * mem->d * sizeof(real));
}

/* ---- forward ------------------------------------------------------------------ */

/* Absolute position embedding for positions offset .. offset+T-1, added to
 * every batch row: sinusoidal (a constant) or learned (rows of pos_emb). */
static rg_tensor *add_absolute_position(rg_ctx *ctx, rg_model *m, rg_tensor *h, int T, int offset) {
    int d = m->cfg.d_model;
    rg_tensor *pe;
    if (m->cfg.pos == RG_POS_SINUSOIDAL) {
        pe = rg_new2(ctx, T, d);
        for (int t = 0; t < T; t++) rg_sinusoid_row(offset + t, d, pe->data + (long)t * d, true);
    } else {
        int *pos = rg_arena_alloc(&ctx->arena, (size_t)T * sizeof(int) + 1);
        for (int t = 0; t < T; t++) {
            if (offset + t >= m->cfg.max_positions)
                rg_die("learned positions: position %d >= max_positions %d; raise max_positions "
                       "or evaluate shorter sequences",
                       offset + t, m->cfg.max_positions);
            pos[t] = offset + t;
        }
        pe = rg_embedding(ctx, m->pos_emb, pos, T);
    }
    return rg_add_bcast(ctx, h, pe); /* (B,T,d) + (T,d) */
}

rg_tensor *rg_mlp_block(rg_ctx *ctx, rg_layer *L, rg_tensor *h) {
    rg_tensor *z = rg_layernorm(ctx, h, L->ln2_w, L->ln2_b);
    z = rg_linear(ctx, rg_gelu(ctx, rg_linear(ctx, z, L->fc1_w, L->fc1_b)), L->fc2_w, L->fc2_b);
    return rg_add(ctx, h, z);
}

rg_tensor *rg_model_forward(rg_ctx *ctx, rg_model *m, const int *tokens, int B, int T, int offset,
                            rg_memory *mem) {
    const rg_config *c = &m->cfg;
    int d = c->d_model;
    for (long i = 0; i < (long)B * T; i++)
        if (tokens[i] < 0 || tokens[i] >= m->V)
            rg_die("model: token %d at index %ld is outside the vocabulary of %d", tokens[i], i,
                   m->V);
    int M = (mem && mem->cap > 0) ? mem->len : 0;
    if (mem && mem->cap > 0 && mem->B != B)
        rg_die("model: memory holds batch %d, got %d", mem->B, B);

    rg_tensor *h = rg_reshape(ctx, rg_embedding(ctx, m->tok_emb, tokens, B * T), 3,
                              (int[]){B, T, d}); /* (B,T,d) */
    if (c->pos == RG_POS_SINUSOIDAL || c->pos == RG_POS_LEARNED)
        h = add_absolute_position(ctx, m, h, T, offset);

    rg_positions pos;
    rg_positions_build(ctx, m, &pos, T, M, offset);
    for (int l = 0; l < c->n_layers; l++) {
        rg_layer *L = &m->layers[l];
        rg_tensor *cat =
            M > 0 ? rg_concat_time(ctx, memory_tensor(ctx, mem, l), h) : h; /* (B,M+T,d) */
        if (mem && mem->cap > 0) memory_store(mem, l, cat);
        rg_tensor *a = rg_layernorm(ctx, cat, L->ln1_w, L->ln1_b);
        h = rg_add(ctx, h, rg_attention(ctx, m, L, &pos, a)); /* h' = h + attn */
        h = rg_mlp_block(ctx, L, h);                          /* (B,T,d) */
    }
    if (mem && mem->cap > 0) mem->len = (M + T) < mem->cap ? (M + T) : mem->cap;
    rg_tensor *x = rg_layernorm(ctx, h, m->lnf_w, m->lnf_b);
    return rg_linear(ctx, x, m->lm_head, NULL); /* (B,T,V) */
}

rg_tensor *rg_model_loss(rg_ctx *ctx, rg_tensor *logits, const int *targets, const real *mask) {
    return rg_cross_entropy(ctx, logits, targets, mask);
}

/* Copy columns [t0, t0+n) of tokens [B,T] into out [B,n]. */
static void slice_tokens(const int *tokens, int B, int T, int t0, int n, int *out) {
    for (int b = 0; b < B; b++)
        memcpy(out + (long)b * n, tokens + (long)b * T + t0, (size_t)n * sizeof(int));
}

rg_tensor *rg_model_forward_seq(rg_ctx *ctx, rg_model *m, const int *tokens, int B, int T) {
    const rg_config *c = &m->cfg;
    if (c->mem_len == 0 || c->segment_len == 0 || c->segment_len >= T)
        return rg_model_forward(ctx, m, tokens, B, T, 0, NULL);
    /* The memory lives in the arena: this runs every training step. */
    rg_memory mem = {c->n_layers, B, c->mem_len, c->d_model, 0, NULL};
    mem.data = rg_arena_calloc(&ctx->arena,
                               (size_t)c->n_layers * B * c->mem_len * c->d_model * sizeof(real));
    int S = c->segment_len;
    int *seg = rg_arena_alloc(&ctx->arena, (size_t)B * S * sizeof(int));
    rg_tensor *logits = NULL;
    for (int t0 = 0; t0 < T; t0 += S) {
        int n = T - t0 < S ? T - t0 : S;
        slice_tokens(tokens, B, T, t0, n, seg);
        rg_tensor *part = rg_model_forward(ctx, m, seg, B, n, t0, &mem);
        logits = logits ? rg_concat_time(ctx, logits, part) : part;
    }
    return logits;
}
