/* data.h: the synthetic tasks (SPEC sections 3, 6, 7 and 8), padded batches
 * of them for a decoder or an encoder, randomized and coupled positions,
 * index hints, abacus ids, the fixed training set of the Kazemnejad
 * protocol and the seeds of the data streams.
 *
 * An example of length n is an input x (rg_spec_input_len tokens; addition:
 * a_1 .. a_n SEP b_1 .. b_n) and its answer y (rg_spec_out_len tokens), with
 * the symbols as token ids 0 .. n_symbols-1, then the n_hints index-hint
 * tokens (addition with index hints; none otherwise), then the special
 * tokens: PAD = n_symbols + n_hints, BOS, SEP, EOS, and for the encoder ANS
 * (vocabulary n_symbols + n_hints + 4, encoder + 5). A decoder reads
 *     BOS x SEP y_1 .. y_m EOS
 * shifted by one (the loss mask covers the predictions of y and EOS); an
 * encoder reads
 *     BOS x SEP ANS .. ANS      (m ANS tokens)
 * and answers y_k at the k-th ANS (the loss mask covers the m ANS only).
 * Tasks of Ruoss et al. 2023 with operators, brackets, actions or a
 * termination token have them among their symbols and fix n_symbols
 * (rg_task_alphabet); so does counting (Golovneva et al. 2024); `relgrad
 * list tasks` and docs/format.md list them.
 *
 * The methods of 2024 (SPEC section 8) that live in the data:
 *   index hints (Zhou et al. 2024): before every digit of addition a hint
 *     token naming its significance, the same in a, b and y;
 *   coupled positions (Cho et al. 2024): pos_ids giving the digits of equal
 *     significance in a, b and y the same position;
 *   abacus ids (McLeish et al. 2024): each digit's 1-based index in its run
 *     of consecutive digits, for the model's abacus embedding.
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
    /* Golovneva et al. 2024 (CoPE's counting task; see counting.c) */
    RG_TASK_COUNTING,
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
/* Where coupled positions put the SEP between a and b ('+'): at the start s
 * with the second SEP (Cho et al.'s code), or at s + 1 + n, the position of
 * the answer's final carry (relgrad's variant, docs/format.md). */
typedef enum { RG_PLUS_AT_START, RG_PLUS_AT_CARRY } rg_coupled_plus;
/* Where coupled positions put BOS: at 0 with EOS (Cho et al.'s code), or at
 * s + 2 + n, one past the final carry, so EOS's query finds a key at its
 * next coupled position (relgrad's variant, docs/format.md). */
typedef enum { RG_BOS_AT_ZERO, RG_BOS_AT_END } rg_coupled_bos;

/* Token ids. n_hints is the number of index-hint tokens (0 unless addition
 * has index hints): the specials come after the symbols and the hints. */
static inline int rg_tok_hint(int n_symbols, int i) {
    return n_symbols + i;
}
static inline int rg_tok_pad(int n_symbols, int n_hints) {
    return n_symbols + n_hints;
}
static inline int rg_tok_bos(int n_symbols, int n_hints) {
    return n_symbols + n_hints + 1;
}
static inline int rg_tok_sep(int n_symbols, int n_hints) {
    return n_symbols + n_hints + 2;
}
static inline int rg_tok_eos(int n_symbols, int n_hints) {
    return n_symbols + n_hints + 3;
}
/* The encoder's answer slot; not in a decoder's vocabulary. */
static inline int rg_tok_ans(int n_symbols, int n_hints) {
    return n_symbols + n_hints + 4;
}
/* The vocabulary: the symbols, the hints, PAD, BOS, SEP, EOS, and an
 * encoder's ANS. */
static inline int rg_vocab_size(rg_arch arch, int n_symbols, int n_hints) {
    return n_symbols + n_hints + (arch == RG_ARCH_ENCODER ? 5 : 4);
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
    /* the methods of 2024 (SPEC section 8); 0 = off */
    int n_hints;                  /* index hints (addition, decoder): H hint tokens        */
    int coupled_max;              /* coupled positions (addition, decoder): in training the
                                     answer's last digit sits at most at this position     */
    rg_coupled_plus coupled_plus; /* with them: the position of the first SEP */
    rg_coupled_bos coupled_bos;   /* with them: the position of BOS           */
    int abacus;                   /* abacus ids: in training shifted by k in 0..K per batch */
    bool training;                /* draw the offsets and the shift (training) or use 0
                                     (evaluation: hints from the first, positions from 1) */
} rg_data_spec;

/* The lengths of an example of length n under spec: the task's
 * (rg_task_*_len), and with index hints a hint before every digit: x =
 * 4n+1 tokens, y = 2(n+1). */
int rg_spec_input_len(const rg_data_spec *spec, int n);
int rg_spec_out_len(const rg_data_spec *spec, int n);
int rg_spec_prompt_len(const rg_data_spec *spec, int n);
int rg_spec_seq_len(const rg_data_spec *spec, int n);
/* The longest run of consecutive symbols (digits) an example of length n
 * reads or is answered with (the largest abacus id before the shift): the
 * longer of x and y, addition n+1, with index hints 1. */
int rg_spec_longest_run(const rg_data_spec *spec, int n);

/* Draw one example of length n under spec into x (rg_spec_input_len
 * tokens) and y (rg_spec_out_len tokens): the task's example, and with
 * index hints the hints put in, from hint offset o: the digit of
 * significance i gets hint token o + i before it, in a, b and y alike; o is
 * uniform in 0 .. n_hints - (n+1) in training (drawn from rng after the
 * example), 0 at evaluation. Returns how many leading tokens of y count for
 * accuracy (all of them, hints included, for addition). work:
 * rg_task_work_len(n) words. */
int rg_example_draw(const rg_data_spec *spec, int n, rg_rng *rng, int *x, int *y, uint32_t *work);

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
 * rg_batch_random_positions or rg_batch_coupled_positions) each row's
 * absolute positions [B,T]. abacus is NULL, or (after rg_batch_abacus) each
 * token's abacus id [B,T]. */
typedef struct rg_batch {
    int B, T, cap_B, cap_T;
    rg_arch arch;
    int *tokens, *targets;            /* [B,T] */
    real *mask, *acc_mask;            /* [B,T] */
    int *in_len, *seq_len, *n_tokens; /* [B]   */
    int *pos;                         /* [B,T] or NULL: positions 0..T-1 */
    int *pos_buf;                     /* storage behind pos, reused       */
    int *abacus;                      /* [B,T] or NULL: no abacus ids     */
    int *abacus_buf;                  /* storage behind abacus, reused    */
    uint32_t *work;                   /* room for one example's big numbers (binary tasks) */
    size_t cap_work;
} rg_batch;

/* Columns [t0, t0+n) of a (B,T) array of elem-byte values into out (B,n):
 * a segment or chunk of a batch's tokens, targets, mask or positions. Returns
 * out, or NULL (copying nothing) when src is NULL (e.g. no positions). */
void *rg_columns(const void *src, int B, int T, int t0, int n, size_t elem, void *out);

void rg_batch_init(rg_batch *b);
void rg_batch_free(rg_batch *b);

/* Fill b with B examples of spec whose lengths are drawn uniformly from
 * [min_len, max_len] (min_len = max_len for evaluation at one length): all
 * lengths first (one per example, or with RG_LENGTHS_PER_BATCH one for the
 * whole batch), then each example (rg_example_draw: with index hints, each
 * example's hint offset right after it). T = the longest row. The examples
 * (x and y) depend only on the task, n_symbols, digits, hints, the lengths
 * and rng, not on the arch: a decoder and an encoder batch drawn from equal
 * rngs hold the same examples. Reuses b's buffers when they fit (no malloc
 * once warm). Clears b->pos and b->abacus. */
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

/* Coupled positions (Cho et al. 2024; spec->coupled_max > 0, addition, a
 * decoder batch, lsb or msb digits): each row's positions become BOS 0, both
 * SEPs s (with spec->coupled_plus = RG_PLUS_AT_CARRY the first SEP s + 1 + n,
 * the final carry's), the digit of significance i of a, b and y s + 1 + i
 * (padding 0; with spec->coupled_bos = RG_BOS_AT_END BOS s + 2 + n),
 * where s is drawn per row, uniform in 1 .. coupled_max - (n+1) (n+2 with
 * BOS at the end, so no position exceeds coupled_max), in
 * training (spec->training), and s = 1 at evaluation: the authors' start
 * (HanseulJo/position-coupling, AdditionDatasetWithCoupledPositions with
 * reverse_output; BOS and EOS 0, '+' and '=' the start). Positions repeat
 * and go down at a SEP. */
void rg_batch_coupled_positions(rg_batch *b, const rg_data_spec *spec, rg_rng *rng);

/* Abacus ids (McLeish et al. 2024; spec->abacus = K > 0): rg_abacus_ids of
 * every row, in training (spec->training) with every nonzero id shifted by
 * one k drawn uniformly from 0 .. K for the whole batch (from rng, after
 * the batch and its positions), at evaluation by 0. Sets b->abacus. */
void rg_batch_abacus(rg_batch *b, const rg_data_spec *spec, rg_rng *rng);

/* Token t's abacus id in each of B rows of T tokens: its 1-based index
 * within the run of consecutive symbols (tokens 0 .. n_symbols-1) that holds
 * it, plus `shift`; 0 for every other token. ids [B,T]. */
void rg_abacus_ids(const int *tokens, int B, int T, int n_symbols, int shift, int *ids);

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
/* Batch k of B examples into b (as rg_batch_draw formats them; clears b->pos
 * and b->abacus). With index hints each example keeps the hint offset it
 * was drawn with when the set was made, as a dataset file would. */
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
