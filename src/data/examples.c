/* examples.c: drawing one example (its input x and answer y) for every
 * task, with index hints when the spec asks for them, the answers of
 * relgrad's own tasks, and one decoder sequence.
 *
 * relgrad's tasks (and their aliases) draw each input symbol in turn with
 * rg_rng_int(0, top) (parity: top = 1; addition: a SEP b, the SEP drawn
 * from nothing), exactly as before the Ruoss tasks came, so training and
 * evaluation data are unchanged. With digits = msb, addition draws the same
 * digits and then writes a, b and y most significant digit first.
 */
#include "data_internal.h"

#include <stdlib.h>
#include <string.h>

size_t rg_task_work_len(int n) {
    return 6 * ((size_t)rg_big_words(n) + 2); /* ruoss_binary.c: a, b, r and isqrt's two */
}

static int compare_ints(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* y for relgrad's tasks; returns m. */
static int classic_answer(rg_task task, int n_symbols, const int *in, int n, int *y) {
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
        rg_die("classic_answer: task %s is not one of relgrad's own", rg_task_name(task));
    }
}

int rg_task_answer_work(rg_task task, int n_symbols, const int *x, int n, int *y, int *scored,
                        uint32_t *work) {
    rg_task base = rg_task_base(task);
    if (base == RG_TASK_MODULAR_ARITHMETIC_BRACKETS || base == RG_TASK_SOLVE_EQUATION) return -1;
    int m = rg_task_out_len(task, n), s = m;
    if (base == RG_TASK_COUNTING)
        rg_counting_answer(x, n, y);
    else if (rg_task_is_ruoss(task))
        s = rg_ruoss_answer(base, x, n, y, work);
    else
        classic_answer(base, n_symbols, x, n, y);
    if (scored) *scored = s;
    return m;
}

int rg_task_answer(rg_task task, int n_symbols, const int *x, int n, int *y, int *scored) {
    uint32_t *work = rg_xmalloc(rg_task_work_len(n) * sizeof *work, "an answer's numbers");
    int m = rg_task_answer_work(task, n_symbols, x, n, y, scored, work);
    free(work);
    return m;
}

/* Reverse v[0 .. n-1] in place. */
static void reverse_ints(int *v, int n) {
    for (int i = 0, j = n - 1; i < j; i++, j--) {
        int t = v[i];
        v[i] = v[j], v[j] = t;
    }
}

int rg_task_draw(const rg_data_spec *spec, int n, rg_rng *rng, int *x, int *y, uint32_t *work) {
    rg_task task = spec->task, base = rg_task_base(task);
    int ns = spec->n_symbols;
    if (n < 0 || ns < 2 || ((rg_task_is_ruoss(task) || base == RG_TASK_COUNTING) && n < 1))
        rg_die("rg_task_draw: task %s, n = %d, n_symbols = %d", rg_task_name(task), n, ns);
    if (base == RG_TASK_COUNTING) {
        rg_counting_draw(n, rng, x, y);
        return 1;
    }
    if (base == RG_TASK_MODULAR_ARITHMETIC_BRACKETS) {
        rg_draw_brackets(n, rng, x, y);
        return 1;
    }
    if (base == RG_TASK_SOLVE_EQUATION) {
        rg_draw_equation(n, rng, x, y);
        return 1;
    }
    if (rg_task_is_ruoss(task)) {
        rg_ruoss_draw_input(base, n, rng, x);
        return rg_ruoss_answer(base, x, n, y, work);
    }
    int in_len = rg_task_input_len(task, n), top = base == RG_TASK_PARITY ? 1 : ns - 1;
    for (int i = 0; i < in_len; i++) /* addition: a SEP b */
        x[i] = base == RG_TASK_ADDITION && i == n ? rg_tok_sep(ns, spec->n_hints)
                                                  : rg_rng_int(rng, 0, top);
    int m = classic_answer(base, ns, x, n, y);
    if (base == RG_TASK_ADDITION && spec->digits == RG_DIGITS_MSB) {
        reverse_ints(x, n);         /* a */
        reverse_ints(x + n + 1, n); /* b */
        reverse_ints(y, m);
    }
    return m;
}

int rg_example_draw(const rg_data_spec *spec, int n, rg_rng *rng, int *x, int *y, uint32_t *work) {
    int scored = rg_task_draw(spec, n, rng, x, y, work);
    if (spec->n_hints <= 0) return scored;
    if (rg_task_base(spec->task) != RG_TASK_ADDITION || spec->arch != RG_ARCH_DECODER)
        rg_die("index hints are for addition read by a decoder, not task %s (arch %d)",
               rg_task_name(spec->task), (int)spec->arch);
    int spare = spec->n_hints - (n + 1); /* offsets that keep every hint in the table */
    if (spare < 0) rg_die("index hints: %d hints cannot mark %d digits", spec->n_hints, n + 1);
    int o = spec->training ? rg_rng_int(rng, 0, spare) : 0;
    rg_hints_insert(spec, n, o, x, y);
    return rg_spec_out_len(spec, n); /* hints and digits alike */
}

int rg_task_example(rg_task task, int n_symbols, int n, rg_rng *rng, int *seq) {
    if (n < 0 || n_symbols < 2) rg_die("rg_task_example: n = %d, n_symbols = %d", n, n_symbols);
    rg_data_spec spec = {.task = task, .n_symbols = n_symbols};
    uint32_t *work = rg_xmalloc(rg_task_work_len(n) * sizeof *work, "an example's numbers");
    int in_len = rg_task_input_len(task, n), m = rg_task_out_len(task, n);
    seq[0] = rg_tok_bos(n_symbols, 0);
    rg_task_draw(&spec, n, rng, seq + 1, seq + in_len + 2, work);
    free(work);
    seq[in_len + 1] = rg_tok_sep(n_symbols, 0);
    seq[in_len + m + 2] = rg_tok_eos(n_symbols, 0);
    return in_len + m + 3;
}
