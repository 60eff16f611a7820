/* tasks.c: the synthetic tasks of SPEC sections 3 and 6: their names,
 * lengths, answers and examples.
 *
 * An example of length n is
 *     BOS <input> SEP y_1 .. y_m EOS
 * with <input> = x_1 .. x_n for every task but addition, whose input is
 * a_1 .. a_n SEP b_1 .. b_n (two n-digit numbers in base n_symbols, least
 * significant digit first; leading zeros allowed). Parity draws its symbols
 * from {0, 1} whatever n_symbols is (the config requires n_symbols = 2).
 */
#include "data_internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct task_info {
    const char *name, *summary;
} task_info;

static const task_info TASKS[RG_TASK_COUNT] = {
    [RG_TASK_COPY] = {"copy", "y = x"},
    [RG_TASK_REVERSE] = {"reverse", "y = x reversed"},
    [RG_TASK_SORT] = {"sort", "y = x sorted ascending (bucket sort with a small n_symbols)"},
    [RG_TASK_DUPLICATE] = {"duplicate", "y = x x"},
    [RG_TASK_PARITY] = {"parity", "x in {0,1} (n_symbols = 2); y = one symbol, x_1 xor .. xor x_n"},
    [RG_TASK_ADDITION] = {"addition", "input a SEP b, two n-digit numbers in base n_symbols, "
                                      "least significant first; y = the n+1 digits of a+b "
                                      "(binary addition with n_symbols = 2)"},
    [RG_TASK_ODDS_FIRST] = {"odds_first", "y = x_1 x_3 x_5 .. then x_2 x_4 .."},
};

const char *rg_task_name(rg_task t) {
    return t >= 0 && t < RG_TASK_COUNT ? TASKS[t].name : "?";
}

const char *rg_task_summary(rg_task t) {
    return t >= 0 && t < RG_TASK_COUNT ? TASKS[t].summary : "?";
}

int rg_task_find(const char *name) {
    for (int t = 0; t < RG_TASK_COUNT; t++)
        if (!strcmp(name, TASKS[t].name)) return t;
    return -1;
}

const char *rg_task_list_text(void) {
    return "copy, reverse, sort, duplicate, parity, addition, odds_first";
}

/* ---- lengths ------------------------------------------------------------------- */

int rg_task_input_len(rg_task t, int n) {
    return t == RG_TASK_ADDITION ? 2 * n + 1 : n;
}

int rg_task_out_len(rg_task t, int n) {
    switch (t) {
    case RG_TASK_DUPLICATE:
        return 2 * n;
    case RG_TASK_PARITY:
        return 1;
    case RG_TASK_ADDITION:
        return n + 1;
    default:
        return n;
    }
}

int rg_task_prompt_len(rg_task t, int n) {
    return rg_task_input_len(t, n) + 2; /* BOS <input> SEP */
}

int rg_task_seq_len(rg_task t, int n) {
    return rg_task_prompt_len(t, n) + rg_task_out_len(t, n) + 1; /* ... y EOS */
}

/* ---- answers -------------------------------------------------------------------- */

static int compare_ints(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

int rg_task_answer(rg_task task, int n_symbols, const int *in, int n, int *y) {
    switch (task) {
    case RG_TASK_COPY:
        memcpy(y, in, (size_t)n * sizeof *y);
        return n;
    case RG_TASK_REVERSE:
        for (int i = 0; i < n; i++) y[i] = in[n - 1 - i];
        return n;
    case RG_TASK_SORT:
        memcpy(y, in, (size_t)n * sizeof *y);
        qsort(y, (size_t)n, sizeof *y, compare_ints);
        return n;
    case RG_TASK_DUPLICATE:
        memcpy(y, in, (size_t)n * sizeof *y);
        memcpy(y + n, in, (size_t)n * sizeof *y);
        return 2 * n;
    case RG_TASK_PARITY: {
        int p = 0;
        for (int i = 0; i < n; i++) p ^= in[i] & 1;
        y[0] = p;
        return 1;
    }
    case RG_TASK_ADDITION: { /* in = a_1..a_n SEP b_1..b_n, digits least significant first */
        const int *a = in, *b = in + n + 1;
        int carry = 0;
        for (int i = 0; i < n; i++) {
            int s = a[i] + b[i] + carry;
            y[i] = s % n_symbols;
            carry = s / n_symbols;
        }
        y[n] = carry;
        return n + 1;
    }
    case RG_TASK_ODDS_FIRST: { /* 1-based odd positions first: indices 0, 2, 4, .. */
        int m = 0;
        for (int i = 0; i < n; i += 2) y[m++] = in[i];
        for (int i = 1; i < n; i += 2) y[m++] = in[i];
        return n;
    }
    default:
        rg_die("rg_task_answer: unknown task %d", (int)task);
    }
}

int rg_task_write_input(rg_task task, int n_symbols, int n, rg_rng *rng, int *seq) {
    int in_len = rg_task_input_len(task, n), top = task == RG_TASK_PARITY ? 1 : n_symbols - 1;
    int *in = seq + 1;
    seq[0] = rg_tok_bos(n_symbols);
    for (int i = 0; i < in_len; i++) /* addition: a SEP b */
        in[i] =
            task == RG_TASK_ADDITION && i == n ? rg_tok_sep(n_symbols) : rg_rng_int(rng, 0, top);
    seq[in_len + 1] = rg_tok_sep(n_symbols);
    int m = rg_task_answer(task, n_symbols, in, n, seq + in_len + 2);
    return in_len + m + 2;
}

int rg_task_example(rg_task task, int n_symbols, int n, rg_rng *rng, int *seq) {
    if (n < 0 || n_symbols < 2) rg_die("rg_task_example: n = %d, n_symbols = %d", n, n_symbols);
    int len = rg_task_write_input(task, n_symbols, n, rng, seq);
    seq[len] = rg_tok_eos(n_symbols);
    return len + 1;
}
