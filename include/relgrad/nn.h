/* nn.h: the SPEC model, a pre-LayerNorm decoder-only Transformer with the
 * positional schemes of SPEC section 2, its parameters and its memory.
 *
 * Parameters live in one flat buffer (values) with a matching one for
 * gradients, in the order of SPEC's parameter list; each is also a named
 * tensor header into those buffers.
 */
#ifndef RELGRAD_NN_H
#define RELGRAD_NN_H

#include "relgrad/config.h"
#include "relgrad/ops.h"

#define RG_NAME_MAX 64

typedef struct rg_param {
    char name[RG_NAME_MAX]; /* SPEC name, e.g. "blocks.0.attn.qkv.weight"   */
    rg_tensor t;            /* header into the model's flat buffers          */
    long offset;            /* where its values start in model->values       */
    bool decay;             /* AdamW weight decay applies (matrices, not
                               biases, LayerNorm or embeddings)               */
} rg_param;

typedef struct rg_layer {
    rg_tensor *ln1_w, *ln1_b, *ln2_w, *ln2_b;
    rg_tensor *qkv_w, *qkv_b, *proj_w, *proj_b;
    rg_tensor *fc1_w, *fc1_b, *fc2_w, *fc2_b;
    rg_tensor *r_w, *r_u, *r_v; /* xl: attn.r.weight, attn.r_w_bias, attn.r_r_bias */
    rg_tensor *pos_k, *pos_q;   /* deberta: attn.pos_k.weight, attn.pos_q.weight  */
} rg_layer;

typedef struct rg_model {
    rg_config cfg; /* the config it was built from              */
    int V, dh;     /* vocabulary size, head size                */
    int n_params;
    rg_param *params;
    long n_values; /* total number of parameter values          */
    real *values, *grads;
    rg_tensor *tok_emb, *lm_head, *lnf_w, *lnf_b;
    rg_tensor *pos_emb; /* learned                                */
    rg_tensor *t5_bias; /* t5: [t5_buckets, H]                    */
    rg_tensor *rel_emb; /* deberta: [2K, d]                       */
    rg_layer *layers;
    bool unfused_attention; /* build attention from the separate ops (the
                               reference the fused kernel is tested against) */
} rg_model;

/* Build the parameter list for cfg and initialise: normal(0, init_std) for
 * weights (embeddings, linear weights, t5 table, deberta rel_emb, xl r),
 * zeros for biases and xl's u/v, ones for LayerNorm gains. 0 or 2 (err). */
int rg_model_init(rg_model *m, const rg_config *cfg, uint64_t seed, rg_error *err);
void rg_model_free(rg_model *m);
void rg_model_zero_grad(rg_model *m);
/* The parameter with this name, or NULL. */
rg_param *rg_model_param(rg_model *m, const char *name);

/* ---- segment memory (Transformer-XL recurrence) ---------------------------
 * Per layer, the last `len` (<= mem_len) inputs of that layer, [B, len, d],
 * carried from one segment to the next without gradient. */
typedef struct rg_memory {
    int n_layers, B, cap, d; /* cap = mem_len                    */
    int len;                 /* rows currently held (0 at start) */
    real *data;              /* [n_layers, B, cap, d]            */
} rg_memory;

void rg_memory_init(rg_memory *mem, const rg_model *m, int B);
void rg_memory_free(rg_memory *mem);
void rg_memory_clear(rg_memory *mem); /* len = 0 (start of new sequences) */

/* ---- forward ---------------------------------------------------------------
 * tokens [B,T] of the current segment, whose first token has absolute
 * position `offset`. With mem (may be NULL), layer l attends to its memory
 * first, and mem is updated to the last mem_len rows afterwards.
 * Returns logits [B,T,V]. */
rg_tensor *rg_model_forward(rg_ctx *ctx, rg_model *m, const int *tokens, int B, int T, int offset,
                            rg_memory *mem);

/* Masked mean cross-entropy of logits against targets (SPEC section 1). */
rg_tensor *rg_model_loss(rg_ctx *ctx, rg_tensor *logits, const int *targets, const real *mask);

/* Forward over a whole sequence, split into segments of segment_len tokens
 * with memory carried between them when mem_len > 0 (the memory starts
 * empty), else one pass. Returns logits [B,T,V] for all T tokens. */
rg_tensor *rg_model_forward_seq(rg_ctx *ctx, rg_model *m, const int *tokens, int B, int T);

/* ---- incremental decoding with a key/value cache --------------------------- */

/* Keys and values of every position fed so far, per layer. With segment
 * recurrence (mem_len M, segment_len S) the query at position t sees keys
 * from floor(t/S)*S - M to t, exactly the window segment-wise processing
 * gives it, so decoding matches rg_model_forward_seq. */
typedef struct rg_kv_cache {
    int n_layers, B, cap, H, dh;
    int len;      /* positions cached so far (absolute 0..len-1)   */
    real *k, *v;  /* [n_layers, B, H, cap, dh] (k after rotation)  */
    void *tables; /* projected position tables (xl, deberta)        */
} rg_kv_cache;

void rg_kv_cache_init(rg_kv_cache *kv, const rg_model *m, int B, int cap);
void rg_kv_cache_free(rg_kv_cache *kv);
/* Feed tokens [B, n] at positions kv->len .. kv->len + n - 1 (no grad) and
 * return the logits of the last one, [B, V]. */
rg_tensor *rg_model_decode(rg_ctx *ctx, rg_model *m, rg_kv_cache *kv, const int *tokens, int n);
/* The same, returning the logits of all n fed positions, [B, n, V]: a
 * teacher-forced pass whose memory grows linearly with the sequence. */
rg_tensor *rg_model_decode_all(rg_ctx *ctx, rg_model *m, rg_kv_cache *kv, const int *tokens, int n);

/* ---- positional scheme formulas (src/attention.c) -------------------------- */

/* ALiBi slopes for H heads (SPEC section 2; Press et al. 2022). */
void rg_alibi_slopes(int H, double *slopes);
/* T5 bucket of a causal distance n >= 0 (SPEC section 2; Raffel et al. 2020). */
int rg_t5_bucket(int n, int n_buckets, int max_distance);
/* DeBERTa's relative index rel = clamp(delta, -K, K-1) + K, in 0..2K-1. */
int rg_deberta_rel(int delta, int K);

#endif
