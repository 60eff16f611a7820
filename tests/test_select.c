/* test_select.c: the pieces behind fit and select = best, without training:
 *   - the keys select, val_n and fit_threshold: values, refusals and their
 *     messages;
 *   - rg_config_differs: which keys decide a resume and a recorded result;
 *   - the validation stream: its own seeds, the same set at every call,
 *     lengths 1 .. train_len as training draws them;
 *   - rg_validate and rg_evaluate_fit on a model whose answers are known.
 */
#include "testing.h"

#include <math.h>
#include <string.h>

static rg_config small(void) {
    rg_config c;
    test_tiny_config(&c, "rope", 0);
    test_set(&c, "task", "copy");
    test_set(&c, "train_len", "5");
    test_set(&c, "eval_lens", "3,7");
    test_set(&c, "eval_n", "40");
    test_set(&c, "threads", "1");
    return c;
}

Test(select, keys_take_their_values) {
    rg_config c;
    rg_config_defaults(&c);
    cr_expect_eq(c.select, RG_SELECT_LAST, "default: today's behaviour");
    cr_expect_eq(c.val_n, 200);
    cr_expect_eq(c.fit_threshold, 0.95);
    test_set(&c, "select", "best");
    cr_expect_eq(c.select, RG_SELECT_BEST);
    char text[32];
    rg_config_get(&c, "select", text, sizeof text);
    cr_expect_str_eq(text, "best");
    test_set(&c, "fit_threshold", "1");
    test_set(&c, "fit_threshold", "0");
    rg_error err;
    cr_expect_eq(rg_config_set(&c, "select", "bets", "argument 3", &err), 2);
    cr_expect(strstr(err.msg, "argument 3") && strstr(err.msg, "'select'") &&
                  strstr(err.msg, "did you mean 'best'") &&
                  strstr(err.msg, "select = last or select = best"),
              "%s", err.msg);
    cr_expect_eq(rg_config_set(&c, "fit_threshold", "1.5", "x.ini:4", &err), 2);
    cr_expect(strstr(err.msg, "x.ini:4") && strstr(err.msg, "0 .. 1"), "%s", err.msg);
    cr_expect_eq(rg_config_set(&c, "val_n", "0", "x.ini:5", &err), 2);
    cr_expect(strstr(err.msg, "x.ini:5") && strstr(err.msg, "val_n"), "%s", err.msg);
    cr_expect_eq(c.select, RG_SELECT_BEST, "a refused value changes nothing");
}

static const char *differs(const rg_config *a, const rg_config *b, rg_same_what what) {
    int k = rg_config_differs(a, b, what);
    return k < 0 ? "" : rg_config_key(k)->name;
}

Test(select, which_keys_decide) {
    rg_config a = small(), b = small();
    cr_expect_str_eq(differs(&a, &b, RG_SAME_TRAINING), "");
    /* operational keys decide nothing */
    test_set(&b, "threads", "2");
    test_set(&b, "out_dir", "elsewhere");
    test_set(&b, "checkpoint_every", "7");
    test_set(&b, "eval_every", "13");
    cr_expect_str_eq(differs(&a, &b, RG_SAME_TRAINING), "");
    cr_expect_str_eq(differs(&a, &b, RG_SAME_RESULTS), "");
    /* evaluation keys decide the results, not the training */
    test_set(&b, "eval_lens", "3,8");
    cr_expect_str_eq(differs(&a, &b, RG_SAME_TRAINING), "");
    cr_expect_str_eq(differs(&a, &b, RG_SAME_RESULTS), "eval_lens");
    b = small();
    test_set(&b, "fit_threshold", "0.9");
    cr_expect_str_eq(differs(&a, &b, RG_SAME_TRAINING), "");
    cr_expect_str_eq(differs(&a, &b, RG_SAME_RESULTS), "fit_threshold");
    b = small();
    test_set(&b, "rope_scale", "2");
    cr_expect_str_eq(differs(&a, &b, RG_SAME_RESULTS), "rope_scale");
    /* training keys decide both */
    b = small();
    test_set(&b, "lr", "2e-3");
    cr_expect_str_eq(differs(&a, &b, RG_SAME_TRAINING), "lr");
    cr_expect_str_eq(differs(&a, &b, RG_SAME_RESULTS), "lr");
    /* val_n counts only with select = best; then eval_every counts too */
    b = small();
    test_set(&b, "val_n", "17");
    cr_expect_str_eq(differs(&a, &b, RG_SAME_TRAINING), "");
    test_set(&b, "select", "best");
    cr_expect_str_eq(differs(&a, &b, RG_SAME_TRAINING), "select");
    test_set(&a, "select", "best");
    cr_expect_str_eq(differs(&a, &b, RG_SAME_TRAINING), "val_n");
    test_set(&b, "val_n", "200");
    test_set(&b, "eval_every", "13");
    cr_expect_str_eq(differs(&a, &b, RG_SAME_TRAINING), "eval_every");
    cr_expect_str_eq(differs(&a, &b, RG_SAME_RESULTS), "eval_every");
    /* the experiment's lists decide nothing about one run */
    a = small(), b = small();
    test_set(&b, "seeds", "1..5");
    test_set(&b, "jobs", "2");
    cr_expect_str_eq(differs(&a, &b, RG_SAME_RESULTS), "");
}

Test(select, validation_stream_is_its_own) {
    for (int n = 1; n <= 300; n++) {
        uint64_t v = rg_val_seed(n), p = rg_val_positions_seed(n);
        cr_expect_neq(v, p);
        cr_expect_neq(v, rg_val_seed(n + 1));
        cr_expect_neq(v, rg_eval_seed(n));
        cr_expect_neq(v, rg_eval_positions_seed(n));
        cr_expect_neq(p, rg_eval_positions_seed(n));
        cr_expect_neq(v, rg_train_set_seed());
        cr_expect_neq(p, rg_train_set_seed());
        for (int s = 0; s < 20; s++) {
            cr_expect_neq(v, rg_train_seed(s), "seed %d, n %d", s, n);
            /* the fixed training set's order shares the tag: n - 1 is the epoch */
            cr_expect_neq(v, rg_train_order_seed(s, n - 1), "seed %d, epoch %d", s, n - 1);
            cr_expect_neq(p, rg_train_order_seed(s, n - 1), "seed %d, epoch %d", s, n - 1);
        }
    }
}

/* rg_validate against the computation written out here: val_n lengths
 * drawn uniformly from 1 .. train_len on rg_val_seed's stream, then each
 * length's examples from the same stream, each decoded greedily one at a
 * time. The model is trained a little first, so that it gets some answers
 * right and others wrong and a miscount shows. */
Test(select, validate_counts_the_drawn_lengths, .timeout = 120) {
    rg_config c = small();
    test_set(&c, "n_symbols", "3");
    test_set(&c, "train_len", "3");
    test_set(&c, "val_n", "150");
    test_set(&c, "steps", "50");
    test_set(&c, "lr", "1e-2");
    test_set(&c, "warmup", "10");
    test_set(&c, "init_std", "0.1");
    test_set(&c, "quiet", "1");
    char dir[64];
    test_temp_dir(dir, sizeof dir);
    snprintf(c.out_dir, sizeof c.out_dir, "%s", dir);
    rg_error err;
    rg_run_summary sum;
    cr_assert_eq(rg_train(&c, NULL, &sum, &err), 0, "%s", err.msg);
    rg_run_summary_free(&sum);
    char ckpt[128];
    rg_checkpoint_path(&c, ckpt, sizeof ckpt);
    rg_model m;
    cr_assert_eq(rg_model_init(&m, &c.model, 7, &err), 0, "%s", err.msg);
    cr_assert_eq(rg_checkpoint_load(ckpt, &m, NULL, NULL, &err), 0, "%s", err.msg);
    test_remove_dir(dir);
    rg_ctx ctx;
    rg_ctx_init(&ctx, 1);
    double a = rg_validate(&ctx, &m, &c), b = rg_validate(&ctx, &m, &c);
    cr_expect_eq(a, b, "the same set at every call");
    /* by hand: the lengths, then each length's examples from the same stream */
    rg_rng rng;
    rg_rng_seed(&rng, rg_val_seed(c.train_len));
    int count[4] = {0};
    for (int i = 0; i < c.val_n; i++) count[rg_rng_int(&rng, 1, c.train_len)]++;
    for (int n = 1; n <= 3; n++)
        cr_expect_gt(count[n], 30, "length %d drawn %d times", n, count[n]);
    long right = 0;
    rg_batch b1;
    rg_batch_init(&b1);
    for (int n = 1; n <= 3; n++) {
        rg_batch_make(&b1, c.task, c.model.n_symbols, count[n], n, n, &rng);
        for (int i = 0; i < count[n]; i++) {
            int P = rg_task_prompt_len(c.task, n), ans = rg_task_out_len(c.task, n) + 1;
            rg_kv_cache kv;
            rg_kv_cache_init(&kv, &m, 1, P + ans, &c.model.opts);
            rg_ctx_reset(&ctx);
            bool was = rg_set_no_grad(&ctx, true);
            rg_tensor *z = rg_model_decode(&ctx, &m, &kv, b1.tokens + (long)i * b1.T, NULL, P);
            bool ok = true;
            for (int j = 0; j < ans; j++) {
                int best = 0;
                for (int v = 1; v < m.V; v++)
                    if (z->data[v] > z->data[best]) best = v;
                if (best != b1.targets[(long)i * b1.T + P - 1 + j]) ok = false;
                if (j + 1 == ans) break;
                rg_ctx_reset(&ctx);
                int next = best;
                z = rg_model_decode(&ctx, &m, &kv, &next, NULL, 1);
            }
            rg_set_no_grad(&ctx, was);
            rg_kv_cache_free(&kv);
            right += ok;
        }
    }
    cr_expect_eq(a, (double)right / c.val_n, "rg_validate %.4f, by hand %.4f", a,
                 (double)right / c.val_n);
    cr_log_info("validation exact match %.3f", a);
    cr_expect(a > 0.1 && a < 0.9,
              "validation exact match %.3f: too easy or too hard to show a "
              "miscount; retune the test's training",
              a);
    rg_batch_free(&b1);
    rg_ctx_free(&ctx);
    rg_model_free(&m);
}

/* rg_evaluate_fit reads the training length from an evaluation that has it,
 * and evaluates it when eval_lens does not: the same numbers either way;
 * fit follows fit_threshold. */
Test(select, fit_at_the_training_length) {
    rg_config c = small(); /* eval_lens 3,7: no 5 */
    rg_model m;
    rg_error err;
    cr_assert_eq(rg_model_init(&m, &c.model, 3, &err), 0, "%s", err.msg);
    rg_ctx ctx;
    rg_ctx_init(&ctx, 1);
    rg_run_info missing, present;
    rg_run_info_init(&missing), rg_run_info_init(&present);
    rg_eval_result res;
    rg_evaluate(&ctx, &m, &c, &res);
    rg_evaluate_fit(&ctx, &m, &c, &res, &missing);
    rg_eval_result_free(&res);
    rg_config with = c;
    test_set(&with, "eval_lens", "3,5,7");
    rg_evaluate(&ctx, &m, &with, &res);
    cr_assert_eq(res.len[1], 5);
    rg_evaluate_fit(&ctx, &m, &with, &res, &present);
    cr_expect_eq(present.fit_exact_match, res.exact_match[1]);
    cr_expect_eq(present.fit_token_acc, res.token_acc[1]);
    cr_expect_eq(missing.fit_exact_match, present.fit_exact_match);
    cr_expect_eq(missing.fit_token_acc, present.fit_token_acc);
    cr_expect_eq(present.fit, present.fit_exact_match >= 0.95);
    cr_expect_eq(present.fit, 0, "an untrained model does not fit");
    /* the threshold decides */
    test_set(&with, "fit_threshold", "0");
    rg_evaluate_fit(&ctx, &m, &with, &res, &present);
    cr_expect_eq(present.fit, 1, "exact match >= 0 always fits");
    rg_eval_result_free(&res);
    rg_ctx_free(&ctx);
    rg_model_free(&m);
}
