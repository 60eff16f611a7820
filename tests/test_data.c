/* test_data.c: the synthetic tasks and batches (src/data.c): sequence
 * formats, answers on fixed inputs, targets and masks, length sampling,
 * padding, determinism, disjoint train/eval streams and buffer reuse.
 */
#include <criterion/criterion.h>

#include "relgrad/data.h"

#include <string.h>

#define NS 16 /* n_symbols in these tests */

static const rg_task ALL_TASKS[] = {RG_TASK_COPY, RG_TASK_REVERSE, RG_TASK_SORT, RG_TASK_DUPLICATE};

/* The expected answer, written independently of data.c. */
static int expected_answer(rg_task task, const int *x, int n, int *y) {
    switch (task) {
    case RG_TASK_COPY:
        for (int i = 0; i < n; i++) y[i] = x[i];
        return n;
    case RG_TASK_REVERSE:
        for (int i = 0; i < n; i++) y[n - 1 - i] = x[i];
        return n;
    case RG_TASK_SORT: { /* counting sort over the alphabet */
        int count[NS] = {0}, m = 0;
        for (int i = 0; i < n; i++) count[x[i]]++;
        for (int s = 0; s < NS; s++)
            for (int c = 0; c < count[s]; c++) y[m++] = s;
        return n;
    }
    case RG_TASK_DUPLICATE:
        for (int i = 0; i < n; i++) y[i] = y[n + i] = x[i];
        return 2 * n;
    default:
        cr_assert_fail("unknown task");
        return 0;
    }
}

Test(data, answers_on_fixed_inputs) {
    const int x[] = {3, 1, 2, 1, 0};
    int y[10];
    cr_assert_eq(rg_task_answer(RG_TASK_COPY, x, 5, y), 5);
    cr_expect_arr_eq(y, ((int[]){3, 1, 2, 1, 0}), 5 * sizeof(int));
    cr_assert_eq(rg_task_answer(RG_TASK_REVERSE, x, 5, y), 5);
    cr_expect_arr_eq(y, ((int[]){0, 1, 2, 1, 3}), 5 * sizeof(int));
    cr_assert_eq(rg_task_answer(RG_TASK_SORT, x, 5, y), 5);
    cr_expect_arr_eq(y, ((int[]){0, 1, 1, 2, 3}), 5 * sizeof(int));
    cr_assert_eq(rg_task_answer(RG_TASK_DUPLICATE, x, 5, y), 10);
    cr_expect_arr_eq(y, ((int[]){3, 1, 2, 1, 0, 3, 1, 2, 1, 0}), 10 * sizeof(int));
    /* one symbol, and the largest symbol id sorts last */
    const int z[] = {15, 0, 15, 7};
    cr_assert_eq(rg_task_answer(RG_TASK_SORT, z, 4, y), 4);
    cr_expect_arr_eq(y, ((int[]){0, 7, 15, 15}), 4 * sizeof(int));
    cr_assert_eq(rg_task_answer(RG_TASK_REVERSE, z, 1, y), 1);
    cr_expect_eq(y[0], 15);
    cr_expect_eq(rg_task_out_len(RG_TASK_COPY, 7), 7);
    cr_expect_eq(rg_task_out_len(RG_TASK_DUPLICATE, 7), 14);
}

Test(data, special_tokens) {
    cr_expect_eq(rg_tok_pad(NS), 16);
    cr_expect_eq(rg_tok_bos(NS), 17);
    cr_expect_eq(rg_tok_sep(NS), 18);
    cr_expect_eq(rg_tok_eos(NS), 19);
    cr_expect_eq(rg_vocab_size(NS), 20);
}

/* BOS x SEP y EOS for every task and several lengths. */
Test(data, example_format) {
    rg_rng rng;
    rg_rng_seed(&rng, 5);
    for (int ti = 0; ti < 4; ti++) {
        rg_task task = ALL_TASKS[ti];
        for (int n = 1; n <= 12; n++) {
            int seq[64], y[32];
            int len = rg_task_example(task, NS, n, &rng, seq);
            int m = rg_task_out_len(task, n);
            cr_assert_eq(len, n + m + 3);
            cr_assert_eq(len, rg_task_seq_len(task, n));
            cr_expect_eq(seq[0], rg_tok_bos(NS));
            cr_expect_eq(seq[n + 1], rg_tok_sep(NS));
            cr_expect_eq(seq[len - 1], rg_tok_eos(NS));
            for (int i = 1; i <= n; i++) cr_expect(seq[i] >= 0 && seq[i] < NS);
            cr_assert_eq(expected_answer(task, seq + 1, n, y), m);
            cr_expect_arr_eq(seq + n + 2, y, (size_t)m * sizeof(int), "%s n=%d", rg_task_name(task),
                             n);
        }
    }
}

/* Every row of a batch: tokens, shifted targets, mask exactly on y and EOS,
 * padding with PAD and mask 0. */
static void check_batch(const rg_batch *b, rg_task task, int min_len, int max_len) {
    int longest = 0;
    for (int i = 0; i < b->B; i++) {
        int n = b->in_len[i], m = rg_task_out_len(task, n), L = b->seq_len[i];
        cr_assert(n >= min_len && n <= max_len, "length %d outside [%d, %d]", n, min_len, max_len);
        cr_assert_eq(L, rg_task_seq_len(task, n));
        if (L > longest) longest = L;
        const int *tok = b->tokens + (long)i * b->T, *tgt = b->targets + (long)i * b->T;
        const real *mask = b->mask + (long)i * b->T;
        /* rebuild the full sequence: inputs then the last target */
        int seq[256], y[256];
        for (int t = 0; t < L - 1; t++) seq[t] = tok[t];
        seq[L - 1] = tgt[L - 2];
        cr_expect_eq(seq[0], rg_tok_bos(NS));
        cr_expect_eq(seq[n + 1], rg_tok_sep(NS));
        cr_expect_eq(seq[L - 1], rg_tok_eos(NS));
        expected_answer(task, seq + 1, n, y);
        cr_expect_arr_eq(seq + n + 2, y, (size_t)m * sizeof(int));
        double covered = 0;
        for (int t = 0; t < b->T; t++) {
            if (t < L - 1) {
                cr_expect_eq(tgt[t], seq[t + 1], "row %d t %d: target is not the next input", i, t);
                /* target t is seq[t+1]: y_1..y_m, EOS are seq[n+2 .. L-1] */
                bool answer = t + 1 >= n + 2;
                cr_expect_eq(mask[t], answer ? 1 : 0, "row %d t %d (n=%d)", i, t, n);
            } else {
                cr_expect_eq(tok[t], rg_tok_pad(NS), "row %d t %d: padding", i, t);
                cr_expect_eq(tgt[t], rg_tok_pad(NS));
                cr_expect_eq(mask[t], 0, "row %d t %d: padding has mask 0", i, t);
            }
            covered += mask[t];
        }
        cr_expect_eq(covered, m + 1, "row %d: mask covers %g tokens, y and EOS are %d", i, covered,
                     m + 1);
    }
    cr_expect_eq(b->T, longest - 1, "T is the longest sequence - 1");
}

Test(data, batch_format_every_task) {
    rg_rng rng;
    rg_rng_seed(&rng, rg_train_seed(3));
    rg_batch b;
    rg_batch_init(&b);
    for (int ti = 0; ti < 4; ti++) {
        rg_batch_make(&b, ALL_TASKS[ti], NS, 16, 1, 12, &rng);
        cr_assert_eq(b.B, 16);
        check_batch(&b, ALL_TASKS[ti], 1, 12);
        rg_batch_make(&b, ALL_TASKS[ti], NS, 5, 9, 9, &rng); /* evaluation: one length */
        check_batch(&b, ALL_TASKS[ti], 9, 9);
        for (int i = 0; i < b.B; i++) cr_expect_eq(b.in_len[i], 9);
        cr_expect_eq(b.T, rg_task_seq_len(ALL_TASKS[ti], 9) - 1); /* no padding */
    }
    rg_batch_free(&b);
    cr_expect_null(b.tokens);
}

Test(data, lengths_cover_the_training_range) {
    rg_rng rng;
    rg_rng_seed(&rng, rg_train_seed(1));
    rg_batch b;
    rg_batch_init(&b);
    int seen[17] = {0};
    for (int rep = 0; rep < 50; rep++) {
        rg_batch_make(&b, RG_TASK_COPY, NS, 32, 1, 16, &rng);
        for (int i = 0; i < b.B; i++) {
            cr_assert(b.in_len[i] >= 1 && b.in_len[i] <= 16, "length %d", b.in_len[i]);
            seen[b.in_len[i]]++;
        }
    }
    /* 1600 draws of 16 lengths: each about 100 times */
    for (int n = 1; n <= 16; n++)
        cr_expect(seen[n] > 50 && seen[n] < 150, "length %d drawn %d times", n, seen[n]);
    rg_batch_free(&b);
}

Test(data, symbols_cover_the_alphabet) {
    rg_rng rng;
    rg_rng_seed(&rng, 9);
    int seen[NS] = {0}, seq[64];
    for (int rep = 0; rep < 100; rep++) {
        int len = rg_task_example(RG_TASK_COPY, NS, 16, &rng, seq);
        cr_assert_eq(len, 35);
        for (int i = 1; i <= 16; i++) seen[seq[i]]++;
    }
    for (int s = 0; s < NS; s++)
        cr_expect(seen[s] > 50 && seen[s] < 150, "symbol %d: %d", s, seen[s]);
}

static bool same_batch(const rg_batch *a, const rg_batch *b) {
    if (a->B != b->B || a->T != b->T) return false;
    size_t cells = (size_t)a->B * a->T;
    return !memcmp(a->tokens, b->tokens, cells * sizeof(int)) &&
           !memcmp(a->targets, b->targets, cells * sizeof(int)) &&
           !memcmp(a->mask, b->mask, cells * sizeof(real)) &&
           !memcmp(a->in_len, b->in_len, (size_t)a->B * sizeof(int));
}

Test(data, same_seed_same_batches) {
    rg_rng r1, r2;
    rg_rng_seed(&r1, rg_train_seed(7));
    rg_rng_seed(&r2, rg_train_seed(7));
    rg_batch a, b;
    rg_batch_init(&a);
    rg_batch_init(&b);
    for (int rep = 0; rep < 5; rep++) {
        rg_batch_make(&a, RG_TASK_SORT, NS, 8, 1, 16, &r1);
        rg_batch_make(&b, RG_TASK_SORT, NS, 8, 1, 16, &r2);
        cr_expect(same_batch(&a, &b), "batch %d differs for the same seed", rep);
    }
    rg_batch_free(&a);
    rg_batch_free(&b);
}

Test(data, train_and_eval_streams_differ) {
    /* seeds of distinct streams are distinct */
    for (int s = 0; s < 20; s++) {
        uint64_t train = rg_train_seed(s);
        cr_expect_neq(train, rg_train_seed(s + 1));
        for (int n = 0; n <= 200; n++) {
            uint64_t ev = rg_eval_seed(s, n);
            cr_expect_neq(ev, train, "seed %d: eval length %d uses the training stream", s, n);
            cr_expect_neq(ev, rg_eval_seed(s, n + 1));
            cr_expect_neq(ev, rg_eval_seed(s + 1, n));
            /* and not the training stream of any nearby seed */
            for (int s2 = 0; s2 < 20; s2++) cr_expect_neq(ev, rg_train_seed(s2));
        }
    }
    /* and the data they give differ */
    rg_rng tr, ev;
    rg_rng_seed(&tr, rg_train_seed(1));
    rg_rng_seed(&ev, rg_eval_seed(1, 16));
    rg_batch a, b;
    rg_batch_init(&a);
    rg_batch_init(&b);
    rg_batch_make(&a, RG_TASK_COPY, NS, 8, 16, 16, &tr);
    rg_batch_make(&b, RG_TASK_COPY, NS, 8, 16, 16, &ev);
    cr_expect(!same_batch(&a, &b));
    /* the same eval stream gives the same examples every time */
    rg_rng_seed(&ev, rg_eval_seed(1, 16));
    rg_batch_make(&a, RG_TASK_COPY, NS, 8, 16, 16, &ev);
    cr_expect(same_batch(&a, &b));
    rg_batch_free(&a);
    rg_batch_free(&b);
}

Test(data, batch_buffers_are_reused) {
    rg_rng rng;
    rg_rng_seed(&rng, 11);
    rg_batch b;
    rg_batch_init(&b);
    rg_batch_make(&b, RG_TASK_REVERSE, NS, 8, 1, 16, &rng);
    int *tokens = b.tokens, *targets = b.targets, *in_len = b.in_len, *seq_len = b.seq_len;
    real *mask = b.mask;
    int cap_B = b.cap_B, cap_T = b.cap_T;
    cr_expect_geq(cap_B, 8);
    cr_expect_geq(cap_T, rg_task_seq_len(RG_TASK_REVERSE, 16) - 1);
    /* same shape, smaller batches, shorter lengths, another task of no longer rows */
    for (int rep = 0; rep < 20; rep++) {
        rg_batch_make(&b, RG_TASK_REVERSE, NS, 8, 1, 16, &rng);
        rg_batch_make(&b, RG_TASK_COPY, NS, 3, 4, 4, &rng);
        check_batch(&b, RG_TASK_COPY, 4, 4);
        rg_batch_make(&b, RG_TASK_SORT, NS, 8, 16, 16, &rng);
        check_batch(&b, RG_TASK_SORT, 16, 16);
        cr_assert(b.tokens == tokens && b.targets == targets && b.mask == mask &&
                      b.in_len == in_len && b.seq_len == seq_len,
                  "buffers were reallocated for a batch that fits");
        cr_assert(b.cap_B == cap_B && b.cap_T == cap_T);
    }
    /* growing reallocates, and the result is still right */
    rg_batch_make(&b, RG_TASK_DUPLICATE, NS, 20, 1, 30, &rng);
    cr_expect_geq(b.cap_B, 20);
    cr_expect_geq(b.cap_T, rg_task_seq_len(RG_TASK_DUPLICATE, 30) - 1);
    check_batch(&b, RG_TASK_DUPLICATE, 1, 30);
    rg_batch_free(&b);
}
