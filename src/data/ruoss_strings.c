/* ruoss_strings.c: the Ruoss et al. 2023 tasks over short token strings:
 * even_pairs, modular_arithmetic, cycle_navigation (regular),
 * stack_manipulation (deterministic context-free) and
 * missing_duplicate_string (context-sensitive); and the dispatch of every
 * Ruoss task's input and answer.
 *
 * Inputs are drawn as the authors' sample_batch draws them (rules, not
 * their code; their jax/numpy draws are not reproduced bit for bit):
 *   even_pairs, parity: n uniform bits.
 *   modular_arithmetic: length n, or n-1 when n is even; numbers 0..4 at
 *     even places, operators uniform over + * - between them.
 *   cycle_navigation: n actions uniform over 0 1 2 (moves -1, 0, +1).
 *   stack_manipulation: n = 1: one value, the answer is that stack; else a
 *     stack of k values (k uniform in 1..n-1, bits uniform) and n-k actions
 *     uniform over POP, PUSH 0, PUSH 1.
 *   missing_duplicate_string: n = 1: x = 1, y = 1; else h = n/2 bits s, the
 *     string s s with one place (uniform over 2h) replaced by 2, then 3 when
 *     n is odd.
 * Answers are computed from x, as a reader of the input would.
 */
#include "data_internal.h"

enum { MODULUS = 5, CYCLE = 5 };                       /* the authors' task settings */
enum { OP_PLUS = 5, OP_MINUS = 6, OP_TIMES = 7 };      /* modular_arithmetic's tokens */
enum { POP = 2, PUSH0 = 3, PUSH1 = 4, STACK_END = 2 }; /* stack_manipulation's        */
enum { MISSING = 2, EMPTY = 3 };                       /* missing_duplicate_string's  */

static void draw_bits(int n, rg_rng *rng, int *x) {
    for (int i = 0; i < n; i++) x[i] = rg_rng_int(rng, 0, 1);
}

void rg_ruoss_draw_input(rg_task task, int n, rg_rng *rng, int *x) {
    switch (task) {
    case RG_TASK_EVEN_PAIRS:
        draw_bits(n, rng, x);
        return;
    case RG_TASK_MODULAR_ARITHMETIC: {
        static const int ops[3] = {OP_PLUS, OP_TIMES, OP_MINUS};
        int len = rg_task_input_len(task, n);
        for (int i = 0; i < len; i++)
            x[i] = i % 2 ? ops[rg_rng_int(rng, 0, 2)] : rg_rng_int(rng, 0, MODULUS - 1);
        return;
    }
    case RG_TASK_CYCLE_NAVIGATION:
        for (int i = 0; i < n; i++) x[i] = rg_rng_int(rng, 0, 2);
        return;
    case RG_TASK_STACK_MANIPULATION: {
        if (n == 1) {
            x[0] = rg_rng_int(rng, 0, 1);
            return;
        }
        int k = rg_rng_int(rng, 1, n - 1);
        draw_bits(k, rng, x);
        for (int i = k; i < n; i++) x[i] = rg_rng_int(rng, POP, PUSH1);
        return;
    }
    case RG_TASK_MISSING_DUPLICATE_STRING: {
        if (n == 1) {
            x[0] = 1;
            return;
        }
        int h = n / 2;
        draw_bits(h, rng, x);
        for (int i = 0; i < h; i++) x[h + i] = x[i];
        x[rg_rng_int(rng, 0, 2 * h - 1)] = MISSING;
        if (n % 2) x[2 * h] = EMPTY;
        return;
    }
    case RG_TASK_BINARY_ADDITION:
    case RG_TASK_BINARY_MULTIPLICATION:
    case RG_TASK_COMPUTE_SQRT:
        rg_binary_draw_input(task, n, rng, x);
        return;
    default:
        rg_die("rg_ruoss_draw_input: task %s has no input generator", rg_task_name(task));
    }
}

/* The value of n0 op n1 op .. mod 5, * binding tighter than + and -: a
 * running sum of signed products. */
static int arithmetic_value(const int *x, int len) {
    int sum = 0, sign = 1, product = x[0];
    for (int i = 1; i + 1 < len; i += 2) {
        int op = x[i], v = x[i + 1];
        if (op == OP_TIMES) {
            product = product * v % MODULUS;
            continue;
        }
        sum += sign * product;
        sign = op == OP_MINUS ? -1 : 1;
        product = v;
    }
    sum += sign * product;
    return (sum % MODULUS + MODULUS) % MODULUS;
}

/* stack_manipulation: the initial stack is the leading values (0/1), the
 * rest are actions. y = the final stack top first, STACK_END, then zeros up
 * to n + 1 tokens; returns the stack's size + 1. */
static int stack_answer(const int *x, int n, int *y) {
    int size = 0, i = 0;
    for (; i < n && x[i] < POP; i++) y[size++] = x[i]; /* y holds the stack bottom first */
    for (; i < n; i++) {
        if (x[i] == POP) {
            if (size > 0) size--;
        } else {
            y[size++] = x[i] - PUSH0;
        }
    }
    for (int a = 0, b = size - 1; a < b; a++, b--) { /* top first */
        int t = y[a];
        y[a] = y[b], y[b] = t;
    }
    y[size] = STACK_END;
    for (int j = size + 1; j <= n; j++) y[j] = 0;
    return size + 1;
}

int rg_ruoss_answer(rg_task task, const int *x, int n, int *y, uint32_t *work) {
    switch (task) {
    case RG_TASK_EVEN_PAIRS: {
        int changes = 0;
        for (int i = 0; i + 1 < n; i++) changes += x[i] != x[i + 1];
        y[0] = changes % 2;
        return 1;
    }
    case RG_TASK_MODULAR_ARITHMETIC:
        y[0] = arithmetic_value(x, rg_task_input_len(task, n));
        return 1;
    case RG_TASK_CYCLE_NAVIGATION: {
        int place = 0;
        for (int i = 0; i < n; i++) place = (place + x[i] - 1 + CYCLE) % CYCLE;
        y[0] = place;
        return 1;
    }
    case RG_TASK_STACK_MANIPULATION:
        return stack_answer(x, n, y);
    case RG_TASK_MISSING_DUPLICATE_STRING: {
        if (n == 1) {
            y[0] = 1;
            return 1;
        }
        int h = n / 2, at = 0;
        while (at < 2 * h && x[at] != MISSING) at++;
        if (at == 2 * h) rg_die("missing_duplicate_string: an input without the missing bit");
        y[0] = x[at < h ? at + h : at - h];
        return 1;
    }
    case RG_TASK_BINARY_ADDITION:
    case RG_TASK_BINARY_MULTIPLICATION:
    case RG_TASK_COMPUTE_SQRT:
        return rg_binary_answer(task, x, n, y, work);
    default:
        rg_die("rg_ruoss_answer: task %s has no answer from its input", rg_task_name(task));
    }
}
