/* tape.c: recording nodes and walking them backwards. */
#include "relgrad/tape.h"

#include <string.h>

bool rg_needs_grad(const rg_ctx *ctx, rg_tensor *const *inputs, int n) {
    if (ctx->no_grad) return false;
    for (int i = 0; i < n; i++)
        if (inputs[i] && inputs[i]->requires_grad) return true;
    return false;
}

/* The names of the kinds: the op names nodes carry. */
static const char *const KIND_NAMES[] = {
    [RG_OP_LINEAR] = "linear",
    [RG_OP_MATMUL] = "matmul",
    [RG_OP_ADD] = "add",
    [RG_OP_MUL] = "mul",
    [RG_OP_SCALE] = "scale",
    [RG_OP_BIAS_ADD] = "bias_add",
    [RG_OP_ADD_BCAST] = "add_bcast",
    [RG_OP_ADD_HEAD_BIAS] = "add_head_bias",
    [RG_OP_GELU] = "gelu",
    [RG_OP_LAYERNORM] = "layernorm",
    [RG_OP_SOFTMAX_MASKED] = "softmax_masked",
    [RG_OP_CROSS_ENTROPY] = "cross_entropy",
    [RG_OP_EMBEDDING] = "embedding",
    [RG_OP_RESHAPE] = "reshape",
    [RG_OP_SPLIT_HEADS] = "split_heads",
    [RG_OP_MERGE_HEADS] = "merge_heads",
    [RG_OP_CONCAT_TIME] = "concat_time",
    [RG_OP_SLICE_TIME] = "slice_time",
    [RG_OP_ROTATE_PAIRS] = "rotate_pairs",
    [RG_OP_ATTENTION_CORE] = "attention_core",
    [RG_OP_SCORE_TERMS] = "score_terms",
    [RG_OP_SCHEME] = "scheme",
};
_Static_assert(sizeof KIND_NAMES / sizeof *KIND_NAMES == RG_OP_KIND_COUNT,
               "every rg_op_kind has a name");

const char *rg_op_kind_name(rg_op_kind kind) {
    return (int)kind >= 0 && (int)kind < RG_OP_KIND_COUNT && KIND_NAMES[kind] ? KIND_NAMES[kind]
                                                                              : "?";
}

/* A node of kind `kind` named `op`, linked at the head of the tape. */
static rg_node *record(rg_ctx *ctx, rg_op_kind kind, const char *op, rg_backward_fn backward,
                       rg_tensor *out, rg_tensor *const *inputs, int n) {
    if (n > RG_MAX_INPUTS) rg_die("%s: %d inputs recorded (max %d)", op, n, RG_MAX_INPUTS);
    rg_node *node = rg_arena_alloc(&ctx->arena, sizeof *node);
    memset(node, 0, sizeof *node);
    node->prev = ctx->tape;
    node->kind = kind;
    node->op = op;
    node->backward = backward;
    node->out = out;
    node->n_in = n;
    node->origin = ctx->origin;
    for (int i = 0; i < n; i++) node->in[i] = inputs[i];
    out->requires_grad = true;
    if (!out->name) out->name = op;
    ctx->tape = node;
    ctx->n_nodes++;
    return node;
}

rg_node *rg_record(rg_ctx *ctx, rg_op_kind kind, rg_backward_fn backward, rg_tensor *out,
                   rg_tensor *const *inputs, int n) {
    if ((int)kind < 0 || (int)kind >= RG_OP_KIND_COUNT || kind == RG_OP_SCHEME)
        rg_die("rg_record: kind %d is not a built-in op (a scheme's op records with "
               "rg_record_scheme_op)",
               (int)kind);
    return record(ctx, kind, rg_op_kind_name(kind), backward, out, inputs, n);
}

rg_node *rg_record_scheme_op(rg_ctx *ctx, const char *op, rg_backward_fn backward, rg_tensor *out,
                             rg_tensor *const *inputs, int n) {
    return record(ctx, RG_OP_SCHEME, op, backward, out, inputs, n);
}

void rg_backward(rg_ctx *ctx, rg_tensor *loss) {
    if (loss->size != 1) {
        char s[64];
        rg_die("backward: the loss must be a scalar, got shape %s",
               rg_shape_str(loss, s, sizeof s));
    }
    real one = 1;
    rg_backward_seeded(ctx, loss, &one);
}

void rg_backward_seeded(rg_ctx *ctx, rg_tensor *out, const real *seed) {
    if (!out->requires_grad) return; /* nothing upstream needs a gradient */
    real *g = rg_grad(ctx, out);
    for (long j = 0; j < out->size; j++) g[j] += seed[j];
    const rg_backward_observer *obs = &ctx->observer;
    for (rg_node *node = ctx->tape; node; node = node->prev) {
        if (!node->out->grad) continue; /* no gradient reached it: skip */
        if (obs->fn) obs->fn(obs->arg, ctx, node, false);
        node->backward(ctx, node);
        if (obs->fn) obs->fn(obs->arg, ctx, node, true);
    }
}

rg_origin rg_set_origin(rg_ctx *ctx, rg_origin origin) {
    rg_origin was = ctx->origin;
    ctx->origin = origin;
    return was;
}

bool rg_set_no_grad(rg_ctx *ctx, bool no_grad) {
    bool was = ctx->no_grad;
    ctx->no_grad = no_grad;
    return was;
}
