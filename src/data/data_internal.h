/* data_internal.h: what the data files share: drawing one example, the
 * generators of the Ruoss et al. tasks, and big binary numbers. */
#ifndef RELGRAD_DATA_INTERNAL_H
#define RELGRAD_DATA_INTERNAL_H

#include "relgrad/data.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A task with its own generator (Ruoss et al.'s, not an alias of one of
 * relgrad's tasks); these need n >= 1. */
bool rg_task_is_ruoss(rg_task t);

/* ---- one example (examples.c) -------------------------------------------------- */

/* 32-bit words of work an example of length n may need (the binary tasks'
 * numbers). */
size_t rg_task_work_len(int n);

/* Draw one example of length n: x (rg_task_input_len tokens) and y
 * (rg_task_out_len tokens); returns how many leading tokens of y count for
 * accuracy. work: rg_task_work_len(n) words. The draws depend on the task,
 * n_symbols and digits of spec, not on its arch. */
int rg_task_draw(const rg_data_spec *spec, int n, rg_rng *rng, int *x, int *y, uint32_t *work);

/* rg_task_answer with room for the binary tasks' numbers. */
int rg_task_answer_work(rg_task task, int n_symbols, const int *x, int n, int *y, int *scored,
                        uint32_t *work);

/* ---- batch rows (batch.c), for rg_batch_draw and the training set ------------- */

/* Room in b for B rows of lengths up to max_len (dies on a spec whose
 * n_symbols the task does not take). */
void rg_batch_reserve(rg_batch *b, const rg_data_spec *spec, int B, int max_len);
/* B rows of the lengths in b->in_len: sets B, T, arch; clears pos. */
void rg_batch_set_rows(rg_batch *b, const rg_data_spec *spec, int B);
/* Lay row i out around its example, whose x is at tokens[1 ..] and y at
 * tokens[rg_task_prompt_len ..] of the row: BOS, SEP, the encoder's ANS,
 * targets, masks, lengths, padding. */
void rg_batch_finish_row(rg_batch *b, int i, const rg_data_spec *spec, int scored);

/* ---- Ruoss et al.'s tasks (ruoss_strings.c, ruoss_expressions.c, ruoss_binary.c) ----
 * Each draws the input x of length n from rng as the authors' sample_batch
 * does; the answer comes from x (rg_ruoss_answer), except for the two
 * expression tasks, which draw x and y together. */
void rg_ruoss_draw_input(rg_task task, int n, rg_rng *rng, int *x);
/* y from x; returns the scored prefix of y (see rg_task_answer). */
int rg_ruoss_answer(rg_task task, const int *x, int n, int *y, uint32_t *work);
/* modular_arithmetic_brackets and solve_equation: x and y[0]. */
void rg_draw_brackets(int n, rg_rng *rng, int *x, int *y);
void rg_draw_equation(int n, rg_rng *rng, int *x, int *y);

/* The binary tasks' inputs and answers (ruoss_binary.c). */
void rg_binary_draw_input(rg_task task, int n, rg_rng *rng, int *x);
int rg_binary_answer(rg_task task, const int *x, int n, int *y, uint32_t *work);

/* ---- the counting task (counting.c) --------------------------------------------
 * Its alphabet: values 0..10, variables 11..13, 14 = SET, 15 = INC, 16 = PASS,
 * 17 = END, 18 = PRINT. */
#define RG_COUNTING_SYMBOLS 19
/* x (2n + 2 tokens: n statements, the question) and y[0], by the authors'
 * rules; n >= 1. */
void rg_counting_draw(int n, rg_rng *rng, int *x, int *y);
/* y[0] from x (the program run); returns 1. */
int rg_counting_answer(const int *x, int n, int *y);

/* ---- the 2024 methods (methods.c) ------------------------------------------------ */

/* Put index hints into an example of length n drawn without them (x: the
 * task's input, y: its answer, each in a buffer with room for the hinted
 * lengths): before the digit of significance i, hint token o + i. */
void rg_hints_insert(const rg_data_spec *spec, int n, int o, int *x, int *y);

/* ---- big numbers (bignum.c) ------------------------------------------------------
 * Non-negative integers as 32-bit words, least significant first; a
 * number's length is its count of words, without high zero words. */

/* Words that hold an nbits-bit number. */
static inline int rg_big_words(int nbits) {
    return nbits / 32 + 1;
}
/* The number whose bit i is first[i * stride] (0 or 1), i < nbits, into out;
 * returns its length. */
int rg_big_from_bits(const int *first, int nbits, int stride, uint32_t *out);
/* Its bits without leading zeros (0 has the one bit 0), least significant
 * first, into bits; returns how many. */
int rg_big_to_bits(const uint32_t *a, int na, int *bits);
/* Bit i of a, i < nbits, into first[i * stride] (zeros past a's top bit). */
void rg_big_to_fixed_bits(const uint32_t *a, int na, int *first, int nbits, int stride);
/* out = a + b, out = a * b (out distinct from a and b); return out's length. */
int rg_big_add(const uint32_t *a, int na, const uint32_t *b, int nb, uint32_t *out);
int rg_big_mul(const uint32_t *a, int na, const uint32_t *b, int nb, uint32_t *out);
/* out = floor(sqrt(a)); work: 2 (na + 2) words; returns out's length. out
 * needs na + 2 words. */
int rg_big_isqrt(const uint32_t *a, int na, uint32_t *out, uint32_t *work);

#endif
