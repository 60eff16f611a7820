/* test_train.c: the optimizer, the schedule and clipping (whole training
 * runs are in test_runs.c). */
#include "testing.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A one-parameter-tensor model is enough for the optimizer: build a real
 * model and look at its first values. */
static void tiny_model(rg_model *m) {
    rg_config c;
    rg_config_defaults(&c);
    test_set(&c, "d_model", "8");
    test_set(&c, "n_heads", "2");
    test_set(&c, "n_layers", "1");
    test_set(&c, "d_ff", "8");
    test_set(&c, "pos", "none");
    rg_error err;
    cr_assert_eq(rg_model_init(m, &c.model, 1, &err), 0, "%s", err.msg);
}

/* AdamW, worked by hand for one value w = 0.5 with gradient g = 0.2,
 * lr 0.1, beta1 0.9, beta2 0.95, eps 1e-8, weight decay 0.1:
 *   step 1: m = 0.02, v = 0.002; mhat = 0.2, vhat = 0.04, sqrt = 0.2
 *           decayed w = 0.5 - 0.1*0.1*0.5 = 0.495; w = 0.495 - 0.1*(0.2/0.2) = 0.395
 *   step 2 (g = -0.1): m = 0.018 - 0.01 = 0.008, v = 0.0019 + 0.0005 = 0.0024
 *           mhat = 0.008/0.19 = 0.0421053, vhat = 0.0024/0.0975 = 0.0246154
 *           w = 0.395 - 0.1*0.1*0.395 - 0.1*0.0421053/0.1568929 = 0.3642131
 * A value without decay (a LayerNorm gain, 1.0 with g = 0.2) moves by the
 * Adam step alone: 1 - 0.1 = 0.9. */
Test(train, adamw_hand_computed) {
    rg_model m;
    tiny_model(&m);
    rg_param *w = rg_model_param(&m, "blocks.0.attn.qkv.weight"),
             *g = rg_model_param(&m, "ln_f.weight");
    cr_assert(w && g && w->decay && !g->decay);
    rg_adamw opt;
    rg_adamw_init(&opt, &m, 0.1);
    rg_model_zero_grad(&m);
    w->t.data[0] = (real)0.5, w->t.grad[0] = (real)0.2;
    g->t.data[0] = 1, g->t.grad[0] = (real)0.2;
    rg_adamw_step(&opt, &m, 0.1);
    cr_expect(fabs(w->t.data[0] - 0.395) < 1e-6, "step 1: w = %.9f, want 0.395",
              (double)w->t.data[0]);
    cr_expect(fabs(g->t.data[0] - 0.9) < 1e-6, "step 1: gain = %.9f, want 0.9",
              (double)g->t.data[0]);
    w->t.grad[0] = (real)-0.1;
    rg_adamw_step(&opt, &m, 0.1);
    double m2 = 0.008 / 0.19, v2 = 0.0024 / 0.0975;
    double want = 0.395 - 0.1 * 0.1 * 0.395 - 0.1 * m2 / (sqrt(v2) + 1e-8);
    cr_expect(fabs(w->t.data[0] - want) < 1e-6, "step 2: w = %.9f, want %.9f", (double)w->t.data[0],
              want);
    cr_expect(fabs(want - 0.3642131) < 1e-6, "hand value %.9f", want);
    cr_expect_eq(opt.step, 2);
    rg_adamw_free(&opt);
    rg_model_free(&m);
}

/* AdamW's vector paths (rg_adamw_step_simd) give the scalar path's bits,
 * value for value: parameters of sizes that leave tails (108 = 8*13 + 4),
 * one large enough to be split between two threads (qkv: 3*108*108 >
 * 32768), gradients of many magnitudes, zeros and a sign mix, three steps so
 * that m and v are not their first values, with and without decay. Each
 * path this CPU has is checked (the scalar one always runs). */
Test(train, adamw_paths_same_bits) {
    rg_config c;
    rg_config_defaults(&c);
    test_set(&c, "d_model", "108");
    test_set(&c, "n_heads", "4");
    test_set(&c, "n_layers", "1");
    test_set(&c, "d_ff", "52");
    test_set(&c, "pos", "none");
    rg_error err;
    rg_model ref, vec;
    int level = rg_adamw_simd_level();
    for (int simd = RG_ADAMW_AVX2; simd <= level; simd++) {
        cr_assert_eq(rg_model_init(&ref, &c.model, 1, &err), 0, "%s", err.msg);
        cr_assert_eq(rg_model_init(&vec, &c.model, 1, &err), 0, "%s", err.msg);
        cr_assert(ref.n_values > 40000 && ref.n_values == vec.n_values);
        rg_adamw a, b;
        rg_adamw_init(&a, &ref, 0.1);
        rg_adamw_init(&b, &vec, 0.1);
        b.threads = 2;
        rg_rng rng;
        rg_rng_seed(&rng, 7);
        for (int step = 0; step < 3; step++) {
            for (long i = 0; i < ref.n_values; i++) {
                double u = rg_rng_uniform(&rng);
                real g = i % 17 == 0 ? 0 : (real)(rg_rng_normal(&rng) * pow(10, -6 + 8 * u));
                ref.grads[i] = vec.grads[i] = g;
            }
            rg_adamw_step_simd(&a, &ref, 3e-3 * (step + 1), RG_ADAMW_SCALAR);
            rg_adamw_step_simd(&b, &vec, 3e-3 * (step + 1), simd);
            cr_assert(!memcmp(ref.values, vec.values, (size_t)ref.n_values * sizeof(real)),
                      "path %d, step %d: parameters differ from the scalar path's", simd, step);
            cr_assert(!memcmp(a.m, b.m, (size_t)ref.n_values * sizeof(real)), "path %d: m", simd);
            cr_assert(!memcmp(a.v, b.v, (size_t)ref.n_values * sizeof(real)), "path %d: v", simd);
        }
        bool moved = false; /* the update did something */
        rg_model fresh;
        cr_assert_eq(rg_model_init(&fresh, &c.model, 1, &err), 0, "%s", err.msg);
        for (long i = 0; i < ref.n_values && !moved; i++) moved = fresh.values[i] != ref.values[i];
        cr_expect(moved);
        rg_model_free(&fresh);
        rg_adamw_free(&a);
        rg_adamw_free(&b);
        rg_model_free(&ref);
        rg_model_free(&vec);
    }
    printf("AdamW: the scalar path and %d vector path(s) checked\n", level);
}

Test(train, schedule) {
    /* linear warmup to lr at step warmup-1, cosine to 0 at `steps` */
    cr_expect(fabs(rg_lr_at(0, 100, 10, 1.0) - 0.1) < 1e-12);
    cr_expect(fabs(rg_lr_at(9, 100, 10, 1.0) - 1.0) < 1e-12);
    cr_expect(fabs(rg_lr_at(10, 100, 10, 1.0) - 1.0) < 1e-12);
    cr_expect(fabs(rg_lr_at(55, 100, 10, 1.0) - 0.5) < 1e-12); /* half way through the cosine */
    cr_expect(rg_lr_at(99, 100, 10, 1.0) < 0.001);
    cr_expect(fabs(rg_lr_at(5, 100, 0, 2.0) - 2.0 * 0.5 * (1 + cos(M_PI * 0.05))) < 1e-12);
    for (int s = 10; s < 99; s++)
        cr_expect(rg_lr_at(s + 1, 100, 10, 1.0) <= rg_lr_at(s, 100, 10, 1.0));
}

Test(train, clip_grad_norm) {
    rg_model m;
    tiny_model(&m);
    double want = 0;
    for (long i = 0; i < m.n_values; i++) {
        m.grads[i] = (real)(i % 2 ? 3 : -4);
        want += (double)m.grads[i] * m.grads[i];
    }
    want = sqrt(want);
    double norm = rg_clip_grad_norm(&m, 1.0);
    cr_expect(fabs(norm - want) < 1e-5 * want, "norm %.6f, want %.6f", norm, want);
    double after = 0;
    for (long i = 0; i < m.n_values; i++) after += (double)m.grads[i] * m.grads[i];
    cr_expect(fabs(sqrt(after) - 1.0) < 1e-4, "norm after clipping %.6f", sqrt(after));
    double again = rg_clip_grad_norm(&m, 10.0); /* below the bound: unchanged */
    cr_expect(fabs(again - sqrt(after)) < 1e-6);
    rg_model_free(&m);
}
