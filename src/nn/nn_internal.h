/* model_internal.h: what model.c, attention.c and decode.c share. */
#ifndef RELGRAD_MODEL_INTERNAL_H
#define RELGRAD_MODEL_INTERNAL_H

#include "relgrad/nn.h"

/* Everything positional that one forward call needs, computed once and
 * shared by all layers: T queries at absolute positions offset..offset+T-1,
 * Tk = M + T keys at offset-M .. offset+T-1 (memory first). Index tables are
 * [T * Tk], -1 where the causal mask hides the key. */
typedef struct rg_positions {
    int T, M, Tk, offset;
    rg_tensor *alibi; /* alibi: [H, T, Tk] bias -s_h (i - j)               */
    int *t5_bucket;   /* t5: bucket of the distance                        */
    int *dist;        /* xl: distance i - j (row of the R table)           */
    rg_tensor *xl_e;  /* xl: [Tk, d] sinusoid rows e(n), n = 0..Tk-1       */
    int *c2p, *p2c;   /* deberta: rel(i,j) and rel(j,i) in 0..2K-1         */
} rg_positions;

void rg_positions_build(rg_ctx *ctx, const rg_model *m, rg_positions *pos, int T, int M,
                        int offset);

/* Multi-head causal self-attention of one layer: a = LN1(concat(mem, h))
 * [B, M+T, d] -> output projection [B, T, d]. */
rg_tensor *rg_attention(rg_ctx *ctx, rg_model *m, rg_layer *L, const rg_positions *pos,
                        rg_tensor *a);

/* The MLP half of a block: h + fc2(GELU(fc1(LN(h; ln2)))). h [B,T,d]. */
rg_tensor *rg_mlp_block(rg_ctx *ctx, rg_layer *L, rg_tensor *h);

/* Sinusoid of position p over d features (d even), w_m = 10000^(-2m/d):
 * interleaved [sin(p w_0), cos(p w_0), sin(p w_1), ...] (absolute sinusoidal
 * embedding) or sines first [sin(p w_0..), cos(p w_0..)] (Transformer-XL). */
void rg_sinusoid_row(int p, int d, real *out, bool interleaved);

#endif
