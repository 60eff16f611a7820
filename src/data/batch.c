/* batch.c: padded batches of task examples for a decoder or an encoder,
 * randomized positions, and the seeds of the data streams (coupled
 * positions and abacus ids: methods.c).
 *
 * Both architectures draw their examples the same way (rg_task_draw, into
 * the row itself) and differ only in how a row is laid out around them:
 *   decoder  tokens  BOS x SEP y          targets  x SEP y EOS (shifted)
 *   encoder  tokens  BOS x SEP ANS .. ANS targets  PAD .. PAD y
 * see include/relgrad/data.h for the masks.
 */
#include "data_internal.h"

#include <stdlib.h>
#include <string.h>

void *rg_columns(const void *src, int B, int T, int t0, int n, size_t elem, void *out) {
    if (!src) return NULL;
    for (int b = 0; b < B; b++)
        memcpy((char *)out + (size_t)b * n * elem, (const char *)src + ((size_t)b * T + t0) * elem,
               (size_t)n * elem);
    return out;
}

void rg_batch_init(rg_batch *b) {
    memset(b, 0, sizeof *b);
}

void rg_batch_free(rg_batch *b) {
    free(b->tokens);
    free(b->targets);
    free(b->mask);
    free(b->acc_mask);
    free(b->in_len);
    free(b->seq_len);
    free(b->n_tokens);
    free(b->pos_buf);
    free(b->abacus_buf);
    free(b->work);
    rg_batch_init(b);
}

/* Make room for B rows of up to T columns and `work` words of scratch.
 * Buffers are only replaced when a size exceeds what they were sized for,
 * so batches of a shape already seen (or smaller) reuse them and allocate
 * nothing. */
static void reserve(rg_batch *b, int B, int T, size_t work) {
    if (B > b->cap_B) {
        free(b->in_len);
        free(b->seq_len);
        free(b->n_tokens);
        b->in_len = rg_xmalloc((size_t)B * sizeof *b->in_len, "a batch's lengths");
        b->seq_len = rg_xmalloc((size_t)B * sizeof *b->seq_len, "a batch's lengths");
        b->n_tokens = rg_xmalloc((size_t)B * sizeof *b->n_tokens, "a batch's lengths");
    }
    if (B > b->cap_B || T > b->cap_T) {
        int cap_B = B > b->cap_B ? B : b->cap_B, cap_T = T > b->cap_T ? T : b->cap_T;
        size_t cells = (size_t)cap_B * (size_t)cap_T;
        free(b->tokens);
        free(b->targets);
        free(b->mask);
        free(b->acc_mask);
        free(b->pos_buf);
        free(b->abacus_buf);
        b->tokens = rg_xmalloc(cells * sizeof *b->tokens, "a batch's tokens");
        b->targets = rg_xmalloc(cells * sizeof *b->targets, "a batch's targets");
        b->mask = rg_xmalloc(cells * sizeof *b->mask, "a batch's mask");
        b->acc_mask = rg_xmalloc(cells * sizeof *b->acc_mask, "a batch's accuracy mask");
        b->pos_buf = rg_xmalloc(cells * sizeof *b->pos_buf, "a batch's positions");
        b->abacus_buf = rg_xmalloc(cells * sizeof *b->abacus_buf, "a batch's abacus ids");
        b->cap_B = cap_B, b->cap_T = cap_T;
    }
    if (work > b->cap_work) {
        free(b->work);
        b->work = rg_xmalloc(work * sizeof *b->work, "a batch's numbers");
        b->cap_work = work;
    }
}

void rg_batch_reserve(rg_batch *b, const rg_data_spec *spec, int B, int max_len) {
    int need = rg_task_alphabet(spec->task);
    if (spec->n_symbols < 2 || (need && spec->n_symbols != need) ||
        (spec->arch != RG_ARCH_DECODER && spec->arch != RG_ARCH_ENCODER))
        rg_die("batch: task %s with n_symbols = %d (arch %d)", rg_task_name(spec->task),
               spec->n_symbols, (int)spec->arch);
    if (B < 1 || max_len < 0) rg_die("batch: B = %d, longest length %d", B, max_len);
    /* Room for the longest possible row, so the buffers are sized once per
     * (B, max_len) and not per draw. */
    reserve(b, B, rg_spec_seq_len(spec, max_len) - 1, rg_task_work_len(max_len));
}

void rg_batch_set_rows(rg_batch *b, const rg_data_spec *spec, int B) {
    int T = 0;
    for (int i = 0; i < B; i++) {
        int L = rg_spec_seq_len(spec, b->in_len[i]) - 1; /* tokens read, both archs */
        if (L > T) T = L;
    }
    b->B = B, b->T = T; /* rows are T apart: the batch is a contiguous [B, T] */
    b->arch = spec->arch;
    b->pos = NULL;
    b->abacus = NULL;
}

void rg_batch_finish_row(rg_batch *b, int i, const rg_data_spec *spec, int scored) {
    int T = b->T, ns = spec->n_symbols, H = spec->n_hints, pad = rg_tok_pad(ns, H);
    int n = b->in_len[i], P = rg_spec_prompt_len(spec, n), m = rg_spec_out_len(spec, n),
        len = P + m;
    int *tok = b->tokens + (long)i * T, *tgt = b->targets + (long)i * T;
    real *mask = b->mask + (long)i * T, *acc = b->acc_mask + (long)i * T;
    tok[0] = rg_tok_bos(ns, H);
    tok[P - 1] = rg_tok_sep(ns, H);
    if (spec->arch == RG_ARCH_DECODER) { /* reads BOS x SEP y, predicts x SEP y EOS */
        for (int t = 0; t + 1 < len; t++) tgt[t] = tok[t + 1];
        tgt[len - 1] = rg_tok_eos(ns, H);
        /* target t is sequence token t+1: y_k for k = t+2-P <= m, EOS for k = m+1 */
        for (int t = 0; t < len; t++) {
            int k = t + 2 - P;
            mask[t] = k >= 1;
            acc[t] = k >= 1 && (scored == m || k <= scored);
        }
        b->seq_len[i] = len + 1;
    } else { /* reads BOS x SEP ANS.., answers y_k at the k-th ANS */
        for (int t = 0; t < P; t++) tgt[t] = pad, mask[t] = 0, acc[t] = 0;
        for (int k = 0; k < m; k++) {
            tgt[P + k] = tok[P + k];
            tok[P + k] = rg_tok_ans(ns, H);
            mask[P + k] = 1;
            acc[P + k] = k < scored;
        }
        b->seq_len[i] = len;
    }
    b->n_tokens[i] = len;
    for (int t = len; t < T; t++) tok[t] = pad, tgt[t] = pad, mask[t] = 0, acc[t] = 0;
}

void rg_batch_draw(rg_batch *b, const rg_data_spec *spec, int B, int min_len, int max_len,
                   rg_rng *rng) {
    if (min_len < 0 || max_len < min_len)
        rg_die("rg_batch_draw: lengths %d .. %d", min_len, max_len);
    rg_batch_reserve(b, spec, B, max_len);
    /* Draw every example's length first: the row width T depends on them. */
    if (spec->lengths == RG_LENGTHS_PER_BATCH) {
        int n = rg_rng_int(rng, min_len, max_len);
        for (int i = 0; i < B; i++) b->in_len[i] = n;
    } else {
        for (int i = 0; i < B; i++) b->in_len[i] = rg_rng_int(rng, min_len, max_len);
    }
    rg_batch_set_rows(b, spec, B);
    for (int i = 0; i < B; i++) { /* each example drawn into its row: x after BOS, y after SEP */
        int n = b->in_len[i], *tok = b->tokens + (long)i * b->T;
        int scored =
            rg_example_draw(spec, n, rng, tok + 1, tok + rg_spec_prompt_len(spec, n), b->work);
        rg_batch_finish_row(b, i, spec, scored);
    }
}

void rg_batch_make(rg_batch *b, rg_task task, int n_symbols, int B, int min_len, int max_len,
                   rg_rng *rng) {
    rg_data_spec spec = {.arch = RG_ARCH_DECODER, .task = task, .n_symbols = n_symbols};
    rg_batch_draw(b, &spec, B, min_len, max_len, rng);
}

/* ---- randomized positions --------------------------------------------------------- */

/* Selection sampling (Knuth's Algorithm S): walk 0 .. L-1 and keep each
 * value with probability (still needed) / (still available). Every T-subset
 * is equally likely, and the kept values come out in ascending order. */
static void sorted_subset(int *out, int T, int L, rg_rng *rng) {
    int kept = 0;
    for (int v = 0; v < L && kept < T; v++)
        if ((double)(L - v) * rg_rng_uniform(rng) < (double)(T - kept)) out[kept++] = v;
}

void rg_batch_random_positions_per(rg_batch *b, int L, rg_positions_per per, rg_rng *rng) {
    if (L < b->T) rg_die("random positions: %d positions cannot be drawn from 0..%d", b->T, L - 1);
    if (per == RG_POSITIONS_PER_BATCH) {
        sorted_subset(b->pos_buf, b->T, L, rng);
        for (int i = 1; i < b->B; i++)
            memcpy(b->pos_buf + (long)i * b->T, b->pos_buf, (size_t)b->T * sizeof *b->pos_buf);
    } else {
        for (int i = 0; i < b->B; i++) sorted_subset(b->pos_buf + (long)i * b->T, b->T, L, rng);
    }
    b->pos = b->pos_buf;
}

void rg_batch_random_positions(rg_batch *b, int L, rg_rng *rng) {
    rg_batch_random_positions_per(b, L, RG_POSITIONS_PER_SEQUENCE, rng);
}

/* ---- seeds ----------------------------------------------------------------------
 *
 * Each stream's seed is mix(key) with
 *     key = seed (32 bits) << 32  |  tag (2 bits) << 30  |  n (30 bits)
 * tag 0: training data of a model seed (n = 0); tag 1: the evaluation set at
 * length n (seed 0: the same for every model seed); tag 2: that set's random
 * positions; tag 3: the fixed training set (seed 0, n = 0: the same for
 * every model seed) and its order in epoch e (the model seed, n = 1 + e
 * modulo 2^30 - 1), and the validation set of training length n (select =
 * best: seed 2^31 for its examples, 2^31 + 1 for their random positions,
 * seed fields no model seed has, as model seeds are 0 .. 2^31 - 1; the same
 * set for every model seed). The key differs for every stream, and mix, the splitmix64
 * finaliser, is a bijection of 64-bit integers, so no two streams share a
 * seed (and xoshiro256**'s period of 2^256 - 1 makes an overlap within any
 * run's draws vanishingly unlikely).
 */
static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t stream_key(uint32_t seed, unsigned tag, int n) {
    if (n < 0 || n >= (1 << 30)) rg_die("data stream: length %d out of range", n);
    return (uint64_t)seed << 32 | (uint64_t)(tag & 3u) << 30 | (uint64_t)n;
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

uint64_t rg_train_set_seed(void) {
    return mix64(stream_key(0, 3, 0));
}

uint64_t rg_train_order_seed(int seed, long epoch) {
    if (epoch < 0) rg_die("rg_train_order_seed: epoch %ld", epoch);
    return mix64(stream_key(seed, 3, 1 + (int)(epoch % ((1L << 30) - 1))));
}

/* The validation set's two seed fields (above every model seed). */
static const uint32_t VAL_EXAMPLES = UINT32_C(1) << 31, VAL_POSITIONS = (UINT32_C(1) << 31) + 1;

uint64_t rg_val_seed(int train_len) {
    return mix64(stream_key(VAL_EXAMPLES, 3, train_len));
}

uint64_t rg_val_positions_seed(int train_len) {
    return mix64(stream_key(VAL_POSITIONS, 3, train_len));
}
