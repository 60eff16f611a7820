/* methods.c: the methods of 2024 that live in the data (SPEC section 8):
 * index hints in an example's tokens (Zhou et al. 2024), coupled positions
 * of a batch (Cho et al. 2024) and abacus ids (McLeish et al. 2024).
 *
 * All three name a digit by its significance or by its place in a run of
 * digits, so they work in both digit orders of addition: with digits = msb
 * the digit at index i of an L-digit number has significance L-1-i.
 */
#include "data_internal.h"

#include <string.h>

/* The significance of the digit at index i of an L-digit number. */
static int significance(const rg_data_spec *spec, int i, int L) {
    return spec->digits == RG_DIGITS_MSB ? L - 1 - i : i;
}

void rg_hints_insert(const rg_data_spec *spec, int n, int o, int *x, int *y) {
    int ns = spec->n_symbols;
    /* x = a SEP b (2n + 1 tokens) -> h a .. h a SEP h b .. h b (4n + 1): from
     * the back, so every token moves to a place at or after its own and no
     * token is overwritten before it moved */
    for (int i = n - 1; i >= 0; i--) { /* b_i: old n + 1 + i, new 2n + 2 + 2i */
        x[2 * n + 2 + 2 * i] = x[n + 1 + i];
        x[2 * n + 1 + 2 * i] = rg_tok_hint(ns, o + significance(spec, i, n));
    }
    x[2 * n] = x[n];                   /* SEP */
    for (int i = n - 1; i >= 0; i--) { /* a_i: old i, new 2i + 1 */
        x[2 * i + 1] = x[i];
        x[2 * i] = rg_tok_hint(ns, o + significance(spec, i, n));
    }
    for (int i = n; i >= 0; i--) { /* y_i of n + 1 digits: old i, new 2i + 1 */
        y[2 * i + 1] = y[i];
        y[2 * i] = rg_tok_hint(ns, o + significance(spec, i, n + 1));
    }
}

/* ---- coupled positions ------------------------------------------------------------ */

void rg_batch_coupled_positions(rg_batch *b, const rg_data_spec *spec, rg_rng *rng) {
    if (rg_task_base(spec->task) != RG_TASK_ADDITION || b->arch != RG_ARCH_DECODER ||
        spec->n_hints > 0 || spec->coupled_max <= 0)
        rg_die("coupled positions: for addition read by a decoder without index hints (task "
               "%s, arch %d, %d hints, coupled_max %d)",
               rg_task_name(spec->task), (int)b->arch, spec->n_hints, spec->coupled_max);
    int T = b->T;
    for (int r = 0; r < b->B; r++) {
        int n = b->in_len[r], P = rg_task_prompt_len(spec->task, n),
            *pos = b->pos_buf + (long)r * T;
        int end = spec->coupled_bos == RG_BOS_AT_END; /* BOS at s + 2 + n */
        int top = spec->coupled_max - (n + 1 + end);  /* the largest start: y's last digit (or
                                                         BOS after it) at coupled_max */
        if (top < 1)
            rg_die("coupled positions: coupled_max %d is too small for %d digits",
                   spec->coupled_max, n);
        int s = spec->training ? rg_rng_int(rng, 1, top) : 1;
        memset(pos, 0, (size_t)T * sizeof *pos); /* BOS and padding: 0 */
        for (int i = 0; i < n; i++) {
            pos[1 + i] = s + 1 + significance(spec, i, n);     /* a */
            pos[n + 2 + i] = s + 1 + significance(spec, i, n); /* b */
        }
        pos[n + 1] = spec->coupled_plus == RG_PLUS_AT_CARRY ? s + 1 + n : s; /* '+' */
        pos[P - 1] = s;                                                      /* '=' */
        for (int k = 0; k <= n && P + k < T; k++) pos[P + k] = s + 1 + significance(spec, k, n + 1);
        if (end) pos[0] = s + 2 + n; /* BOS */
    }
    b->pos = b->pos_buf;
}

/* ---- abacus ids -------------------------------------------------------------------- */

void rg_abacus_ids(const int *tokens, int B, int T, int n_symbols, int shift, int *ids) {
    for (long r = 0; r < B; r++) {
        int run = 0; /* digits in a row so far */
        for (int t = 0; t < T; t++) {
            int tok = tokens[r * T + t];
            run = tok >= 0 && tok < n_symbols ? run + 1 : 0;
            ids[r * T + t] = run > 0 ? run + shift : 0;
        }
    }
}

void rg_batch_abacus(rg_batch *b, const rg_data_spec *spec, rg_rng *rng) {
    b->abacus = NULL;
    if (spec->abacus <= 0) return;
    int k = spec->training ? rg_rng_int(rng, 0, spec->abacus) : 0;
    rg_abacus_ids(b->tokens, b->B, b->T, spec->n_symbols, k, b->abacus_buf);
    b->abacus = b->abacus_buf;
}
