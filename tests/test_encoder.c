/* test_encoder.c: the encoder (SPEC section 7): one forward that reads the
 * whole sequence both ways, with PAD keys hidden.
 *   - gradient checks of the whole encoder for every scheme with an encoder
 *     form (every parameter), per-layer hybrids and random positions, with
 *     rows of different lengths (trailing PAD): bound 1e-6 in float64;
 *   - it attends both ways: a later token changes an earlier logit;
 *   - PAD keys are hidden: a row's logits at its real tokens do not depend on
 *     how much PAD follows, nor on what the PAD rows hold;
 *   - the fused kernel equals the unfused ops with the same mask;
 *   - each scheme's encoder form: ALiBi penalizes |p_i - p_j| both ways (or
 *     keys before the query less, with alibi_left), T5's
 *     bidirectional buckets as HF T5 computes them, fire refused;
 *   - xl's distance table is made once per forward, not once per layer.
 * Schemes come from the registry: a new one is covered without editing
 * this file (fire is the one without an encoder form).
 */
#include "relgrad/gradcheck.h"
#include "testing.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define EQ_TOL (sizeof(real) == 8 ? 1e-10 : 1e-4)

/* The tiny model of testing.h as an encoder. */
static void encoder_config(rg_config *c, const char *pos) {
    test_tiny_config(c, pos, 0);
    c->model.arch = RG_ARCH_ENCODER;
}

/* Whether the scheme has an encoder form (SPEC section 7): its own check
 * accepts arch = encoder (fire and cope refuse it). */
static bool has_encoder_form(int id) {
    rg_config c;
    test_tiny_config(&c, rg_scheme_name(id), 0);
    c.model.arch = RG_ARCH_ENCODER;
    rg_error err;
    return rg_model_config_validate(&c.model, "test", &err) == 0;
}

/* The checks' own model set-up (gradcheck.h): every value moved off its
 * initial constant. */
static void make_encoder(rg_model *m, const rg_config *c, uint64_t seed) {
    rg_error err;
    cr_assert_eq(rg_gc_model_init(m, &c->model, seed, &err), 0, "%s", err.msg);
}

/* B rows of T tokens; row b holds len[b] random non-PAD tokens, then PAD. */
static void padded_tokens(int *tok, int B, int T, const int *len, int V, int pad, uint64_t seed) {
    rg_rng rng;
    rg_rng_seed(&rng, seed);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            int x;
            do x = rg_rng_int(&rng, 0, V - 1);
            while (x == pad);
            tok[b * T + t] = t < len[b] ? x : pad;
        }
}

typedef struct {
    rg_model *m;
    const int *tokens, *pos;
    int B, T;
} enc_arg;

static rg_tensor *f_encoder(rg_ctx *ctx, rg_tensor **inputs, void *arg) {
    (void)inputs;
    enc_arg *a = arg;
    return rg_model_forward(ctx, a->m, a->tokens, a->pos, NULL, a->B, a->T, 0, NULL);
}

/* alibi_left: ALiBi's left-side offset (0 = SPEC's symmetric form) */
static void check_encoder_left(const char *pos, int random_positions, double alibi_left) {
    rg_config c;
    encoder_config(&c, pos);
    c.model.n_layers = 3; /* room for three-entry lists */
    c.model.opts.alibi_left = alibi_left;
    rg_model m;
    make_encoder(&m, &c, 11);
    enum { B = 3, T = 6 };
    int len[B] = {6, 4, 2}, tokens[B * T], positions[B * T];
    padded_tokens(tokens, B, T, len, m.V, rg_tok_pad(c.model.n_symbols, 0), 5);
    enc_arg a = {&m, tokens, NULL, B, T};
    if (random_positions) {
        rg_gc_random_positions(positions, B, T, random_positions, 8);
        a.pos = positions;
    }
    rg_tensor **in = rg_xmalloc((size_t)m.n_params * sizeof *in, "inputs");
    for (int i = 0; i < m.n_params; i++) in[i] = &m.params[i].t;
    rg_gc_result res;
    char what[128];
    snprintf(what, sizeof what, "encoder %s%s%s", pos, alibi_left > 0 ? " alibi_left" : "",
             random_positions ? " random positions" : "");
    /* float64: a step of 5e-4, not the default 1e-3: the encoder's
     * fourth-order truncation error is larger than the decoder's (every
     * token sees every other), measured 7.7e-7 at 1e-3 and 4.8e-8 at 5e-4
     * for rope with random positions: it falls as h^4, so it is truncation,
     * not a wrong gradient. float32 keeps its step. */
    double h = sizeof(real) == 8 ? 5e-4 : RG_GC_EPS;
    bool ok = rg_gc_check_step(what, f_encoder, &a, in, m.n_params, RG_GC_TOL_MODEL, h, &res);
    cr_log_info("%s: %ld entries, worst error %.3g", what, res.n_checked, res.worst_err);
    cr_expect(ok, "%s: worst error %.3g at %s index %ld: analytic %.17g numeric %.17g", what,
              res.worst_err, m.params[res.worst_input].name, res.worst_index, res.analytic,
              res.numeric);
    free(in);
    rg_model_free(&m);
}

static void check_encoder(const char *pos, int random_positions) {
    check_encoder_left(pos, random_positions, 0.0);
}

Test(encoder_grad, every_scheme) {
    for (int id = 0; id < rg_scheme_count(); id++)
        if (has_encoder_form(id)) check_encoder(rg_scheme_name(id), 0);
}

Test(encoder_grad, random_positions) {
    for (int id = 1; id < rg_scheme_count(); id++) /* none reads no positions */
        if (has_encoder_form(id)) check_encoder(rg_scheme_name(id), 40);
}

Test(encoder_grad, hybrid) {
    check_encoder("t5,deberta,none", 0);
    check_encoder("xl,alibi", 0);
    check_encoder("rope,alibi", 30);
}

/* ALiBi in Ruoss et al.'s form (alibi_left = 0.5): a constant bias still,
 * so the gradients through the content path must match as before. */
Test(encoder_grad, alibi_left) {
    check_encoder_left("alibi", 0, 0.5);
    check_encoder_left("xl,alibi", 40, 0.5);
}

/* logits [B,T,V] of an encoder forward, malloc'd */
static real *logits_of(rg_model *m, const int *tok, const int *pos, int B, int T) {
    rg_ctx ctx;
    rg_ctx_init(&ctx, 1);
    rg_set_no_grad(&ctx, true);
    rg_tensor *out = rg_model_forward(&ctx, m, tok, pos, NULL, B, T, 0, NULL);
    real *copy = rg_xmalloc((size_t)out->size * sizeof(real), "logits");
    memcpy(copy, out->data, (size_t)out->size * sizeof(real));
    rg_ctx_free(&ctx);
    return copy;
}

static double max_diff(const real *a, const real *b, long n) {
    double d = 0;
    for (long i = 0; i < n; i++) d = fmax(d, fabs((double)a[i] - (double)b[i]));
    return d;
}

/* Changing the last token changes the first position's logits (the
 * decoder's causal mask would not let it), for every scheme. */
Test(encoder_props, attends_both_ways) {
    for (int id = 0; id < rg_scheme_count(); id++) {
        if (!has_encoder_form(id)) continue;
        rg_config c;
        encoder_config(&c, rg_scheme_name(id));
        rg_model m;
        make_encoder(&m, &c, 3);
        enum { T = 5 };
        int len[1] = {T}, tok[T];
        padded_tokens(tok, 1, T, len, m.V, rg_tok_pad(c.model.n_symbols, 0), 2);
        real *a = logits_of(&m, tok, NULL, 1, T);
        tok[T - 1] = (tok[T - 1] + 1) % c.model.n_symbols;
        real *b = logits_of(&m, tok, NULL, 1, T);
        cr_expect_gt(max_diff(a, b, m.V), 1e-6, "%s: the first logits ignore the last token",
                     rg_scheme_name(id));
        free(a), free(b);
        rg_model_free(&m);
    }
}

/* A row padded to T1 or T2 gives the same logits at its real tokens, and
 * what sits in its PAD rows does not matter either. */
Test(encoder_props, pad_keys_are_hidden) {
    for (int id = 0; id < rg_scheme_count(); id++) {
        if (!has_encoder_form(id)) continue;
        rg_config c;
        encoder_config(&c, rg_scheme_name(id));
        rg_model m;
        make_encoder(&m, &c, 4);
        int pad = rg_tok_pad(c.model.n_symbols, 0);
        enum { N = 4, T1 = 4, T2 = 9 };
        int len[1] = {N}, short_row[T1], long_row[T2];
        padded_tokens(short_row, 1, T1, len, m.V, pad, 6);
        padded_tokens(long_row, 1, T2, len, m.V, pad, 6);
        real *a = logits_of(&m, short_row, NULL, 1, T1);
        real *b = logits_of(&m, long_row, NULL, 1, T2);
        cr_expect_leq(max_diff(a, b, (long)N * m.V), EQ_TOL, "%s: PAD keys change the logits",
                      rg_scheme_name(id));
        free(a), free(b);
        rg_model_free(&m);
    }
}

/* The fused kernel and the unfused ops (with the same mask) agree, values
 * and gradients, on rows of different lengths. */
Test(encoder_props, fused_equals_unfused) {
    for (int id = 0; id < rg_scheme_count(); id++) {
        if (!has_encoder_form(id)) continue;
        rg_config c;
        encoder_config(&c, rg_scheme_name(id));
        rg_model m;
        make_encoder(&m, &c, 5);
        enum { B = 2, T = 7 };
        int len[B] = {7, 3}, tok[B * T];
        padded_tokens(tok, B, T, len, m.V, rg_tok_pad(c.model.n_symbols, 0), 9);
        real *grads[2];
        real *out[2];
        for (int unfused = 0; unfused < 2; unfused++) {
            m.unfused_attention = unfused;
            rg_ctx ctx;
            rg_ctx_init(&ctx, 2);
            rg_tensor *logits = rg_model_forward(&ctx, &m, tok, NULL, NULL, B, T, 0, NULL);
            real mask[B * T];
            int targets[B * T];
            for (int i = 0; i < B * T; i++)
                mask[i] = tok[i] != rg_tok_pad(c.model.n_symbols, 0),
                targets[i] = i % c.model.n_symbols;
            rg_tensor *loss = rg_model_loss(&ctx, logits, targets, mask);
            rg_model_zero_grad(&m);
            rg_backward(&ctx, loss);
            out[unfused] = rg_xmalloc((size_t)logits->size * sizeof(real), "logits");
            memcpy(out[unfused], logits->data, (size_t)logits->size * sizeof(real));
            grads[unfused] = rg_xmalloc((size_t)m.n_values * sizeof(real), "grads");
            memcpy(grads[unfused], m.grads, (size_t)m.n_values * sizeof(real));
            rg_ctx_free(&ctx);
        }
        cr_expect_leq(max_diff(out[0], out[1], (long)B * T * m.V), EQ_TOL,
                      "%s: fused and unfused logits differ", rg_scheme_name(id));
        cr_expect_leq(max_diff(grads[0], grads[1], m.n_values), EQ_TOL,
                      "%s: fused and unfused gradients differ", rg_scheme_name(id));
        for (int k = 0; k < 2; k++) free(out[k]), free(grads[k]);
        rg_model_free(&m);
    }
}

/* HF T5's _relative_position_bucket(relative_position = p_j - p_i,
 * bidirectional=True), written out as that code reads. */
static int hf_bucket(int relative_position, int num_buckets, int max_distance) {
    int bucket = 0;
    num_buckets /= 2;
    if (relative_position > 0) bucket += num_buckets;
    int n = abs(relative_position);
    int max_exact = num_buckets / 2;
    if (n < max_exact) return bucket + n;
    double large = max_exact + log((double)n / max_exact) / log((double)max_distance / max_exact) *
                                   (num_buckets - max_exact);
    int l = (int)large; /* .to(torch.long) truncates */
    return bucket + (l < num_buckets - 1 ? l : num_buckets - 1);
}

Test(encoder_props, t5_bidirectional_buckets_as_hf) {
    int configs[][2] = {{32, 128}, {8, 20}, {4, 3}};
    for (int k = 0; k < 3; k++)
        for (int r = -300; r <= 300; r++) {
            int nb = configs[k][0], md = configs[k][1];
            int mine = rg_t5_bucket_bidirectional(r, nb, md); /* r = p_i - p_j */
            cr_assert_eq(mine, hf_bucket(-r, nb, md), "nb %d max %d r %d: %d, HF %d", nb, md, r,
                         mine, hf_bucket(-r, nb, md));
        }
    /* keys after the query (r < 0) use the upper half, before it the lower */
    cr_expect_eq(rg_t5_bucket_bidirectional(-1, 32, 128), 17);
    cr_expect_eq(rg_t5_bucket_bidirectional(1, 32, 128), 1);
    cr_expect_eq(rg_t5_bucket_bidirectional(0, 32, 128), 0);
}

/* ALiBi's penalty is symmetric: in a row "x y x" the two x's see the same
 * keys at the same distances |p_i - p_j|, mirrored, so with rope off an
 * encoder gives them the same logits. (Two tokens alone would not test it:
 * with equal keys and values any attention weights give the same output.) */
static double alibi_mirror_gap(double alibi_left) {
    rg_config c;
    encoder_config(&c, "alibi");
    c.model.opts.alibi_left = alibi_left;
    rg_model m;
    make_encoder(&m, &c, 6);
    int tok[3] = {1, 2, 1};
    real *a = logits_of(&m, tok, NULL, 1, 3);
    double gap = max_diff(a, a + 2 * m.V, m.V);
    free(a);
    rg_model_free(&m);
    return gap;
}

Test(encoder_props, alibi_symmetric) {
    double gap = alibi_mirror_gap(0.0);
    cr_expect_leq(gap, EQ_TOL, "alibi encoder: the mirrored positions differ by %g", gap);
}

/* alibi_left = a (Ruoss et al.'s code: 0.5) penalizes keys before the query
 * by s (r - a), keys after it by s |r|: the bias values, and the two x's of
 * alibi_symmetric's row now get different logits. */
Test(encoder_props, alibi_left_breaks_the_symmetry) {
    cr_expect_eq(rg_alibi_bias(0.5, 3, 0.5), -1.25, "before the query: -s (r - a)");
    cr_expect_eq(rg_alibi_bias(0.5, -3, 0.5), -1.5, "after the query: -s |r|");
    cr_expect_eq(rg_alibi_bias(0.5, 0, 0.5), 0.0, "the query's own key: 0");
    cr_expect_eq(rg_alibi_bias(0.25, 3, 0.0), -0.75, "a = 0: symmetric");
    cr_expect_eq(rg_alibi_bias(0.25, -3, 0.0), -0.75, "a = 0: symmetric");
    double lefts[2] = {0.25, 0.5};
    for (int k = 0; k < 2; k++) {
        double gap = alibi_mirror_gap(lefts[k]);
        cr_expect_gt(gap, 100 * EQ_TOL, "alibi_left = %g: the mirrored positions agree (%g)",
                     lefts[k], gap);
    }
}

/* xl's sinusoids of the distances are the same in every layer, so a
 * forward makes them once (the memo of scheme.h): with positions spread
 * apart (4 positions from 0..96, the per-pair path) each layer's projection
 * r(n) = e(n) Wr^T reads the same table e, one per forward. */
Test(encoder_props, xl_table_made_once_per_forward) {
    rg_config c;
    encoder_config(&c, "xl");
    test_set(&c, "n_layers", "3");
    rg_model m;
    make_encoder(&m, &c, 3);
    enum { B = 2, T = 4 };
    int len[B] = {T, T - 1}, tok[B * T], pos[B * T] = {0, 31, 64, 96, 5, 17, 40, 90};
    padded_tokens(tok, B, T, len, m.V, rg_tok_pad(c.model.n_symbols, 0), 2);
    for (int pass = 0; pass < 2; pass++) { /* twice: a new forward makes its own */
        rg_ctx ctx;
        rg_ctx_init(&ctx, 1);
        rg_model_forward(&ctx, &m, tok, pos, NULL, B, T, 0, NULL);
        const rg_tensor *table = NULL;
        int n = 0;
        for (const rg_node *node = ctx.tape; node; node = node->prev) {
            if (node->kind != RG_OP_LINEAR || !node->in[1]->name ||
                !strstr(node->in[1]->name, ".attn.r.weight"))
                continue;
            if (!table) table = node->in[0];
            cr_expect_eq(node->in[0], table, "%s reads another table than the last layer's",
                         node->in[1]->name);
            cr_expect_eq(node->in[0]->shape[0], 2 * 96 + 1, "the table spans -96..96");
            n++;
        }
        cr_expect_eq(n, 3, "%d projections of the distance table, want one per layer", n);
        rg_ctx_free(&ctx);
    }
    rg_model_free(&m);
}

Test(encoder_config, fire_and_cope_are_refused) {
    const char *refused[] = {"fire", "cope", "rope,fire"};
    for (int i = 0; i < 3; i++) {
        rg_config c;
        test_tiny_config(&c, refused[i], 0);
        c.model.arch = RG_ARCH_ENCODER;
        rg_error err;
        int rc = rg_model_config_validate(&c.model, "test", &err);
        cr_expect_eq(rc, 2, "%s with arch = encoder was accepted", refused[i]);
        cr_expect(strstr(err.msg, "encoder") != NULL, "message: %s", err.msg);
    }
    int n_forms = 0;
    for (int id = 0; id < rg_scheme_count(); id++) n_forms += has_encoder_form(id);
    cr_expect_eq(n_forms, rg_scheme_count() - 2, "only fire and cope lack an encoder form");
}
