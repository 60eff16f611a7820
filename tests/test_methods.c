/* test_methods.c: the methods of 2024 (SPEC section 8) beyond CoPE: abacus
 * embeddings, coupled positions, index hints and the counting task.
 *   - data: lengths and vocabulary with hints, abacus ids on a hand-made
 *     row, coupled positions of an evaluation batch, the fixed training set
 *     keeping its hint offsets, the counting task's program run by hand;
 *     (every generated example against independent Python:
 *     tests/python/test_methods_data.py and test_task_answers.py)
 *   - config: each method's refusals (exit status 2 with the key, the value
 *     and the fix), the schemes coupled positions allow read from the
 *     registry, positions entries with their own settings and the names of
 *     their runs;
 *   - model: the gradient check of the whole model with an abacus embedding
 *     (float64 bound 1e-6), cached decoding = the full forward with abacus
 *     ids from the token history and with coupled positions that repeat and
 *     go down, the ids given = the ids computed, an id past the table
 *     refused, an encoder's PAD after the hints;
 *   - training: a short run of each method trains, evaluates and dumps the
 *     ids it used; validation (select = best) draws coupled positions.
 */
#include "relgrad/gradcheck.h"
#include "testing.h"

#include <hdf5.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define EQ_TOL (sizeof(real) == 8 ? 1e-10 : 1e-4)

static real max_abs_diff(const real *a, const real *b, long n) {
    real worst = 0;
    for (long i = 0; i < n; i++) worst = fmax(worst, fabs(a[i] - b[i]));
    return worst;
}

/* ---- data --------------------------------------------------------------------------- */

Test(methods_data, lengths_and_tokens_with_hints) {
    rg_data_spec plain = {.task = RG_TASK_ADDITION, .n_symbols = 10}, hints = plain;
    hints.n_hints = 12;
    for (int n = 1; n <= 9; n++) {
        cr_expect_eq(rg_spec_input_len(&plain, n), 2 * n + 1);
        cr_expect_eq(rg_spec_input_len(&hints, n), 4 * n + 1, "a hint before each of 2n digits");
        cr_expect_eq(rg_spec_out_len(&hints, n), 2 * (n + 1));
        cr_expect_eq(rg_spec_seq_len(&hints, n), 4 * n + 1 + 2 + 2 * (n + 1) + 1);
        cr_expect_eq(rg_spec_longest_run(&plain, n), n + 1);
        cr_expect_eq(rg_spec_longest_run(&hints, n), 1);
    }
    /* the specials follow the hints */
    cr_expect_eq(rg_tok_hint(10, 0), 10);
    cr_expect_eq(rg_tok_pad(10, 12), 22);
    cr_expect_eq(rg_tok_eos(10, 12), 25);
    cr_expect_eq(rg_tok_ans(10, 12), 26);
    cr_expect_eq(rg_vocab_size(RG_ARCH_DECODER, 10, 12), 26);
    rg_data_spec copy = {.task = RG_TASK_COPY, .n_symbols = 10};
    cr_expect_eq(rg_spec_longest_run(&copy, 7), 7);
}

Test(methods_data, abacus_ids_by_hand) {
    /* n_symbols 5: 0..4 are digits; 5.. are not */
    int tok[2 * 9] = {7, 1, 2, 3, 8, 4, 4, 5, 0, /* row 2 */ 0, 0, 0, 0, 9, 9, 1, 6, 2};
    int want[2 * 9] = {0, 1, 2, 3, 0, 1, 2, 0, 1, /* */ 1, 2, 3, 4, 0, 0, 1, 0, 1};
    int ids[2 * 9];
    rg_abacus_ids(tok, 2, 9, 5, 0, ids);
    cr_expect_arr_eq(ids, want, sizeof ids);
    rg_abacus_ids(tok, 2, 9, 5, 3, ids);
    for (int i = 0; i < 18; i++) cr_expect_eq(ids[i], want[i] ? want[i] + 3 : 0, "shift at %d", i);
}

Test(methods_data, coupled_positions_at_evaluation) {
    rg_data_spec spec = {.task = RG_TASK_ADDITION, .n_symbols = 10, .coupled_max = 40};
    rg_rng rng;
    rg_rng_seed(&rng, 5);
    rg_batch b;
    rg_batch_init(&b);
    rg_batch_draw(&b, &spec, 3, 4, 4, &rng);
    rg_batch_coupled_positions(&b, &spec, NULL); /* evaluation: no draw */
    /* BOS a1..a4 SEP b1..b4 SEP y1..y5, lsb: s = 1 */
    int want[] = {0, 2, 3, 4, 5, 1, 2, 3, 4, 5, 1, 2, 3, 4, 5, 6};
    cr_assert_eq(b.T, 16);
    for (int r = 0; r < 3; r++) cr_expect_arr_eq(b.pos + r * b.T, want, sizeof want, "row %d", r);
    spec.digits = RG_DIGITS_MSB;
    rg_batch_draw(&b, &spec, 1, 4, 4, &rng);
    rg_batch_coupled_positions(&b, &spec, NULL);
    int msb[] = {0, 5, 4, 3, 2, 1, 5, 4, 3, 2, 1, 6, 5, 4, 3, 2};
    cr_expect_arr_eq(b.pos, msb, sizeof msb);
    rg_batch_free(&b);
}

/* coupled_plus = carry: the SEP between a and b takes the final carry's
 * position, in both digit orders and in training (where s is drawn), and
 * nothing else moves. */
Test(methods_data, coupled_plus_at_the_carry) {
    rg_data_spec spec = {.task = RG_TASK_ADDITION,
                         .n_symbols = 10,
                         .coupled_max = 40,
                         .coupled_plus = RG_PLUS_AT_CARRY};
    rg_rng rng;
    rg_rng_seed(&rng, 5);
    rg_batch b;
    rg_batch_init(&b);
    rg_batch_draw(&b, &spec, 1, 4, 4, &rng);
    rg_batch_coupled_positions(&b, &spec, NULL);
    int lsb[] = {0, 2, 3, 4, 5, 6, 2, 3, 4, 5, 1, 2, 3, 4, 5, 6};
    cr_expect_arr_eq(b.pos, lsb, sizeof lsb);
    spec.digits = RG_DIGITS_MSB;
    rg_batch_draw(&b, &spec, 1, 4, 4, &rng);
    rg_batch_coupled_positions(&b, &spec, NULL);
    int msb[] = {0, 5, 4, 3, 2, 6, 5, 4, 3, 2, 1, 6, 5, 4, 3, 2};
    cr_expect_arr_eq(b.pos, msb, sizeof msb);
    /* training: every row's '+' equals its final carry's position, its '='
     * the start, one below its least significant digit */
    spec.digits = RG_DIGITS_LSB;
    spec.training = true;
    rg_batch_draw(&b, &spec, 16, 2, 7, &rng);
    rg_batch_coupled_positions(&b, &spec, &rng);
    unsigned starts = 0; /* a bit per start seen (mod 32) */
    for (int r = 0; r < 16; r++) {
        int n = b.in_len[r], P = rg_task_prompt_len(spec.task, n);
        const int *pos = b.pos + (long)r * b.T;
        cr_expect_eq(pos[n + 1], pos[P + n], "row %d: '+' at the carry's position", r);
        cr_expect_eq(pos[P - 1] + 1, pos[1], "row %d: '=' at the start", r);
        starts |= 1u << (pos[P - 1] & 31);
    }
    cr_expect(__builtin_popcount(starts) > 1, "training draws the start per row");
    rg_batch_free(&b);
}

/* coupled_bos = end: BOS takes s + 2 + n, one past the final carry, so the
 * query that writes EOS (at the final carry, s + 1 + n) finds a key at its
 * next coupled position; in training no position passes coupled_max. */
Test(methods_data, coupled_bos_at_the_end) {
    rg_data_spec spec = {.task = RG_TASK_ADDITION,
                         .n_symbols = 10,
                         .coupled_max = 12,
                         .coupled_plus = RG_PLUS_AT_CARRY,
                         .coupled_bos = RG_BOS_AT_END};
    rg_rng rng;
    rg_rng_seed(&rng, 7);
    rg_batch b;
    rg_batch_init(&b);
    rg_batch_draw(&b, &spec, 1, 4, 4, &rng);
    rg_batch_coupled_positions(&b, &spec, NULL);
    int lsb[] = {7, 2, 3, 4, 5, 6, 2, 3, 4, 5, 1, 2, 3, 4, 5, 6};
    cr_expect_arr_eq(b.pos, lsb, sizeof lsb);
    spec.training = true;
    rg_batch_draw(&b, &spec, 32, 2, 9, &rng);
    rg_batch_coupled_positions(&b, &spec, &rng);
    unsigned starts = 0;
    for (int r = 0; r < 32; r++) {
        int n = b.in_len[r], P = rg_task_prompt_len(spec.task, n);
        const int *pos = b.pos + (long)r * b.T;
        cr_expect_eq(pos[0], pos[P + n] + 1, "row %d: BOS one past the final carry", r);
        cr_expect_eq(pos[n + 1], pos[P + n], "row %d: '+' at the carry's position", r);
        cr_expect(pos[0] <= spec.coupled_max, "row %d: BOS at %d > coupled_max %d", r, pos[0],
                  spec.coupled_max);
        for (int t = P + n + 1; t < b.T; t++)
            cr_expect_eq(pos[t], 0, "row %d: EOS and padding at 0 (token %d)", r, t);
        starts |= 1u << (pos[P - 1] & 31);
    }
    cr_expect(__builtin_popcount(starts) > 1, "training draws the start per row");
    rg_batch_free(&b);
}

Test(methods_data, fixed_set_keeps_its_hints) {
    rg_data_spec spec = {
        .task = RG_TASK_ADDITION, .n_symbols = 10, .n_hints = 20, .training = true};
    rg_train_set set;
    rg_train_set_init(&set, &spec, 40, 6, 1);
    rg_batch a, b;
    rg_batch_init(&a), rg_batch_init(&b);
    rg_train_set_batch(&set, 3, 8, &a);
    rg_train_set_batch(&set, 3 + 5, 8, &b); /* 40 examples = 5 batches: the next epoch */
    int offsets = 0;
    for (int r = 0; r < 8; r++) {
        const int *t = a.tokens + (long)r * a.T;
        cr_expect(t[1] >= 10 && t[1] < 30, "row %d starts with a hint", r);
        offsets |= 1 << (t[1] - 10);
    }
    cr_expect(offsets != 1, "training offsets are drawn, not all 0");
    /* the same example in another epoch has the same hints */
    for (int r = 0; r < 8; r++) {
        const int *t = a.tokens + (long)r * a.T;
        bool found = false;
        for (long e = 0; e < 40 && !found; e++) {
            rg_batch c;
            rg_batch_init(&c);
            rg_train_set_batch(&set, 5 + e / 8, 8, &c);
            for (int q = 0; q < 8 && !found; q++)
                found = c.in_len[q] == a.in_len[r] && c.T >= a.in_len[r] &&
                        !memcmp(c.tokens + (long)q * c.T, t,
                                (size_t)rg_spec_seq_len(&spec, a.in_len[r]) - 1);
            rg_batch_free(&c);
        }
        cr_expect(found, "row %d appears with its hints again in the next epoch", r);
    }
    rg_batch_free(&a), rg_batch_free(&b);
    rg_train_set_free(&set);
}

Test(methods_data, counting_program) {
    /* a = 0 ; a ++ ; pass ; b = 0 ; a ++ ; b ++ ; print a  ->  2 */
    int x[] = {11, 14, 11, 15, 16, 17, 12, 14, 11, 15, 12, 15, 18, 11}, y[1];
    cr_expect_eq(rg_task_answer(RG_TASK_COUNTING, 19, x, 6, y, NULL), 1);
    cr_expect_eq(y[0], 2);
    x[13] = 12; /* print b -> 1 */
    rg_task_answer(RG_TASK_COUNTING, 19, x, 6, y, NULL);
    cr_expect_eq(y[0], 1);
    cr_expect_eq(rg_task_alphabet(RG_TASK_COUNTING), 19);
    cr_expect_eq(rg_task_input_len(RG_TASK_COUNTING, 6), 14);
    cr_expect_eq(rg_task_find("counting"), RG_TASK_COUNTING);
    /* drawn programs agree with the answer run from x */
    rg_data_spec spec = {.task = RG_TASK_COUNTING, .n_symbols = 19};
    rg_rng rng;
    rg_rng_seed(&rng, 3);
    rg_batch b;
    rg_batch_init(&b);
    rg_batch_draw(&b, &spec, 64, 1, 60, &rng);
    for (int r = 0; r < 64; r++) {
        int n = b.in_len[r], *t = b.tokens + (long)r * b.T, want[1];
        rg_task_answer(RG_TASK_COUNTING, 19, t + 1, n, want, NULL);
        cr_expect_eq(t[2 * n + 4], want[0], "row %d: y is the program's value", r);
        cr_expect(want[0] >= 0 && want[0] <= 10);
    }
    rg_batch_free(&b);
}

/* ---- config --------------------------------------------------------------------------- */

/* A valid addition config for the methods. */
static void addition_config(rg_config *c) {
    rg_config_defaults(c);
    test_set(c, "task", "addition");
    test_set(c, "n_symbols", "10");
    test_set(c, "train_len", "5");
    test_set(c, "eval_lens", "5,10");
}

/* key = value refused by validation, the message holding every `want`. */
static void expect_refused(rg_config *c, const char *key, const char *value, const char *want1,
                           const char *want2) {
    rg_config keep = *c;
    test_set(c, key, value);
    rg_error err;
    cr_expect_eq(rg_config_validate(c, "test", &err), 2, "%s = %s is accepted", key, value);
    cr_expect(strstr(err.msg, want1) != NULL, "%s = %s: '%s' lacks '%s'", key, value, err.msg,
              want1);
    if (want2)
        cr_expect(strstr(err.msg, want2) != NULL, "%s = %s: '%s' lacks '%s'", key, value, err.msg,
                  want2);
    *c = keep;
}

Test(methods_config, refusals_name_the_fix) {
    rg_config c;
    addition_config(&c);
    rg_error err;
    cr_assert_eq(rg_config_validate(&c, "test", &err), 0, "%s", err.msg);
    /* index hints */
    test_set(&c, "index_hints", "1");
    expect_refused(&c, "n_hints", "10", "key 'n_hints'", "n_hints >= 11");
    test_set(&c, "n_hints", "11");
    cr_expect_eq(rg_config_validate(&c, "test", &err), 0, "%s", err.msg);
    expect_refused(&c, "task", "copy", "key 'index_hints'", "task = addition");
    expect_refused(&c, "coupled_positions", "1", "key 'coupled_positions'", "index_hints");
    test_set(&c, "index_hints", "0");
    expect_refused(&c, "n_hints", "11", "key 'n_hints'", "index_hints = 1");
    test_set(&c, "n_hints", "0");
    /* coupled positions */
    test_set(&c, "coupled_positions", "1");
    cr_expect_eq(rg_config_validate(&c, "test", &err), 0, "%s", err.msg);
    char allowed[256] = "";
    for (int id = 0; id < rg_scheme_count(); id++) { /* rope and the absolute ones */
        test_set(&c, "pos", rg_scheme_name(id));
        bool ok = rg_config_validate(&c, "test", &err) == 0;
        if (ok)
            snprintf(allowed + strlen(allowed), sizeof allowed - strlen(allowed), "%s ",
                     rg_scheme_name(id));
        if (!ok) {
            cr_expect(strstr(err.msg, "key 'coupled_positions'") || strstr(err.msg, "key 'pos'"),
                      "%s", err.msg);
            if (strstr(err.msg, "coupled_positions"))
                cr_expect(strstr(err.msg, "rope") && strstr(err.msg, "learned"),
                          "the message lists the allowed schemes: %s", err.msg);
        }
    }
    cr_expect_str_eq(allowed, "sinusoidal learned rope ", "schemes allowed with coupling");
    test_set(&c, "pos", "rope,none");
    test_set(&c, "n_layers", "2");
    cr_expect_eq(rg_config_validate(&c, "test", &err), 0, "a list with a layer of none: %s",
                 err.msg);
    test_set(&c, "pos", "rope");
    expect_refused(&c, "random_positions", "64", "key 'coupled_positions'", "random_positions");
    expect_refused(&c, "arch", "encoder", "key 'coupled_positions'", "arch = decoder");
    expect_refused(&c, "coupled_max", "6", "key 'coupled_max'", "coupled_max >= 7");
    test_set(&c, "coupled_plus", "carry");
    cr_expect_eq(rg_config_validate(&c, "test", &err), 0, "coupled_plus = carry: %s", err.msg);
    expect_refused(&c, "coupled_positions", "0", "key 'coupled_plus'", "coupled_positions = 1");
    test_set(&c, "coupled_plus", "start");
    test_set(&c, "coupled_bos", "end");
    cr_expect_eq(rg_config_validate(&c, "test", &err), 0, "coupled_bos = end: %s", err.msg);
    expect_refused(&c, "coupled_positions", "0", "key 'coupled_bos'", "coupled_positions = 1");
    /* BOS after the final carry needs one more position */
    test_set(&c, "coupled_max", "7");
    cr_expect_neq(rg_config_validate(&c, "test", &err), 0, "coupled_max 7 with BOS at the end");
    cr_expect(strstr(err.msg, "coupled_max >= 8") != NULL, "the message: %s", err.msg);
    test_set(&c, "coupled_max", "48");
    test_set(&c, "coupled_bos", "zero");
    /* learned positions must reach coupled_max */
    test_set(&c, "pos", "learned");
    test_set(&c, "max_positions", "64");
    expect_refused(&c, "coupled_max", "100", "max_positions", NULL);
    test_set(&c, "coupled_positions", "0");
    test_set(&c, "pos", "rope");
    /* abacus: ids in training reach train_len + 1 + K */
    test_set(&c, "abacus", "10");
    expect_refused(&c, "abacus_max", "16", "key 'abacus_max'", "abacus_max >= 17");
    test_set(&c, "abacus_max", "17");
    cr_expect_eq(rg_config_validate(&c, "test", &err), 0, "%s", err.msg);
    test_set(&c, "abacus", "1");
    expect_refused(&c, "abacus_max", "11", "key 'abacus_max'", "evaluation");
}

Test(methods_config, positions_entries_set_keys) {
    rg_config c;
    rg_config_defaults(&c);
    test_set(&c, "tasks", "addition:10");
    test_set(&c, "positions", "rope, rope:coupled_positions=1:coupled_max=40, none+fire:abacus=9");
    cr_expect_eq(c.n_positions, 3);
    cr_expect_str_eq(c.position_keys[1], ":coupled_positions=1:coupled_max=40");
    char text[512];
    rg_config_get(&c, "positions", text, sizeof text);
    cr_expect_str_eq(text, "rope,rope:coupled_positions=1:coupled_max=40,none+fire:abacus=9");
    rg_config run;
    rg_config_grid_run(&c, 0, 1, 0, &run);
    cr_expect(run.coupled_positions == 1 && run.coupled_max == 40 && run.model.abacus == 0);
    cr_expect(strstr(run.where[rg_config_key_find("coupled_max")], "positions entry 2") != NULL,
              "where: %s", run.where[rg_config_key_find("coupled_max")]);
    cr_expect_str_eq(rg_config_run_pos(&run, '+', text, sizeof text),
                     "rope:coupled_positions=1:coupled_max=40");
    rg_config_grid_run(&c, 0, 2, 0, &run);
    cr_expect(run.coupled_positions == 0 && run.model.abacus == 9);
    cr_expect_str_eq(rg_config_run_pos(&run, ',', text, sizeof text), "none,fire:abacus=9");
    cr_expect_str_eq(rg_config_entry_name(&c, 2, '+', text, sizeof text), "none+fire:abacus=9");
    rg_config_grid_run(&c, 0, 0, 0, &run);
    cr_expect_str_eq(rg_config_run_pos(&run, ',', text, sizeof text), "rope");
    /* what an entry may not say */
    const char *bad[][2] = {{"rope:coupled_positions", "key=value"},
                            {"rope:bogus=1", "unknown key"},
                            {"rope:pos=none", "cannot be set by one entry"},
                            {"rope:seeds=3", "cannot be set by one entry"},
                            {"rope:coupled_positions=7", "coupled_positions"},
                            {"rope:abacus=1, rope:abacus=1", "repeats entry 1"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rg_error err;
        rg_config d = c;
        cr_expect_eq(rg_config_set(&d, "positions", bad[i][0], "test", &err), 2, "%s accepted",
                     bad[i][0]);
        cr_expect(strstr(err.msg, bad[i][1]) != NULL, "%s: '%s' lacks '%s'", bad[i][0], err.msg,
                  bad[i][1]);
    }
}

/* ---- model ---------------------------------------------------------------------------- */

static void abacus_config(rg_config *c, const char *pos) {
    test_tiny_config(c, pos, 0);
    test_set(c, "abacus", "3");
    test_set(c, "abacus_max", "24");
}

Test(methods_model, abacus_gradient_check) {
    const char *schemes[] = {"none", "rope", "fire", "learned"};
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++) {
        rg_config c;
        abacus_config(&c, schemes[i]);
        rg_gc_model_options opt = {.T = 9};
        rg_gc_model_report rep;
        rg_error err;
        cr_assert_eq(rg_gc_model(&c.model, &opt, &rep, &err), 0, "%s", err.msg);
        bool checked = false;
        for (int p = 0; p < rep.n_params; p++)
            checked |= !strcmp(rep.params[p].name, "abacus_emb.weight") &&
                       rep.per_param[p].n_checked == rep.params[p].t.size;
        cr_expect(checked, "%s: abacus_emb.weight is among the checked parameters", schemes[i]);
        cr_expect(rep.res.worst_err <= rep.tol, "%s: worst error %.3g at %s[%ld]", rep.what,
                  rep.res.worst_err, rep.worst_name, rep.worst_index);
        rg_gc_model_report_free(&rep);
    }
}

/* Full forward (ids computed from the tokens) against cached decoding one
 * token at a time (ids from the cache's runs), and against the same ids
 * given; then shifted ids change the logits. */
Test(methods_model, abacus_decoding_equals_forward) {
    enum { B = 2, T = 14 };
    rg_config c;
    abacus_config(&c, "rope");
    rg_model m;
    rg_error err;
    cr_assert_eq(rg_gc_model_init(&m, &c.model, 5, &err), 0, "%s", err.msg);
    /* digits 0..4 in runs of up to 5, broken by tokens 5..8 */
    int tok[B * T] = {6, 0, 1, 2, 3, 4, 7, 1, 1, 8, 2, 2, 2, 2,
                      0, 0, 5, 3, 3, 3, 3, 3, 6, 4, 7, 1, 2, 3};
    int ids[B * T];
    rg_abacus_ids(tok, B, T, 5, 0, ids);
    rg_ctx ctx;
    rg_ctx_init(&ctx, 1);
    rg_tensor *full = rg_model_forward(&ctx, &m, tok, NULL, NULL, B, T, 0, NULL);
    long size = full->size; /* the arena holds full until the next reset */
    real *want = malloc((size_t)size * sizeof(real));
    memcpy(want, full->data, (size_t)size * sizeof(real));
    rg_ctx_reset(&ctx);
    rg_tensor *given = rg_model_forward(&ctx, &m, tok, NULL, ids, B, T, 0, NULL);
    cr_expect(max_abs_diff(given->data, want, size) == 0, "the ids given = the ids computed");
    rg_kv_cache kv;
    rg_kv_cache_init(&kv, &m, B, T, NULL);
    real worst = 0;
    for (int t = 0; t < T; t++) {
        int step[B] = {tok[t], tok[T + t]};
        rg_ctx_reset(&ctx);
        rg_tensor *y = rg_model_decode(&ctx, &m, &kv, step, NULL, 1);
        for (int b = 0; b < B; b++)
            worst = fmax(
                worst, max_abs_diff(y->data + (long)b * m.V, want + ((long)b * T + t) * m.V, m.V));
    }
    cr_expect(worst < EQ_TOL, "decoding with abacus ids differs by %.3g", worst);
    rg_kv_cache_free(&kv);
    rg_abacus_ids(tok, B, T, 5, 2, ids); /* a training shift */
    rg_ctx_reset(&ctx);
    rg_tensor *shifted = rg_model_forward(&ctx, &m, tok, NULL, ids, B, T, 0, NULL);
    cr_expect(max_abs_diff(shifted->data, want, size) > 1e-3, "the shift changes the logits");
    free(want);
    rg_ctx_free(&ctx);
    rg_model_free(&m);
}

/* Coupled positions repeat and go down: the forward and cached decoding
 * agree, and both read them (they differ from 0..T-1). */
Test(methods_model, coupled_decoding_equals_forward) {
    const char *schemes[] = {"rope", "learned", "sinusoidal"};
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++) {
        rg_config c;
        test_tiny_config(&c, schemes[i], 0);
        rg_model m;
        rg_error err;
        cr_assert_eq(rg_gc_model_init(&m, &c.model, 8, &err), 0, "%s", err.msg);
        enum { B = 1, T = 12 };
        int tok[T], pos[T] = {0, 4, 5, 6, 3, 4, 5, 6, 3, 4, 5, 6};
        rg_gc_random_tokens(tok, T, m.V, 3);
        rg_ctx ctx;
        rg_ctx_init(&ctx, 1);
        rg_tensor *full = rg_model_forward(&ctx, &m, tok, pos, NULL, B, T, 0, NULL);
        long size = full->size; /* the arena holds full until the next reset */
        real *want = malloc((size_t)size * sizeof(real));
        memcpy(want, full->data, (size_t)size * sizeof(real));
        rg_ctx_reset(&ctx);
        rg_tensor *plain = rg_model_forward(&ctx, &m, tok, NULL, NULL, B, T, 0, NULL);
        cr_expect(max_abs_diff(plain->data, want, size) > 1e-3, "%s reads the positions",
                  schemes[i]);
        rg_kv_cache kv;
        rg_kv_cache_init(&kv, &m, B, T, NULL);
        real worst = 0;
        for (int t = 0; t < T; t++) {
            rg_ctx_reset(&ctx);
            rg_tensor *y = rg_model_decode(&ctx, &m, &kv, tok + t, pos + t, 1);
            worst = fmax(worst, max_abs_diff(y->data, want + (long)t * m.V, m.V));
        }
        cr_expect(worst < EQ_TOL, "%s: decoding coupled positions differs by %.3g", schemes[i],
                  worst);
        rg_kv_cache_free(&kv);
        free(want);
        rg_ctx_free(&ctx);
        rg_model_free(&m);
    }
}

Test(methods_model, abacus_id_past_the_table_dies, .exit_code = 1) {
    rg_config c;
    abacus_config(&c, "none");
    rg_model m;
    rg_error err;
    cr_assert_eq(rg_model_init(&m, &c.model, 1, &err), 0, "%s", err.msg);
    int tok[2] = {1, 2}, ids[2] = {1, 24}; /* abacus_max 24: rows 0..23 */
    rg_ctx ctx;
    rg_ctx_init(&ctx, 1);
    rg_model_forward(&ctx, &m, tok, NULL, ids, 1, 2, 0, NULL);
}

/* An encoder with hint tokens: PAD is n_symbols + n_hints, and PAD keys are
 * hidden (changing the tokens after the row's end changes no logit). */
Test(methods_model, encoder_pad_follows_the_hints) {
    rg_config c;
    test_tiny_config(&c, "rope", 0);
    c.model.arch = RG_ARCH_ENCODER;
    c.model.n_hints = 4;
    rg_model m;
    rg_error err;
    cr_assert_eq(rg_gc_model_init(&m, &c.model, 2, &err), 0, "%s", err.msg);
    cr_expect_eq(m.V, 5 + 4 + 5);
    int pad = rg_tok_pad(5, 4);
    int a[8] = {0, 1, 5, 6, 2, 3, pad, pad}, b[8] = {0, 1, 5, 6, 2, 3, pad, pad};
    b[7] = rg_tok_pad(5, 0); /* a hint token, not PAD: a key */
    rg_ctx ctx;
    rg_ctx_init(&ctx, 1);
    rg_tensor *x = rg_model_forward(&ctx, &m, a, NULL, NULL, 1, 8, 0, NULL);
    real keep[6 * 14];
    memcpy(keep, x->data, sizeof keep);
    rg_ctx_reset(&ctx);
    rg_tensor *y = rg_model_forward(&ctx, &m, b, NULL, NULL, 1, 8, 0, NULL);
    cr_expect(max_abs_diff(keep, y->data, 6 * m.V) > 1e-6,
              "a hint token at the end is a key the other tokens see");
    rg_ctx_free(&ctx);
    rg_model_free(&m);
}

/* ---- training --------------------------------------------------------------------------- */

/* A short run of a method: trains, evaluates every length and writes a dump
 * whose /batch/abacus_ids (with abacus) are the training batch's ids. */
static void short_run(const char *pos, const char *k1, const char *v1, const char *k2,
                      const char *v2) {
    rg_config c;
    addition_config(&c);
    test_set(&c, "pos", pos);
    test_set(&c, "d_model", "16");
    test_set(&c, "n_heads", "2");
    test_set(&c, "d_ff", "32");
    test_set(&c, "steps", "6");
    test_set(&c, "warmup", "2");
    test_set(&c, "batch_size", "8");
    test_set(&c, "eval_n", "10");
    test_set(&c, "threads", "1");
    test_set(&c, "quiet", "1");
    test_set(&c, k1, v1);
    if (k2) test_set(&c, k2, v2);
    char dir[128];
    test_temp_dir(dir, sizeof dir);
    snprintf(c.out_dir, sizeof c.out_dir, "%s/run", dir);
    rg_error err;
    cr_assert_eq(rg_config_validate(&c, "test", &err), 0, "%s", err.msg);
    rg_run_summary sum;
    rg_train_options opt = {.quiet = true};
    cr_assert_eq(rg_train(&c, &opt, &sum, &err), 0, "%s %s=%s: %s", pos, k1, v1, err.msg);
    cr_expect_eq(sum.steps_done, 6);
    cr_expect_eq(sum.eval.n, 2);
    for (int k = 0; k < sum.eval.n; k++)
        cr_expect(sum.eval.token_acc[k] >= 0 && sum.eval.token_acc[k] <= 1);
    rg_run_summary_free(&sum);
    rg_model m;
    cr_assert_eq(rg_model_init(&m, &c.model, 1, &err), 0, "%s", err.msg);
    char path[256];
    snprintf(path, sizeof path, "%s/dump.h5", dir);
    rg_dump_step step;
    cr_assert_eq(rg_dump_step_write(&c, &m, path, &step, &err), 0, "%s", err.msg);
    rg_model_free(&m);
    /* the dump's ids are those of the training batch it used */
    rg_rng rng;
    rg_rng_seed(&rng, rg_train_seed(c.seed));
    rg_batch b;
    rg_batch_init(&b);
    rg_train_data data;
    rg_train_data_init(&data, &c, c.train_len);
    rg_train_data_batch(&data, 0, &b, &rng);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert(f >= 0);
    bool has = H5Lexists(f, "/batch/abacus_ids", H5P_DEFAULT) > 0;
    cr_expect_eq(has, c.model.abacus > 0, "/batch/abacus_ids exactly with an abacus embedding");
    if (has) {
        int *got = malloc((size_t)b.B * b.T * sizeof(int));
        hid_t d = H5Dopen2(f, "/batch/abacus_ids", H5P_DEFAULT);
        H5Dread(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, got);
        H5Dclose(d);
        cr_expect_arr_eq(got, b.abacus, (size_t)b.B * b.T * sizeof(int), "the training ids");
        free(got);
    }
    H5Fclose(f);
    rg_batch_free(&b);
    rg_train_data_free(&data);
    test_remove_dir(dir);
}

Test(methods_train, each_method_trains_and_evaluates) {
    short_run("rope", "abacus", "4", NULL, NULL);
    short_run("learned", "coupled_positions", "1", "coupled_max", "20");
    short_run("fire", "index_hints", "1", "n_hints", "11");
}

/* select = best validates as evaluation draws: a model trained with coupled
 * positions is validated on coupled positions (from 1), not on 0..T-1.
 * (Validation once drew only the examples: a coupled model scored 0.000 at
 * every step and select = best kept the first checkpoint.) Trained briefly
 * on 1..3 digits, the model reaches about 0.5 on validation. */
Test(methods_train, validation_draws_coupled_positions) {
    rg_config c;
    addition_config(&c);
    test_set(&c, "pos", "rope");
    test_set(&c, "coupled_positions", "1");
    test_set(&c, "coupled_max", "8");
    test_set(&c, "train_len", "3");
    test_set(&c, "eval_lens", "3");
    test_set(&c, "d_model", "32");
    test_set(&c, "n_heads", "2");
    test_set(&c, "d_ff", "64");
    test_set(&c, "steps", "600");
    test_set(&c, "warmup", "20");
    test_set(&c, "batch_size", "32");
    test_set(&c, "lr", "3e-3");
    test_set(&c, "init_std", "0.1");
    test_set(&c, "weight_decay", "0.1");
    test_set(&c, "eval_every", "600");
    test_set(&c, "checkpoint_every", "600");
    test_set(&c, "select", "best");
    test_set(&c, "val_n", "64");
    test_set(&c, "eval_n", "16");
    test_set(&c, "threads", "1");
    test_set(&c, "quiet", "1");
    char dir[128];
    test_temp_dir(dir, sizeof dir);
    snprintf(c.out_dir, sizeof c.out_dir, "%s/run", dir);
    rg_error err;
    cr_assert_eq(rg_config_validate(&c, "test", &err), 0, "%s", err.msg);
    rg_run_summary sum;
    rg_train_options opt = {.quiet = true};
    cr_assert_eq(rg_train(&c, &opt, &sum, &err), 0, "%s", err.msg);
    cr_expect_eq(sum.info.selected_step, 600);
    cr_expect(sum.info.val_exact_match >= 0.2,
              "validation exact match %.3f of a coupled model trained 600 steps: validation "
              "does not draw coupled positions",
              sum.info.val_exact_match);
    rg_run_summary_free(&sum);
    test_remove_dir(dir);
}

/* ---- the grid ----------------------------------------------------------------------------- */

Test(methods_grid, entries_name_their_runs) {
    rg_config c;
    addition_config(&c);
    test_set(&c, "tasks", "addition:10");
    test_set(&c, "positions", "rope, rope:coupled_positions=1");
    test_set(&c, "seeds", "1,2");
    test_set(&c, "out_dir", "/tmp/relgrad-grid-names");
    rg_grid g;
    rg_error err;
    cr_assert_eq(rg_grid_make(&g, &c, "test.ini", &err), 0, "%s", err.msg);
    cr_assert_eq(g.n_runs, 4);
    cr_expect_str_eq(g.runs[0].cfg.out_dir, "/tmp/relgrad-grid-names/runs/addition-rope-1");
    cr_expect_str_eq(g.runs[3].cfg.out_dir,
                     "/tmp/relgrad-grid-names/runs/addition-rope:coupled_positions=1-2");
    cr_expect(g.runs[0].cfg.coupled_positions == 0 && g.runs[3].cfg.coupled_positions == 1);
    cr_expect(strstr(g.runs[2].label, "rope:coupled_positions=1 seed 1") != NULL, "%s",
              g.runs[2].label);
    rg_grid_free(&g);
    /* an entry whose settings a run refuses: the message names the entry */
    test_set(&c, "positions", "rope, alibi:coupled_positions=1");
    cr_expect_eq(rg_grid_make(&g, &c, "test.ini", &err), 2);
    cr_expect(strstr(err.msg, "positions entry 2") && strstr(err.msg, "coupled_positions"), "%s",
              err.msg);
    rg_grid_free(&g);
}
