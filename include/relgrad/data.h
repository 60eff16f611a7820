/* data.h: the synthetic tasks (SPEC sections 3 and 6), padded batches of
 * them, randomized positions and the seeds of the data streams.
 *
 * An example is BOS <input> SEP y_1 .. y_m EOS, where <input> is x_1 .. x_n
 * (addition: a_1 .. a_n SEP b_1 .. b_n) with symbols uniform over n_symbols
 * (token ids 0 .. n_symbols-1) and the special tokens after them:
 * PAD = n_symbols, BOS = n_symbols+1, SEP = n_symbols+2, EOS = n_symbols+3
 * (vocabulary n_symbols + 4). The model reads the sequence shifted by one;
 * the loss mask covers the positions that predict y_1..y_m and EOS.
 */
#ifndef RELGRAD_DATA_H
#define RELGRAD_DATA_H

#include "relgrad/tensor.h"

/* What a model reads and answers (SPEC section 7): a decoder predicts the
 * next token under a causal mask; an encoder reads the whole sequence
 * (input, then one ANS slot per answer token) both ways and answers every
 * slot at once. */
typedef enum { RG_ARCH_DECODER, RG_ARCH_ENCODER } rg_arch;

typedef enum {
    RG_TASK_COPY,       /* y = x                                      */
    RG_TASK_REVERSE,    /* y = x reversed                             */
    RG_TASK_SORT,       /* y = x sorted ascending                     */
    RG_TASK_DUPLICATE,  /* y = x x                                    */
    RG_TASK_PARITY,     /* x in {0,1}; y = x_1 xor .. xor x_n         */
    RG_TASK_ADDITION,   /* a, b: n digits, least significant first;
                           y = the n+1 digits of a+b                  */
    RG_TASK_ODDS_FIRST, /* y = x_1 x_3 x_5 .. x_2 x_4 ..              */
    RG_TASK_COUNT
} rg_task;

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

/* Names ("copy") and their inverse (-1 when unknown). */
const char *rg_task_name(rg_task t);
int rg_task_find(const char *name);
/* "copy, reverse, sort, ..." */
const char *rg_task_list_text(void);
/* One line on what the task asks, for `relgrad list tasks`. */
const char *rg_task_summary(rg_task t);

/* Lengths for a task of length n: tokens of <input>, of y, of the prompt
 * BOS <input> SEP that greedy decoding starts from, and of the whole
 * sequence BOS <input> SEP y EOS. */
int rg_task_input_len(rg_task t, int n);
int rg_task_out_len(rg_task t, int n);
int rg_task_prompt_len(rg_task t, int n);
int rg_task_seq_len(rg_task t, int n);

/* The answer y for the input (rg_task_input_len tokens) into y; returns m. */
int rg_task_answer(rg_task task, int n_symbols, const int *input, int n, int *y);

/* One example's full sequence into seq (room for rg_task_seq_len tokens);
 * returns its length. The symbols are drawn from rng. */
int rg_task_example(rg_task task, int n_symbols, int n, rg_rng *rng, int *seq);

/* A padded batch of B examples. Row b holds inputs tokens[b*T + t] =
 * seq[t], targets[b*T + t] = seq[t+1], mask 1 where the target is y or EOS;
 * padding has token PAD, target PAD and mask 0. in_len[b] is the example's
 * n, seq_len[b] its full sequence length. pos is NULL, or (after
 * rg_batch_random_positions) each row's absolute positions [B,T]. */
typedef struct rg_batch {
    int B, T, cap_B, cap_T;
    int *tokens, *targets;
    real *mask;
    int *in_len, *seq_len;
    int *pos;     /* [B,T] or NULL: positions 0..T-1 */
    int *pos_buf; /* storage behind pos, reused       */
} rg_batch;

void rg_batch_init(rg_batch *b);
void rg_batch_free(rg_batch *b);

/* Fill b with B examples whose lengths are drawn uniformly from
 * [min_len, max_len] (min_len = max_len for evaluation at one length).
 * T = the longest sequence - 1. Reuses b's buffers when they fit (no malloc
 * once warm). Clears b->pos. */
void rg_batch_make(rg_batch *b, rg_task task, int n_symbols, int B, int min_len, int max_len,
                   rg_rng *rng);

/* Randomized positions (Ruoss et al. 2023): each row's positions become a
 * uniformly random T-subset of 0 .. L-1 in ascending order (padding keeps
 * increasing positions). Needs L >= T. */
void rg_batch_random_positions(rg_batch *b, int L, rg_rng *rng);

/* Seeds of the data streams. Training data (and training positions) come
 * from rg_train_seed(seed); the evaluation set at length n from
 * rg_eval_seed(n), the same for every model seed, and its random positions
 * from rg_eval_positions_seed(n). No two streams share a seed. */
uint64_t rg_train_seed(int seed);
uint64_t rg_eval_seed(int n);
uint64_t rg_eval_positions_seed(int n);
/* The in-distribution validation set of a run trained on lengths
 * 1 .. train_len (select = best): its examples from rg_val_seed(train_len),
 * their random positions from rg_val_positions_seed(train_len); the same
 * set for every model seed, and no other stream's seeds. */
uint64_t rg_val_seed(int train_len);
uint64_t rg_val_positions_seed(int train_len);

#endif
