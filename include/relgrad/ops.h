/* ops.h: differentiable operations.
 *
 * Every op takes the context first, allocates its output from the arena,
 * checks shapes (dying with a message that names the op and both shapes),
 * and records a tape node when a gradient is needed. Each op's forward and
 * backward sit side by side in one src/ops_*.c file, with the derivation in a
 * comment, and each has a float64 finite-difference check in
 * tests/test_gradcheck.c.
 *
 * Shape notation: B batch, T time, H heads, D head size, C channels.
 */
#ifndef RELGRAD_OPS_H
#define RELGRAD_OPS_H

#include "relgrad/tape.h"

/* ---- linear algebra (src/ops_matmul.c, BLIS) ---------------------------- */

/* y = x W^T + b. x [..., in], W [out, in], b [out] or NULL -> [..., out]. */
rg_tensor *rg_linear(rg_ctx *ctx, rg_tensor *x, rg_tensor *W, rg_tensor *b);

/* Batched matrix product over the last two dims: op(a) [..., m, k] times
 * op(b) [..., k, n] -> [..., m, n], where op transposes when ta/tb is set
 * (by strides, never by a copy). The leading dims of a and b are equal, or
 * b has 1 in dim 0 and is shared across a's first dim ([B,H,..] x [1,H,..]). */
rg_tensor *rg_matmul(rg_ctx *ctx, rg_tensor *a, rg_tensor *b, bool ta, bool tb);

/* ---- elementwise (src/ops_elementwise.c) -------------------------------- */

rg_tensor *rg_add(rg_ctx *ctx, rg_tensor *a, rg_tensor *b); /* same shape */
rg_tensor *rg_mul(rg_ctx *ctx, rg_tensor *a, rg_tensor *b); /* same shape */
rg_tensor *rg_scale(rg_ctx *ctx, rg_tensor *x, real s);     /* s * x      */
/* x [..., n] + b [n], b broadcast over all leading dims. */
rg_tensor *rg_bias_add(rg_ctx *ctx, rg_tensor *x, rg_tensor *b);
/* x [B, ...] + y [...]: y broadcast over the first dim (a per-head bias
 * [H,Tq,Tk] added to scores [B,H,Tq,Tk]). */
rg_tensor *rg_add_bcast(rg_ctx *ctx, rg_tensor *x, rg_tensor *y);
/* x [B,H,T,D] + u [H,D]: u broadcast over B and T (Transformer-XL's u, v). */
rg_tensor *rg_add_head_bias(rg_ctx *ctx, rg_tensor *x, rg_tensor *u);
/* Exact GELU: x * 0.5 * (1 + erf(x / sqrt 2)). */
rg_tensor *rg_gelu(rg_ctx *ctx, rg_tensor *x);

/* ---- normalisation and losses (src/ops_norm.c, src/ops_loss.c) ---------- */

/* LayerNorm over the last dim: g * (x - mean) / sqrt(var + 1e-5) + b,
 * population variance. x [..., C], g [C], b [C]. */
rg_tensor *rg_layernorm(rg_ctx *ctx, rg_tensor *x, rg_tensor *g, rg_tensor *b);

/* Softmax over the last dim of x [..., Tq, Tk] with a causal mask: row i keeps
 * columns j <= i + diag and gives the rest probability 0. diag = Tk - Tq puts
 * the queries at the end of the keys (memory first); a large diag disables
 * the mask. */
rg_tensor *rg_softmax_causal(rg_ctx *ctx, rg_tensor *x, int diag);

/* Masked mean cross-entropy fused with log-softmax:
 * sum_n mask[n] * (logsumexp(logits[n]) - logits[n, targets[n]]) / sum mask.
 * logits [N, V] (or [B,T,V]), targets and mask have N entries. -> [1] */
rg_tensor *rg_cross_entropy(rg_ctx *ctx, rg_tensor *logits, const int *targets, const real *mask);

/* ---- indexing and shapes (src/ops_shape.c) ------------------------------ */

/* Rows of table [V, C] picked by idx[0..n-1] -> [n, C]; backward scatter-adds. */
rg_tensor *rg_embedding(rg_ctx *ctx, rg_tensor *table, const int *idx, int n);
/* Same data, new shape (same size). */
rg_tensor *rg_reshape(rg_ctx *ctx, rg_tensor *x, int ndim, const int *shape);
/* Columns col0 .. col0 + H*D - 1 of x [B,T,C], split into heads -> [B,H,T,D].
 * With col0 = 0, d, 2d this takes q, k, v out of a fused qkv projection. */
rg_tensor *rg_split_heads(rg_ctx *ctx, rg_tensor *x, int col0, int H, int D);
/* [B,H,T,D] -> [B,T,H*D]. */
rg_tensor *rg_merge_heads(rg_ctx *ctx, rg_tensor *x);
/* Along dim 1: a [B,T1,...] and b [B,T2,...] -> [B,T1+T2,...]. */
rg_tensor *rg_concat_time(rg_ctx *ctx, rg_tensor *a, rg_tensor *b);
/* Along dim 1: x [B,T,...] -> [B, t1 - t0, ...]. */
rg_tensor *rg_slice_time(rg_ctx *ctx, rg_tensor *x, int t0, int t1);

/* ---- fused attention (src/ops_attention.c) ------------------------------ */

/* Per (batch, head): O = softmax_causal(scale * q k^T + E, diag) v, with
 * q [B,H,T,D], k and v [B,H,Tk,D], E NULL or extra scores [B or 1,H,T,Tk]
 * (added unscaled; [1,...] is shared by the batch). -> O [B,H,T,D]. The
 * same result as the unfused ops, without their intermediates, skipping
 * the work the causal mask hides. */
rg_tensor *rg_attention_core(rg_ctx *ctx, rg_tensor *q, rg_tensor *k, rg_tensor *v, rg_tensor *E,
                             real scale, int diag);

/* ---- positional pieces (src/ops_position.c) ----------------------------- */

/* RoPE: rotate pairs (2m, 2m+1) of each head of x [B,H,T,D] by the angle
 * (pos0 + t) * base^(-2m/D) / scale. */
rg_tensor *rg_rope(rg_ctx *ctx, rg_tensor *x, int pos0, real base, real scale);

/* Gather along the last dim by a relative index table:
 *   transpose = false: out[..., i, j] = x[..., i, idx[i*Tk + j]]   x [..., Tq, R]
 *   transpose = true:  out[..., i, j] = x[..., j, idx[i*Tk + j]]   x [..., Tk, R]
 * out [..., Tq, Tk]; an index < 0 gives 0 (masked). Backward scatter-adds.
 * Transformer-XL's relative term and DeBERTa's c2p / p2c terms use it. */
rg_tensor *rg_rel_gather(rg_ctx *ctx, rg_tensor *x, const int *idx, int Tq, int Tk, bool transpose);

/* Per-head bias from a table by bucket: out[h, i, j] = table[bucket[i*Tk + j], h]
 * for table [nb, H] -> [H, Tq, Tk]; bucket < 0 gives 0. (T5's relative bias.) */
rg_tensor *rg_bucket_bias(rg_ctx *ctx, rg_tensor *table, const int *bucket, int Tq, int Tk);

#endif
