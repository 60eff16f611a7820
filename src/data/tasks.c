/* data.c: the synthetic tasks of SPEC section 3 (copy, reverse, sort,
 * duplicate), padded batches of them, and the seeds of the training and
 * evaluation data streams.
 *
 * An example of input length n is
 *     BOS x_1 .. x_n SEP y_1 .. y_m EOS          (n + m + 3 tokens)
 * The model reads all but the last token and predicts all but the first, so
 * a batch row holds tokens[t] = seq[t] and targets[t] = seq[t+1] for
 * t = 0 .. n+m+1; the mask is 1 where the target is y_1..y_m or EOS, that is
 * for t = n+1 .. n+m+1.
 */
#include "relgrad/data.h"

#include <stdlib.h>
#include <string.h>

int rg_task_out_len(rg_task task, int n) {
    return task == RG_TASK_DUPLICATE ? 2 * n : n;
}

static int compare_ints(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

int rg_task_answer(rg_task task, const int *x, int n, int *y) {
    switch (task) {
    case RG_TASK_COPY:
        memcpy(y, x, (size_t)n * sizeof *y);
        return n;
    case RG_TASK_REVERSE:
        for (int i = 0; i < n; i++) y[i] = x[n - 1 - i];
        return n;
    case RG_TASK_SORT:
        memcpy(y, x, (size_t)n * sizeof *y);
        qsort(y, (size_t)n, sizeof *y, compare_ints);
        return n;
    case RG_TASK_DUPLICATE:
        memcpy(y, x, (size_t)n * sizeof *y);
        memcpy(y + n, x, (size_t)n * sizeof *y);
        return 2 * n;
    default:
        rg_die("rg_task_answer: unknown task %d", (int)task);
    }
}

/* BOS x SEP y (everything but the final EOS) into seq, with x drawn from rng;
 * returns the number of tokens written, n + m + 2. */
static int write_input(rg_task task, int n_symbols, int n, rg_rng *rng, int *seq) {
    int *x = seq + 1, *y = seq + n + 2;
    seq[0] = rg_tok_bos(n_symbols);
    for (int i = 0; i < n; i++) x[i] = rg_rng_int(rng, 0, n_symbols - 1);
    seq[n + 1] = rg_tok_sep(n_symbols);
    int m = rg_task_answer(task, x, n, y);
    return n + m + 2;
}

int rg_task_example(rg_task task, int n_symbols, int n, rg_rng *rng, int *seq) {
    if (n < 0 || n_symbols < 1) rg_die("rg_task_example: n = %d, n_symbols = %d", n, n_symbols);
    int len = write_input(task, n_symbols, n, rng, seq);
    seq[len] = rg_tok_eos(n_symbols);
    return len + 1;
}

/* ---- batches ------------------------------------------------------------------- */

void rg_batch_init(rg_batch *b) {
    memset(b, 0, sizeof *b);
}

void rg_batch_free(rg_batch *b) {
    free(b->tokens);
    free(b->targets);
    free(b->mask);
    free(b->in_len);
    free(b->seq_len);
    rg_batch_init(b);
}

static void *xmalloc(size_t bytes) {
    void *p = malloc(bytes ? bytes : 1);
    if (!p) rg_die("out of memory allocating a %zu-byte batch buffer", bytes);
    return p;
}

/* Make room for B rows of up to T columns. Buffers are only replaced when B
 * or T exceeds what they were sized for (cap_B, cap_T), so batches of a shape
 * already seen (or smaller) reuse them and allocate nothing. */
static void reserve(rg_batch *b, int B, int T) {
    if (B > b->cap_B) {
        free(b->in_len);
        free(b->seq_len);
        b->in_len = xmalloc((size_t)B * sizeof *b->in_len);
        b->seq_len = xmalloc((size_t)B * sizeof *b->seq_len);
    }
    if (B > b->cap_B || T > b->cap_T) {
        int cap_B = B > b->cap_B ? B : b->cap_B, cap_T = T > b->cap_T ? T : b->cap_T;
        size_t cells = (size_t)cap_B * (size_t)cap_T;
        free(b->tokens);
        free(b->targets);
        free(b->mask);
        b->tokens = xmalloc(cells * sizeof *b->tokens);
        b->targets = xmalloc(cells * sizeof *b->targets);
        b->mask = xmalloc(cells * sizeof *b->mask);
        b->cap_B = cap_B, b->cap_T = cap_T;
    }
}

void rg_batch_make(rg_batch *b, rg_task task, int n_symbols, int B, int min_len, int max_len,
                   rg_rng *rng) {
    if (B < 1 || min_len < 0 || max_len < min_len || n_symbols < 1)
        rg_die("rg_batch_make: B = %d, lengths %d .. %d, n_symbols = %d", B, min_len, max_len,
               n_symbols);
    /* Room for the longest possible row (input length max_len), so the
     * buffers are sized once per (B, max_len) and not per draw. */
    reserve(b, B, rg_task_seq_len(task, max_len) - 1);
    /* Draw every example's length first: the row width T depends on them. */
    int T = 0;
    for (int i = 0; i < B; i++) {
        b->in_len[i] = rg_rng_int(rng, min_len, max_len);
        int L = rg_task_seq_len(task, b->in_len[i]);
        if (L - 1 > T) T = L - 1;
    }
    b->B = B, b->T = T; /* rows are T apart: the batch is a contiguous [B, T] */

    int pad = rg_tok_pad(n_symbols), eos = rg_tok_eos(n_symbols);
    for (int i = 0; i < B; i++) {
        int n = b->in_len[i];
        int *tok = b->tokens + (long)i * T, *tgt = b->targets + (long)i * T;
        real *mask = b->mask + (long)i * T;
        /* The inputs are the sequence without its EOS: BOS x SEP y. */
        int len = write_input(task, n_symbols, n, rng, tok); /* = L - 1 */
        b->seq_len[i] = len + 1;
        for (int t = 0; t + 1 < len; t++) tgt[t] = tok[t + 1];
        tgt[len - 1] = eos;
        for (int t = 0; t < len; t++) mask[t] = t >= n + 1 ? 1 : 0;
        for (int t = len; t < T; t++) tok[t] = pad, tgt[t] = pad, mask[t] = 0;
    }
}

/* ---- seeds ----------------------------------------------------------------------
 *
 * Each stream's seed is mix(key) with
 *     key = seed (32 bits) << 32  |  tag (1 bit) << 31  |  n (31 bits)
 * tag 0 for training (n = 0), tag 1 for evaluation at length n (0 <= n < 2^31).
 * The key is a different number for every (seed, stream), and mix, the
 * splitmix64 finaliser, is a bijection of 64-bit integers, so no two streams
 * ever share a seed: training and every evaluation length start from
 * different generator states (and xoshiro256**'s period of 2^256 - 1 makes
 * an overlap within any run's draws vanishingly unlikely).
 */
static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t stream_key(int seed, unsigned tag, int n) {
    return (uint64_t)(uint32_t)seed << 32 | (uint64_t)(tag & 1u) << 31 |
           ((uint64_t)(uint32_t)n & 0x7fffffffu);
}

uint64_t rg_train_seed(int seed) {
    return mix64(stream_key(seed, 0, 0));
}

uint64_t rg_eval_seed(int seed, int n) {
    if (n < 0) rg_die("rg_eval_seed: negative length %d", n);
    return mix64(stream_key(seed, 1, n));
}
