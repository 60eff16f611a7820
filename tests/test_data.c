/* test_data.c: the synthetic tasks and batches (src/data/): sequence formats
 * of every task (SPEC sections 3 and 6), answers on fixed inputs, targets and
 * masks, length sampling, padding, determinism, disjoint train/eval streams,
 * randomized positions and buffer reuse.
 */
#include <criterion/criterion.h>

#include "relgrad/data.h"

#include <string.h>

#define NS 16 /* n_symbols in these tests (parity: 2) */

static int symbols_of(rg_task t) {
    return rg_task_alphabet(t) ? rg_task_alphabet(t) : NS;
}

/* relgrad's own tasks and their aliases (the Ruoss tasks with their own
 * generators are checked by tests/python/test_task_answers.py) */
static bool classic(rg_task t) {
    return rg_task_base(t) <= RG_TASK_ODDS_FIRST;
}

/* The value of digits d[0..n) in base `base`, least significant first. */
static unsigned __int128 value_of(const int *d, int n, int base) {
    unsigned __int128 v = 0;
    for (int i = n - 1; i >= 0; i--) v = v * base + (unsigned)d[i];
    return v;
}

/* Check one whole sequence against SPEC, written independently of
 * src/data/: BOS <input> SEP y EOS with the task's own rule for y. Returns
 * the input length n it found. */
static void check_sequence(rg_task task, int ns, int n, const int *seq, int len) {
    const char *name = rg_task_name(task);
    task = rg_task_base(task);
    int bos = ns + 1, sep = ns + 2, eos = ns + 3;
    cr_assert_eq(seq[0], bos, "%s n=%d: first token", name, n);
    cr_assert_eq(seq[len - 1], eos, "%s n=%d: last token", name, n);
    const int *x = seq + 1;
    int in = task == RG_TASK_ADDITION ? 2 * n + 1 : n;
    cr_assert_eq(seq[in + 1], sep, "%s n=%d: SEP after the input", name, n);
    const int *y = seq + in + 2;
    int m = len - in - 3;
    for (int i = 0; i < in; i++) {
        if (task == RG_TASK_ADDITION && i == n) {
            cr_assert_eq(x[i], sep, "addition n=%d: SEP between a and b", n);
            continue;
        }
        cr_assert(x[i] >= 0 && x[i] < (task == RG_TASK_PARITY ? 2 : ns), "%s: symbol %d", name,
                  x[i]);
    }
    switch (task) {
    case RG_TASK_COPY:
        cr_assert_eq(m, n);
        for (int i = 0; i < n; i++) cr_expect_eq(y[i], x[i], "copy n=%d i=%d", n, i);
        break;
    case RG_TASK_REVERSE:
        cr_assert_eq(m, n);
        for (int i = 0; i < n; i++) cr_expect_eq(y[n - 1 - i], x[i], "reverse n=%d i=%d", n, i);
        break;
    case RG_TASK_SORT: { /* same multiset, ascending */
        cr_assert_eq(m, n);
        int count[NS] = {0};
        for (int i = 0; i < n; i++) count[x[i]]++, count[y[i]]--;
        for (int s = 0; s < NS; s++) cr_expect_eq(count[s], 0, "sort n=%d: symbol %d", n, s);
        for (int i = 1; i < n; i++) cr_expect_leq(y[i - 1], y[i], "sort n=%d: order", n);
        break;
    }
    case RG_TASK_DUPLICATE:
        cr_assert_eq(m, 2 * n);
        for (int i = 0; i < n; i++) cr_expect(y[i] == x[i] && y[n + i] == x[i], "duplicate");
        break;
    case RG_TASK_PARITY: {
        cr_assert_eq(m, 1);
        int ones = 0;
        for (int i = 0; i < n; i++) ones += x[i];
        cr_expect_eq(y[0], ones % 2, "parity n=%d: %d ones, answer %d", n, ones, y[0]);
        break;
    }
    case RG_TASK_ADDITION: { /* y really is a + b, as numbers */
        cr_assert_eq(m, n + 1);
        for (int i = 0; i <= n; i++) cr_assert(y[i] >= 0 && y[i] < ns, "addition digit %d", y[i]);
        unsigned __int128 a = value_of(x, n, ns), b = value_of(x + n + 1, n, ns);
        cr_expect(value_of(y, n + 1, ns) == a + b, "addition n=%d base %d: y != a + b", n, ns);
        break;
    }
    case RG_TASK_ODDS_FIRST: { /* x_1 x_3 x_5 .. then x_2 x_4 .. (1-based) */
        cr_assert_eq(m, n);
        int k = 0;
        for (int i = 1; i <= n; i += 2) cr_expect_eq(y[k++], x[i - 1], "odds_first n=%d", n);
        for (int i = 2; i <= n; i += 2) cr_expect_eq(y[k++], x[i - 1], "odds_first n=%d", n);
        break;
    }
    default:
        cr_assert_fail("unknown task %d", (int)task);
    }
}

Test(data, answers_on_fixed_inputs) {
    const int x[] = {3, 1, 2, 1, 0};
    int y[12];
    cr_assert_eq(rg_task_answer(RG_TASK_COPY, NS, x, 5, y, NULL), 5);
    cr_expect_arr_eq(y, ((int[]){3, 1, 2, 1, 0}), 5 * sizeof(int));
    cr_assert_eq(rg_task_answer(RG_TASK_REVERSE, NS, x, 5, y, NULL), 5);
    cr_expect_arr_eq(y, ((int[]){0, 1, 2, 1, 3}), 5 * sizeof(int));
    cr_assert_eq(rg_task_answer(RG_TASK_SORT, NS, x, 5, y, NULL), 5);
    cr_expect_arr_eq(y, ((int[]){0, 1, 1, 2, 3}), 5 * sizeof(int));
    cr_assert_eq(rg_task_answer(RG_TASK_DUPLICATE, NS, x, 5, y, NULL), 10);
    cr_expect_arr_eq(y, ((int[]){3, 1, 2, 1, 0, 3, 1, 2, 1, 0}), 10 * sizeof(int));
    cr_assert_eq(rg_task_answer(RG_TASK_ODDS_FIRST, NS, x, 5, y, NULL), 5);
    cr_expect_arr_eq(y, ((int[]){3, 2, 0, 1, 1}), 5 * sizeof(int));
    const int bits[] = {1, 0, 1, 1};
    cr_assert_eq(rg_task_answer(RG_TASK_PARITY, 2, bits, 4, y, NULL), 1);
    cr_expect_eq(y[0], 1);
    /* 379 + 468 = 847 in base 10, digits least significant first; SEP between */
    const int ab[] = {9, 7, 3, -1, 8, 6, 4};
    cr_assert_eq(rg_task_answer(RG_TASK_ADDITION, 10, ab, 3, y, NULL), 4);
    cr_expect_arr_eq(y, ((int[]){7, 4, 8, 0}), 4 * sizeof(int));
    /* binary 11 + 01 = 100: a carry into the extra digit */
    const int bin[] = {1, 1, -1, 1, 0};
    cr_assert_eq(rg_task_answer(RG_TASK_ADDITION, 2, bin, 2, y, NULL), 3);
    cr_expect_arr_eq(y, ((int[]){0, 0, 1}), 3 * sizeof(int));
    /* one symbol, and the largest symbol id sorts last */
    const int z[] = {15, 0, 15, 7};
    cr_assert_eq(rg_task_answer(RG_TASK_SORT, NS, z, 4, y, NULL), 4);
    cr_expect_arr_eq(y, ((int[]){0, 7, 15, 15}), 4 * sizeof(int));
    cr_expect_eq(rg_task_out_len(RG_TASK_COPY, 7), 7);
    cr_expect_eq(rg_task_out_len(RG_TASK_DUPLICATE, 7), 14);
    cr_expect_eq(rg_task_out_len(RG_TASK_PARITY, 7), 1);
    cr_expect_eq(rg_task_out_len(RG_TASK_ADDITION, 7), 8);
    cr_expect_eq(rg_task_seq_len(RG_TASK_ADDITION, 7), 15 + 8 + 3);
}

Test(data, names_round_trip) {
    for (int t = 0; t < RG_TASK_COUNT; t++) {
        cr_expect_eq(rg_task_find(rg_task_name((rg_task)t)), t);
        cr_expect(strstr(rg_task_list_text(), rg_task_name((rg_task)t)), "%s not listed",
                  rg_task_name((rg_task)t));
    }
    cr_expect_eq(rg_task_find("copyy"), -1);
}

Test(data, special_tokens) {
    cr_expect_eq(rg_tok_pad(NS, 0), 16);
    cr_expect_eq(rg_tok_bos(NS, 0), 17);
    cr_expect_eq(rg_tok_sep(NS, 0), 18);
    cr_expect_eq(rg_tok_eos(NS, 0), 19);
    cr_expect_eq(rg_vocab_size(RG_ARCH_DECODER, NS, 0), 20);
    cr_expect_eq(rg_tok_ans(NS, 0), 20);
    cr_expect_eq(rg_vocab_size(RG_ARCH_ENCODER, NS, 0), 21);
}

/* Every generated example of every task follows SPEC, over many draws. */
Test(data, example_format) {
    rg_rng rng;
    rg_rng_seed(&rng, 5);
    const int bases[] = {2, 10, 16};
    for (int task = 0; task < RG_TASK_COUNT; task++)
        for (int n = 1; n <= 12 && classic((rg_task)task); n++)
            for (int rep = 0; rep < 30; rep++) {
                int ns = task == RG_TASK_ADDITION ? bases[rep % 3] : symbols_of((rg_task)task);
                int seq[64];
                int len = rg_task_example((rg_task)task, ns, n, &rng, seq);
                cr_assert_eq(len, rg_task_seq_len((rg_task)task, n));
                cr_assert_eq(len, rg_task_prompt_len((rg_task)task, n) +
                                      rg_task_out_len((rg_task)task, n) + 1);
                check_sequence((rg_task)task, ns, n, seq, len);
            }
}

/* Every row of a batch: tokens, shifted targets, mask exactly on y and EOS,
 * padding with PAD and mask 0. */
static void check_batch(const rg_batch *b, rg_task task, int min_len, int max_len) {
    int longest = 0, ns = symbols_of(task);
    for (int i = 0; i < b->B; i++) {
        int n = b->in_len[i], m = rg_task_out_len(task, n), L = b->seq_len[i];
        int y0 = rg_task_prompt_len(task, n); /* index of y_1 in the sequence */
        cr_assert(n >= min_len && n <= max_len, "length %d outside [%d, %d]", n, min_len, max_len);
        cr_assert_eq(L, rg_task_seq_len(task, n));
        if (L > longest) longest = L;
        const int *tok = b->tokens + (long)i * b->T, *tgt = b->targets + (long)i * b->T;
        const real *mask = b->mask + (long)i * b->T;
        /* rebuild the full sequence: inputs then the last target */
        int seq[256];
        for (int t = 0; t < L - 1; t++) seq[t] = tok[t];
        seq[L - 1] = tgt[L - 2];
        check_sequence(task, ns, n, seq, L);
        double covered = 0;
        for (int t = 0; t < b->T; t++) {
            if (t < L - 1) {
                cr_expect_eq(tgt[t], seq[t + 1], "row %d t %d: target is not the next input", i, t);
                /* target t is seq[t+1]: y_1..y_m, EOS are seq[y0 .. L-1] */
                bool answer = t + 1 >= y0;
                cr_expect_eq(mask[t], answer ? 1 : 0, "row %d t %d (n=%d)", i, t, n);
            } else {
                cr_expect_eq(tok[t], rg_tok_pad(ns, 0), "row %d t %d: padding", i, t);
                cr_expect_eq(tgt[t], rg_tok_pad(ns, 0));
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
    for (int ti = 0; ti < RG_TASK_COUNT; ti++) {
        rg_task task = (rg_task)ti;
        if (!classic(task)) continue;
        rg_batch_make(&b, task, symbols_of(task), 16, 1, 12, &rng);
        cr_assert_eq(b.B, 16);
        check_batch(&b, task, 1, 12);
        rg_batch_make(&b, task, symbols_of(task), 5, 9, 9, &rng); /* evaluation: one length */
        check_batch(&b, task, 9, 9);
        for (int i = 0; i < b.B; i++) cr_expect_eq(b.in_len[i], 9);
        cr_expect_eq(b.T, rg_task_seq_len(task, 9) - 1); /* no padding */
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
            uint64_t ev = rg_eval_seed(n), ep = rg_eval_positions_seed(n);
            cr_expect_neq(ev, train, "seed %d: eval length %d uses the training stream", s, n);
            cr_expect_neq(ep, train, "seed %d: eval positions %d use the training stream", s, n);
            cr_expect_neq(ev, rg_eval_seed(n + 1));
            cr_expect_neq(ev, ep);
        }
    }
    /* and the data they give differ */
    rg_rng tr, ev;
    rg_rng_seed(&tr, rg_train_seed(1));
    rg_rng_seed(&ev, rg_eval_seed(16));
    rg_batch a, b;
    rg_batch_init(&a);
    rg_batch_init(&b);
    rg_batch_make(&a, RG_TASK_COPY, NS, 8, 16, 16, &tr);
    rg_batch_make(&b, RG_TASK_COPY, NS, 8, 16, 16, &ev);
    cr_expect(!same_batch(&a, &b));
    /* the same eval stream gives the same examples every time */
    rg_rng_seed(&ev, rg_eval_seed(16));
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

/* Randomized positions: each row a sorted subset of 0..L-1, every value
 * reachable, and the examples themselves untouched. */
Test(data, random_positions) {
    rg_rng rng;
    rg_rng_seed(&rng, 21);
    rg_batch b;
    rg_batch_init(&b);
    int L = 40, seen[40] = {0};
    for (int rep = 0; rep < 200; rep++) {
        rg_batch_make(&b, RG_TASK_REVERSE, NS, 4, 1, 6, &rng);
        cr_assert_null(b.pos, "a new batch has default positions");
        rg_batch_random_positions(&b, L, &rng);
        cr_assert_not_null(b.pos);
        check_batch(&b, RG_TASK_REVERSE, 1, 6);
        for (int i = 0; i < b.B; i++)
            for (int t = 0; t < b.T; t++) {
                int p = b.pos[i * b.T + t];
                cr_assert(p >= 0 && p < L, "position %d outside 0..%d", p, L - 1);
                if (t) cr_assert_gt(p, b.pos[i * b.T + t - 1], "positions must increase");
                seen[p]++;
            }
    }
    for (int p = 0; p < L; p++) cr_expect_gt(seen[p], 0, "position %d never drawn", p);
    rg_batch_free(&b);
}
