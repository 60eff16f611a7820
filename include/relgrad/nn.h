/* nn.h: the SPEC model, a pre-LayerNorm decoder-only Transformer whose
 * layers each use a positional scheme (SPEC sections 1, 2 and 6), with an
 * optional abacus embedding (section 8), its parameters, its segment memory
 * and its key/value cache.
 *
 * Parameters live in one flat buffer (values) with a matching one for
 * gradients, in the order of SPEC's parameter list; each is also a named
 * tensor header into those buffers (see core/params.c).
 */
#ifndef RELGRAD_NN_H
#define RELGRAD_NN_H

#include "relgrad/config.h"
#include "relgrad/ops.h"
#include "relgrad/params.h"

#define RG_SCHEME_PARAMS 6 /* most parameters one scheme owns per layer (or shared) */

typedef struct rg_layer {
    int scheme; /* registry id of this layer's positional scheme */
    rg_tensor *ln1_w, *ln1_b, *ln2_w, *ln2_b;
    rg_tensor *qkv_w, *qkv_b, *proj_w, *proj_b;
    rg_tensor *fc1_w, *fc1_b, *fc2_w, *fc2_b;
    rg_tensor *sp[RG_SCHEME_PARAMS]; /* the scheme's own, in its declaration order */
} rg_layer;

typedef struct rg_model {
    rg_model_config cfg; /* the hyperparameters it was built from          */
    int V, dh;           /* vocabulary size, head size                     */
    int n_params;
    rg_param *params;
    long n_values; /* total number of parameter values                      */
    real *values, *grads;
    rg_tensor *tok_emb, *lm_head, *lnf_w, *lnf_b;
    rg_tensor *abacus_emb; /* [abacus_max, d] with cfg.abacus > 0, else NULL */
    /* tables a scheme shares across layers (e.g. a bias table), by scheme id */
    rg_tensor *shared[RG_MAX_SCHEMES][RG_SCHEME_PARAMS];
    rg_layer *layers;
    bool unfused_attention; /* build attention from the separate ops (the
                               reference the fused kernel is tested against) */
} rg_model;

/* Build the parameter list for mc and initialise: normal(0, init_std) for
 * weights, zeros for biases, ones for LayerNorm gains, each scheme's own
 * constants for its parameters. 0 or 2 (err: mc is invalid). */
int rg_model_init(rg_model *m, const rg_model_config *mc, uint64_t seed, rg_error *err);
void rg_model_free(rg_model *m);
void rg_model_zero_grad(rg_model *m);
/* The parameter with this name, or NULL. */
rg_param *rg_model_param(rg_model *m, const char *name);

/* ---- segment memory (recurrence over segments, Dai et al. 2019) ----------------
 * Per layer, the last `len` (<= mem_len) inputs of that layer, [B, len, d],
 * carried from one segment to the next without gradient, with the absolute
 * positions those rows had. */
typedef struct rg_memory {
    int n_layers, B, cap, d; /* cap = mem_len                     */
    int len;                 /* rows currently held (0 at start)  */
    real *data;              /* [n_layers, B, cap, d]             */
    int *pos;                /* [B, cap] positions of the rows    */
} rg_memory;

void rg_memory_init(rg_memory *mem, const rg_model *m, int B);
void rg_memory_free(rg_memory *mem);
void rg_memory_clear(rg_memory *mem); /* len = 0 (start of new sequences) */

/* ---- forward ------------------------------------------------------------------
 * tokens [B,T] of the current segment at absolute positions pos [B,T]
 * (strictly increasing along t, unless every layer's scheme reads positions
 * one at a time: RG_SCHEME_ANY_ORDER, as coupled positions need), or, with
 * pos NULL, offset + t in every row. abacus [B,T]: the tokens' abacus ids
 * (the batch's, shifted in training) for a model with an abacus embedding;
 * NULL: computed from these tokens without a shift (rg_abacus_ids), or none
 * when the model has no abacus embedding (ids given to such a model are an
 * error). With mem (may be NULL), layer l attends to its memory first, and
 * mem is updated to the last mem_len rows afterwards. Returns logits
 * [B,T,V]. */
rg_tensor *rg_model_forward(rg_ctx *ctx, rg_model *m, const int *tokens, const int *pos,
                            const int *abacus, int B, int T, int offset, rg_memory *mem);

/* rg_model_forward without memory (offset 0) that also copies each layer's
 * attention probabilities into probs [n_layers, B, H, T, T] (owned by the
 * caller): row i of block (l, b, h) is query i's probabilities over keys
 * 0..T-1, exactly 0 where it sees nothing (keys after it in a decoder, an
 * encoder's PAD keys). The same forward, through the same kernel (its
 * optional probability output, as the key/value cache's probs uses it):
 * the logits are those of rg_model_forward. relgrad attention reads an
 * encoder's maps with it (a decoder's come from the cache). Needs the fused
 * kernel (m->unfused_attention false). */
rg_tensor *rg_model_forward_probs(rg_ctx *ctx, rg_model *m, const int *tokens, const int *pos,
                                  const int *abacus, int B, int T, real *probs);

/* Masked mean cross-entropy of logits against targets (SPEC section 1). */
rg_tensor *rg_model_loss(rg_ctx *ctx, rg_tensor *logits, const int *targets, const real *mask);

/* Forward over a whole sequence, split into segments of segment_len tokens
 * with memory carried between them when mem_len > 0 (the memory starts
 * empty), else one pass. pos and abacus as for rg_model_forward (pos NULL:
 * 0..T-1; abacus NULL: computed over the whole sequence, so a run of digits
 * may cross segments). Returns logits [B,T,V] for all T tokens. */
rg_tensor *rg_model_forward_seq(rg_ctx *ctx, rg_model *m, const int *tokens, const int *pos,
                                const int *abacus, int B, int T);

/* ---- incremental decoding with a key/value cache ---------------------------------- */

/* Keys and values of every token fed so far, per layer, with their
 * positions: decoding is the model's forward (the same blocks as training)
 * over the new tokens, whose attention reads the cached keys before them.
 * With segment recurrence (mem_len M, segment_len S) the query of token t
 * sees keys from floor(t/S)*S - M to t, exactly the window segment-wise
 * processing gives it, so decoding matches rg_model_forward_seq. The
 * schemes' options may differ from the model's (evaluation may change those
 * that the key table marks RG_KEY_EVAL). */
struct rg_kept_tables;
typedef struct rg_kv_cache {
    int n_layers, B, cap, H, dh;
    int len;                       /* tokens cached so far                          */
    real *k, *v;                   /* [n_layers, B, H, cap, dh] (k after rotation)  */
    real *k_t;                     /* [n_layers, B, H, cap/RG_KT_TILE (rounded up),
                                      dh, RG_KT_TILE]: k transposed in tiles, for
                                      the attention kernel's products (ops.h)      */
    int *pos;                      /* [B, cap] positions of the cached tokens       */
    int *abacus_run;               /* [B] digits in a row at each row's end (the
                                      abacus id of a next digit is one more)     */
    bool pos_shared;               /* every row's positions are the same so far     */
    rg_scheme_opts opts;           /* the options decoding uses                     */
    struct rg_kept_tables *tables; /* [n_layers]: each layer's scheme tables, made
                                      once and kept between calls              */
    const struct rg_model *model;  /* the model it was made for                     */
    /* optional, owned by the caller: [n_layers, B, H, cap, cap]; when set,
     * decoding writes the attention probabilities of the token at index t
     * (over keys 0..cap-1, zero outside its window) into row t of each
     * (layer, b, h) block (relgrad attention) */
    real *probs;
} rg_kv_cache;

/* opts NULL: the model's own. */
void rg_kv_cache_init(rg_kv_cache *kv, const rg_model *m, int B, int cap,
                      const rg_scheme_opts *opts);
void rg_kv_cache_free(rg_kv_cache *kv);
/* Feed tokens [B, n] at positions pos [B, n] (NULL: kv->len + i) without
 * gradient and return the logits of the last one, [B, V]. With an abacus
 * embedding, each new token's abacus id comes from the token history
 * without a shift (the cache keeps each row's current run of digits), so
 * greedy decoding of digits gets the ids a forward over the whole sequence
 * computes. */
rg_tensor *rg_model_decode(rg_ctx *ctx, rg_model *m, rg_kv_cache *kv, const int *tokens,
                           const int *pos, int n);
/* The same, returning the logits of all n fed tokens, [B, n, V]: a
 * teacher-forced pass whose memory grows linearly with the sequence. */
rg_tensor *rg_model_decode_all(rg_ctx *ctx, rg_model *m, rg_kv_cache *kv, const int *tokens,
                               const int *pos, int n);

#endif
