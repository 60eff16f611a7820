/* data.h: the synthetic tasks of SPEC section 3 and batches of them.
 *
 * An example is BOS x_1 .. x_n SEP y_1 .. y_m EOS with x_i uniform over
 * n_symbols symbols (token ids 0 .. n_symbols-1) and the special tokens after
 * them: PAD = n_symbols, BOS = n_symbols+1, SEP = n_symbols+2,
 * EOS = n_symbols+3 (vocabulary n_symbols + 4). The model reads the sequence
 * shifted by one; the loss mask covers the positions that predict y_1..y_m
 * and EOS.
 */
#ifndef RELGRAD_DATA_H
#define RELGRAD_DATA_H

#include "relgrad/config.h"
#include "relgrad/tensor.h"

static inline int rg_tok_pad(int n_symbols) {
    return n_symbols;
}
static inline int rg_tok_bos(int n_symbols) {
    return n_symbols + 1;
}
static inline int rg_tok_sep(int n_symbols) {
    return n_symbols + 2;
}
static inline int rg_tok_eos(int n_symbols) {
    return n_symbols + 3;
}
static inline int rg_vocab_size(int n_symbols) {
    return n_symbols + 4;
}

/* Output length m for input length n (n, or 2n for duplicate). */
int rg_task_out_len(rg_task task, int n);

/* Write one example's full sequence into seq (room for n + out_len + 3
 * tokens); returns its length. x is drawn from rng. */
int rg_task_example(rg_task task, int n_symbols, int n, rg_rng *rng, int *seq);

/* The answer y for input x (n symbols) into y; returns m. */
int rg_task_answer(rg_task task, const int *x, int n, int *y);

/* A padded batch of B examples. Row b holds inputs tokens[b*T + t] =
 * seq[t], targets[b*T + t] = seq[t+1], mask 1 where the target is y or EOS;
 * padding has token PAD, target PAD and mask 0. in_len[b] is the example's
 * n, seq_len[b] its full sequence length. */
typedef struct rg_batch {
    int B, T, cap_B, cap_T;
    int *tokens, *targets;
    real *mask;
    int *in_len, *seq_len;
} rg_batch;

void rg_batch_init(rg_batch *b);
void rg_batch_free(rg_batch *b);

/* Fill b with B examples whose input lengths are drawn uniformly from
 * [min_len, max_len] (min_len = max_len for evaluation at one length).
 * T = the longest sequence - 1. Reuses b's buffers when they fit (no malloc
 * once warm). */
void rg_batch_make(rg_batch *b, rg_task task, int n_symbols, int B, int min_len, int max_len,
                   rg_rng *rng);

/* Seeds: training draws from seed; evaluation at length n from a stream
 * that never overlaps it. */
uint64_t rg_train_seed(int seed);
uint64_t rg_eval_seed(int seed, int n);

#endif
