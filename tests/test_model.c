/* test_model.c: the model and its positional schemes.
 *   - gradient checks of the whole model, per scheme, memory off/on (every
 *     parameter, including each scheme's own): bound 1e-6 in the float64
 *     build, GC_TOL_MODEL in float32;
 *   - ALiBi slopes and T5 buckets against the papers' rules;
 *   - relative schemes ignore a common shift of positions, absolute ones not;
 *   - causality; segment recurrence equals one pass; KV-cache decoding
 *     equals a full forward.
 */
#include "gradcheck.h"
#include "relgrad/nn.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const rg_pos ALL[] = {RG_POS_NONE,  RG_POS_SINUSOIDAL, RG_POS_LEARNED, RG_POS_ROPE,
                             RG_POS_ALIBI, RG_POS_T5,         RG_POS_XL,      RG_POS_DEBERTA};
static const rg_pos RELATIVE[] = {RG_POS_NONE, RG_POS_ROPE, RG_POS_ALIBI,
                                  RG_POS_T5,   RG_POS_XL,   RG_POS_DEBERTA};
#define COUNT(a) (int)(sizeof(a) / sizeof(a[0]))
/* exact-equality bound: float64 rounding, or float32 rounding */
#define EQ_TOL (sizeof(real) == 8 ? 1e-10 : 1e-4)

/* A tiny model: 3 heads (not a power of two), small tables so DeBERTa's
 * clamping and T5's log buckets are exercised at these lengths. */
static rg_config tiny_config(rg_pos pos, int mem_len) {
    rg_config c;
    rg_config_defaults(&c);
    c.d_model = 12, c.n_heads = 3, c.n_layers = 2, c.d_ff = 20, c.pos = pos;
    c.max_positions = 64, c.n_symbols = 5, c.t5_buckets = 8, c.t5_max_distance = 20;
    c.deberta_span = 3, c.mem_len = mem_len, c.segment_len = mem_len ? 5 : 0;
    c.init_std = 0.3; /* large enough that positional terms matter */
    c.train_len = 4, c.n_eval_lens = 1, c.eval_lens[0] = 8;
    return c;
}

static void make_model(rg_model *m, rg_pos pos, int mem_len, uint64_t seed) {
    rg_config c = tiny_config(pos, mem_len);
    rg_error err;
    int rc = rg_model_init(m, &c, seed, &err);
    cr_assert_eq(rc, 0, "model init failed: %s", err.msg);
    /* biases, u, v and LayerNorm start at constants; randomise them too so
     * their gradient checks are not at a special point */
    rg_rng rng;
    rg_rng_seed(&rng, seed + 1);
    for (long i = 0; i < m->n_values; i++) m->values[i] += (real)(0.1 * rg_rng_normal(&rng));
}

static void random_tokens(int *tok, int n, int V, uint64_t seed) {
    rg_rng rng;
    rg_rng_seed(&rng, seed);
    for (int i = 0; i < n; i++) tok[i] = rg_rng_int(&rng, 0, V - 1);
}

/* ---- gradient checks of the whole model -------------------------------------- */

enum { GB = 2, GT = 5 };

typedef struct {
    rg_model *m;
    int tokens[GB * GT];
    int offset;
    rg_memory *mem0; /* memory before the checked segment (copied per call) */
} model_arg;

static rg_tensor *f_model(rg_ctx *ctx, rg_tensor **inputs, void *arg) {
    (void)inputs; /* the inputs are the model's own parameter tensors */
    model_arg *a = arg;
    if (!a->mem0) return rg_model_forward(ctx, a->m, a->tokens, GB, GT, a->offset, NULL);
    rg_memory mem = *a->mem0;
    size_t n = (size_t)mem.n_layers * mem.B * mem.cap * mem.d * sizeof(real);
    mem.data = rg_arena_alloc(&ctx->arena, n);
    memcpy(mem.data, a->mem0->data, n);
    return rg_model_forward(ctx, a->m, a->tokens, GB, GT, a->offset, &mem);
}

static void check_model(rg_pos pos, int mem_len) {
    rg_model m;
    make_model(&m, pos, mem_len, 7 + pos);
    model_arg a = {.m = &m, .offset = 0};
    random_tokens(a.tokens, GB * GT, m.V, 3);
    rg_memory mem;
    if (mem_len) { /* fill the memory with one earlier segment, as dump does */
        rg_memory_init(&mem, &m, GB);
        rg_ctx ctx;
        rg_ctx_init(&ctx, 1);
        int first[GB * GT];
        random_tokens(first, GB * GT, m.V, 4);
        rg_set_no_grad(&ctx, true);
        rg_model_forward(&ctx, &m, first, GB, GT, 0, &mem);
        rg_ctx_free(&ctx);
        a.offset = GT;
        a.mem0 = &mem;
    }
    rg_tensor **inputs = malloc((size_t)m.n_params * sizeof *inputs);
    for (int i = 0; i < m.n_params; i++) inputs[i] = &m.params[i].t;
    gc_result res;
    char op[64];
    snprintf(op, sizeof op, "model %s mem_len=%d", rg_pos_name(pos), mem_len);
    bool ok = gc_check(op, f_model, &a, inputs, m.n_params, GC_TOL_MODEL, &res);
    cr_log_info("%s: %ld entries, worst error %.3g at %s[%ld]", op, res.n_checked, res.worst_err,
                m.params[res.worst_input].name, res.worst_index);
    cr_expect(ok, "%s: worst error %.3g at %s[%ld]: analytic %.17g numeric %.17g", op,
              res.worst_err, m.params[res.worst_input].name, res.worst_index, res.analytic,
              res.numeric);
    free(inputs);
    if (mem_len) rg_memory_free(&mem);
    rg_model_free(&m);
}

Test(model_grad, none) {
    check_model(RG_POS_NONE, 0), check_model(RG_POS_NONE, 4);
}
Test(model_grad, sinusoidal) {
    check_model(RG_POS_SINUSOIDAL, 0);
}
Test(model_grad, learned) {
    check_model(RG_POS_LEARNED, 0);
}
Test(model_grad, rope) {
    check_model(RG_POS_ROPE, 0), check_model(RG_POS_ROPE, 4);
}
Test(model_grad, alibi) {
    check_model(RG_POS_ALIBI, 0), check_model(RG_POS_ALIBI, 4);
}
Test(model_grad, t5) {
    check_model(RG_POS_T5, 0), check_model(RG_POS_T5, 4);
}
Test(model_grad, xl) {
    check_model(RG_POS_XL, 0), check_model(RG_POS_XL, 4);
}
Test(model_grad, deberta) {
    check_model(RG_POS_DEBERTA, 0), check_model(RG_POS_DEBERTA, 4);
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
    for (int i = 0; i < COUNT(spot); i++)
        cr_expect_eq(rg_t5_bucket(spot[i][0], 32, 128), spot[i][1], "bucket(%d)", spot[i][0]);
}

/* ---- properties of the whole model --------------------------------------------------- */

static real max_abs_diff(const real *a, const real *b, long n) {
    real mx = 0;
    for (long i = 0; i < n; i++) mx = fmax(mx, fabs(a[i] - b[i]));
    return mx;
}

/* logits of one forward as a malloc'd copy */
static real *logits_of(rg_model *m, const int *tok, int B, int T, int offset) {
    rg_ctx ctx;
    rg_ctx_init(&ctx, 1);
    rg_set_no_grad(&ctx, true);
    rg_tensor *y = rg_model_forward(&ctx, m, tok, B, T, offset, NULL);
    real *out = malloc((size_t)y->size * sizeof(real));
    memcpy(out, y->data, (size_t)y->size * sizeof(real));
    rg_ctx_free(&ctx);
    return out;
}

Test(model_props, shift_invariance) {
    enum { B = 2, T = 9 };
    for (int s = 0; s < COUNT(ALL); s++) {
        rg_model m;
        make_model(&m, ALL[s], 0, 11);
        int tok[B * T];
        random_tokens(tok, B * T, m.V, 5);
        real *a = logits_of(&m, tok, B, T, 0), *b = logits_of(&m, tok, B, T, 13);
        real diff = max_abs_diff(a, b, (long)B * T * m.V);
        bool relative = rg_pos_is_relative(ALL[s]);
        if (relative)
            cr_expect(diff < EQ_TOL, "%s: logits moved by %.3g under a shift", rg_pos_name(ALL[s]),
                      diff);
        else
            cr_expect(diff > 1e-3, "%s: logits unchanged (%.3g) under a shift", rg_pos_name(ALL[s]),
                      diff);
        free(a), free(b);
        rg_model_free(&m);
    }
}

Test(model_props, causality) {
    enum { B = 2, T = 8 };
    for (int s = 0; s < COUNT(ALL); s++) {
        rg_model m;
        make_model(&m, ALL[s], 0, 12);
        int tok[B * T];
        random_tokens(tok, B * T, m.V, 6);
        real *a = logits_of(&m, tok, B, T, 0);
        for (int b = 0; b < B; b++) tok[b * T + T - 1] = (tok[b * T + T - 1] + 1) % m.V;
        real *c = logits_of(&m, tok, B, T, 0);
        for (int b = 0; b < B; b++) {
            long row = (long)T * m.V, early = (long)(T - 1) * m.V;
            real d_early = max_abs_diff(a + b * row, c + b * row, early);
            real d_last = max_abs_diff(a + b * row + early, c + b * row + early, m.V);
            cr_expect(d_early == 0, "%s: earlier logits changed by %.3g", rg_pos_name(ALL[s]),
                      d_early);
            cr_expect(d_last > 0, "%s: the changed token's own logits did not change",
                      rg_pos_name(ALL[s]));
        }
        free(a), free(c);
        rg_model_free(&m);
    }
}

/* Segments of 5 with memory >= everything earlier give one pass's logits. */
Test(model_props, recurrence_equals_full_pass) {
    enum { B = 2, T = 17 };
    for (int s = 0; s < COUNT(RELATIVE); s++) {
        rg_model m;
        make_model(&m, RELATIVE[s], T, 13); /* mem_len = T, segment_len = 5 */
        int tok[B * T];
        random_tokens(tok, B * T, m.V, 7);
        real *full = logits_of(&m, tok, B, T, 0);
        rg_ctx ctx;
        rg_ctx_init(&ctx, 1);
        rg_set_no_grad(&ctx, true);
        rg_tensor *seg = rg_model_forward_seq(&ctx, &m, tok, B, T);
        cr_assert_eq(seg->size, (long)B * T * m.V);
        real diff = max_abs_diff(full, seg->data, seg->size);
        cr_expect(diff < EQ_TOL, "%s: segments differ from one pass by %.3g",
                  rg_pos_name(RELATIVE[s]), diff);
        rg_ctx_free(&ctx);
        free(full);
        rg_model_free(&m);
    }
}

/* Token-by-token decoding (after a prefill) gives the full forward's logits,
 * with and without recurrence (a short memory, so windows really slide). */
static void check_decode(rg_pos pos, int mem_len) {
    enum { B = 2, T = 13, PREFILL = 4 };
    rg_model m;
    make_model(&m, pos, mem_len, 14);
    int tok[B * T];
    random_tokens(tok, B * T, m.V, 8);
    rg_ctx ctx;
    rg_ctx_init(&ctx, 1);
    rg_set_no_grad(&ctx, true);
    rg_tensor *full = rg_model_forward_seq(&ctx, &m, tok, B, T);
    real *want = malloc((size_t)full->size * sizeof(real));
    memcpy(want, full->data, (size_t)full->size * sizeof(real));
    rg_kv_cache kv;
    rg_kv_cache_init(&kv, &m, B, T);
    real worst = 0;
    for (int t = 0; t < T;) {
        int n = t == 0 ? PREFILL : 1, step[B * PREFILL];
        for (int b = 0; b < B; b++)
            for (int i = 0; i < n; i++) step[b * n + i] = tok[b * T + t + i];
        rg_ctx_reset(&ctx);
        rg_tensor *y = rg_model_decode(&ctx, &m, &kv, step, n);
        t += n;
        for (int b = 0; b < B; b++)
            worst = fmax(worst, max_abs_diff(y->data + (long)b * m.V,
                                             want + ((long)b * T + t - 1) * m.V, m.V));
    }
    cr_expect(worst < EQ_TOL, "%s mem_len=%d: decoding differs by %.3g", rg_pos_name(pos), mem_len,
              worst);
    /* all positions' logits, fed in chunks of 5 (the teacher-forced pass) */
    rg_kv_cache_free(&kv);
    rg_kv_cache_init(&kv, &m, B, T);
    worst = 0;
    for (int t = 0; t < T; t += 5) {
        int n = T - t < 5 ? T - t : 5, chunk[B * 5];
        for (int b = 0; b < B; b++)
            for (int i = 0; i < n; i++) chunk[b * n + i] = tok[b * T + t + i];
        rg_ctx_reset(&ctx);
        rg_tensor *y = rg_model_decode_all(&ctx, &m, &kv, chunk, n); /* (B,n,V) */
        for (int b = 0; b < B; b++)
            worst = fmax(worst, max_abs_diff(y->data + (long)b * n * m.V,
                                             want + ((long)b * T + t) * m.V, (long)n * m.V));
    }
    cr_expect(worst < EQ_TOL, "%s mem_len=%d: chunked decoding differs by %.3g", rg_pos_name(pos),
              mem_len, worst);
    rg_kv_cache_free(&kv);
    rg_ctx_free(&ctx);
    free(want);
    rg_model_free(&m);
}

Test(model_props, kv_cache_decoding) {
    for (int s = 0; s < COUNT(ALL); s++) check_decode(ALL[s], 0);
    for (int s = 0; s < COUNT(RELATIVE); s++) check_decode(RELATIVE[s], 3);
}

/* The fused attention kernel against the same attention built from separate
 * ops: logits and every parameter gradient, every scheme, memory off and on. */
static void fused_vs_unfused(rg_pos pos, int mem_len) {
    enum { B = 2, T = 37 }; /* more than one 32-query block */
    rg_model m;
    make_model(&m, pos, mem_len, 15);
    int tok[B * T];
    random_tokens(tok, B * T, m.V, 9);
    real *logits[2], *grads[2];
    for (int unfused = 0; unfused < 2; unfused++) {
        m.unfused_attention = unfused;
        rg_ctx ctx;
        rg_ctx_init(&ctx, 2);
        rg_tensor *y = rg_model_forward_seq(&ctx, &m, tok, B, T);
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
    real dl = max_abs_diff(logits[0], logits[1], (long)B * T * m.V);
    cr_expect(dl < EQ_TOL, "%s mem %d: fused logits differ by %.3g", rg_pos_name(pos), mem_len, dl);
    for (int i = 0; i < m.n_params; i++) {
        rg_param *p = &m.params[i];
        real scale = 0, diff = max_abs_diff(grads[0] + p->offset, grads[1] + p->offset, p->t.size);
        for (long j = 0; j < p->t.size; j++) scale = fmax(scale, fabs(grads[1][p->offset + j]));
        cr_expect(diff <= EQ_TOL * fmax(scale, 1e-3),
                  "%s mem %d: gradient of %s differs by %.3g (max %.3g)", rg_pos_name(pos), mem_len,
                  p->name, diff, scale);
    }
    for (int i = 0; i < 2; i++) free(logits[i]), free(grads[i]);
    rg_model_free(&m);
}

Test(model_props, fused_attention_matches_unfused) {
    for (int s = 0; s < COUNT(ALL); s++) fused_vs_unfused(ALL[s], 0);
    for (int s = 0; s < COUNT(RELATIVE); s++) fused_vs_unfused(RELATIVE[s], 4);
}
