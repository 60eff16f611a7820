/* test_tasks.c: the tasks of Ruoss et al. 2023 (src/data/) on fixed inputs
 * (the examples in the authors' docstrings, worked by hand), their
 * alphabets and lengths, the accuracy mask of the terminated ones, the
 * encoder's rows, addition with msb digits, and big numbers. Every drawn
 * example of every task is checked by tests/python/test_task_answers.py.
 */
#include <criterion/criterion.h>

#include "relgrad/data.h"

#include <string.h>

/* y and the scored prefix of the answer to x. */
static void expect_answer(rg_task task, const int *x, int n, const int *want, int m,
                          int want_scored) {
    int y[64], scored = -1;
    cr_assert_eq(rg_task_answer(task, rg_task_alphabet(task), x, n, y, &scored), m, "%s n=%d",
                 rg_task_name(task), n);
    cr_assert_eq(m, rg_task_out_len(task, n));
    for (int i = 0; i < m; i++)
        cr_expect_eq(y[i], want[i], "%s n=%d: y[%d] = %d, expected %d", rg_task_name(task), n, i,
                     y[i], want[i]);
    cr_expect_eq(scored, want_scored, "%s n=%d: scored %d", rg_task_name(task), n, scored);
}

Test(tasks, authors_examples) {
    /* even_pairs: 001110 -> 0, 0101001 -> 1 (5 changes) */
    expect_answer(RG_TASK_EVEN_PAIRS, (int[]){0, 0, 1, 1, 1, 0}, 6, (int[]){0}, 1, 1);
    expect_answer(RG_TASK_EVEN_PAIRS, (int[]){0, 1, 0, 1, 0, 0, 1}, 7, (int[]){1}, 1, 1);
    /* modular_arithmetic (5 = +, 6 = -, 7 = *): 1+2*3 = 2, 1-1-1 = 4, 0*1+4*3-2 = 0 */
    expect_answer(RG_TASK_MODULAR_ARITHMETIC, (int[]){1, 5, 2, 7, 3}, 5, (int[]){2}, 1, 1);
    expect_answer(RG_TASK_MODULAR_ARITHMETIC, (int[]){1, 6, 1, 6, 1}, 5, (int[]){4}, 1, 1);
    expect_answer(RG_TASK_MODULAR_ARITHMETIC, (int[]){0, 7, 1, 5, 4, 7, 3, 6, 2}, 9, (int[]){0}, 1,
                  1);
    /* length 10 reads 9 tokens; - before a product negates all of it: 4-3*4 = -8 = 2 */
    expect_answer(RG_TASK_MODULAR_ARITHMETIC, (int[]){4, 6, 3, 7, 4, 5, 0, 7, 2}, 10, (int[]){2}, 1,
                  1);
    /* cycle_navigation (0 = left, 1 = stay, 2 = right): +1 -1 0 -1 -1 = -2 -> 3 */
    expect_answer(RG_TASK_CYCLE_NAVIGATION, (int[]){2, 0, 1, 0, 0}, 5, (int[]){3}, 1, 1);
    expect_answer(RG_TASK_CYCLE_NAVIGATION, (int[]){2, 2, 2, 0}, 4, (int[]){2}, 1, 1);
    /* stack_manipulation (2 POP, 3 PUSH 0, 4 PUSH 1):
     * 0 1 1 0 PUSH1 POP POP -> 1 1 0 end 0 0 0 0; 1 1 0 POP POP POP -> end 0..0 */
    expect_answer(RG_TASK_STACK_MANIPULATION, (int[]){0, 1, 1, 0, 4, 2, 2}, 7,
                  (int[]){1, 1, 0, 2, 0, 0, 0, 0}, 8, 4);
    expect_answer(RG_TASK_STACK_MANIPULATION, (int[]){1, 1, 0, 2, 2, 2}, 6,
                  (int[]){2, 0, 0, 0, 0, 0, 0}, 7, 1);
    /* a POP on the empty stack is ignored; pushes after it count */
    expect_answer(RG_TASK_STACK_MANIPULATION, (int[]){1, 2, 2, 3, 4}, 5, (int[]){1, 0, 2, 0, 0, 0},
                  6, 3);
    expect_answer(RG_TASK_STACK_MANIPULATION, (int[]){1}, 1, (int[]){1, 2}, 2, 2);
    /* missing_duplicate_string: 0110 0210 -> 1; 101 121 pad -> 0; n = 1 */
    expect_answer(RG_TASK_MISSING_DUPLICATE_STRING, (int[]){0, 1, 1, 0, 0, 2, 1, 0}, 8, (int[]){1},
                  1, 1);
    expect_answer(RG_TASK_MISSING_DUPLICATE_STRING, (int[]){1, 0, 1, 1, 2, 1, 3}, 7, (int[]){0}, 1,
                  1);
    expect_answer(RG_TASK_MISSING_DUPLICATE_STRING, (int[]){2, 1, 0, 1}, 4, (int[]){0}, 1, 1);
    expect_answer(RG_TASK_MISSING_DUPLICATE_STRING, (int[]){1}, 1, (int[]){1}, 1, 1);
    /* binary_addition: 001 + 01101 (4 + 22 = 26 = 01011 lsb first) */
    expect_answer(RG_TASK_BINARY_ADDITION, (int[]){0, 0, 1, 2, 0, 1, 1, 0, 1}, 9,
                  (int[]){0, 1, 0, 1, 1, 2, 0, 0, 0, 0}, 10, 6);
    /* n <= 2: the number itself, no operator */
    expect_answer(RG_TASK_BINARY_ADDITION, (int[]){0, 1}, 2, (int[]){0, 1, 2}, 3, 3);
    expect_answer(RG_TASK_BINARY_ADDITION, (int[]){0, 0}, 2, (int[]){0, 2, 0}, 3, 2);
    expect_answer(RG_TASK_BINARY_ADDITION, (int[]){0}, 1, (int[]){0, 2}, 2, 2);
    /* binary_multiplication: 001 * 01101 = 88 = 0001101 lsb first; 1001 * 000001 = 288 */
    expect_answer(RG_TASK_BINARY_MULTIPLICATION, (int[]){0, 0, 1, 2, 0, 1, 1, 0, 1}, 9,
                  (int[]){0, 0, 0, 1, 1, 0, 1, 2, 0}, 9, 8);
    expect_answer(RG_TASK_BINARY_MULTIPLICATION, (int[]){1, 0, 0, 1, 2, 0, 0, 0, 0, 0, 1}, 11,
                  (int[]){0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 0}, 11, 10);
    expect_answer(RG_TASK_BINARY_MULTIPLICATION, (int[]){1, 0}, 2, (int[]){0, 2}, 2, 2);
    expect_answer(RG_TASK_BINARY_MULTIPLICATION, (int[]){0}, 1, (int[]){2}, 1, 1);
    /* compute_sqrt, msb first: 100101 = 37 -> 6 = 110; 111 = 7 -> 2 = 10 */
    expect_answer(RG_TASK_COMPUTE_SQRT, (int[]){1, 0, 0, 1, 0, 1}, 6, (int[]){1, 1, 0}, 3, 3);
    expect_answer(RG_TASK_COMPUTE_SQRT, (int[]){1, 1, 1}, 3, (int[]){1, 0}, 2, 2);
    expect_answer(RG_TASK_COMPUTE_SQRT, (int[]){0, 0, 0, 1}, 4, (int[]){0, 1}, 2, 2);
    /* aliases answer as their task */
    expect_answer(RG_TASK_BUCKET_SORT, (int[]){1, 0, 2, 0, 4, 1, 1, 2}, 8,
                  (int[]){0, 0, 1, 1, 1, 2, 2, 4}, 8, 8);
    expect_answer(RG_TASK_REVERSE_STRING, (int[]){0, 1, 1}, 3, (int[]){1, 1, 0}, 3, 3);
    expect_answer(RG_TASK_DUPLICATE_STRING, (int[]){1, 0}, 2, (int[]){1, 0, 1, 0}, 4, 4);
    expect_answer(RG_TASK_PARITY_CHECK, (int[]){1, 0, 1, 0, 1, 0, 0}, 7, (int[]){1}, 1, 1);
    /* the expression tasks' answers are made with their expression */
    int y[4];
    cr_expect_eq(rg_task_answer(RG_TASK_SOLVE_EQUATION, 11, (int[]){9, 10, 3}, 3, y, NULL), -1);
    cr_expect_eq(rg_task_answer(RG_TASK_MODULAR_ARITHMETIC_BRACKETS, 11, (int[]){3}, 1, y, NULL),
                 -1);
}

/* Big numbers past 64 bits: 2^100 - 1 squared, and its square root. */
Test(tasks, long_binary_numbers) {
    enum { N = 100 };
    int x[2 * N + 1], y[2 * N + 2];
    /* (2^N - 1) * (2^N - 1) = 2^2N - 2^(N+1) + 1: bits 0 = 1, 1..N = 0, N+1..2N-1 = 1 */
    for (int i = 0; i < N; i++) x[i] = 1, x[N + 1 + i] = 1;
    x[N] = 2;
    int scored;
    cr_assert_eq(rg_task_answer(RG_TASK_BINARY_MULTIPLICATION, 3, x, 2 * N + 1, y, &scored),
                 2 * N + 1);
    cr_assert_eq(scored, 2 * N + 1, "2N bits and the end");
    for (int i = 0; i < 2 * N; i++)
        cr_expect_eq(y[i], i == 0 || i > N ? 1 : 0, "product bit %d", i);
    cr_expect_eq(y[2 * N], 2);
    /* (2^N - 1) + (2^N - 1) = 2^(N+1) - 2: bit 0 = 0, bits 1..N = 1 */
    cr_assert_eq(rg_task_answer(RG_TASK_BINARY_ADDITION, 3, x, 2 * N + 1, y, &scored), 2 * N + 2);
    cr_expect_eq(scored, N + 2);
    for (int i = 0; i <= N; i++) cr_expect_eq(y[i], i > 0, "sum bit %d", i);
    cr_expect_eq(y[N + 1], 2);
    for (int i = N + 2; i < 2 * N + 2; i++) cr_expect_eq(y[i], 0);
    /* sqrt of 2^2N - 1 (2N ones) is 2^N - 1 (N ones); of 2^2N (a 1 and 2N zeros)
     * is 2^N, in N + 1 bits */
    for (int i = 0; i < 2 * N; i++) x[i] = 1;
    cr_assert_eq(rg_task_answer(RG_TASK_COMPUTE_SQRT, 2, x, 2 * N, y, &scored), N);
    for (int i = 0; i < N; i++) cr_expect_eq(y[i], 1, "root bit %d", i);
    x[0] = 1;
    for (int i = 1; i <= 2 * N; i++) x[i] = 0;
    cr_assert_eq(rg_task_answer(RG_TASK_COMPUTE_SQRT, 2, x, 2 * N + 1, y, &scored), N + 1);
    for (int i = 0; i <= N; i++) cr_expect_eq(y[i], i == 0, "root bit %d", i);
}

Test(tasks, alphabets_and_lengths) {
    static const struct {
        rg_task task;
        int alphabet, in5, out5, out6;
    } want[] = {
        {RG_TASK_COPY, 0, 5, 5, 6},
        {RG_TASK_PARITY, 2, 5, 1, 1},
        {RG_TASK_ADDITION, 0, 11, 6, 7},
        {RG_TASK_EVEN_PAIRS, 2, 5, 1, 1},
        {RG_TASK_MODULAR_ARITHMETIC, 9, 5, 1, 1},
        {RG_TASK_PARITY_CHECK, 2, 5, 1, 1},
        {RG_TASK_CYCLE_NAVIGATION, 5, 5, 1, 1},
        {RG_TASK_STACK_MANIPULATION, 5, 5, 6, 7},
        {RG_TASK_REVERSE_STRING, 2, 5, 5, 6},
        {RG_TASK_MODULAR_ARITHMETIC_BRACKETS, 11, 5, 1, 1},
        {RG_TASK_SOLVE_EQUATION, 11, 5, 1, 1},
        {RG_TASK_DUPLICATE_STRING, 2, 5, 10, 12},
        {RG_TASK_MISSING_DUPLICATE_STRING, 4, 5, 1, 1},
        {RG_TASK_BINARY_ADDITION, 3, 5, 6, 7},
        {RG_TASK_BINARY_MULTIPLICATION, 3, 5, 5, 6},
        {RG_TASK_COMPUTE_SQRT, 2, 5, 3, 3},
        {RG_TASK_BUCKET_SORT, 5, 5, 5, 6},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        rg_task t = want[i].task;
        cr_expect_eq(rg_task_alphabet(t), want[i].alphabet, "%s", rg_task_name(t));
        cr_expect_eq(rg_task_input_len(t, 5), want[i].in5, "%s", rg_task_name(t));
        cr_expect_eq(rg_task_out_len(t, 5), want[i].out5, "%s", rg_task_name(t));
        cr_expect_eq(rg_task_out_len(t, 6), want[i].out6, "%s", rg_task_name(t));
        cr_expect(strlen(rg_task_symbols_text(t)) > 0 && strlen(rg_task_out_len_text(t)) > 0);
    }
    cr_expect_eq(rg_task_input_len(RG_TASK_MODULAR_ARITHMETIC, 6), 5, "odd: n - 1");
    cr_expect_eq(rg_task_base(RG_TASK_BUCKET_SORT), RG_TASK_SORT);
    cr_expect_eq(rg_task_base(RG_TASK_STACK_MANIPULATION), RG_TASK_STACK_MANIPULATION);
    cr_expect_eq(rg_task_find("bucket_sort"), RG_TASK_BUCKET_SORT);
    cr_expect_eq(rg_tok_ans(5, 0), 9);
    cr_expect_eq(rg_vocab_size(RG_ARCH_ENCODER, 5, 0), 10);
    cr_expect_eq(rg_vocab_size(RG_ARCH_DECODER, 5, 0), 9);
}

/* The encoder's rows: BOS x SEP ANS.., y as the ANS targets, masks on the
 * ANS only, n_tokens = the row's non-PAD tokens; and the same examples as
 * a decoder batch drawn from an equal rng. */
Test(tasks, encoder_rows) {
    for (int t = 0; t < RG_TASK_COUNT; t++) {
        rg_task task = (rg_task)t;
        int ns = rg_task_alphabet(task) ? rg_task_alphabet(task) : 7;
        rg_data_spec dec = {.arch = RG_ARCH_DECODER, .task = task, .n_symbols = ns};
        rg_data_spec enc = dec;
        enc.arch = RG_ARCH_ENCODER;
        rg_rng r1, r2;
        rg_rng_seed(&r1, rg_train_seed(4));
        rg_rng_seed(&r2, rg_train_seed(4));
        rg_batch d, e;
        rg_batch_init(&d);
        rg_batch_init(&e);
        rg_batch_draw(&d, &dec, 12, 1, 15, &r1);
        rg_batch_draw(&e, &enc, 12, 1, 15, &r2);
        cr_assert_eq(d.T, e.T, "%s: both read seq_len - 1 tokens", rg_task_name(task));
        cr_assert_eq(e.arch, RG_ARCH_ENCODER);
        for (int i = 0; i < e.B; i++) {
            int n = e.in_len[i], P = rg_task_prompt_len(task, n), m = rg_task_out_len(task, n);
            const int *dt = d.tokens + i * d.T, *dg = d.targets + i * d.T;
            const int *et = e.tokens + i * e.T, *eg = e.targets + i * e.T;
            const real *em = e.mask + i * e.T, *ea = e.acc_mask + i * e.T;
            cr_assert_eq(d.in_len[i], n);
            cr_expect_eq(e.n_tokens[i], P + m);
            cr_expect_eq(e.seq_len[i], P + m);
            cr_expect_eq(d.n_tokens[i], P + m);
            cr_expect_eq(d.seq_len[i], P + m + 1);
            for (int k = 0; k < P; k++) {
                cr_expect_eq(et[k], dt[k], "%s row %d: the prompt", rg_task_name(task), i);
                cr_expect(eg[k] == rg_tok_pad(ns, 0) && em[k] == 0 && ea[k] == 0);
            }
            int scored = 0;
            for (int k = 0; k < m; k++) {
                cr_expect_eq(et[P + k], rg_tok_ans(ns, 0));
                cr_expect_eq(eg[P + k], dg[P - 1 + k], "%s row %d: y_%d", rg_task_name(task), i,
                             k + 1);
                cr_expect_eq(em[P + k], 1);
                /* the accuracy mask is a prefix of the answer, as the decoder's */
                cr_expect_eq(ea[P + k], d.acc_mask[i * d.T + P - 1 + k]);
                if (k > 0 && ea[P + k]) cr_expect(ea[P + k - 1]);
                scored += ea[P + k] != 0;
            }
            cr_expect_geq(scored, 1);
            cr_expect_eq(d.acc_mask[i * d.T + P + m - 1], scored == m, "EOS counts unless cut");
            for (int k = P + m; k < e.T; k++)
                cr_expect(et[k] == rg_tok_pad(ns, 0) && eg[k] == rg_tok_pad(ns, 0) && em[k] == 0);
        }
        rg_batch_free(&d);
        rg_batch_free(&e);
    }
}

/* Terminated answers: the loss covers y (and EOS), accuracy y up to the 2. */
Test(tasks, accuracy_mask_stops_at_the_end) {
    rg_rng rng;
    rg_rng_seed(&rng, 3);
    rg_batch b;
    rg_batch_init(&b);
    rg_data_spec spec = {.task = RG_TASK_BINARY_ADDITION, .n_symbols = 3};
    rg_batch_draw(&b, &spec, 40, 10, 10, &rng);
    int shorter = 0;
    for (int i = 0; i < b.B; i++) {
        int P = rg_task_prompt_len(spec.task, 10), m = 11, end = -1;
        const int *row = b.tokens + i * b.T;
        for (int k = 0; k < m && end < 0; k++)
            if (row[P + k] == 2) end = k;
        cr_assert_geq(end, 1, "row %d: a sum and its end token", i);
        double loss = 0, acc = 0;
        for (int t = 0; t < b.T; t++) loss += b.mask[i * b.T + t], acc += b.acc_mask[i * b.T + t];
        cr_expect_eq(loss, m + 1, "y and EOS");
        cr_expect_eq(acc, end + 1, "y up to the end token");
        for (int k = end + 1; k < m; k++) cr_expect_eq(row[P + k], 0, "zeros after the end");
        shorter += end + 1 < m;
    }
    cr_expect_gt(shorter, 30, "most sums are shorter than n + 1");
    rg_batch_free(&b);
}

/* digits = msb: the digits drawn for lsb, with a, b and y each reversed. */
Test(tasks, addition_msb) {
    rg_data_spec lsb = {.task = RG_TASK_ADDITION, .n_symbols = 10}, msb = lsb;
    msb.digits = RG_DIGITS_MSB;
    for (int arch = 0; arch < 2; arch++) {
        lsb.arch = msb.arch = (rg_arch)arch;
        rg_rng r1, r2;
        rg_rng_seed(&r1, 17);
        rg_rng_seed(&r2, 17);
        rg_batch a, b;
        rg_batch_init(&a);
        rg_batch_init(&b);
        rg_batch_draw(&a, &lsb, 20, 1, 9, &r1);
        rg_batch_draw(&b, &msb, 20, 1, 9, &r2);
        cr_assert_eq(a.T, b.T);
        for (int i = 0; i < a.B; i++) {
            int n = a.in_len[i];
            const int *x = a.tokens + i * a.T + 1, *z = b.tokens + i * b.T + 1;
            for (int k = 0; k < n; k++) {
                cr_expect_eq(z[k], x[n - 1 - k], "a");
                cr_expect_eq(z[n + 1 + k], x[2 * n - k], "b");
            }
            const int *ya = arch ? a.targets + i * a.T + 2 * n + 3 : x + 2 * n + 2;
            const int *yb = arch ? b.targets + i * b.T + 2 * n + 3 : z + 2 * n + 2;
            for (int k = 0; k <= n; k++) cr_expect_eq(yb[k], ya[n - k], "y");
            /* most significant first: the carry digit leads */
            cr_expect(yb[0] == 0 || yb[0] == 1);
        }
        rg_batch_free(&a);
        rg_batch_free(&b);
    }
}

/* Batches of a shape already seen reuse every buffer, the big numbers' too. */
Test(tasks, buffers_are_reused) {
    rg_rng rng;
    rg_rng_seed(&rng, 8);
    rg_batch b;
    rg_batch_init(&b);
    const rg_task tasks[] = {RG_TASK_COMPUTE_SQRT, RG_TASK_BINARY_MULTIPLICATION,
                             RG_TASK_BINARY_ADDITION, RG_TASK_MODULAR_ARITHMETIC_BRACKETS};
    rg_data_spec spec = {.arch = RG_ARCH_ENCODER, .task = RG_TASK_BINARY_ADDITION, .n_symbols = 3};
    rg_batch_draw(&b, &spec, 6, 1, 300, &rng);
    const void *bufs[] = {b.tokens,  b.targets,  b.mask,    b.acc_mask, b.in_len,
                          b.seq_len, b.n_tokens, b.pos_buf, b.work};
    for (int rep = 0; rep < 8; rep++) {
        spec.task = tasks[rep % 4];
        spec.n_symbols = rg_task_alphabet(spec.task);
        rg_batch_draw(&b, &spec, 6, rep % 2 ? 300 : 1, 300, &rng);
        const void *now[] = {b.tokens,  b.targets,  b.mask,    b.acc_mask, b.in_len,
                             b.seq_len, b.n_tokens, b.pos_buf, b.work};
        cr_assert(!memcmp(bufs, now, sizeof bufs), "a buffer was replaced (%s)",
                  rg_task_name(spec.task));
    }
    rg_batch_free(&b);
}
