/* counting.c: the counting task of Golovneva et al. 2024 (CoPE), drawn by
 * the rules of the authors' generator (facebookresearch/RAM,
 * projects/cope/scripts/count_data_gen.py, default options: 3 variables,
 * values up to 10), in relgrad's example format.
 *
 * x is a little program of n statements and a question, y its answer:
 *     SET v      "v = 0"    weight 1    any of the 3 variables
 *     INC v      "v ++"     weight 7    a variable already set, below 10
 *     PASS       "pass"     weight 50
 *     PRINT v    the question: a variable already set
 *     y          its value after the n statements (0 .. 10)
 * Each statement's kind is drawn with those weights; a draw that cannot be
 * carried out (INC with no variable set, or at 10) is drawn again; a program
 * with no variable set at the end (nothing to ask about) is drawn again
 * from the start: the authors' retries.
 *
 * Every statement is two tokens (v SET, v INC, PASS END) and the question
 * two (PRINT v), so x has 2n + 2 tokens: relgrad's lengths are functions
 * of n. The authors split their text at white space ("x = 0 ;" 4 tokens,
 * "x ++;" 2, "pass;" 1); the tokens differ, the programs and answers are
 * theirs. Their n is uniform in 3 .. 512 for every example; here n is the
 * task's length (1 .. train_len in training).
 */
#include "data_internal.h"

#include <string.h>

enum { N_VARS = 3, MAX_VAL = 10 };
/* the alphabet: values 0 .. 10, then these */
enum { VAR0 = 11, SET = 14, INC = 15, PASS = 16, END = 17, PRINT = 18, N_SYMBOLS = 19 };
enum { W_SET = 1, W_INC = 7, W_PASS = 50 }; /* the authors' OP_WEIGHTS */

_Static_assert(VAR0 == MAX_VAL + 1 && SET == VAR0 + N_VARS && N_SYMBOLS == RG_COUNTING_SYMBOLS,
               "the counting alphabet's layout (tasks.c lists it)");

/* One statement into st[0..1], updating val (-1: not set); false when the
 * drawn kind cannot be carried out. */
static bool try_statement(rg_rng *rng, int *val, int *st) {
    int r = rg_rng_int(rng, 0, W_SET + W_INC + W_PASS - 1);
    if (r < W_SET) {
        int v = rg_rng_int(rng, 0, N_VARS - 1);
        val[v] = 0;
        st[0] = VAR0 + v, st[1] = SET;
        return true;
    }
    if (r >= W_SET + W_INC) {
        st[0] = PASS, st[1] = END;
        return true;
    }
    int set[N_VARS], n_set = 0;
    for (int v = 0; v < N_VARS; v++)
        if (val[v] >= 0) set[n_set++] = v;
    if (n_set == 0) return false;
    int v = set[rg_rng_int(rng, 0, n_set - 1)];
    if (val[v] + 1 > MAX_VAL) return false;
    val[v]++;
    st[0] = VAR0 + v, st[1] = INC;
    return true;
}

void rg_counting_draw(int n, rg_rng *rng, int *x, int *y) {
    for (;;) {
        int val[N_VARS];
        for (int v = 0; v < N_VARS; v++) val[v] = -1;
        for (int i = 0; i < n; i++)
            while (!try_statement(rng, val, x + 2 * i)) continue;
        int set[N_VARS], n_set = 0;
        for (int v = 0; v < N_VARS; v++)
            if (val[v] >= 0) set[n_set++] = v;
        if (n_set == 0) continue; /* nothing to ask about: a new program */
        int v = set[rg_rng_int(rng, 0, n_set - 1)];
        x[2 * n] = PRINT, x[2 * n + 1] = VAR0 + v;
        y[0] = val[v];
        return;
    }
}

int rg_counting_answer(const int *x, int n, int *y) {
    int val[N_VARS];
    memset(val, 0, sizeof val);
    for (int i = 0; i < n; i++) {
        int v = x[2 * i] - VAR0;
        if (v < 0 || v >= N_VARS) continue; /* PASS */
        val[v] = x[2 * i + 1] == SET ? 0 : val[v] + 1;
    }
    int v = x[2 * n + 1] - VAR0;
    y[0] = v >= 0 && v < N_VARS ? val[v] : 0;
    return 1;
}
