/* batch.c: padded batches of task examples, randomized positions, and the
 * seeds of the training and evaluation data streams.
 *
 * The model reads all but the last token of an example and predicts all but
 * the first, so a batch row holds tokens[t] = seq[t] and targets[t] =
 * seq[t+1]; the mask is 1 where the target is y_1..y_m or EOS.
 */
#include "data_internal.h"

#include <stdlib.h>
#include <string.h>

void rg_batch_init(rg_batch *b) {
    memset(b, 0, sizeof *b);
}

void rg_batch_free(rg_batch *b) {
    free(b->tokens);
    free(b->targets);
    free(b->mask);
    free(b->in_len);
    free(b->seq_len);
    free(b->pos_buf);
    rg_batch_init(b);
}

/* Make room for B rows of up to T columns. Buffers are only replaced when B
 * or T exceeds what they were sized for (cap_B, cap_T), so batches of a shape
 * already seen (or smaller) reuse them and allocate nothing. */
static void reserve(rg_batch *b, int B, int T) {
    if (B > b->cap_B) {
        free(b->in_len);
        free(b->seq_len);
        b->in_len = rg_xmalloc((size_t)B * sizeof *b->in_len, "a batch's lengths");
        b->seq_len = rg_xmalloc((size_t)B * sizeof *b->seq_len, "a batch's lengths");
    }
    if (B > b->cap_B || T > b->cap_T) {
        int cap_B = B > b->cap_B ? B : b->cap_B, cap_T = T > b->cap_T ? T : b->cap_T;
        size_t cells = (size_t)cap_B * (size_t)cap_T;
        free(b->tokens);
        free(b->targets);
        free(b->mask);
        free(b->pos_buf);
        b->tokens = rg_xmalloc(cells * sizeof *b->tokens, "a batch's tokens");
        b->targets = rg_xmalloc(cells * sizeof *b->targets, "a batch's targets");
        b->mask = rg_xmalloc(cells * sizeof *b->mask, "a batch's mask");
        b->pos_buf = rg_xmalloc(cells * sizeof *b->pos_buf, "a batch's positions");
        b->cap_B = cap_B, b->cap_T = cap_T;
    }
}

void rg_batch_make(rg_batch *b, rg_task task, int n_symbols, int B, int min_len, int max_len,
                   rg_rng *rng) {
    if (B < 1 || min_len < 0 || max_len < min_len || n_symbols < 2)
        rg_die("rg_batch_make: B = %d, lengths %d .. %d, n_symbols = %d", B, min_len, max_len,
               n_symbols);
    /* Room for the longest possible row (length max_len), so the buffers are
     * sized once per (B, max_len) and not per draw. */
    reserve(b, B, rg_task_seq_len(task, max_len) - 1);
    /* Draw every example's length first: the row width T depends on them. */
    int T = 0;
    for (int i = 0; i < B; i++) {
        b->in_len[i] = rg_rng_int(rng, min_len, max_len);
        int L = rg_task_seq_len(task, b->in_len[i]);
        if (L - 1 > T) T = L - 1;
    }
    b->B = B, b->T = T; /* rows are T apart: the batch is a contiguous [B, T] */
    b->pos = NULL;

    int pad = rg_tok_pad(n_symbols), eos = rg_tok_eos(n_symbols);
    for (int i = 0; i < B; i++) {
        int n = b->in_len[i], y0 = rg_task_prompt_len(task, n) - 1; /* first masked target */
        int *tok = b->tokens + (long)i * T, *tgt = b->targets + (long)i * T;
        real *mask = b->mask + (long)i * T;
        /* The inputs are the sequence without its EOS: BOS <input> SEP y. */
        int len = rg_task_write_input(task, n_symbols, n, rng, tok);
        b->seq_len[i] = len + 1;
        for (int t = 0; t + 1 < len; t++) tgt[t] = tok[t + 1];
        tgt[len - 1] = eos;
        for (int t = 0; t < len; t++) mask[t] = t >= y0 ? 1 : 0;
        for (int t = len; t < T; t++) tok[t] = pad, tgt[t] = pad, mask[t] = 0;
    }
}

/* Selection sampling (Knuth's Algorithm S): walk 0 .. L-1 and keep each
 * value with probability (still needed) / (still available). Every T-subset
 * is equally likely, and the kept values come out in ascending order. */
static void sorted_subset(int *out, int T, int L, rg_rng *rng) {
    int kept = 0;
    for (int v = 0; v < L && kept < T; v++)
        if ((double)(L - v) * rg_rng_uniform(rng) < (double)(T - kept)) out[kept++] = v;
}

void rg_batch_random_positions(rg_batch *b, int L, rg_rng *rng) {
    if (L < b->T) rg_die("random positions: %d positions cannot be drawn from 0..%d", b->T, L - 1);
    for (int i = 0; i < b->B; i++) sorted_subset(b->pos_buf + (long)i * b->T, b->T, L, rng);
    b->pos = b->pos_buf;
}

/* ---- seeds ----------------------------------------------------------------------
 *
 * Each stream's seed is mix(key) with
 *     key = seed (32 bits) << 32  |  tag (2 bits) << 30  |  n (30 bits)
 * tag 0: training data of a model seed (n = 0); tag 1: the evaluation set at
 * length n (seed 0: the same for every model seed); tag 2: that set's random
 * positions; tag 3: the validation set of training length n (select = best;
 * seed 0: its examples, seed 1: their random positions, the same for every
 * model seed). The key differs for every stream, and mix, the splitmix64
 * finaliser, is a bijection of 64-bit integers, so no two streams share a
 * seed (and xoshiro256**'s period of 2^256 - 1 makes an overlap within any
 * run's draws vanishingly unlikely).
 */
static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t stream_key(int seed, unsigned tag, int n) {
    if (n < 0 || n >= (1 << 30)) rg_die("data stream: length %d out of range", n);
    return (uint64_t)(uint32_t)seed << 32 | (uint64_t)(tag & 3u) << 30 | (uint64_t)n;
}

uint64_t rg_train_seed(int seed) {
    return mix64(stream_key(seed, 0, 0));
}

uint64_t rg_eval_seed(int n) {
    return mix64(stream_key(0, 1, n));
}

uint64_t rg_eval_positions_seed(int n) {
    return mix64(stream_key(0, 2, n));
}

uint64_t rg_val_seed(int train_len) {
    return mix64(stream_key(0, 3, train_len));
}

uint64_t rg_val_positions_seed(int train_len) {
    return mix64(stream_key(1, 3, train_len));
}
