/* ruoss_binary.c: the binary-number tasks of Ruoss et al. 2023
 * (context-sensitive): binary_addition, binary_multiplication and
 * compute_sqrt, with numbers of any size (bignum.c).
 *
 * binary_addition and binary_multiplication, input length n:
 *   n >= 3: |a| uniform in 1 .. n-2, |b| = n-1-|a|; a uniform in
 *           1 .. 2^|a|-1, b likewise; x = a 2 b, each in exactly its bits,
 *           least significant first (2 = the operator).
 *   n <= 2: one number uniform in 0 .. 2^n - 2 in n bits (no operator).
 * Their y: the result least significant bit first without leading zeros
 * (0 is the bit 0), the termination token 2, then zeros to n+1 tokens
 * (addition) or n (multiplication); addition at n <= 2 answers the number
 * itself, multiplication at n <= 2 answers n-1 zeros. Accuracy counts y up
 * to and including the 2.
 * compute_sqrt: x uniform in 1 .. 2^n-1 in n bits, most significant first;
 * y = floor(sqrt(x)) in ceil(n/2) bits, most significant first.
 */
#include "data_internal.h"

enum { OPERATOR = 2, END = 2 };

/* nbits uniform bits into x, drawn again until they are not all 0: a
 * number uniform in 1 .. 2^nbits - 1. */
static void draw_nonzero(int nbits, rg_rng *rng, int *x) {
    for (;;) {
        bool any = false;
        for (int i = 0; i < nbits; i++) any |= (x[i] = rg_rng_int(rng, 0, 1)) != 0;
        if (any) return;
    }
}

void rg_binary_draw_input(rg_task task, int n, rg_rng *rng, int *x) {
    if (task == RG_TASK_COMPUTE_SQRT) {
        draw_nonzero(n, rng, x);
        return;
    }
    if (n <= 2) { /* one number in 0 .. 2^n - 2 */
        int v = rg_rng_int(rng, 0, (1 << n) - 2);
        for (int i = 0; i < n; i++) x[i] = v >> i & 1;
        return;
    }
    int len_a = rg_rng_int(rng, 1, n - 2);
    draw_nonzero(len_a, rng, x);
    x[len_a] = OPERATOR;
    draw_nonzero(n - 1 - len_a, rng, x + len_a + 1);
}

/* y = bits (least significant first, count nb), END, zeros to m tokens;
 * returns nb + 1. */
static int terminated(const int *bits, int nb, int m, int *y) {
    if (nb + 1 > m) rg_die("binary task: a result of %d bits does not fit %d tokens", nb, m);
    for (int i = 0; i < nb; i++) y[i] = bits[i];
    y[nb] = END;
    for (int i = nb + 1; i < m; i++) y[i] = 0;
    return nb + 1;
}

int rg_binary_answer(rg_task task, const int *x, int n, int *y, uint32_t *work) {
    int m = rg_task_out_len(task, n), words = rg_big_words(n);
    uint32_t *a = work, *b = a + words + 1, *r = b + words + 1, *scratch = r + words + 2;
    if (task == RG_TASK_COMPUTE_SQRT) {
        int na = rg_big_from_bits(x + n - 1, n, -1, a); /* msb first: bit i is x[n-1-i] */
        int nr = rg_big_isqrt(a, na, r, scratch);
        rg_big_to_fixed_bits(r, nr, y + m - 1, m, -1);
        return m;
    }
    int op = 0;
    while (op < n && x[op] != OPERATOR) op++;
    int nr;
    if (op == n) { /* n <= 2: one number and no operator */
        if (task == RG_TASK_BINARY_MULTIPLICATION) {
            for (int i = 0; i + 1 < m; i++) y[i] = 0;
            y[m - 1] = END;
            return m;
        }
        nr = rg_big_from_bits(x, n, 1, r);
    } else {
        int na = rg_big_from_bits(x, op, 1, a), nb = rg_big_from_bits(x + op + 1, n - 1 - op, 1, b);
        nr = task == RG_TASK_BINARY_ADDITION ? rg_big_add(a, na, b, nb, r)
                                             : rg_big_mul(a, na, b, nb, r);
    }
    /* the result's bits go to y first, then END and zeros after them */
    int nbits = rg_big_to_bits(r, nr, y);
    return terminated(y, nbits, m, y);
}
