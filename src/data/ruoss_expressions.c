/* ruoss_expressions.c: the two bracketed-expression tasks of Ruoss et al.
 * 2023 (deterministic context-free), modular_arithmetic_brackets and
 * solve_equation, with modulus 5 as in their experiments.
 *
 * An expression of exactly len tokens (the authors' rule):
 *   len 1: d      len 2: - d      len 3: ( d )      len 4: ( - d )
 *   len >= 5: ( L op R ) with |L| uniform in 1 .. len-4, |R| = len-3-|L|
 * with d uniform in 0..4 and op uniform over + - * (brackets task: their
 * experiments set mult = True) or + - (solve_equation: mult = False). The
 * value is computed as the expression is written.
 *
 * solve_equation of length n >= 3: an expression E of n-2 tokens, a place
 * p uniform in 0 .. n-3, moved forward (cyclically) to the first number at
 * or after it; that number is the answer and is replaced by x; then '=' and
 * E's value. For n < 3 the authors' code gives x = n zeros and y = 0.
 *
 * The two tasks number their tokens differently, as the authors' do.
 */
#include "data_internal.h"

enum { MODULUS = 5 };

typedef struct expr_tokens {
    int plus, minus, times, open, close;
    bool mult; /* whether * is drawn */
} expr_tokens;

static const expr_tokens BRACKETS = {
    .plus = 5, .minus = 6, .times = 7, .open = 8, .close = 9, .mult = true};
static const expr_tokens EQUATION = {
    .plus = 5, .minus = 6, .times = -1, .open = 7, .close = 8, .mult = false};
enum { EQ_X = 9, EQ_EQUALS = 10 };

static int negate(int v) {
    return (MODULUS - v) % MODULUS;
}

/* Write an expression of exactly len >= 1 tokens at out; return its value
 * mod 5. Recursion depth grows like the log of len for random splits. */
static int write_expression(const expr_tokens *tk, int len, rg_rng *rng, int *out) {
    if (len <= 4) {
        int d = rg_rng_int(rng, 0, MODULUS - 1);
        switch (len) {
        case 1:
            out[0] = d;
            return d;
        case 2:
            out[0] = tk->minus, out[1] = d;
            return negate(d);
        case 3:
            out[0] = tk->open, out[1] = d, out[2] = tk->close;
            return d;
        default:
            out[0] = tk->open, out[1] = tk->minus, out[2] = d, out[3] = tk->close;
            return negate(d);
        }
    }
    int left = rg_rng_int(rng, 1, len - 4), right = len - 3 - left;
    out[0] = tk->open;
    int a = write_expression(tk, left, rng, out + 1);
    int b = write_expression(tk, right, rng, out + 2 + left);
    int op = rg_rng_int(rng, 0, tk->mult ? 2 : 1);
    out[len - 1] = tk->close;
    switch (op) {
    case 0:
        out[1 + left] = tk->plus;
        return (a + b) % MODULUS;
    case 1:
        out[1 + left] = tk->minus;
        return (a - b + MODULUS) % MODULUS;
    default:
        out[1 + left] = tk->times;
        return a * b % MODULUS;
    }
}

void rg_draw_brackets(int n, rg_rng *rng, int *x, int *y) {
    y[0] = write_expression(&BRACKETS, n, rng, x);
}

void rg_draw_equation(int n, rg_rng *rng, int *x, int *y) {
    if (n < 3) {
        for (int i = 0; i < n; i++) x[i] = 0;
        y[0] = 0;
        return;
    }
    int len = n - 2, value = write_expression(&EQUATION, len, rng, x);
    int at = rg_rng_int(rng, 0, len - 1);
    while (x[at] >= MODULUS) at = (at + 1) % len; /* to the next number */
    y[0] = x[at];
    x[at] = EQ_X;
    x[len] = EQ_EQUALS;
    x[len + 1] = value;
}
