/* nn_internal.h: what model.c, attention.c and decode.c share. */
#ifndef RELGRAD_NN_INTERNAL_H
#define RELGRAD_NN_INTERNAL_H

#include "relgrad/nn.h"
#include "schemes/scheme.h"

/* Multi-head causal self-attention of layer l in training: a = LN1(concat(mem, h))
 * [B, M+T, d] -> output projection [B, T, d]. pos: the call's positions. */
rg_tensor *rg_attention(rg_ctx *ctx, rg_model *m, int l, const rg_attn_pos *pos, rg_tensor *a,
                        int M);

/* The scheme call of layer l, with the defaults (content query q, scale
 * 1/sqrt(dh), no terms); the caller fills in keys and persist. */
rg_scheme_call rg_scheme_call_for(rg_ctx *ctx, const rg_model *m, const rg_scheme_opts *opts, int l,
                                  const rg_attn_pos *pos, rg_tensor *q, int Tk, int diag);

/* h + ape(positions) when the model's scheme is absolute; else h. h [B,T,d];
 * positions pos[b * pos_stride + t]. */
rg_tensor *rg_add_position_embedding(rg_ctx *ctx, const rg_model *m, const rg_scheme_opts *opts,
                                     rg_tensor *h, const int *pos, long pos_stride);

/* The MLP half of a block: h + fc2(GELU(fc1(LN(h; ln2)))). h [B,T,d]. */
rg_tensor *rg_mlp_block(rg_ctx *ctx, rg_layer *L, rg_tensor *h);

/* The largest p_i - p_j over visible pairs: query i sees keys from lo[i]
 * (NULL: 0). */
int rg_max_distance(const rg_attn_pos *p, int B, int T, const int *lo);

#endif
