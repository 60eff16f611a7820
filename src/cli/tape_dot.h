/* tape_dot.h: a recorded tape as a Graphviz DOT graph (relgrad graph), and
 * the backward observer that measures what flows along each of its edges. */
#ifndef RELGRAD_CLI_TAPE_DOT_H
#define RELGRAD_CLI_TAPE_DOT_H

#include "relgrad/nn.h"

#include <stdio.h>

/* The tape's nodes in forward order, and (after a backward with the
 * observer below) the norm of the gradient each node sent to each input:
 * grad_norm[k * RG_MAX_INPUTS + i], -1 where none was sent. */
typedef struct rg_tape_view {
    int n;
    rg_node **nodes;   /* [n], forward order */
    double *grad_norm; /* [n * RG_MAX_INPUTS] */
    real **before;     /* observer scratch: the inputs' gradients before a node ran */
} rg_tape_view;

/* Collect ctx's tape (call after the forward, before backward). */
void rg_tape_view_init(rg_tape_view *v, const rg_ctx *ctx);
void rg_tape_view_free(rg_tape_view *v);
/* The observer to install (ctx->observer) for the backward whose edge
 * gradients should be measured. */
rg_backward_observer rg_tape_view_observer(rg_tape_view *v);

/* Write the tape as DOT: a node per tape node (named op0 .. op<n-1> in
 * forward order, labelled with its op and output shape), the model's
 * parameters and any constant inputs as nodes of their own, edges in data-flow
 * order (labelled with the attention kernel's roles q, k, v and its score
 * terms, and with gradient norms when with_grads), blocks as clusters, and
 * the positional scheme's ops and parameters in its colour. title goes on
 * top. Returns the number of op nodes written (v->n). */
int rg_tape_write_dot(FILE *f, const rg_tape_view *v, const rg_model *m, bool with_grads,
                      const char *title);

#endif
