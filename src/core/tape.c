/* tape.c: recording nodes and walking them backwards. */
#include "relgrad/tape.h"

#include <string.h>

bool rg_needs_grad(const rg_ctx *ctx, rg_tensor *const *inputs, int n) {
    if (ctx->no_grad) return false;
    for (int i = 0; i < n; i++)
        if (inputs[i] && inputs[i]->requires_grad) return true;
    return false;
}

rg_node *rg_record(rg_ctx *ctx, const char *op, rg_backward_fn backward, rg_tensor *out,
                   rg_tensor *const *inputs, int n) {
    if (n > RG_MAX_INPUTS) rg_die("%s: %d inputs recorded (max %d)", op, n, RG_MAX_INPUTS);
    rg_node *node = rg_arena_alloc(&ctx->arena, sizeof *node);
    memset(node, 0, sizeof *node);
    node->prev = ctx->tape;
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
