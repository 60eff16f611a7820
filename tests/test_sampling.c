/* test_sampling.c: how batches are sampled (src/data/): the defaults draw
 * exactly what relgrad drew before (same values, same rng consumption),
 * length_sampling = batch, random positions per batch, and the fixed
 * training set of train_examples (balanced lengths, the same set for every
 * seed, a fresh order every epoch, batches a function of their index).
 */
#include <criterion/criterion.h>

#include "relgrad/data.h"

#include <stdlib.h>
#include <string.h>

#define NS 16

static bool same_state(const rg_rng *a, const rg_rng *b) {
    return !memcmp(a->s, b->s, sizeof a->s);
}

/* The default batch is drawn as before: every length, then each example's
 * symbols in order; rows BOS x SEP y shifted, the rng left where that
 * leaves it. Written out here, not through the library. */
Test(sampling, defaults_draw_as_before) {
    const rg_task tasks[] = {RG_TASK_COPY, RG_TASK_SORT, RG_TASK_ADDITION, RG_TASK_PARITY};
    for (int ti = 0; ti < 4; ti++) {
        rg_task task = tasks[ti];
        int ns = task == RG_TASK_PARITY ? 2 : NS, B = 9, lo = 1, hi = 12;
        rg_rng lib, mine;
        rg_rng_seed(&lib, rg_train_seed(8));
        rg_rng_seed(&mine, rg_train_seed(8));
        rg_batch b;
        rg_batch_init(&b);
        rg_data_spec spec = {.task = task, .n_symbols = ns}; /* every other field: its default */
        rg_batch_draw(&b, &spec, B, lo, hi, &lib);
        int len[9], T = 0;
        for (int i = 0; i < B; i++) {
            len[i] = rg_rng_int(&mine, lo, hi);
            int L = rg_task_seq_len(task, len[i]) - 1;
            T = L > T ? L : T;
        }
        cr_assert_eq(b.T, T);
        for (int i = 0; i < B; i++) {
            int n = len[i], in = task == RG_TASK_ADDITION ? 2 * n + 1 : n;
            cr_assert_eq(b.in_len[i], n);
            for (int k = 0; k < in; k++) {
                int want = task == RG_TASK_ADDITION && k == n
                               ? rg_tok_sep(ns, 0)
                               : rg_rng_int(&mine, 0, task == RG_TASK_PARITY ? 1 : ns - 1);
                cr_expect_eq(b.tokens[i * T + 1 + k], want, "%s row %d x_%d", rg_task_name(task), i,
                             k);
            }
        }
        cr_expect(same_state(&lib, &mine), "%s: the rng consumed as before", rg_task_name(task));
        /* and the old entry point draws the same */
        rg_batch c;
        rg_batch_init(&c);
        rg_rng_seed(&mine, rg_train_seed(8));
        rg_batch_make(&c, task, ns, B, lo, hi, &mine);
        cr_expect(c.T == b.T && !memcmp(c.tokens, b.tokens, sizeof(int) * (size_t)(B * T)) &&
                  !memcmp(c.targets, b.targets, sizeof(int) * (size_t)(B * T)) &&
                  !memcmp(c.mask, b.mask, sizeof(real) * (size_t)(B * T)));
        cr_expect(same_state(&lib, &mine));
        rg_batch_free(&b);
        rg_batch_free(&c);
    }
}

/* Default random positions: per row, selection sampling over 0..L-1 with one
 * uniform draw per value looked at, as before. */
Test(sampling, default_positions_draw_as_before) {
    rg_rng rng, mine;
    rg_rng_seed(&rng, 12);
    rg_batch b;
    rg_batch_init(&b);
    rg_batch_make(&b, RG_TASK_REVERSE, NS, 6, 1, 10, &rng);
    int L = 50;
    mine = rng;
    rg_batch_random_positions(&b, L, &rng);
    for (int i = 0; i < b.B; i++) {
        int kept = 0;
        for (int v = 0; v < L && kept < b.T; v++)
            if ((double)(L - v) * rg_rng_uniform(&mine) < (double)(b.T - kept)) {
                cr_expect_eq(b.pos[i * b.T + kept], v, "row %d position %d", i, kept);
                kept++;
            }
        cr_assert_eq(kept, b.T);
    }
    cr_expect(same_state(&rng, &mine), "the rng consumed as before");
    /* the explicit per-sequence form is the same function */
    rg_rng a = mine;
    int *first = malloc(sizeof(int) * (size_t)(b.B * b.T));
    rg_batch_random_positions_per(&b, L, RG_POSITIONS_PER_SEQUENCE, &a);
    memcpy(first, b.pos, sizeof(int) * (size_t)(b.B * b.T));
    rg_batch_random_positions(&b, L, &mine);
    cr_expect(!memcmp(first, b.pos, sizeof(int) * (size_t)(b.B * b.T)) && same_state(&a, &mine));
    free(first);
    rg_batch_free(&b);
}

/* length_sampling = batch: one length per batch, uniform over 1..train_len,
 * drawn with one rng call (then the examples as usual). */
Test(sampling, one_length_per_batch) {
    rg_rng rng;
    rg_rng_seed(&rng, rg_train_seed(2));
    rg_batch b;
    rg_batch_init(&b);
    rg_data_spec spec = {
        .task = RG_TASK_DUPLICATE, .n_symbols = NS, .lengths = RG_LENGTHS_PER_BATCH};
    int seen[13] = {0}, batches = 1200;
    for (int k = 0; k < batches; k++) {
        rg_rng before = rng;
        rg_batch_draw(&b, &spec, 8, 1, 12, &rng);
        int n = b.in_len[0];
        cr_assert(n >= 1 && n <= 12);
        for (int i = 1; i < b.B; i++) cr_assert_eq(b.in_len[i], n, "batch %d row %d", k, i);
        cr_assert_eq(b.T, rg_task_seq_len(spec.task, n) - 1, "no padding");
        seen[n]++;
        if (k == 0) { /* one length draw, then each row's symbols */
            rg_rng mine = before;
            cr_expect_eq(rg_rng_int(&mine, 1, 12), n);
            for (int i = 0; i < b.B; i++)
                for (int j = 0; j < n; j++)
                    cr_expect_eq(b.tokens[i * b.T + 1 + j], rg_rng_int(&mine, 0, NS - 1));
            cr_expect(same_state(&mine, &rng));
        }
    }
    for (int n = 1; n <= 12; n++)
        cr_expect(seen[n] > 60 && seen[n] < 140, "length %d in %d of %d batches", n, seen[n],
                  batches);
    rg_batch_free(&b);
}

/* random_positions_per = batch: one sorted draw shared by every row, of the
 * batch's width T, every value reachable; one draw's worth of rng. */
Test(sampling, positions_per_batch) {
    rg_rng rng;
    rg_rng_seed(&rng, 31);
    rg_batch b;
    rg_batch_init(&b);
    int L = 30, seen[30] = {0}, differ = 0;
    int prev[64] = {0};
    for (int rep = 0; rep < 300; rep++) {
        rg_batch_make(&b, RG_TASK_COPY, NS, 5, 1, 6, &rng);
        rg_rng before = rng;
        rg_batch_random_positions_per(&b, L, RG_POSITIONS_PER_BATCH, &rng);
        cr_assert_not_null(b.pos);
        for (int t = 0; t < b.T; t++) {
            int p = b.pos[t];
            cr_assert(p >= 0 && p < L);
            if (t) cr_assert_gt(p, b.pos[t - 1], "sorted");
            seen[p]++;
            for (int i = 1; i < b.B; i++)
                cr_assert_eq(b.pos[i * b.T + t], p, "row %d shares row 0's positions", i);
        }
        differ += rep > 0 && memcmp(prev, b.pos, sizeof(int) * (size_t)b.T);
        memcpy(prev, b.pos, sizeof(int) * (size_t)b.T);
        /* the same draw as one row of the per-sequence form */
        rg_batch one = b;
        one.B = 1;
        int *mine = malloc(sizeof(int) * (size_t)b.T);
        one.pos_buf = mine;
        rg_batch_random_positions_per(&one, L, RG_POSITIONS_PER_SEQUENCE, &before);
        cr_expect(!memcmp(mine, b.pos, sizeof(int) * (size_t)b.T) && same_state(&before, &rng));
        free(mine);
    }
    for (int p = 0; p < L; p++) cr_expect_gt(seen[p], 0, "position %d never drawn", p);
    cr_expect_gt(differ, 250, "batches draw anew");
    rg_batch_free(&b);
}

/* The fixed training set. */
Test(sampling, train_set) {
    rg_data_spec spec = {.task = RG_TASK_REVERSE, .n_symbols = NS};
    enum { N = 50, LEN = 8, B = 10 };
    rg_train_set s, t;
    rg_train_set_init(&s, &spec, N, LEN, 1);
    rg_train_set_init(&t, &spec, N, LEN, 2);
    /* lengths spread evenly: 50 over 8 lengths, 6 or 7 each */
    int count[LEN + 1] = {0};
    for (int i = 0; i < N; i++) count[s.len[i]]++;
    for (int n = 1; n <= LEN; n++) cr_expect(count[n] == 6 || count[n] == 7, "length %d", n);
    /* the same examples for every model seed */
    cr_expect(!memcmp(s.tokens, t.tokens, sizeof(int) * (size_t)s.start[N]));
    /* an epoch (N / B batches) holds every example once; the stored x and y
     * are the rows' */
    rg_batch b;
    rg_batch_init(&b);
    int order[3][N];
    for (int e = 0; e < 3; e++) {
        int hits[N] = {0};
        for (int k = e * (N / B); k < (e + 1) * (N / B); k++) {
            rg_train_set_batch(&s, k, B, &b);
            cr_assert_eq(b.B, B);
            cr_assert_null(b.pos);
            for (int i = 0; i < B; i++) {
                int n = b.in_len[i], found = -1;
                const int *row = b.tokens + i * b.T;
                for (int j = 0; j < N && found < 0; j++) {
                    const int *xy = s.tokens + s.start[j];
                    if (s.len[j] == n && !memcmp(xy, row + 1, sizeof(int) * (size_t)n) &&
                        !memcmp(xy + n, row + n + 2, sizeof(int) * (size_t)n) && !hits[j])
                        found = j;
                }
                cr_assert_geq(found, 0, "epoch %d batch %d row %d: not a stored example", e, k, i);
                hits[found]++;
                order[e][(k - e * (N / B)) * B + i] = found;
                for (int j = 0; j < n; j++) cr_expect_eq(row[n + 2 + j], row[n - j], "reversed");
            }
        }
        for (int j = 0; j < N; j++) cr_expect_eq(hits[j], 1, "epoch %d: example %d", e, j);
    }
    cr_expect(memcmp(order[0], order[1], sizeof order[0]) &&
                  memcmp(order[1], order[2], sizeof order[0]),
              "every epoch has its own order");
    /* batch k is a function of k (a resumed run asks for it afresh), and the
     * model seed orders the epochs */
    rg_batch c;
    rg_batch_init(&c);
    rg_train_set_batch(&s, 3, B, &b);
    rg_train_set u;
    rg_train_set_init(&u, &spec, N, LEN, 1);
    rg_train_set_batch(&u, 7, B, &c);
    rg_train_set_batch(&u, 3, B, &c);
    cr_expect(b.T == c.T && !memcmp(b.tokens, c.tokens, sizeof(int) * (size_t)(B * b.T)) &&
              !memcmp(b.targets, c.targets, sizeof(int) * (size_t)(B * b.T)));
    rg_train_set_batch(&t, 3, B, &c);
    cr_expect(b.T != c.T || memcmp(b.tokens, c.tokens, sizeof(int) * (size_t)(B * b.T)),
              "seed 2 orders the epochs differently");
    /* a batch across an epoch's end: B = 7 does not divide 50; batch 7 holds
     * examples 49 of epoch 0 and 0..5 of epoch 1 */
    rg_train_set_batch(&u, 7, 7, &c);
    for (int i = 0; i < 7; i++) {
        rg_train_set_batch(&u, i == 0 ? 0 : 1, N, &b); /* epoch 0, or 1, in order */
        int at = i == 0 ? 49 : i - 1;
        cr_expect_eq(c.in_len[i], b.in_len[at], "row %d", i);
        cr_expect(
            !memcmp(c.tokens + i * c.T, b.tokens + at * b.T, sizeof(int) * (size_t)c.n_tokens[i]),
            "row %d: example %d of epoch %d", i, at, i > 0);
    }
    rg_train_set_free(&u);
    /* an encoder set lays the same examples out for the encoder */
    rg_data_spec enc = spec;
    enc.arch = RG_ARCH_ENCODER;
    rg_train_set_init(&u, &enc, N, LEN, 1);
    rg_train_set_batch(&u, 3, B, &c);
    rg_train_set_batch(&s, 3, B, &b);
    for (int i = 0; i < B; i++) {
        int n = b.in_len[i];
        cr_expect_eq(c.in_len[i], n);
        cr_expect_eq(c.tokens[i * c.T + n + 2], rg_tok_ans(NS, 0));
        cr_expect_eq(c.targets[i * c.T + n + 2], b.tokens[i * b.T + n + 2], "y_1");
    }
    rg_train_set_free(&u);
    rg_batch_free(&b);
    rg_batch_free(&c);
    rg_train_set_free(&s);
    rg_train_set_free(&t);
}
