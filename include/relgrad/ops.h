/* ops.h: differentiable operations.
 *
 * Every op takes the context first, allocates its output from the arena,
 * checks shapes (dying with a message that names the op and both shapes),
 * and records a tape node when a gradient is needed. Each op's forward and
 * backward sit side by side in one src/ops/ file, with the derivation in a
 * comment, and each has a finite-difference check: a case of
 * src/check/op_cases.c (below), run at many sizes by tests/test_gradcheck.c.
 *
 * Shape notation: B batch, T time, H heads, D head size, C channels.
 */
#ifndef RELGRAD_OPS_H
#define RELGRAD_OPS_H

#include "relgrad/tape.h"

/* ---- linear algebra (src/ops/matmul.c, BLIS) ---------------------------- */

/* y = x W^T + b. x [..., in], W [out, in], b [out] or NULL -> [..., out]. */
rg_tensor *rg_linear(rg_ctx *ctx, rg_tensor *x, rg_tensor *W, rg_tensor *b);

/* Batched matrix product over the last two dims: op(a) [..., m, k] times
 * op(b) [..., k, n] -> [..., m, n], where op transposes when ta/tb is set
 * (by strides, never by a copy). The leading dims of a and b are equal, or
 * b has 1 in dim 0 and is shared across a's first dim ([B,H,..] x [1,H,..]). */
rg_tensor *rg_matmul(rg_ctx *ctx, rg_tensor *a, rg_tensor *b, bool ta, bool tb);

/* ---- elementwise (src/ops/elementwise.c) -------------------------------- */

rg_tensor *rg_add(rg_ctx *ctx, rg_tensor *a, rg_tensor *b); /* same shape */
rg_tensor *rg_mul(rg_ctx *ctx, rg_tensor *a, rg_tensor *b); /* same shape */
rg_tensor *rg_scale(rg_ctx *ctx, rg_tensor *x, real s);     /* s * x      */
/* x [..., n] + b [n], b broadcast over all leading dims. */
rg_tensor *rg_bias_add(rg_ctx *ctx, rg_tensor *x, rg_tensor *b);
/* x [B, ...] + y [...]: y broadcast over the first dim (a per-head bias
 * [H,Tq,Tk] added to scores [B,H,Tq,Tk]). */
rg_tensor *rg_add_bcast(rg_ctx *ctx, rg_tensor *x, rg_tensor *y);
/* x [B,H,T,D] + u [H,D]: u broadcast over B and T (a learned per-head query bias). */
rg_tensor *rg_add_head_bias(rg_ctx *ctx, rg_tensor *x, rg_tensor *u);
/* Exact GELU: x * 0.5 * (1 + erf(x / sqrt 2)). */
rg_tensor *rg_gelu(rg_ctx *ctx, rg_tensor *x);

/* ---- normalisation and losses (src/ops/norm.c, src/ops/loss.c) ---------- */

/* LayerNorm over the last dim: g * (x - mean) / sqrt(var + 1e-5) + b,
 * population variance. x [..., C], g [C], b [C]. */
rg_tensor *rg_layernorm(rg_ctx *ctx, rg_tensor *x, rg_tensor *g, rg_tensor *b);

/* Softmax over the last dim of x [B, ..., Tq, Tk] with an attention mask
 * (rg_attn_mask below): row i of batch row b keeps the visible columns and
 * gives the rest probability 0. diag = Tk - Tq puts the queries at the end
 * of the keys (memory first); diag >= Tk with key_end is an encoder's mask. */
struct rg_attn_mask;
rg_tensor *rg_softmax_masked(rg_ctx *ctx, rg_tensor *x, const struct rg_attn_mask *mask);

/* Masked mean cross-entropy fused with log-softmax:
 * sum_n mask[n] * (logsumexp(logits[n]) - logits[n, targets[n]]) / sum mask.
 * logits [N, V] (or [B,T,V]), targets and mask have N entries. -> [1] */
rg_tensor *rg_cross_entropy(rg_ctx *ctx, rg_tensor *logits, const int *targets, const real *mask);

/* ---- indexing and shapes (src/ops/shape.c) ------------------------------ */

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

/* ---- attention (src/ops/attention_core.c) ------------------------------------
 *
 * One attention call: queries i = 0..T-1, keys j = 0..Tk-1 (memory or cache
 * first), per (batch row b, head h):
 *   S[i,j] = scale * q_i . k_j + (each score term)(b, h, i, j)
 *   P      = softmax over the keys j visible from i (rg_attn_mask)
 *   O      = P v
 *
 * Positions are data (SPEC section 6): query i of row b sits at absolute
 * position q[b * q_stride + i] and key j at k[b * k_stride + j]; strides are
 * 0 when every row has the same positions. Score terms read them; the mask
 * does not (it goes by index). */

typedef struct rg_attn_pos {
    const int *q, *k;
    long q_stride, k_stride; /* per batch row; 0 = shared by the batch          */
    int min_dist, max_dist;  /* smallest and largest p_i - p_j over the pairs j <= i + diag */
} rg_attn_pos;

/* Query position i (of row b) and key position j. */
static inline int rg_qpos(const rg_attn_pos *p, int b, int i) {
    return p->q[b * p->q_stride + i];
}
static inline int rg_kpos(const rg_attn_pos *p, int b, int j) {
    return p->k[b * p->k_stride + j];
}

/* Which keys a query sees. Key j is visible from query i of batch row b when
 *     key_lo[i] <= j     (key_lo NULL: from 0; a decoder's window under recurrence)
 *     j <= i + diag      (causal with memory first: diag = keys before the queries;
 *                         an encoder sees every key: diag >= Tk)
 *     j <  key_end[b]    (key_end NULL: every key; an encoder's PAD keys excluded)
 * Windows only move right as i grows. */
typedef struct rg_attn_mask {
    int diag;
    const int *key_lo;  /* [T] or NULL */
    const int *key_end; /* [B] or NULL */
} rg_attn_mask;

/* Queries per block of the kernel: a term's `add` never sees more rows. */
#define RG_ATTN_BLOCK 32
/* Keys per tile of a key/value cache's transposed keys (rg_attn_opts.k_t). */
#define RG_KT_TILE 128

/* A block of score rows handed to a term: rows i0 .. i0+n-1 of (b, h); row r
 * sees keys [lo[r], hi[r]); its scores are S[r * ld + j]. */
typedef struct rg_term_block {
    int b, h, i0, n;
    const int *lo, *hi;
    real *S;
    long ld;
    void *scratch; /* the term's own per-thread scratch (scratch_bytes) */
} rg_term_block;

/* A score term: what a positional scheme adds to S, computed inside the
 * attention kernel one block of rows at a time (so no [B,H,T,Tk] tensor is
 * formed for it), and its backward. The kernel's tape node lists the term's
 * inputs, so backward reaches the tensors they came from. */
typedef struct rg_term rg_term;
struct rg_term {
    const char *name;
    /* optional: once per (b, h) before its blocks, e.g. a per-key table */
    void (*begin)(const rg_term *t, int b, int h, void *scratch);
    void (*add)(const rg_term *t, const rg_term_block *blk);
    /* gradients of the inputs from dS [B,H,T,Tk] (zero where masked: a
     * backward may loop over j <= i + diag and add the zeros);
     * NULL when the term has no inputs that need one */
    void (*backward)(rg_ctx *ctx, const rg_term *t, const real *dS);
    /* optional: the same backward from one block of dS rows at a time
     * (blk->S holds dS of rows i0.., nonzero only in [lo[r], hi[r])), with
     * grads[k] the gradient of in[k] (NULL: none wanted). The kernel calls
     * it for every (b, h) in order of b, rows in order, and gives one
     * thread all of a head's blocks, so a term that adds into per-head
     * entries makes the additions `backward` would, in its order, and
     * needs no dS [B,H,T,Tk] kept. */
    void (*backward_rows)(const rg_term *t, const rg_term_block *blk, real *const *grads);
    size_t scratch_bytes; /* per thread                               */
    rg_tensor *in[4];     /* inputs backward adds gradients into      */
    int n_in;
    int B, H, T, Tk, diag; /* the call's shape (set by the scheme)      */
    void *data;            /* the term's own state                     */
};

/* What a call may ask of the kernel besides its mask. */
typedef struct rg_attn_opts {
    rg_attn_mask mask;
    /* the keys also stored transposed, in tiles of RG_KT_TILE keys: key j
     * of (b, h) at k_t[bh * k_t_bh + (j / RG_KT_TILE) * D * RG_KT_TILE +
     * d * RG_KT_TILE + j % RG_KT_TILE] (a decoder's cache keeps them so:
     * the kernel then need not transpose the whole cache at every token, and
     * one query's scores read each tile as one contiguous run); NULL: the
     * kernel transposes what it reads */
    const real *k_t;
    long k_t_bh;
    /* a copy of the probabilities for tools that look at them (relgrad
     * attention): query row i of (b, h) gets P[i, 0..Tk-1] (zeros outside
     * its window) at probs + (b*H + h) * probs_bh + i * probs_ld; NULL: none */
    real *probs;
    long probs_bh, probs_ld;
} rg_attn_opts;

/* The fused attention op: q [B,H,T,D], k and v [B,H,Kc,D] -> O [B,H,T,D],
 * with the score terms above. The call's keys are the first
 * Tk = min(Kc, T + diag) rows of k and v (the rest, e.g. a key/value
 * cache's unused rows, is never read). Backward: dv = P^T dO, dP = dO v^T,
 * dS = P * (dP - rowsum(P * dP)), dq = scale dS k, dk = scale dS^T q, and
 * each term's backward from dS. Without a gradient to compute (no-grad, or
 * no input needs one) nothing of size [T,Tk] is kept: memory stays linear in
 * Tk. The terms must have been made for [B,H,T,Tk] and diag. */
rg_tensor *rg_attention_core(rg_ctx *ctx, rg_tensor *q, rg_tensor *k, rg_tensor *v, real scale,
                             const rg_attn_opts *opts, rg_term *const *terms, int n_terms);
/* The number of keys such a call attends over. */
static inline int rg_attn_keys(int T, int Kc, int diag) {
    long e = (long)T + diag;
    return e < Kc ? (int)(e < 0 ? 0 : e) : Kc;
}

/* The role of input i of a tape node made by rg_attention_core or
 * rg_score_terms: "q", "k", "v", or the name of the score term whose input
 * it is (rg_term.name); NULL for any other node. For tools that draw the tape. */
const char *rg_attention_input_role(const struct rg_node *node, int i);
/* The name of score term t of such a node (terms without inputs, such as a
 * fixed bias, have no edge of their own); NULL past the last or for any other
 * node. */
const char *rg_attention_term_name(const struct rg_node *node, int t);

/* Score terms as one dense tensor E [B,H,T,Tk] (zero where masked), for the
 * unfused reference path; backward runs the terms' backward on dE. */
rg_tensor *rg_score_terms(rg_ctx *ctx, rg_term *const *terms, int n_terms);

/* A precomputed bias E [B or 1, H, T, Tk] (1: shared by the batch) as a
 * score term. */
rg_term *rg_bias_term(rg_ctx *ctx, rg_tensor *E, int B, int diag);

/* ---- every op as a gradient check ----------------------------------------------
 * The finite-difference checker (src/check/: the test suite and `relgrad
 * gradcheck OP`) runs every op through one table of cases:
 * src/check/op_cases.c for the ops of this header, and each positional
 * scheme's own ops from the scheme's file (rg_scheme.op_cases), so an op and
 * its check sit together. */

/* Sizes and variants a case reads (each uses some; rg_op_sizes_defaults
 * fills every field, `relgrad gradcheck list` says which a case reads). */
typedef struct rg_op_sizes {
    int B, H, T, Tk, D, C, N, in, out, V;
    int diag;     /* keys before the queries; -1: Tk - T (with key_end: Tk, every key)  */
    int terms;    /* attention: 1 adds a bias term E                                    */
    int per_row;  /* attention: E [B,H,T,Tk] (else [1,H,T,Tk]); rotate_pairs: positions */
                  /* per batch row, with gaps (else 0..T-1 shared by the batch)         */
    int key_end;  /* attention, softmax: 1 = a per-row key count (an encoder's PAD keys) */
    int window;   /* attention, softmax: > 0 = each query sees its last `window` keys    */
    int batched;  /* linear, matmul, cross_entropy: 1 = leading batch dims (else 2-d)    */
    int ta, tb;   /* matmul: a, b transposed                                            */
    int bcast;    /* matmul: b [1,H,..] shared by a's first dim                         */
    int bias;     /* linear: with a bias b                                              */
    int cols;     /* split_heads: x's columns; 0: 3*H*D (a fused qkv)                   */
    int col0;     /* split_heads: first column taken; -1: H*D (the k columns)           */
    int t0;       /* slice_time: first row taken; -1: Tk - T (the last T)               */
    int base;     /* rotate_pairs: the angle base                                       */
    double scale; /* attention: scores' scale (0: 1/sqrt D); rotate_pairs: positions    */
                  /* divided by it (0: 1)                                               */
    uint64_t seed;
} rg_op_sizes;

/* One check being set up and run: the sizes (diag resolved to >= 0), the
 * inputs the case's setup makes (rg_tensor_random; the checker frees them
 * and the buffers below), and whatever the op needs besides its inputs. */
typedef struct rg_op_check {
    rg_op_sizes s;
    rg_tensor *x[RG_MAX_INPUTS];
    const char *names[RG_MAX_INPUTS];
    int *idx, *idx2; /* token ids, targets, positions, key windows (malloc'd, or NULL) */
    real *mask;      /* malloc'd, or NULL                                  */
    double h;        /* in: the checker's step; out: the case's own step   */
    char why[256];   /* why setup refused the sizes                        */
} rg_op_check;

typedef struct rg_op_case {
    const char *name, *summary; /* summary: inputs and the sizes it reads */
    /* make the inputs (x, names) from rng; returns how many, or -1 with why */
    int (*setup)(rg_op_check *c, rg_rng *rng);
    /* the op on the inputs; arg is the rg_op_check */
    rg_tensor *(*f)(rg_ctx *ctx, rg_tensor **x, void *arg);
} rg_op_case;

/* ---- position-dependent pieces (src/ops/position.c) --------------------------- */

/* Rotate pairs (2m, 2m+1) of each head's features of x [B,H,T,D] by the
 * angle pos * base^(-2m/D) / scale, where pos is the row's position
 * pos[b * pos_stride + t] (pos_stride 0: shared by the batch). */
rg_tensor *rg_rotate_pairs(rg_ctx *ctx, rg_tensor *x, const int *pos, long pos_stride, real base,
                           real scale);

#endif
