/* tape.h: reverse-mode autograd on a tape.
 *
 * The idea in one paragraph (as in micrograd): every op, called in forward
 * order, appends a node that knows its inputs, its output, the values it saved
 * and a local backward function. rg_backward(loss) seeds d loss/d loss = 1 and
 * walks the nodes newest first; each node reads its output's gradient and adds
 * its contribution into its inputs' gradients. Because contributions are
 * added, a value used twice receives both. Parameter gradients live with the
 * model and keep accumulating until zeroed (rg_model_zero_grad).
 *
 * Nodes come from the arena and are linked to their predecessor, so the tape
 * needs no growing array and costs nothing to reset.
 */
#ifndef RELGRAD_TAPE_H
#define RELGRAD_TAPE_H

#include "relgrad/tensor.h"

#define RG_MAX_INPUTS 8

struct rg_node;
typedef void (*rg_backward_fn)(rg_ctx *ctx, struct rg_node *node);

/* What made a node: one value per op of ops.h, and RG_OP_SCHEME for an op a
 * positional scheme brings itself (e.g. FIRE's fire_bias), whose node's `op`
 * string names it. Code that must tell nodes apart (tools that draw the
 * tape, tests) compares kinds, not names or backward functions. */
typedef enum rg_op_kind {
    RG_OP_LINEAR,
    RG_OP_MATMUL,
    RG_OP_ADD,
    RG_OP_MUL,
    RG_OP_SCALE,
    RG_OP_BIAS_ADD,
    RG_OP_ADD_BCAST,
    RG_OP_ADD_HEAD_BIAS,
    RG_OP_GELU,
    RG_OP_LAYERNORM,
    RG_OP_SOFTMAX_MASKED,
    RG_OP_CROSS_ENTROPY,
    RG_OP_EMBEDDING,
    RG_OP_RESHAPE,
    RG_OP_SPLIT_HEADS,
    RG_OP_MERGE_HEADS,
    RG_OP_CONCAT_TIME,
    RG_OP_SLICE_TIME,
    RG_OP_ROTATE_PAIRS,
    RG_OP_ATTENTION_CORE,
    RG_OP_SCORE_TERMS,
    RG_OP_SCHEME, /* a scheme's own op: node->op names it */
    RG_OP_KIND_COUNT
} rg_op_kind;

/* The name of a kind, as its nodes' `op` ("linear", "softmax_masked", ...;
 * "scheme" for RG_OP_SCHEME, whose nodes carry their own name); "?" out of
 * range. */
const char *rg_op_kind_name(rg_op_kind kind);

typedef struct rg_node {
    struct rg_node *prev;    /* previous node in forward order          */
    rg_op_kind kind;         /* which op recorded it                    */
    const char *op;          /* op name, for errors and debugging       */
    rg_backward_fn backward; /* adds out->grad's contributions to inputs */
    rg_tensor *out;
    rg_tensor *in[RG_MAX_INPUTS]; /* inputs, in the op's argument order     */
    int n_in;
    void *saved;      /* op-specific saved values (arena)        */
    int iarg[4];      /* small integer arguments                 */
    real rarg[2];     /* small real arguments                    */
    rg_origin origin; /* ctx->origin when it was recorded     */
} rg_node;

/* True when an op with these inputs must be recorded: grad mode is on and at
 * least one input requires a gradient. */
bool rg_needs_grad(const rg_ctx *ctx, rg_tensor *const *inputs, int n);

/* Record a node of a built-in op `kind` (named rg_op_kind_name(kind)) for
 * `out` (and mark out->requires_grad). Returns the node so the op can fill
 * saved/iarg/rarg. All inputs are stored (their values stay valid for the
 * step); a backward function adds into input i only when
 * rg_wants_grad(node, i). */
rg_node *rg_record(rg_ctx *ctx, rg_op_kind kind, rg_backward_fn backward, rg_tensor *out,
                   rg_tensor *const *inputs, int n);
/* The same for a positional scheme's own op: kind RG_OP_SCHEME, named `op`
 * (a string that outlives the step, e.g. a literal). */
rg_node *rg_record_scheme_op(rg_ctx *ctx, const char *op, rg_backward_fn backward, rg_tensor *out,
                             rg_tensor *const *inputs, int n);

static inline bool rg_wants_grad(const rg_node *node, int i) {
    return node->in[i] && node->in[i]->requires_grad;
}

/* Backpropagate from a scalar (size-1) tensor. Call it once per step (per
 * rg_ctx_reset): activation gradients persist on the tape, so a second call
 * would add them again. */
void rg_backward(rg_ctx *ctx, rg_tensor *loss);
/* Backpropagate from any tensor, seeding its gradient with `seed` (same size):
 * a vector-Jacobian product. Gradient checks use it. */
void rg_backward_seeded(rg_ctx *ctx, rg_tensor *out, const real *seed);

/* Set the origin later nodes are recorded under; returns the previous one
 * so calls nest:  rg_origin was = rg_set_origin(ctx, o); ... rg_set_origin(ctx, was); */
rg_origin rg_set_origin(rg_ctx *ctx, rg_origin origin);

/* Grad mode. Returns the previous setting so calls can nest:
 *   bool was = rg_set_no_grad(ctx, true); ... rg_set_no_grad(ctx, was); */
bool rg_set_no_grad(rg_ctx *ctx, bool no_grad);

#endif
