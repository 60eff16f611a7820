/* inspect.h: looking inside a trained model: where each head attends on an
 * evaluation example (relgrad attention, the experiment report).
 *
 * The probabilities come out of the same key/value-cache decoding that
 * evaluation uses (rg_model_decode_all, chunk by chunk, as the teacher-forced
 * pass of rg_evaluate), through the kernel's optional probability output,
 * so what is drawn is what evaluation computed.
 */
#ifndef RELGRAD_INSPECT_H
#define RELGRAD_INSPECT_H

#include "relgrad/train.h"

/* One example's attention, every layer and head. */
typedef struct rg_attention_map {
    int len;        /* the task length n of the example                      */
    int example;    /* its index in the evaluation set at that length        */
    int T;          /* tokens fed: the sequence without its last token       */
    int prompt_len; /* BOS <input> SEP: the answer is predicted from here on */
    int L, H;
    int *tokens;           /* [T]                                                   */
    int *positions;        /* [T] absolute positions                                */
    real *probs;           /* [L,H,T,T]: row i = query i over keys j (0 above the diagonal) */
    double *mean_distance; /* [L,H]: mean over queries i of sum_j P[i,j] (p_i - p_j) */
    double *entropy;       /* [L,H]: mean over queries i of -sum_j P[i,j] ln P[i,j] (nats) */
} rg_attention_map;

/* Example k of the evaluation set at length n (cfg's task, eval_n and
 * random_positions; the model's scheme options from cfg->model.opts, which
 * evaluation may have changed), fed through the key/value cache. 0, or 2
 * with err (k outside the set). Free with rg_attention_map_free. */
int rg_attention_map_compute(rg_ctx *ctx, rg_model *m, const rg_config *cfg, int n, int k,
                             rg_attention_map *out, rg_error *err);
void rg_attention_map_free(rg_attention_map *a);

/* Write maps to an HDF5 file (atomically): root attributes format =
 * "relgrad-attention", format_version = 1, source (the checkpoint) and every
 * config key; per map a group /len_<n> with attributes length, example,
 * prompt_len, train_len and datasets tokens, positions (int32 [T]), probs
 * (float32 [L,H,T,T]), mean_distance and entropy (float64 [L,H]). 0 or 2. */
int rg_attention_maps_write(const char *path, const rg_config *cfg, const char *source,
                            const rg_attention_map *maps, int n_maps, rg_error *err);

#endif
