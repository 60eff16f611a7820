/* data.h: the synthetic tasks (SPEC sections 3, 6 and 7), padded batches of
 * them for a decoder or an encoder, randomized positions, the fixed training
 * set of the Kazemnejad protocol and the seeds of the data streams.
 *
 * An example of length n is an input x (rg_task_input_len tokens; addition:
 * a_1 .. a_n SEP b_1 .. b_n) and its answer y (rg_task_out_len tokens), with
 * the symbols as token ids 0 .. n_symbols-1 and the special tokens after
 * them: PAD = n_symbols, BOS, SEP, EOS, and for the encoder ANS (vocabulary
 * n_symbols + 4, encoder n_symbols + 5). A decoder reads
 *     BOS x SEP y_1 .. y_m EOS
 * shifted by one (the loss mask covers the predictions of y and EOS); an
 * encoder reads
 *     BOS x SEP ANS .. ANS      (m ANS tokens)
 * and answers y_k at the k-th ANS (the loss mask covers the m ANS only).
 * Tasks of Ruoss et al. 2023 with operators, brackets, actions or a
 * termination token have them among their symbols and fix n_symbols
 * (rg_task_alphabet); `relgrad list tasks` and docs/format.md list them.
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
    /* Ruoss et al. 2023 (their names; see tasks.c for each one's rules) */
    RG_TASK_EVEN_PAIRS,
    RG_TASK_MODULAR_ARITHMETIC,
    RG_TASK_PARITY_CHECK, /* parity, by its Ruoss name */
    RG_TASK_CYCLE_NAVIGATION,
    RG_TASK_STACK_MANIPULATION,
    RG_TASK_REVERSE_STRING, /* reverse with n_symbols = 2 */
    RG_TASK_MODULAR_ARITHMETIC_BRACKETS,
    RG_TASK_SOLVE_EQUATION,
    RG_TASK_DUPLICATE_STRING, /* duplicate with n_symbols = 2 */
    RG_TASK_MISSING_DUPLICATE_STRING,
    RG_TASK_BINARY_ADDITION,
    RG_TASK_BINARY_MULTIPLICATION,
    RG_TASK_COMPUTE_SQRT,
    RG_TASK_BUCKET_SORT, /* sort with n_symbols = 5 */
    RG_TASK_COUNT
} rg_task;

/* How training lengths are drawn from 1 .. train_len: one per example, or
 * one per batch shared by its examples (Ruoss et al.'s code). */
typedef enum { RG_LENGTHS_PER_EXAMPLE, RG_LENGTHS_PER_BATCH } rg_length_sampling;

/* Randomized positions: one sorted draw per sequence, or one per batch shared
 * by its rows (Ruoss et al.'s code). */
typedef enum { RG_POSITIONS_PER_SEQUENCE, RG_POSITIONS_PER_BATCH } rg_positions_per;

/* Digit order of `addition`: least significant digit first (SPEC section
 * 6), or most significant first for a, b and the answer. */
typedef enum { RG_DIGITS_LSB, RG_DIGITS_MSB } rg_digit_order;

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
/* The encoder's answer slot; not in a decoder's vocabulary. */
static inline int rg_tok_ans(int n_symbols) {
    return n_symbols + 4;
}
/* The vocabulary: the symbols, PAD, BOS, SEP, EOS, and an encoder's ANS. */
static inline int rg_vocab_size(rg_arch arch, int n_symbols) {
    return n_symbols + (arch == RG_ARCH_ENCODER ? 5 : 4);
}
/* Names ("copy") and their inverse (-1 when unknown). */
const char *rg_task_name(rg_task t);
int rg_task_find(const char *name);
/* "copy, reverse, sort, ..." */
const char *rg_task_list_text(void);
/* One line on what the task asks, for `relgrad list tasks`. */
const char *rg_task_summary(rg_task t);
/* The alphabet a task fixes (its n_symbols), or 0 when any n_symbols >= 2
 * works; what its symbols mean ("0 1 = bits, 2 = +"); its output length as
 * a function of n ("n+1"). */
int rg_task_alphabet(rg_task t);
const char *rg_task_symbols_text(rg_task t);
const char *rg_task_out_len_text(rg_task t);
/* The task whose examples an alias draws (reverse_string -> reverse), or t. */
rg_task rg_task_base(rg_task t);

/* Lengths for a task of length n: tokens of x, of y, of the prompt BOS x SEP
 * (where decoding starts and the encoder's ANS tokens begin), and of the
 * decoder's whole sequence BOS x SEP y EOS. Both architectures read
 * rg_task_seq_len - 1 tokens: the decoder all but EOS, the encoder
 * BOS x SEP and m ANS. */
int rg_task_input_len(rg_task t, int n);
int rg_task_out_len(rg_task t, int n);
int rg_task_prompt_len(rg_task t, int n);
int rg_task_seq_len(rg_task t, int n);

/* The answer y for the input x (rg_task_input_len tokens) into y; returns m.
 * Every task but modular_arithmetic_brackets and solve_equation, whose
 * answer is made with the expression (they return -1). *scored (or NULL)
 * gets how many leading tokens of y count for accuracy: m, or up to and
 * including the termination token of binary_addition,
 * binary_multiplication and stack_manipulation (Ruoss et al.'s accuracy
 * mask). */
int rg_task_answer(rg_task task, int n_symbols, const int *x, int n, int *y, int *scored);

/* One decoder example's full sequence BOS x SEP y EOS into seq (room for
 * rg_task_seq_len tokens); returns its length. The input is drawn from rng
 * exactly as a batch row of that length draws it. */
int rg_task_example(rg_task task, int n_symbols, int n, rg_rng *rng, int *seq);

/* What decides a batch's rows besides the rng and the lengths. */
typedef struct rg_data_spec {
    rg_arch arch;
    rg_task task;
    int n_symbols;
    rg_digit_order digits;      /* addition only                    */
    rg_length_sampling lengths; /* training: per example or batch   */
} rg_data_spec;

/* A padded batch of B rows of T tokens.
 *   decoder: tokens[b*T + t] = seq[t], targets = seq[t+1] for the sequence
 *            BOS x SEP y EOS; mask 1 where the target is y or EOS.
 *   encoder: tokens = BOS x SEP ANS..ANS (not shifted); targets = y_k at the
 *            k-th ANS and PAD elsewhere; mask 1 on the m ANS positions.
 * Padding has token PAD, target PAD, mask 0. acc_mask is 1 where a
 * prediction counts for accuracy: mask, less what follows a termination
 * token (binary_addition, binary_multiplication, stack_manipulation: their
 * y is padded with zeros after it, which the loss covers and the accuracy
 * does not; the decoder's EOS then does not count either). Exact match of a
 * row = every acc_mask position right.
 * in_len[b] is the example's n, seq_len[b] its length (decoder: BOS .. EOS;
 * encoder: BOS .. the last ANS), n_tokens[b] its non-PAD tokens (the keys
 * the encoder attends to: PAD keys are masked). pos is NULL, or (after
 * rg_batch_random_positions) each row's absolute positions [B,T]. */
typedef struct rg_batch {
    int B, T, cap_B, cap_T;
    rg_arch arch;
    int *tokens, *targets;            /* [B,T] */
    real *mask, *acc_mask;            /* [B,T] */
    int *in_len, *seq_len, *n_tokens; /* [B]   */
    int *pos;                         /* [B,T] or NULL: positions 0..T-1 */
    int *pos_buf;                     /* storage behind pos, reused       */
    uint32_t *work;                   /* room for one example's big numbers (binary tasks) */
    size_t cap_work;
} rg_batch;

void rg_batch_init(rg_batch *b);
void rg_batch_free(rg_batch *b);

/* Fill b with B examples of spec whose lengths are drawn uniformly from
 * [min_len, max_len] (min_len = max_len for evaluation at one length): all
 * lengths first (one per example, or with RG_LENGTHS_PER_BATCH one for the
 * whole batch), then each example. T = the longest row. The examples (x
 * and y) depend only on the task, n_symbols, digits, the lengths and rng,
 * not on the arch: a decoder and an encoder batch drawn from equal rngs
 * hold the same examples. Reuses b's buffers when they fit (no malloc once
 * warm). Clears b->pos. */
void rg_batch_draw(rg_batch *b, const rg_data_spec *spec, int B, int min_len, int max_len,
                   rg_rng *rng);

/* rg_batch_draw for a decoder, lengths per example, lsb digits. */
void rg_batch_make(rg_batch *b, rg_task task, int n_symbols, int B, int min_len, int max_len,
                   rg_rng *rng);

/* Randomized positions (Ruoss et al. 2023): each row's positions become a
 * uniformly random T-subset of 0 .. L-1 in ascending order (padding keeps
 * increasing positions); with RG_POSITIONS_PER_BATCH one such draw serves
 * every row. Needs L >= T. rg_batch_random_positions is the per-sequence
 * form. */
void rg_batch_random_positions_per(rg_batch *b, int L, rg_positions_per per, rg_rng *rng);
void rg_batch_random_positions(rg_batch *b, int L, rg_rng *rng);

/* The fixed training set (Kazemnejad et al. 2023): N examples made once,
 * their lengths spread evenly over 1 .. train_len (example i before
 * shuffling has length 1 + i mod train_len), from a seed that is the same
 * for every model seed, as their dataset files are; training walks through
 * it in a fresh random order every epoch, the order drawn from the model
 * seed. Batch k (k = 0 for the first step) holds examples k*B .. k*B+B-1
 * of the concatenated epochs, so a batch is a function of k alone and a
 * resumed run gets the same batches without storing anything. */
typedef struct rg_train_set {
    rg_data_spec spec;
    int n_examples, train_len, seed;
    int *len;    /* [N] each example's n                                */
    long *start; /* [N+1] where each example's x then y begin in tokens */
    int *tokens; /* every example's x and y, one after another          */
    int *scored; /* [N] leading tokens of y that count for accuracy     */
    int *order;  /* [N] the permutation of epoch order_epoch            */
    long order_epoch;
} rg_train_set;

/* Make the set (spec->lengths must be RG_LENGTHS_PER_EXAMPLE); `seed` is
 * the model seed, which orders the epochs. */
void rg_train_set_init(rg_train_set *s, const rg_data_spec *spec, int n_examples, int train_len,
                       int seed);
/* Batch k of B examples into b (as rg_batch_draw formats them; clears b->pos). */
void rg_train_set_batch(rg_train_set *s, long k, int B, rg_batch *b);
void rg_train_set_free(rg_train_set *s);

/* Seeds of the data streams. Training data (and training positions) come
 * from rg_train_seed(seed); the evaluation set at length n from
 * rg_eval_seed(n), the same for every model seed, and its random positions
 * from rg_eval_positions_seed(n); the fixed training set's examples from
 * rg_train_set_seed() (every model seed) and its order in epoch e from
 * rg_train_order_seed(seed, e). No two streams share a seed. */
uint64_t rg_train_seed(int seed);
uint64_t rg_eval_seed(int n);
uint64_t rg_eval_positions_seed(int n);
uint64_t rg_train_set_seed(void);
uint64_t rg_train_order_seed(int seed, long epoch);
/* The in-distribution validation set of a run trained on lengths
 * 1 .. train_len (select = best): its examples from rg_val_seed(train_len),
 * their random positions from rg_val_positions_seed(train_len); the same
 * set for every model seed, and no other stream's seeds. */
uint64_t rg_val_seed(int train_len);
uint64_t rg_val_positions_seed(int train_len);

#endif
