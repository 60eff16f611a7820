/* tasks.c: what each task is (SPEC sections 3, 6, 7 and 8): its name, the
 * alphabet it fixes, what its symbols mean, and its lengths (also with index
 * hints).
 *
 * relgrad's own tasks take any n_symbols; the fifteen of Ruoss et al. 2023
 * go by their names, and those with operators, brackets, actions or a
 * termination token fix n_symbols to their input alphabet: the token ids are
 * the integers their code one-hot encodes (google-deepmind/
 * randomized_positional_encodings, tasks/), inputs and outputs alike, so
 * binary_addition's 2 is '+' in x and the end of the sum in y. Four are
 * aliases (same examples as a relgrad task, with the authors' alphabet):
 * parity_check, reverse_string, duplicate_string, bucket_sort.
 */
#include "data_internal.h"

#include <string.h>

typedef struct task_info {
    const char *name;
    rg_task base;        /* the task whose examples it draws (itself unless an alias) */
    int alphabet;        /* the n_symbols it fixes; 0 = any                            */
    const char *symbols; /* what the symbol ids mean                                   */
    const char *out_len; /* y's length as a function of n                              */
    const char *summary;
} task_info;

static const task_info TASKS[RG_TASK_COUNT] = {
    [RG_TASK_COPY] = {.name = "copy",
                      .base = RG_TASK_COPY,
                      .symbols = "0 .. n_symbols-1",
                      .out_len = "n",
                      .summary = "y = x"},
    [RG_TASK_REVERSE] = {.name = "reverse",
                         .base = RG_TASK_REVERSE,
                         .symbols = "0 .. n_symbols-1",
                         .out_len = "n",
                         .summary = "y = x reversed"},
    [RG_TASK_SORT] = {.name = "sort",
                      .base = RG_TASK_SORT,
                      .symbols = "0 .. n_symbols-1",
                      .out_len = "n",
                      .summary = "y = x sorted ascending"},
    [RG_TASK_DUPLICATE] = {.name = "duplicate",
                           .base = RG_TASK_DUPLICATE,
                           .symbols = "0 .. n_symbols-1",
                           .out_len = "2n",
                           .summary = "y = x x"},
    [RG_TASK_PARITY] = {.name = "parity",
                        .base = RG_TASK_PARITY,
                        .alphabet = 2,
                        .symbols = "0 1 = bits",
                        .out_len = "1",
                        .summary = "y = x_1 xor .. xor x_n"},
    [RG_TASK_ADDITION] = {.name = "addition",
                          .base = RG_TASK_ADDITION,
                          .symbols = "0 .. n_symbols-1 = digits (x = a SEP b)",
                          .out_len = "n+1",
                          .summary = "a and b: n digits each in base n_symbols, least significant "
                                     "first (digits = msb: most significant first, y too); y = "
                                     "the n+1 digits of a+b"},
    [RG_TASK_ODDS_FIRST] = {.name = "odds_first",
                            .base = RG_TASK_ODDS_FIRST,
                            .symbols = "0 .. n_symbols-1",
                            .out_len = "n",
                            .summary = "y = x_1 x_3 x_5 .. then x_2 x_4 .."},
    [RG_TASK_EVEN_PAIRS] = {.name = "even_pairs",
                            .base = RG_TASK_EVEN_PAIRS,
                            .alphabet = 2,
                            .symbols = "0 1 = bits",
                            .out_len = "1",
                            .summary = "y = 1 when x has an odd number of unequal neighbours "
                                       "(01 or 10), else 0"},
    [RG_TASK_MODULAR_ARITHMETIC] = {.name = "modular_arithmetic",
                                    .base = RG_TASK_MODULAR_ARITHMETIC,
                                    .alphabet = 9,
                                    .symbols = "0..4 = numbers, 5 = +, 6 = -, 7 = *, 8 = _ "
                                               "(blank, never drawn)",
                                    .out_len = "1",
                                    .summary = "x = n0 op n1 op .. with n tokens (n-1 when n is "
                                               "even), numbers and + - * uniform; y = its value "
                                               "mod 5, * before + and -"},
    [RG_TASK_PARITY_CHECK] = {.name = "parity_check",
                              .base = RG_TASK_PARITY,
                              .alphabet = 2,
                              .symbols = "0 1 = bits",
                              .out_len = "1",
                              .summary = "parity by its Ruoss et al. name"},
    [RG_TASK_CYCLE_NAVIGATION] = {.name = "cycle_navigation",
                                  .base = RG_TASK_CYCLE_NAVIGATION,
                                  .alphabet = 5,
                                  .symbols = "x: 0 = step left, 1 = stay, 2 = step right; y: 0..4 "
                                             "= a place on the cycle",
                                  .out_len = "1",
                                  .summary = "y = where the steps end on a cycle of 5 places, "
                                             "starting at 0"},
    [RG_TASK_STACK_MANIPULATION] = {.name = "stack_manipulation",
                                    .base = RG_TASK_STACK_MANIPULATION,
                                    .alphabet = 5,
                                    .symbols = "x: 0 1 = values, 2 = POP, 3 = PUSH 0, 4 = PUSH 1; "
                                               "y: 0 1 = values, 2 = end of the stack",
                                    .out_len = "n+1",
                                    .summary = "x = a stack of k values (k uniform in 1..n-1, "
                                               "bottom first) then n-k actions; y = the final "
                                               "stack top first, 2, then 0s (accuracy: up to the "
                                               "2); POP on an empty stack does nothing"},
    [RG_TASK_REVERSE_STRING] = {.name = "reverse_string",
                                .base = RG_TASK_REVERSE,
                                .alphabet = 2,
                                .symbols = "0 1",
                                .out_len = "n",
                                .summary = "reverse with n_symbols = 2"},
    [RG_TASK_MODULAR_ARITHMETIC_BRACKETS] = {.name = "modular_arithmetic_brackets",
                                             .base = RG_TASK_MODULAR_ARITHMETIC_BRACKETS,
                                             .alphabet = 11,
                                             .symbols = "0..4 = numbers, 5 = +, 6 = -, 7 = *, 8 = "
                                                        "(, 9 = ), 10 = x (never drawn)",
                                             .out_len = "1",
                                             .summary = "x = a random bracketed expression of "
                                                        "exactly n tokens over + - * (and unary "
                                                        "-); y = its value mod 5"},
    [RG_TASK_SOLVE_EQUATION] = {.name = "solve_equation",
                                .base = RG_TASK_SOLVE_EQUATION,
                                .alphabet = 11,
                                .symbols = "0..4 = numbers, 5 = +, 6 = -, 7 = (, 8 = ), 9 = x, "
                                           "10 = =",
                                .out_len = "1",
                                .summary = "x = a bracketed + - expression of n-2 tokens with one "
                                           "number replaced by x, then = and the value mod 5; y = "
                                           "the number x stands for (n < 3: x = 0s, y = 0)"},
    [RG_TASK_DUPLICATE_STRING] = {.name = "duplicate_string",
                                  .base = RG_TASK_DUPLICATE,
                                  .alphabet = 2,
                                  .symbols = "0 1",
                                  .out_len = "2n",
                                  .summary = "duplicate with n_symbols = 2"},
    [RG_TASK_MISSING_DUPLICATE_STRING] = {.name = "missing_duplicate_string",
                                          .base = RG_TASK_MISSING_DUPLICATE_STRING,
                                          .alphabet = 4,
                                          .symbols = "0 1 = bits, 2 = the missing bit, 3 = "
                                                     "padding",
                                          .out_len = "1",
                                          .summary = "x = a bit string of n/2 (rounded down) "
                                                     "written twice with one bit replaced by 2, "
                                                     "then 3 when n is odd; y = the missing bit "
                                                     "(n = 1: x = 1, y = 1)"},
    [RG_TASK_BINARY_ADDITION] = {.name = "binary_addition",
                                 .base = RG_TASK_BINARY_ADDITION,
                                 .alphabet = 3,
                                 .symbols = "x: 0 1 = bits, 2 = +; y: 0 1 = bits, 2 = end",
                                 .out_len = "n+1",
                                 .summary = "x = a + b, least significant bit first, a and b >= "
                                            "1 with |a| uniform in 1..n-2 (n <= 2: one number "
                                            "below 2^n-1, no +); y = the sum without leading "
                                            "zeros, 2, then 0s (accuracy: up to the 2)"},
    [RG_TASK_BINARY_MULTIPLICATION] = {.name = "binary_multiplication",
                                       .base = RG_TASK_BINARY_MULTIPLICATION,
                                       .alphabet = 3,
                                       .symbols = "x: 0 1 = bits, 2 = *; y: 0 1 = bits, 2 = end",
                                       .out_len = "n",
                                       .summary = "x = a * b drawn as in binary_addition; y = the "
                                                  "product without leading zeros, 2, then 0s "
                                                  "(n <= 2: n-1 zeros, then 2; accuracy: up to "
                                                  "the 2)"},
    [RG_TASK_COMPUTE_SQRT] = {.name = "compute_sqrt",
                              .base = RG_TASK_COMPUTE_SQRT,
                              .alphabet = 2,
                              .symbols = "0 1 = bits",
                              .out_len = "ceil(n/2)",
                              .summary = "x = a number in 1 .. 2^n-1, most significant bit first; "
                                         "y = floor(sqrt(x)) in ceil(n/2) bits, most significant "
                                         "first"},
    [RG_TASK_BUCKET_SORT] = {.name = "bucket_sort",
                             .base = RG_TASK_SORT,
                             .alphabet = 5,
                             .symbols = "0..4",
                             .out_len = "n",
                             .summary = "sort with n_symbols = 5"},
    [RG_TASK_COUNTING] = {.name = "counting",
                          .base = RG_TASK_COUNTING,
                          .alphabet = RG_COUNTING_SYMBOLS,
                          .symbols = "0..10 = values, 11 12 13 = variables, 14 = SET (v = 0), "
                                     "15 = INC (v ++), 16 = PASS, 17 = END (after PASS), 18 = "
                                     "PRINT",
                          .out_len = "1",
                          .summary = "x = n statements of two tokens (v SET, v INC or PASS END, "
                                     "weights 1, 7, 50; INC only on a variable already set and "
                                     "below 10) then PRINT v; y = v's value (Golovneva et al. "
                                     "2024's counting task)"},
};

static const task_info *info(rg_task t) {
    if (t < 0 || t >= RG_TASK_COUNT) rg_die("task: no task %d", (int)t);
    return &TASKS[t];
}

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
    return "copy, reverse, sort, duplicate, parity, addition, odds_first, even_pairs, "
           "modular_arithmetic, parity_check, cycle_navigation, stack_manipulation, "
           "reverse_string, modular_arithmetic_brackets, solve_equation, duplicate_string, "
           "missing_duplicate_string, binary_addition, binary_multiplication, compute_sqrt, "
           "bucket_sort, counting";
}

int rg_task_alphabet(rg_task t) {
    return info(t)->alphabet;
}

const char *rg_task_symbols_text(rg_task t) {
    return info(t)->symbols;
}

const char *rg_task_out_len_text(rg_task t) {
    return info(t)->out_len;
}

rg_task rg_task_base(rg_task t) {
    return info(t)->base;
}

bool rg_task_is_ruoss(rg_task t) {
    rg_task base = rg_task_base(t);
    return base >= RG_TASK_EVEN_PAIRS && base <= RG_TASK_BUCKET_SORT;
}

/* ---- lengths ------------------------------------------------------------------- */

int rg_task_input_len(rg_task t, int n) {
    switch (rg_task_base(t)) {
    case RG_TASK_ADDITION:
        return 2 * n + 1;
    case RG_TASK_MODULAR_ARITHMETIC: /* always odd: n, or n - 1 when n is even */
        return n % 2 ? n : n > 0 ? n - 1 : 0;
    case RG_TASK_COUNTING: /* n statements and the question, two tokens each */
        return 2 * n + 2;
    default:
        return n;
    }
}

int rg_task_out_len(rg_task t, int n) {
    switch (rg_task_base(t)) {
    case RG_TASK_DUPLICATE:
        return 2 * n;
    case RG_TASK_ADDITION:
    case RG_TASK_STACK_MANIPULATION:
    case RG_TASK_BINARY_ADDITION:
        return n + 1;
    case RG_TASK_PARITY:
    case RG_TASK_EVEN_PAIRS:
    case RG_TASK_MODULAR_ARITHMETIC:
    case RG_TASK_CYCLE_NAVIGATION:
    case RG_TASK_MODULAR_ARITHMETIC_BRACKETS:
    case RG_TASK_SOLVE_EQUATION:
    case RG_TASK_MISSING_DUPLICATE_STRING:
    case RG_TASK_COUNTING:
        return 1;
    case RG_TASK_COMPUTE_SQRT:
        return (n + 1) / 2;
    default: /* copy, reverse, sort, odds_first, binary_multiplication */
        return n;
    }
}

int rg_task_prompt_len(rg_task t, int n) {
    return rg_task_input_len(t, n) + 2; /* BOS x SEP */
}

int rg_task_seq_len(rg_task t, int n) {
    return rg_task_prompt_len(t, n) + rg_task_out_len(t, n) + 1; /* ... y EOS */
}

/* ---- lengths under a spec (index hints) ----------------------------------------- */

int rg_spec_input_len(const rg_data_spec *spec, int n) {
    int len = rg_task_input_len(spec->task, n);
    return spec->n_hints > 0 ? 2 * len - 1 : len; /* a hint before each of the 2n digits */
}

int rg_spec_out_len(const rg_data_spec *spec, int n) {
    int m = rg_task_out_len(spec->task, n);
    return spec->n_hints > 0 ? 2 * m : m;
}

int rg_spec_prompt_len(const rg_data_spec *spec, int n) {
    return rg_spec_input_len(spec, n) + 2; /* BOS x SEP */
}

int rg_spec_seq_len(const rg_data_spec *spec, int n) {
    return rg_spec_prompt_len(spec, n) + rg_spec_out_len(spec, n) + 1; /* ... y EOS */
}

int rg_spec_longest_run(const rg_data_spec *spec, int n) {
    if (spec->n_hints > 0) return 1;                                /* hints split every run */
    if (rg_task_base(spec->task) == RG_TASK_ADDITION) return n + 1; /* a, b: n; y: n+1 */
    int x = rg_task_input_len(spec->task, n), y = rg_task_out_len(spec->task, n);
    return x > y ? x : y;
}
