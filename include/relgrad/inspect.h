/* inspect.h: looking inside a model, for a person (the inspect layer,
 * src/inspect/): where each head attends on an evaluation example (relgrad
 * attention, the experiment report), the tape of one training step as a
 * Graphviz graph (relgrad graph), one batch's loss, logits and gradients as
 * a file for an outside check (relgrad dump), and starting the helper
 * programs that draw them (Graphviz's dot, the Python tools) without a
 * shell.
 *
 * The attention probabilities come out of the pass evaluation itself makes,
 * through the kernel's optional probability output, so what is drawn is
 * what evaluation computed: for a decoder the key/value-cache decoding
 * (rg_model_decode_all, chunk by chunk, as the teacher-forced pass of
 * rg_evaluate), for an encoder its one forward (rg_model_forward_probs).
 */
#ifndef RELGRAD_INSPECT_H
#define RELGRAD_INSPECT_H

#include "relgrad/train.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* ---- attention maps (attention_maps.c, checkpoint_maps.c) ------------------------------ */

/* One example's attention, every layer and head.
 *
 * A decoder's map is causal: zero above the diagonal. An encoder's is the
 * full T x T matrix: a query attends to the keys before and after it (its
 * PAD keys get 0). The statistics are taken over the queries of real tokens
 * (i < n_real) and every key each attends to, with the signed distance
 * p_i - p_j: positive for keys to the left (earlier positions), negative for
 * keys to the right, so an encoder head's mean distance says on balance
 * which way it looks (a head that looks both ways evenly averages out near
 * 0, which left_share and right_share tell apart from a head that looks at
 * itself). */
typedef struct rg_attention_map {
    int len;        /* the task length n of the example                        */
    int example;    /* its index in the evaluation set at that length          */
    rg_arch arch;   /* the model's: decoder (causal) or encoder (both ways)    */
    int T;          /* tokens fed: a decoder's sequence without its last token; an
                       encoder's whole row BOS x SEP ANS .. ANS (PAD after it when
                       the batch's rows are longer)                            */
    int n_real;     /* tokens before trailing PAD (T for a decoder)            */
    int prompt_len; /* BOS <input> SEP: a decoder predicts the answer from query
                       prompt_len - 1 on; an encoder's ANS slots start here    */
    int L, H;
    int *tokens;           /* [T]                                                   */
    int *positions;        /* [T] absolute positions                                */
    real *probs;           /* [L,H,T,T]: row i = query i over keys j (0 where it sees
                              nothing: above the diagonal in a decoder, PAD keys)   */
    double *mean_distance; /* [L,H]: mean over queries i of sum_j P[i,j] (p_i - p_j) */
    double *entropy;       /* [L,H]: mean over queries i of -sum_j P[i,j] ln P[i,j] (nats) */
    double *left_share;    /* [L,H]: mean over queries i of the sum of P[i,j] over p_j < p_i */
    double *right_share;   /* [L,H]: the same over p_j > p_i (0 in a decoder)       */
} rg_attention_map;

/* Example k of the evaluation set at length n (cfg's task, eval_n and
 * random_positions), through evaluation's own pass: a decoder's through the
 * key/value cache with cfg->model.opts (which evaluation may have changed),
 * an encoder's through one forward of its row (rg_model_forward_probs). 0,
 * or 2 with err (k outside the set). Free with rg_attention_map_free. */
int rg_attention_map_compute(rg_ctx *ctx, rg_model *m, const rg_config *cfg, int n, int k,
                             rg_attention_map *out, rg_error *err);
void rg_attention_map_free(rg_attention_map *a);

/* Which way a head looks: "left" when more than half of its attention (the
 * mean over queries) is on keys at earlier positions, "right" when more than
 * half is on later ones, else "mixed" (e.g. on the query's own key, or
 * spread over both sides). */
const char *rg_attention_direction(double left_share, double right_share);

/* Write maps to an HDF5 file (atomically): root attributes format =
 * "relgrad-attention", format_version = 1, source (the checkpoint) and every
 * config key (arch among them); per map a group /len_<n> with attributes
 * length, example, prompt_len, train_len, n_real and datasets tokens,
 * positions (int32 [T]), probs (float32 [L,H,T,T]), mean_distance, entropy,
 * left_share and right_share (float64 [L,H]) (docs/format.md). 0 or 2.
 * (Written by the io layer, src/io/attention_file.c, beside the other files.) */
int rg_attention_maps_write(const char *path, const rg_config *cfg, const char *source,
                            const rg_attention_map *maps, int n_maps, rg_error *err);

/* Load checkpoint ckpt (its config, with len and 2 len as evaluation
 * lengths; len 0 = its train_len), compute example k's maps at both lengths
 * and write them to h5. Prints to out, when it is not NULL, per length a
 * line per layer with each head's mean attended distance and entropy (an
 * encoder's also with its left and right shares and rg_attention_direction).
 * 0, or 2 with err. */
int rg_attention_of_checkpoint(const char *ckpt, int len, int example, const char *h5, FILE *out,
                               rg_error *err);

/* tools/attention_maps.py H5 PNG [--title TITLE] through /usr/bin/python3:
 * the maps of h5 as a grid of heatmaps. 0, or -1 with why. */
int rg_draw_attention(const char *h5, const char *png, const char *title, char *why, size_t n);

/* ---- the tape as a graph (tape_dot.c, tape_graph.c) ------------------------------------- */

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
 * parameters and any constant inputs as nodes of their own, edges in
 * data-flow order (labelled with the attention kernel's roles q, k, v and
 * its score terms, and with gradient norms when with_grads), blocks as
 * clusters, and the positional scheme's ops and parameters in its colour.
 * title goes on top. Returns the number of op nodes written (v->n). */
int rg_tape_write_dot(FILE *f, const rg_tape_view *v, const rg_model *m, bool with_grads,
                      const char *title);

/* What rg_tape_graph_write drew. */
typedef struct rg_tape_graph {
    long n_nodes; /* nodes the step recorded on the tape (ctx->n_nodes) */
    int n_ops;    /* op nodes in the picture                            */
    double loss;  /* the batch's loss                                   */
} rg_tape_graph;

/* One training step of cfg's model - freshly initialised from cfg->seed;
 * one batch of batch_size examples of train_len symbols (randomized
 * positions if set); forward, loss, backward - written to `path` as DOT
 * (through a temporary file renamed into place), titled with the model and
 * the batch; with_grads: each edge also carries the norm of the gradient
 * backward sent along it. cfg must be valid (rg_config_validate). 0, or 2
 * with err (the model cannot be built, the file cannot be written). */
int rg_tape_graph_write(const rg_config *cfg, bool with_grads, const char *path, rg_tape_graph *out,
                        rg_error *err);

/* Graphviz: `dot -Tsvg -o SVG DOT` (through a temporary file renamed into
 * place). 0, or -1 with why (dot missing or failing). */
int rg_draw_svg(const char *dot, const char *svg, char *why, size_t n);

/* ---- one step's numbers for an outside check (dump_step.c) --------------------------------- */

/* What rg_dump_step_write wrote. */
typedef struct rg_dump_step {
    int B, T;    /* the dumped batch: rows, tokens (one segment with memory)     */
    int offset;  /* position of its first token in the sequences (0, or segment_len) */
    double loss; /* the batch's loss                                               */
} rg_dump_step;

/* One batch of cfg (batch_size examples of train_len symbols, drawn from
 * the training stream of cfg->seed; randomized positions if set) forward
 * and backward through model, written to path as the gradient dump of SPEC
 * section 4 (rg_dump_write): parameters, config, batch, memory, loss,
 * logits and every gradient. With mem_len > 0 and segment_len > 0 one
 * segment first fills the memory (no gradient) and the next is dumped. cfg
 * must be valid. 0, or 2 with err (with memory: sequences no longer than
 * segment_len; the file cannot be written). */
int rg_dump_step_write(const rg_config *cfg, rg_model *model, const char *path, rg_dump_step *out,
                       rg_error *err);

/* ---- helper programs (spawn.c) ------------------------------------------------------------ */

/* Run argv[0] (searched in PATH when it has no '/') with argv - never
 * through a shell - and wait for it. 0 when it exited with status 0; else
 * -1 with what happened in why ("cannot start dot: No such file or
 * directory", "... exited with status 1"). */
int rg_spawn_wait(char *const argv[], char *why, size_t n);

/* "<source dir>/tools/<name>" into buf: the Python tools of the source tree
 * this library was built from. */
const char *rg_tool_path(const char *name, char *buf, size_t n);

#endif
