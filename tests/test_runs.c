/* test_runs.c: whole training runs: the loss falls and accuracy rises; an
 * interrupted run resumes to exactly the losses and parameters of an
 * uninterrupted one; a different config refuses to resume; select = best
 * picks the first best-validated step (also across resumes) and evaluates
 * its parameters; fit and the selected step are recorded.
 * Built in float32 only (tests/CMakeLists.txt): checkpoints hold float32
 * values (SPEC section 4), so only there is a resumed run bit-identical to an
 * uninterrupted one; the float64 build exists for the gradient checks. */
#include "testing.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static rg_config run_config(const char *dir, const char *pos) {
    rg_config c;
    rg_config_defaults(&c);
    const char *kv[][2] = {
        {"d_model", "32"}, {"n_heads", "2"},   {"n_layers", "2"},           {"d_ff", "64"},
        {"task", "copy"},  {"n_symbols", "6"}, {"train_len", "5"},          {"eval_lens", "5"},
        {"eval_n", "64"},  {"steps", "200"},   {"batch_size", "32"},        {"lr", "3e-3"},
        {"warmup", "20"},  {"threads", "1"},   {"checkpoint_every", "100"}, {"eval_every", "1000"}};
    for (size_t i = 0; i < sizeof kv / sizeof *kv; i++) test_set(&c, kv[i][0], kv[i][1]);
    test_set(&c, "pos", pos);
    test_set(&c, "out_dir", dir);
    rg_error err;
    cr_assert_eq(rg_config_validate(&c, "test", &err), 0, "%s", err.msg);
    return c;
}

#define temp_dir   test_temp_dir
#define remove_dir test_remove_dir

Test(train, loss_falls_and_accuracy_rises, .timeout = 300) {
    char dir[64];
    temp_dir(dir, sizeof dir);
    rg_config c = run_config(dir, "rope");
    /* accuracy of the untrained model */
    rg_model m;
    rg_error err;
    cr_assert_eq(rg_model_init(&m, &c.model, (uint64_t)c.seed, &err), 0);
    rg_ctx ctx;
    rg_ctx_init(&ctx, 1);
    rg_eval_result before;
    rg_evaluate(&ctx, &m, &c, &before);
    rg_ctx_free(&ctx);
    rg_model_free(&m);
    double before_token = before.token_acc[0], before_exact = before.exact_match[0];
    rg_eval_result_free(&before);

    rg_train_options opt = {.quiet = true};
    rg_run_summary sum;
    int rc = rg_train(&c, &opt, &sum, &err);
    cr_assert_eq(rc, 0, "train: %s", err.msg);
    cr_assert_eq(sum.steps_done, c.steps);
    double first = 0, last = 0;
    for (int s = 0; s < 20; s++)
        first += sum.train_loss[s] / 20, last += sum.train_loss[c.steps - 20 + s] / 20;
    cr_expect(last < 0.5 * first, "loss did not fall: first 20 steps %.3f, last 20 %.3f", first,
              last);
    cr_expect(sum.eval.token_acc[0] > before_token + 0.3,
              "token accuracy at the training length: %.3f before, %.3f after", before_token,
              sum.eval.token_acc[0]);
    cr_expect(sum.eval.exact_match[0] > before_exact,
              "exact match at the training length: %.3f before, %.3f after", before_exact,
              sum.eval.exact_match[0]);
    cr_log_info("loss %.3f -> %.3f; token acc %.3f -> %.3f; exact %.3f -> %.3f", first, last,
                before_token, sum.eval.token_acc[0], before_exact, sum.eval.exact_match[0]);
    rg_run_summary_free(&sum);
    remove_dir(dir);
}

/* Stop after 50 steps (checkpoint), resume to 120: the losses and the final
 * parameters equal an uninterrupted run's exactly. With segment memory too. */
static void resume_equals_uninterrupted(const char *pos, int mem_len, int random_positions) {
    char da[64], db[64];
    temp_dir(da, sizeof da);
    temp_dir(db, sizeof db);
    rg_config ca = run_config(da, pos), cb = run_config(db, pos);
    ca.steps = cb.steps = 120, ca.checkpoint_every = cb.checkpoint_every = 40;
    ca.model.mem_len = cb.model.mem_len = mem_len;
    ca.model.segment_len = cb.model.segment_len = mem_len ? 6 : 0;
    ca.random_positions = cb.random_positions = random_positions;
    rg_error err;
    rg_run_summary a, b1, b2;
    rg_train_options quiet = {.quiet = true}, pause = {.quiet = true, .stop_after = 50};
    cr_assert_eq(rg_train(&ca, &quiet, &a, &err), 0, "%s", err.msg);
    cr_assert_eq(rg_train(&cb, &pause, &b1, &err), 0, "%s", err.msg);
    cr_assert_eq(b1.steps_done, 50);
    cr_assert_eq(rg_train(&cb, &quiet, &b2, &err), 0, "%s", err.msg);
    cr_assert_eq(b2.steps_done, 120);
    for (int s = 0; s < 120; s++)
        cr_assert_eq(a.train_loss[s], b2.train_loss[s],
                     "%s mem %d: step %d loss %.9g vs resumed %.9g", pos, mem_len, s + 1,
                     a.train_loss[s], b2.train_loss[s]);
    /* the final checkpoints hold the same parameters */
    char pa[600], pb[600];
    rg_checkpoint_path(&ca, pa, sizeof pa);
    rg_checkpoint_path(&cb, pb, sizeof pb);
    rg_model ma, mb;
    cr_assert_eq(rg_model_init(&ma, &ca.model, 0, &err), 0);
    cr_assert_eq(rg_model_init(&mb, &cb.model, 0, &err), 0);
    cr_assert_eq(rg_checkpoint_load(pa, &ma, NULL, NULL, &err), 0, "%s", err.msg);
    cr_assert_eq(rg_checkpoint_load(pb, &mb, NULL, NULL, &err), 0, "%s", err.msg);
    cr_expect_eq(memcmp(ma.values, mb.values, (size_t)ma.n_values * sizeof(real)), 0,
                 "%s: final parameters differ after resume", pos);
    for (int k = 0; k < a.eval.n; k++) cr_expect_eq(a.eval.exact_match[k], b2.eval.exact_match[k]);
    rg_model_free(&ma), rg_model_free(&mb);
    rg_run_summary_free(&a), rg_run_summary_free(&b1), rg_run_summary_free(&b2);
    remove_dir(da), remove_dir(db);
}

Test(train, resume_is_exact, .timeout = 300) {
    resume_equals_uninterrupted("t5", 0, 0);
    resume_equals_uninterrupted("xl", 5, 0);
    resume_equals_uninterrupted("fire", 0, 40); /* positions come from the saved rng too */
}

/* A run whose config differs from its checkpoint's refuses to resume. */
Test(train, resume_refuses_other_config) {
    char dir[64];
    temp_dir(dir, sizeof dir);
    rg_config c = run_config(dir, "alibi");
    c.steps = 10;
    rg_error err;
    rg_run_summary s;
    rg_train_options quiet = {.quiet = true};
    cr_assert_eq(rg_train(&c, &quiet, &s, &err), 0, "%s", err.msg);
    rg_run_summary_free(&s);
    c.lr = 2e-3;
    cr_expect_eq(rg_train(&c, &quiet, &s, &err), 2);
    cr_expect(strstr(err.msg, "lr") && strstr(err.msg, "another out_dir"), "message: %s", err.msg);
    rg_run_summary_free(&s);
    remove_dir(dir);
}

/* init_from: a run starts from another run's parameters (fine-tuning at a
 * new length); a checkpoint of another model is refused. */
Test(train, init_from_checkpoint) {
    char da[64], db[64], dc[64];
    temp_dir(da, sizeof da), temp_dir(db, sizeof db), temp_dir(dc, sizeof dc);
    rg_config ca = run_config(da, "rope");
    ca.steps = 30;
    rg_error err;
    rg_run_summary s;
    rg_train_options quiet = {.quiet = true};
    cr_assert_eq(rg_train(&ca, &quiet, &s, &err), 0, "%s", err.msg);
    rg_run_summary_free(&s);
    char ckpt[400];
    rg_checkpoint_path(&ca, ckpt, sizeof ckpt);
    /* steps = 1 with lr tiny: the parameters stay those of the checkpoint */
    rg_config cb = run_config(db, "rope");
    cb.steps = 1, cb.lr = 1e-30, cb.warmup = 0, cb.train_len = 7;
    snprintf(cb.init_from, sizeof cb.init_from, "%s", ckpt);
    cr_assert_eq(rg_train(&cb, &quiet, &s, &err), 0, "%s", err.msg);
    rg_run_summary_free(&s);
    rg_model ma, mb;
    char cb_ckpt[600];
    rg_checkpoint_path(&cb, cb_ckpt, sizeof cb_ckpt);
    cr_assert_eq(rg_model_init(&ma, &ca.model, 0, &err), 0);
    cr_assert_eq(rg_model_init(&mb, &cb.model, 0, &err), 0);
    cr_assert_eq(rg_checkpoint_load(ckpt, &ma, NULL, NULL, &err), 0, "%s", err.msg);
    cr_assert_eq(rg_checkpoint_load(cb_ckpt, &mb, NULL, NULL, &err), 0, "%s", err.msg);
    double worst = 0;
    for (long i = 0; i < ma.n_values; i++) worst = fmax(worst, fabs(ma.values[i] - mb.values[i]));
    cr_expect(worst < 1e-6, "init_from: parameters moved by %.3g", worst);
    rg_model_free(&ma), rg_model_free(&mb);
    /* another model: refused, naming the problem */
    rg_config cc = run_config(dc, "alibi");
    snprintf(cc.init_from, sizeof cc.init_from, "%s", ckpt);
    test_set(&cc, "d_model", "16");
    cr_expect_eq(rg_train(&cc, &quiet, &s, &err), 2);
    cr_expect(strstr(err.msg, "init_from"), "message: %s", err.msg);
    rg_run_summary_free(&s);
    remove_dir(da), remove_dir(db), remove_dir(dc);
}

/* ---- select = best and fit ------------------------------------------------------------ */

/* The validation score of the parameters in a checkpoint file. */
static double validate_file(const rg_config *c, const char *path) {
    rg_model m;
    rg_error err;
    cr_assert_eq(rg_model_init(&m, &c->model, 0, &err), 0, "%s", err.msg);
    cr_assert_eq(rg_checkpoint_load(path, &m, NULL, NULL, &err), 0, "%s", err.msg);
    rg_ctx ctx;
    rg_ctx_init(&ctx, 1);
    double score = rg_validate(&ctx, &m, c);
    rg_ctx_free(&ctx);
    rg_model_free(&m);
    return score;
}

static rg_config select_config(const char *dir) {
    rg_config c = run_config(dir, "rope");
    test_set(&c, "select", "best");
    test_set(&c, "steps", "120");
    test_set(&c, "eval_every", "20");
    test_set(&c, "checkpoint_every", "50");
    test_set(&c, "val_n", "64");
    test_set(&c, "eval_lens", "3,7"); /* not the training length: fit evaluates it */
    test_set(&c, "lr", "1e-2");
    return c;
}

/* select = best, trained 20 steps at a time (each call resumes from the
 * checkpoint): after every 20 steps the checkpoint's parameters are
 * validated here; the run must select the first step with the highest of
 * those scores, record it and its score, evaluate best.h5's parameters,
 * and agree in everything with the same run trained without a stop. */
Test(train, select_best_keeps_the_best, .timeout = 300) {
    char da[64], db[64];
    temp_dir(da, sizeof da), temp_dir(db, sizeof db);
    rg_config ca = select_config(da), cb = select_config(db);
    rg_error err;
    rg_train_options quiet = {.quiet = true}, pause = {.quiet = true, .stop_after = 20};
    rg_run_summary a, part;
    cr_assert_eq(rg_train(&ca, &quiet, &a, &err), 0, "%s", err.msg);
    double score[7] = {0};
    char ckpt[600];
    rg_checkpoint_path(&cb, ckpt, sizeof ckpt);
    for (int k = 1; k <= 6; k++) {
        cr_assert_eq(rg_train(&cb, k < 6 ? &pause : &quiet, &part, &err), 0, "%s", err.msg);
        cr_assert_eq(part.steps_done, 20 * k);
        score[k] = validate_file(&cb, ckpt);
        if (k < 6) rg_run_summary_free(&part);
    }
    int want = 1;
    for (int k = 2; k <= 6; k++)
        if (score[k] > score[want]) want = k;
    cr_log_info("validation: %.3f %.3f %.3f %.3f %.3f %.3f; best step %d", score[1], score[2],
                score[3], score[4], score[5], score[6], 20 * want);
    /* the resumed run chose the first best step, and so did the other */
    cr_expect_eq(part.info.selected_step, 20 * want);
    cr_expect_eq(part.info.val_exact_match, score[want]);
    cr_expect_eq(a.info.selected_step, part.info.selected_step);
    cr_expect_eq(a.info.val_exact_match, part.info.val_exact_match);
    for (int s = 0; s < 120; s++) cr_assert_eq(a.train_loss[s], part.train_loss[s]);
    for (int k = 0; k < a.eval.n; k++) {
        cr_expect_eq(a.eval.exact_match[k], part.eval.exact_match[k]);
        cr_expect_eq(a.eval.token_acc[k], part.eval.token_acc[k]);
    }
    /* best.h5 holds that step; the final evaluation read its parameters */
    char best[600];
    snprintf(best, sizeof best, "%s/best.h5", db);
    long step;
    double val;
    cr_assert_eq(rg_best_read_step(best, &step, &val, &err), 0, "%s", err.msg);
    cr_expect_eq(step, 20 * want);
    cr_expect_eq(val, score[want]);
    cr_expect_eq(validate_file(&cb, best), score[want]);
    rg_model m;
    cr_assert_eq(rg_model_init(&m, &cb.model, 0, &err), 0, "%s", err.msg);
    cr_assert_eq(rg_checkpoint_load(best, &m, NULL, NULL, &err), 0, "%s", err.msg);
    rg_ctx ctx;
    rg_ctx_init(&ctx, 1);
    rg_eval_result ev;
    rg_evaluate(&ctx, &m, &cb, &ev);
    for (int k = 0; k < ev.n; k++) cr_expect_eq(ev.exact_match[k], part.eval.exact_match[k]);
    /* fit: the training length (not among eval_lens) evaluated with these parameters */
    rg_config at_train = cb;
    snprintf(at_train.eval_lens, sizeof at_train.eval_lens, "%d", cb.train_len);
    rg_eval_result fit;
    rg_evaluate(&ctx, &m, &at_train, &fit);
    cr_expect_eq(part.info.fit_exact_match, fit.exact_match[0]);
    cr_expect_eq(part.info.fit_token_acc, fit.token_acc[0]);
    cr_expect_eq(part.info.fit, fit.exact_match[0] >= 0.95);
    /* and results.h5 says the same */
    char results[600];
    snprintf(results, sizeof results, "%s/results.h5", db);
    rg_run_data d;
    cr_assert_eq(rg_results_read_run(results, "copy", "rope", 1, &d, &err), 0, "%s", err.msg);
    cr_expect_eq(d.info.selected_step, 20 * want);
    cr_expect_eq(d.info.val_exact_match, score[want]);
    cr_expect_eq(d.info.fit, part.info.fit);
    cr_expect_eq(d.info.fit_exact_match, fit.exact_match[0]);
    cr_expect_str_eq(d.info.precision, "float32");
    cr_expect(d.info.git_commit[0] && d.info.cpu_model[0]);
    rg_run_data_free(&d);
    rg_eval_result_free(&ev), rg_eval_result_free(&fit);
    rg_ctx_free(&ctx);
    rg_model_free(&m);
    rg_run_summary_free(&a), rg_run_summary_free(&part);
    remove_dir(da), remove_dir(db);
}

/* select = last records the last step and no validation score; resuming
 * with select = best (or another val_n under best) is refused. */
Test(train, select_last_records_the_last_step) {
    char dir[64];
    temp_dir(dir, sizeof dir);
    rg_config c = run_config(dir, "alibi");
    c.steps = 30;
    rg_error err;
    rg_run_summary s;
    rg_train_options quiet = {.quiet = true};
    cr_assert_eq(rg_train(&c, &quiet, &s, &err), 0, "%s", err.msg);
    cr_expect_eq(s.info.selected_step, 30);
    cr_expect(isnan(s.info.val_exact_match));
    cr_expect_eq(s.info.fit, s.info.fit_exact_match >= 0.95);
    cr_expect_eq(s.info.fit_exact_match, s.eval.exact_match[0], "eval_lens = train_len = 5");
    rg_run_summary_free(&s);
    char best[600];
    snprintf(best, sizeof best, "%s/best.h5", dir);
    cr_expect_neq(access(best, F_OK), 0, "select = last writes no best.h5");
    test_set(&c, "select", "best");
    cr_expect_eq(rg_train(&c, &quiet, &s, &err), 2);
    cr_expect(strstr(err.msg, "select = last") && strstr(err.msg, "another out_dir"), "%s",
              err.msg);
    rg_run_summary_free(&s);
    remove_dir(dir);
}
