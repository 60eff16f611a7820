/* test_model.c: the model and its positional schemes.
 *   - gradient checks of the whole model, per scheme, memory off/on (every
 *     parameter, including each scheme's own), per-layer hybrids and random
 *     positions: bound 1e-6 in the float64 build, RG_GC_TOL_MODEL in float32;
 *   - ALiBi slopes and T5 buckets against the papers' rules;
 *   - positions are data: the default equals explicit positions; relative
 *     schemes ignore a common shift of positions, absolute ones do not;
 *     gaps between positions change relative schemes (but none);
 *   - causality; segment recurrence equals one pass; key/value-cache
 *     decoding equals a full forward (also with random positions); the
 *     fused attention equals the unfused ops.
 * Lists of schemes come from the registry, so a new scheme is covered by
 * every property test without editing this file. Models, tokens and random
 * positions come from the whole-model check's own set-up (gradcheck.h:
 * rg_gc_model_init, rg_gc_random_tokens, rg_gc_random_positions).
 */
#include "relgrad/gradcheck.h"
#include "testing.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* exact-equality bound: float64 rounding, or float32 rounding */
#define EQ_TOL (sizeof(real) == 8 ? 1e-10 : 1e-4)

/* The model of c, as the whole-model check makes it (rg_gc_model_init:
 * every value moved off its initial constant). */
static void make_model_cfg(rg_model *m, const rg_config *c, uint64_t seed) {
    rg_error err;
    cr_assert_eq(rg_gc_model_init(m, &c->model, seed, &err), 0, "model init failed: %s", err.msg);
}

static void make_model(rg_model *m, const char *pos, int mem_len, uint64_t seed) {
    rg_config c;
    test_tiny_config(&c, pos, mem_len);
    make_model_cfg(m, &c, seed);
}

/* ---- gradient checks of the whole model -------------------------------------- */

/* The library's whole-model check (src/check/model_check.c, shared with
 * `relgrad gradcheck model`): B 2, T 5, parameters moved off their initial
 * constants, memory filled by one earlier segment when mem_len > 0, FIRE's
 * relu kept off its kinks and its fc2.bias gradient checked to be ~0. */
static void check_model_cfg(const rg_config *c, const char *what, bool random_pos) {
    rg_gc_model_options opt = {.random_positions = random_pos ? 40 : 0};
    rg_gc_model_report rep;
    rg_error err;
    int rc = rg_gc_model(&c->model, &opt, &rep, &err);
    cr_assert_eq(rc, 0, "%s: %s", what, err.msg);
    const char *op = rep.what; /* "model POS mem_len=M [random positions]" */
    cr_log_info("%s: %ld entries, worst error %.3g at %s[%ld]", op, rep.res.n_checked,
                rep.res.worst_err, rep.worst_name, rep.worst_index);
    cr_expect(rep.res.worst_err <= rep.tol,
              "%s: worst error %.3g at %s[%ld]: analytic %.17g numeric %.17g", op,
              rep.res.worst_err, rep.worst_name, rep.worst_index, rep.res.analytic,
              rep.res.numeric);
    cr_expect(rep.left_out_ok,
              "%s: FIRE's fc2.bias gradient %.3g is not ~0 (largest gradient %.3g)", op,
              rep.left_out_max, rep.largest);
    rg_gc_model_report_free(&rep);
}

static void check_model(const char *pos, int mem_len) {
    rg_config c;
    test_tiny_config(&c, pos, mem_len);
    check_model_cfg(&c, pos, false);
}

Test(model_grad, none) {
    check_model("none", 0), check_model("none", 4);
}
Test(model_grad, sinusoidal) {
    check_model("sinusoidal", 0);
}
Test(model_grad, learned) {
    check_model("learned", 0);
}
Test(model_grad, rope) {
    check_model("rope", 0), check_model("rope", 4);
}
Test(model_grad, alibi) {
    check_model("alibi", 0), check_model("alibi", 4);
}
Test(model_grad, t5) {
    check_model("t5", 0), check_model("t5", 4);
}
Test(model_grad, xl) {
    check_model("xl", 0), check_model("xl", 4);
}
Test(model_grad, deberta) {
    check_model("deberta", 0), check_model("deberta", 4);
}
Test(model_grad, fire) {
    check_model("fire", 0), check_model("fire", 4);
}
Test(model_grad, cope) {
    check_model("cope", 0), check_model("cope", 4);
}

/* Every registered scheme has its model_grad test above: this file's own
 * source must hold "Test(model_grad, <name>)" for each name in the registry. */
Test(model_grad, every_scheme_is_checked) {
    char path[600];
    snprintf(path, sizeof path, "%s/tests/test_model.c", RELGRAD_SOURCE_DIR);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "cannot read %s", path);
    static char text[1 << 17];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    for (int id = 0; id < rg_scheme_count(); id++) {
        char want[96];
        snprintf(want, sizeof want, "Test(model_grad, %s)", scheme(id));
        cr_expect(strstr(text, want), "scheme %s has no %s in tests/test_model.c", scheme(id),
                  want);
    }
}

/* Per-layer lists: shared tables used by some layers, per-layer parameters
 * only where they belong (SPEC section 6). */
Test(model_grad, hybrid) {
    const char *lists[] = {"rope,alibi,none", "t5,deberta,fire", "xl,t5,rope"};
    for (int i = 0; i < 3; i++) {
        rg_config c;
        test_tiny_config(&c, "none", 0);
        test_set(&c, "n_layers", "3");
        test_set(&c, "pos", lists[i]);
        check_model_cfg(&c, lists[i], false);
    }
    rg_config c;
    test_tiny_config(&c, "none", 4);
    test_set(&c, "pos", "alibi,xl");
    check_model_cfg(&c, "alibi,xl", false);
}

/* Random positions reach every position-reading scheme's gradient. */
Test(model_grad, random_positions) {
    for (int id = 0; id < rg_scheme_count(); id++) {
        if (!rg_scheme_reads_positions(id)) continue;
        rg_config c;
        test_tiny_config(&c, scheme(id), 0);
        check_model_cfg(&c, scheme(id), true);
    }
}

/* The parameter list of a hybrid follows SPEC section 6. */
Test(model, hybrid_parameters) {
    rg_config c;
    test_tiny_config(&c, "none", 0);
    test_set(&c, "n_layers", "4");
    test_set(&c, "pos", "t5,xl");
    rg_model m;
    make_model_cfg(&m, &c, 1);
    cr_expect(rg_model_param(&m, "t5_bias.weight") != NULL, "t5 table missing");
    cr_expect(rg_model_param(&m, "rel_emb.weight") == NULL, "no deberta layer, no rel_emb");
    for (int l = 0; l < 4; l++) {
        char name[64];
        snprintf(name, sizeof name, "blocks.%d.attn.r.weight", l);
        bool xl_layer = l % 2 == 1;
        cr_expect((rg_model_param(&m, name) != NULL) == xl_layer, "layer %d: %s %s", l, name,
                  xl_layer ? "missing" : "should not exist");
        cr_expect_eq(m.layers[l].scheme, rg_scheme_find(xl_layer ? "xl" : "t5"));
    }
    rg_model_free(&m);
}

/* ---- scheme formulas ---------------------------------------------------------------- */

/* ALiBi: the paper's rule, restated independently: a power of two H gives
 * the geometric sequence 2^(-8/H), 2^(-16/H), ...; otherwise the slopes of the
 * largest power of two P < H followed by the slopes of 2P at odd positions. */
static void alibi_reference(int H, double *out) {
    if ((H & (H - 1)) == 0) {
        for (int h = 0; h < H; h++) out[h] = pow(pow(2.0, -8.0 / H), h + 1);
        return;
    }
    int P = 1 << (int)floor(log2(H));
    double big[64];
    alibi_reference(P, out);
    alibi_reference(2 * P, big);
    for (int h = P; h < H; h++) out[h] = big[2 * (h - P)];
}

Test(schemes, alibi_slopes) {
    for (int H = 1; H <= 16; H++) {
        double got[16], want[16];
        rg_alibi_slopes(H, got);
        alibi_reference(H, want);
        for (int h = 0; h < H; h++)
            cr_expect(fabs(got[h] - want[h]) < 1e-15, "H=%d h=%d: %.17g != %.17g", H, h, got[h],
                      want[h]);
    }
    double s8[8], s12[12];
    rg_alibi_slopes(8, s8);
    for (int h = 0; h < 8; h++) cr_expect(s8[h] == ldexp(1.0, -(h + 1)), "H=8 slope %d", h);
    rg_alibi_slopes(12, s12);
    for (int h = 0; h < 8; h++) cr_expect(s12[h] == ldexp(1.0, -(h + 1)), "H=12 slope %d", h);
    const double tail[4] = {-0.5, -1.5, -2.5, -3.5};
    for (int h = 0; h < 4; h++)
        cr_expect(fabs(s12[8 + h] - pow(2.0, tail[h])) < 1e-15, "H=12 slope %d", 8 + h);
}

Test(schemes, t5_buckets) {
    /* against the formula for 0..300 */
    for (int n = 0; n <= 300; n++) {
        int want = n < 16 ? n : (int)fmin(31, 16 + floor(log(n / 16.0) / log(128 / 16.0) * 16));
        cr_expect_eq(rg_t5_bucket(n, 32, 128), want, "distance %d", n);
    }
    /* spot values, worked by hand: log(n/16)/log(8)*16 */
    const int spot[][2] = {{0, 0},   {15, 15},  {16, 16},  {17, 16},  {20, 17},  {32, 21},
                           {64, 26}, {100, 30}, {112, 30}, {113, 31}, {128, 31}, {300, 31}};
    for (size_t i = 0; i < sizeof spot / sizeof *spot; i++)
        cr_expect_eq(rg_t5_bucket(spot[i][0], 32, 128), spot[i][1], "bucket(%d)", spot[i][0]);
}

/* ---- properties of the whole model --------------------------------------------------- */

static real max_abs_diff(const real *a, const real *b, long n) {
    real mx = 0;
    for (long i = 0; i < n; i++) mx = fmax(mx, fabs(a[i] - b[i]));
    return mx;
}

/* logits of one forward as a malloc'd copy */
static real *logits_of(rg_model *m, const int *tok, const int *pos, int B, int T, int offset) {
    rg_ctx ctx;
    rg_ctx_init(&ctx, 1);
    rg_set_no_grad(&ctx, true);
    rg_tensor *y = rg_model_forward(&ctx, m, tok, pos, NULL, B, T, offset, NULL);
    real *out = malloc((size_t)y->size * sizeof(real));
    memcpy(out, y->data, (size_t)y->size * sizeof(real));
    rg_ctx_free(&ctx);
    return out;
}

/* Positions are data: offset 13 is the same as explicit positions 13..; a
 * shift changes only absolute schemes; gaps change every scheme that reads
 * positions. */
Test(model_props, positions_are_data) {
    enum { B = 2, T = 9 };
    for (int id = 0; id < rg_scheme_count(); id++) {
        rg_model m;
        make_model(&m, scheme(id), 0, 11);
        int tok[B * T], shifted[B * T], gaps[B * T];
        rg_gc_random_tokens(tok, B * T, m.V, 5);
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++) shifted[b * T + t] = 13 + t, gaps[b * T + t] = 3 * t + b;
        real *a = logits_of(&m, tok, NULL, B, T, 0), *b = logits_of(&m, tok, NULL, B, T, 13);
        real *c = logits_of(&m, tok, shifted, B, T, 0), *g = logits_of(&m, tok, gaps, B, T, 0);
        long n = (long)B * T * m.V;
        cr_expect(max_abs_diff(b, c, n) == 0, "%s: offset 13 and positions 13.. differ",
                  scheme(id));
        real shift = max_abs_diff(a, b, n), gap = max_abs_diff(a, g, n);
        if (rg_scheme_is_shift_invariant(id))
            cr_expect(shift < EQ_TOL, "%s: logits moved by %.3g under a shift", scheme(id), shift);
        else
            cr_expect(shift > 1e-3, "%s: logits unchanged (%.3g) under a shift", scheme(id), shift);
        if (rg_scheme_reads_positions(id))
            cr_expect(gap > 1e-3, "%s: logits unchanged (%.3g) by gaps between positions",
                      scheme(id), gap);
        else
            cr_expect(gap == 0, "%s: positions changed the logits by %.3g", scheme(id), gap);
        free(a), free(b), free(c), free(g);
        rg_model_free(&m);
    }
}

Test(model_props, causality) {
    enum { B = 2, T = 8 };
    for (int id = 0; id < rg_scheme_count(); id++) {
        rg_model m;
        make_model(&m, scheme(id), 0, 12);
        int tok[B * T];
        rg_gc_random_tokens(tok, B * T, m.V, 6);
        real *a = logits_of(&m, tok, NULL, B, T, 0);
        for (int b = 0; b < B; b++) tok[b * T + T - 1] = (tok[b * T + T - 1] + 1) % m.V;
        real *c = logits_of(&m, tok, NULL, B, T, 0);
        for (int b = 0; b < B; b++) {
            long row = (long)T * m.V, early = (long)(T - 1) * m.V;
            real d_early = max_abs_diff(a + b * row, c + b * row, early);
            real d_last = max_abs_diff(a + b * row + early, c + b * row + early, m.V);
            cr_expect(d_early == 0, "%s: earlier logits changed by %.3g", scheme(id), d_early);
            cr_expect(d_last > 0, "%s: the changed token's own logits did not change", scheme(id));
        }
        free(a), free(c);
        rg_model_free(&m);
    }
}

/* Segments of 5 with memory >= everything earlier give one pass's logits. */
Test(model_props, recurrence_equals_full_pass) {
    enum { B = 2, T = 17 };
    for (int id = 0; id < rg_scheme_count(); id++) {
        if (!rg_scheme_is_relative(id)) continue;
        rg_model m;
        make_model(&m, scheme(id), T, 13); /* mem_len = T, segment_len = 5 */
        int tok[B * T];
        rg_gc_random_tokens(tok, B * T, m.V, 7);
        real *full = logits_of(&m, tok, NULL, B, T, 0);
        rg_ctx ctx;
        rg_ctx_init(&ctx, 1);
        rg_set_no_grad(&ctx, true);
        rg_tensor *seg = rg_model_forward_seq(&ctx, &m, tok, NULL, NULL, B, T);
        cr_assert_eq(seg->size, (long)B * T * m.V);
        real diff = max_abs_diff(full, seg->data, seg->size);
        cr_expect(diff < EQ_TOL, "%s: segments differ from one pass by %.3g", scheme(id), diff);
        rg_ctx_free(&ctx);
        free(full);
        rg_model_free(&m);
    }
}

/* Token-by-token decoding (after a prefill) gives the full forward's logits,
 * with and without recurrence (a short memory, so windows really slide),
 * with default or explicit (random) positions. */
static void check_decode(const rg_config *c, const char *what, bool random_pos) {
    enum { B = 2, T = 13, PREFILL = 4 };
    rg_model m;
    make_model_cfg(&m, c, 14);
    int tok[B * T], pos[B * T] = {0};
    rg_gc_random_tokens(tok, B * T, m.V, 8);
    const int *p = NULL;
    if (random_pos) rg_gc_random_positions(pos, B, T, 50, 19), p = pos;
    rg_ctx ctx;
    rg_ctx_init(&ctx, 1);
    rg_set_no_grad(&ctx, true);
    rg_tensor *full = rg_model_forward_seq(&ctx, &m, tok, p, NULL, B, T);
    real *want = malloc((size_t)full->size * sizeof(real));
    memcpy(want, full->data, (size_t)full->size * sizeof(real));
    rg_kv_cache kv;
    rg_kv_cache_init(&kv, &m, B, T, NULL);
    real worst = 0;
    for (int t = 0; t < T;) {
        int n = t == 0 ? PREFILL : 1, step[B * PREFILL], step_pos[B * PREFILL];
        for (int b = 0; b < B; b++)
            for (int i = 0; i < n; i++)
                step[b * n + i] = tok[b * T + t + i], step_pos[b * n + i] = pos[b * T + t + i];
        rg_ctx_reset(&ctx);
        rg_tensor *y = rg_model_decode(&ctx, &m, &kv, step, p ? step_pos : NULL, n);
        t += n;
        for (int b = 0; b < B; b++)
            worst = fmax(worst, max_abs_diff(y->data + (long)b * m.V,
                                             want + ((long)b * T + t - 1) * m.V, m.V));
    }
    cr_expect(worst < EQ_TOL, "%s mem_len=%d%s: decoding differs by %.3g", what, c->model.mem_len,
              random_pos ? " random positions" : "", worst);
    /* all positions' logits, fed in chunks of 5 (the teacher-forced pass) */
    rg_kv_cache_free(&kv);
    rg_kv_cache_init(&kv, &m, B, T, NULL);
    worst = 0;
    for (int t = 0; t < T; t += 5) {
        int n = T - t < 5 ? T - t : 5, chunk[B * 5], chunk_pos[B * 5];
        for (int b = 0; b < B; b++)
            for (int i = 0; i < n; i++)
                chunk[b * n + i] = tok[b * T + t + i], chunk_pos[b * n + i] = pos[b * T + t + i];
        rg_ctx_reset(&ctx);
        rg_tensor *y = rg_model_decode_all(&ctx, &m, &kv, chunk, p ? chunk_pos : NULL, n);
        for (int b = 0; b < B; b++)
            worst = fmax(worst, max_abs_diff(y->data + (long)b * n * m.V,
                                             want + ((long)b * T + t) * m.V, (long)n * m.V));
    }
    cr_expect(worst < EQ_TOL, "%s mem_len=%d%s: chunked decoding differs by %.3g", what,
              c->model.mem_len, random_pos ? " random positions" : "", worst);
    rg_kv_cache_free(&kv);
    rg_ctx_free(&ctx);
    free(want);
    rg_model_free(&m);
}

Test(model_props, kv_cache_decoding) {
    for (int id = 0; id < rg_scheme_count(); id++) {
        rg_config c;
        test_tiny_config(&c, scheme(id), 0);
        check_decode(&c, scheme(id), false);
        if (strcmp(scheme(id), "none")) check_decode(&c, scheme(id), true);
        if (!rg_scheme_is_relative(id)) continue;
        test_tiny_config(&c, scheme(id), 3);
        check_decode(&c, scheme(id), false);
    }
    rg_config c;
    test_tiny_config(&c, "none", 0);
    test_set(&c, "n_layers", "3");
    test_set(&c, "pos", "t5,deberta,xl");
    check_decode(&c, "t5,deberta,xl", false);
}

/* The fused attention kernel against the same attention built from separate
 * ops: logits and every parameter gradient. */
static void fused_vs_unfused(const rg_config *c, const char *what, bool random_pos) {
    enum { B = 2, T = 37 }; /* more than one 32-query block */
    rg_model m;
    make_model_cfg(&m, c, 15);
    int tok[B * T], pos[B * T];
    rg_gc_random_tokens(tok, B * T, m.V, 9);
    if (random_pos) rg_gc_random_positions(pos, B, T, 90, 23);
    real *logits[2], *grads[2];
    for (int unfused = 0; unfused < 2; unfused++) {
        m.unfused_attention = unfused;
        rg_ctx ctx;
        rg_ctx_init(&ctx, 2);
        rg_tensor *y = rg_model_forward_seq(&ctx, &m, tok, random_pos ? pos : NULL, NULL, B, T);
        int targets[B * T];
        real mask[B * T];
        for (int i = 0; i < B * T; i++) targets[i] = tok[(i + 1) % (B * T)], mask[i] = i % 3 != 0;
        rg_model_zero_grad(&m);
        rg_backward(&ctx, rg_model_loss(&ctx, y, targets, mask));
        logits[unfused] = malloc((size_t)y->size * sizeof(real));
        memcpy(logits[unfused], y->data, (size_t)y->size * sizeof(real));
        grads[unfused] = malloc((size_t)m.n_values * sizeof(real));
        memcpy(grads[unfused], m.grads, (size_t)m.n_values * sizeof(real));
        rg_ctx_free(&ctx);
    }
    int mem = c->model.mem_len;
    real dl = max_abs_diff(logits[0], logits[1], (long)B * T * m.V);
    cr_expect(dl < EQ_TOL, "%s mem %d: fused logits differ by %.3g", what, mem, dl);
    for (int i = 0; i < m.n_params; i++) {
        rg_param *p = &m.params[i];
        real scale = 0, diff = max_abs_diff(grads[0] + p->offset, grads[1] + p->offset, p->t.size);
        for (long j = 0; j < p->t.size; j++) scale = fmax(scale, fabs(grads[1][p->offset + j]));
        cr_expect(diff <= EQ_TOL * fmax(scale, 1e-3),
                  "%s mem %d%s: gradient of %s differs by %.3g (max %.3g)", what, mem,
                  random_pos ? " random positions" : "", p->name, diff, scale);
    }
    for (int i = 0; i < 2; i++) free(logits[i]), free(grads[i]);
    rg_model_free(&m);
}

Test(model_props, fused_attention_matches_unfused) {
    for (int id = 0; id < rg_scheme_count(); id++) {
        rg_config c;
        test_tiny_config(&c, scheme(id), 0);
        fused_vs_unfused(&c, scheme(id), false);
        if (strcmp(scheme(id), "none")) fused_vs_unfused(&c, scheme(id), true);
        if (!rg_scheme_is_relative(id)) continue;
        test_tiny_config(&c, scheme(id), 4);
        fused_vs_unfused(&c, scheme(id), false);
    }
}

/* Evaluation may change a scheme's options without touching the model
 * (RoPE's position interpolation rope_scale and NTK-aware rope_base): a
 * key/value cache made with other options decodes exactly as a model built
 * with those options in its config, and the model's own config is left as
 * it was. */
Test(model_props, evaluation_scheme_options) {
    enum { B = 2, T = 9 };
    const char *changes[][2] = {{"rope_scale", "2.5"}, {"rope_base", "40000"}};
    for (int i = 0; i < 2; i++) {
        rg_config a, b;
        test_tiny_config(&a, "rope", 0);
        b = a;
        test_set(&b, changes[i][0], changes[i][1]);
        rg_model ma, mb;
        make_model_cfg(&ma, &a, 21);
        make_model_cfg(&mb, &b, 21); /* same seed and noise: the same parameters */
        cr_assert_eq(memcmp(ma.values, mb.values, (size_t)ma.n_values * sizeof(real)), 0);
        int tok[B * T];
        rg_gc_random_tokens(tok, B * T, ma.V, 22);
        real *want = logits_of(&mb, tok, NULL, B, T, 0), *own = logits_of(&ma, tok, NULL, B, T, 0);
        rg_ctx ctx;
        rg_ctx_init(&ctx, 1);
        rg_kv_cache kv;
        rg_kv_cache_init(&kv, &ma, B, T, &b.model.opts);
        rg_tensor *y = rg_model_decode_all(&ctx, &ma, &kv, tok, NULL, T);
        real diff = max_abs_diff(y->data, want, (long)B * T * ma.V);
        real moved = max_abs_diff(want, own, (long)B * T * ma.V);
        cr_expect(diff < EQ_TOL, "%s: decoding with the cache's options differs by %.3g",
                  changes[i][0], diff);
        cr_expect(moved > 1e-3, "%s: the option did not change the logits (%.3g)", changes[i][0],
                  moved);
        cr_expect_eq(memcmp(&ma.cfg.opts, &a.model.opts, sizeof a.model.opts), 0,
                     "%s: decoding changed the model's own options", changes[i][0]);
        rg_kv_cache_free(&kv);
        rg_ctx_free(&ctx);
        free(want), free(own);
        rg_model_free(&ma), rg_model_free(&mb);
    }
}
