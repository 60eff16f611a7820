/* scheme.h: the interface every positional scheme implements.
 *
 * A scheme is one struct of hooks, defined in its own file (src/schemes/
 * <name>.c) and listed once in registry.c. Everything else (the config's key
 * table and messages, the parameter list, the one Transformer block that
 * training, evaluation and decoding share, dumps and checkpoints) asks the
 * registry, so a scheme is never written twice. A scheme contributes in up
 * to three ways:
 *
 *   embed    an absolute embedding ape(p) added to the token embeddings;
 *   rotate   a rotation of queries and keys by their positions, applied as
 *            they are made (a key/value cache holds keys rotated);
 *   scores   score terms for the fused attention kernel (ops.h: rg_term),
 *            and optionally another query or scale for the content term.
 *
 * Positions reach a scheme only as data (rg_attn_pos, or a [B,T] array for
 * embed and rotate); relative schemes read only differences p_i - p_j, which
 * are negative for keys after the query in an encoder. A scheme sees one
 * kind of call whoever makes it: queries, keys in one layout, positions,
 * and the position tables it asked for (`tables`), which the block computes
 * once per forward, or a key/value cache keeps between decoding calls.
 */
#ifndef RELGRAD_SCHEME_H
#define RELGRAD_SCHEME_H

#include "ops/ops_internal.h" /* rg_gemm */
#include "relgrad/nn.h"

#define RG_MAX_TERMS 2

/* The number of entries of a static array (a scheme's KEYS, OP_CASES). */
#define RG_COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* What validate sees: the model config, how far positions reach, and a way
 * to report an error against one of its keys (file:line of that key). */
typedef struct rg_scheme_check rg_scheme_check;
struct rg_scheme_check {
    const rg_model_config *mc;
    int positions_read;        /* positions 0 .. positions_read-1 may be read   */
    const char *positions_why; /* what reads the last one ("eval length 64 of task copy") */
    /* fail(chk, "key", "what is wrong; how to fix") returns 2 */
    int (*fail)(rg_scheme_check *chk, const char *key, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
    /* " (set at quick.ini:3)" or " (default)": where another key came from */
    const char *(*origin)(rg_scheme_check *chk, const char *key, char *buf, size_t n);
    void *ctx; /* for fail */
};

#define RG_MAX_TABLES 2

/* A table made from positions alone (no parameters, so no gradient), which
 * the scheme's tables hook may keep for the other layers of the same forward
 * that use the scheme: one per scheme and forward (rg_fwd), empty (t NULL)
 * at its start. xl keeps its sinusoids of the distances lo .. lo+rows-1 in
 * it, the same in every layer (sin and cos of up to 4095 distances a layer
 * with randomized positions). The hook checks lo and rows before reusing it. */
typedef struct rg_fwd_memo {
    int lo, rows;
    rg_tensor *t;
} rg_fwd_memo;

/* One layer's attention, as a scheme sees it. */
typedef struct rg_scheme_call {
    rg_ctx *ctx;
    const rg_model *m;
    const rg_scheme_opts *opts;
    int layer;
    const rg_attn_pos *pos;
    int B, H, T, Tk, dh, diag; /* queries T, keys Tk; the mask's diag (ops.h: rg_attn_mask) */
    rg_tensor *q;              /* [B,H,T,dh] (rotated, if the scheme rotates)              */
    rg_tensor *k;              /* [B,H,Kc,dh], Kc >= Tk: keys 0..Tk-1 (rotated); (b, h)
                                  blocks are Kc*dh values apart                             */
    rg_tensor *const *shared;  /* the scheme's model-wide parameters (m->shared[id])      */
    rg_tensor *const *params;  /* its parameters in this layer (layer->sp)                */
    rg_tensor *const *tables;  /* what its tables hook made, covering distances
                                  table_lo .. (row 0 of a distance table is table_lo)     */
    int table_lo;
    rg_fwd_memo *memo; /* this scheme's memo for the forward (never NULL)             */
    /* set by the scheme's scores hook (defaults: q, 1/sqrt(dh), no terms) */
    rg_tensor *q_content;
    real scale;
    rg_term *terms[RG_MAX_TERMS];
    int n_terms;
} rg_scheme_call;

/* How the whole-model gradient check treats one of a scheme's parameters. */
typedef enum {
    RG_CHECK_DIFF,      /* by finite differences, like every other parameter       */
    RG_CHECK_ZERO,      /* its gradient is zero by construction: checked to be ~0   */
    RG_CHECK_FINE_STEP, /* it moves the scheme's kinks: a step of 1e-4 (float64);
                           left out in float32, whose step cannot avoid them      */
} rg_check_rule;

enum {
    RG_SCHEME_RELATIVE = 1,      /* no absolute embedding: memory and per-layer lists allowed */
    RG_SCHEME_SHIFT_VARIANT = 2, /* relative, but scores change when all positions shift */
    RG_SCHEME_ANY_ORDER = 4,     /* reads each position on its own, never a distance between
                                    two: positions may repeat or go down (coupled positions) */
    RG_SCHEME_NO_POSITIONS = 8,  /* reads no pos_ids at all (randomizing them is pointless) */
};

typedef struct rg_scheme {
    const char *name;
    const char *summary; /* one line: what it does, who proposed it */
    unsigned flags;
    const rg_key_info *keys; /* its config keys (RG_KEY_SCHEME: offsets into rg_scheme_opts) */
    int n_keys;
    /* combination rules beyond each key's range; 0 or chk->fail(...) */
    int (*validate)(rg_scheme_check *chk);
    /* parameters: once per model when some layer uses the scheme (slot ->
     * m->shared[id]), and per layer that uses it (slot -> layer->sp) */
    void (*declare_shared)(rg_param_builder *pb, const rg_model_config *mc, rg_tensor **slot);
    void (*declare_layer)(rg_param_builder *pb, const rg_model_config *mc, int l, rg_tensor **slot);
    /* absolute schemes: ape(p) for tokens at pos [B,T] (pos_stride 0: every
     * row the same) -> [1 or B, T, d] */
    rg_tensor *(*embed)(rg_ctx *ctx, const rg_model_config *mc, rg_tensor *const *shared,
                        const int *pos, long pos_stride, int B, int T);
    /* rotary schemes: x [B,H,n,dh] at positions pos[b * pos_stride + i] */
    rg_tensor *(*rotate)(rg_ctx *ctx, const rg_scheme_opts *o, rg_tensor *x, const int *pos,
                         long pos_stride);
    /* position tables made from the parameters alone (a projected encoding
     * of each distance lo..hi; projected tables of clamped relative
     * positions), n_tables of them, through ops so gradients
     * reach the parameters. The block asks once per forward for the
     * distances *lo..*hi its pairs span; the tables may cover more, and say
     * so in *lo, *hi (INT_MIN, INT_MAX: every distance). A key/value cache
     * keeps them between decoding calls and asks again only for distances
     * they do not cover. call->q, k, tables and terms are not set yet. */
    int n_tables;
    void (*tables)(const rg_scheme_call *call, int *lo, int *hi, rg_tensor **out);
    /* score terms and content query/scale for one layer */
    void (*scores)(rg_scheme_call *call);

    /* ---- for gradient checks (src/check/) ---- */
    /* its own ops, each with its check case (ops.h: rg_op_case) */
    const rg_op_case *op_cases;
    int n_op_cases;
    /* before a whole-model check: move this layer's parameters (call->params)
     * off the points where the scheme's function has kinks for the pairs the
     * checked batch has (queries qpos [Bp,T], keys kpos [Bp,Tk], call's diag),
     * so that no step of size h crosses one. 0, or -1 with why. NULL: smooth. */
    int (*check_prepare)(const rg_scheme_call *call, const int *qpos, const int *kpos, int Bp,
                         double h, rg_rng *rng, char *why, size_t n);
    /* how the check treats its per-layer parameter in `slot` (NULL: all
     * RG_CHECK_DIFF) */
    rg_check_rule (*check_rule)(int slot);
} rg_scheme;

/* The registry (registry.c). */
const rg_scheme *rg_scheme_get(int id);

/* Helpers the schemes share (registry.c). */
/* A [rows, d] table projected by W [d, d] (y = x W^T) and split into heads:
 * [1, H, rows, dh], through ops (so gradients reach W and the table). */
rg_tensor *rg_project_heads(rg_ctx *ctx, rg_tensor *table, rg_tensor *W, int H, int dh);
/* A new term for this call, its shape filled in, from the arena. */
rg_term *rg_term_new(rg_scheme_call *call, const char *name, void *data);
/* Every row's query and key positions as dense arrays ([Bp,T] and [Bp,Tk]),
 * Bp = 1 when the positions are shared by the batch. */
int rg_dense_positions(rg_scheme_call *call, const int **qpos, const int **kpos);
/* The sinusoid of position p over d features (d even), from the frequencies
 * w [d/2] that rg_sinusoid_freqs fills (w_m = 10000^(-2m/d)): interleaved
 * [sin(p w_0), cos(p w_0), sin(p w_1), ...] or sines first [sin(p w_0..),
 * cos(p w_0..)] (sinusoidal.c). A table of rows computes w once: pow took
 * a fifth of a row's time (xl's tables with randomized positions). */
void rg_sinusoid_freqs(int d, double *w);
void rg_sinusoid_row(int p, int d, const double *w, real *out, bool interleaved);

#endif
