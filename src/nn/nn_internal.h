/* nn_internal.h: what the model (model.c), the one block (block.c) and the
 * key/value cache (cache.c) share. */
#ifndef RELGRAD_NN_INTERNAL_H
#define RELGRAD_NN_INTERNAL_H

#include "relgrad/nn.h"
#include "schemes/scheme.h"

/* What the blocks of one forward share: where the queries and keys sit, which
 * keys each query sees, and where keys before the current rows come from:
 *   training      keys = the current rows (M = 0, no cache), or the layer's
 *                 segment memory rows, then the current rows (mem, M > 0);
 *   decoding      keys = the cache's p0 rows, then the current rows (kv). */
typedef struct rg_fwd {
    const rg_attn_pos *pos;     /* queries [B,T] and every key [B, M + p0 + T]  */
    rg_attn_mask mask;          /* diag = M + p0; decoders' windows; PAD keys      */
    const rg_scheme_opts *opts; /* the schemes' options (evaluation may change some) */
    rg_memory *mem;             /* segment memory, or NULL                          */
    int M;                      /* memory rows in front of the current ones         */
    rg_kv_cache *kv;            /* key/value cache, or NULL                          */
    int p0;                     /* tokens the cache held before this call           */
    /* without memory or cache: where each layer's attention probabilities
     * go, [n_layers, B, H, T, T] (rg_model_forward_probs), or NULL */
    real *probs;
    /* each scheme's table kept for the forward's other layers ([RG_MAX_SCHEMES],
     * zeroed at the forward's start; scheme.h: rg_fwd_memo) */
    rg_fwd_memo *memo;
} rg_fwd;

/* One Transformer block, the only one (SPEC section 1), for training,
 * teacher-forced evaluation and cached decoding alike:
 *     h' = h + Attn(LN1(rows)),   rows = concat(memory, h) or h
 *     out = h' + fc2(GELU(fc1(LN2(h'))))
 * h (B,T,d) -> (B,T,d). With segment memory, the layer's memory is read and
 * replaced by the last mem_len rows; with a cache, the new keys and values
 * are appended to it. */
rg_tensor *rg_block(rg_ctx *ctx, rg_model *m, int l, rg_tensor *h, const rg_fwd *f);

/* Layer l's memory as an arena tensor [B, len, d] (a copy: the memory is
 * overwritten with the new rows while this step's tape still exists), and
 * the new memory: the last min(cap, rows) rows of c [B, rows, d]. */
rg_tensor *rg_memory_rows(rg_ctx *ctx, const rg_memory *mem, int l);
void rg_memory_keep(rg_memory *mem, int l, const rg_tensor *c);

/* The smallest and largest p_i - p_j over the pairs j <= i + diag (those
 * key_lo and key_end hide included: a score term's backward may visit them),
 * for B batch rows, T queries and Tk keys: into pos->min_dist,
 * pos->max_dist (0, 0 when there is no pair). */
void rg_attn_pos_limits(rg_attn_pos *pos, const rg_attn_mask *mask, int B, int T, int Tk);

/* ---- the key/value cache (cache.c) ------------------------------------------ */

/* Append layer l's new keys and values k, v (B,H,n,dh) at rows p0 .. p0+n-1
 * (keys also to the transposed copy), and return the layer's whole cache as
 * (no-grad) tensors [B,H,cap,dh], with the kernel options that point at its
 * transposed keys and, when wanted, its probability output. */
void rg_kv_append(rg_ctx *ctx, rg_kv_cache *kv, int l, const rg_tensor *k, const rg_tensor *v,
                  int p0, rg_tensor **K, rg_tensor **V, rg_attn_opts *o);

/* Layer l's scheme tables covering call->pos's distances: those the cache
 * keeps when they cover them, else made anew (without gradient, for a wider
 * range) and kept. out[] gets arena headers over the kept values;
 * call->tables and call->table_lo are set. */
void rg_kv_tables(rg_kv_cache *kv, int l, const rg_scheme *s, rg_scheme_call *call,
                  rg_tensor **out);

#endif
