/* test_inspect.c: attention maps (inspect.h) are the model's attention.
 *   - rows of P sum to 1 and are zero above the diagonal, for every scheme;
 *   - P from the key/value-cache decoding (fused kernel, chunked) equals the
 *     softmax output of the training forward built from separate ops
 *     (m->unfused_attention: its rg_softmax_masked nodes hold P), layer by
 *     layer, with and without random positions: two independent paths;
 *   - asking for P changes nothing else (the logits are bit-identical);
 *   - the example is evaluation's own (rg_eval_example) and out-of-range
 *     examples are refused;
 *   - tape nodes say which op made them (rg_node.kind), and tools that tell
 *     attention's inputs apart go by it;
 *   - an encoder's maps (every scheme with an encoder form, with and without
 *     random positions) are the full matrix from its one forward: rows sum
 *     to 1, every key above the diagonal gets a positive probability, PAD
 *     keys get exactly 0 (rows of different lengths), and P equals the
 *     unfused forward's; the statistics (signed distance, entropy, left and
 *     right shares) recomputed here agree;
 *   - rg_model_forward_probs changes no logit, and for a decoder gives the
 *     cache's probabilities (zero above the diagonal).
 */
#include "relgrad/gradcheck.h"
#include "testing.h"

#include <math.h>
#include <string.h>

#define P_TOL (sizeof(real) == 8 ? 1e-12 : 2e-6)

static void tiny(rg_config *c, const char *pos, int random_positions) {
    test_tiny_config(c, pos, 0);
    test_set(c, "task", "copy");
    test_set(c, "eval_n", "5");
    test_setf(c, "random_positions", "%d", random_positions);
}

/* The unfused training forward's softmax outputs [L,B,H,T,T], layer by
 * layer, for tokens [B,T] at positions pos (NULL: 0..T-1). */
static void unfused_probs_of(rg_model *m, const int *tokens, const int *pos, int B, int T,
                             real *out) {
    rg_ctx ctx;
    rg_ctx_init(&ctx, 1);
    m->unfused_attention = true;
    rg_model_forward(&ctx, m, tokens, pos, NULL, B, T, 0, NULL);
    m->unfused_attention = false;
    rg_node *found[16];
    int n = 0, L = m->cfg.n_layers;
    for (rg_node *node = ctx.tape; node; node = node->prev)
        if (node->kind == RG_OP_SOFTMAX_MASKED) found[n++] = node;
    cr_assert_eq(n, L, "%d softmax nodes for %d layers", n, L);
    size_t per = (size_t)B * m->cfg.n_heads * T * T;
    for (int l = 0; l < L; l++) /* the tape is newest first */
        memcpy(out + l * per, found[L - 1 - l]->out->data, per * sizeof(real));
    rg_ctx_free(&ctx);
}

/* The same for a map's example. */
static void unfused_probs(rg_model *m, const rg_attention_map *a, real *out) {
    unfused_probs_of(m, a->tokens, a->positions, 1, a->T, out);
}

static void check_scheme(const char *pos, int random_positions) {
    rg_config c;
    tiny(&c, pos, random_positions);
    rg_model m;
    rg_error err;
    cr_assert_eq(rg_model_init(&m, &c.model, 5, &err), 0, "%s", err.msg);
    rg_ctx ctx;
    rg_ctx_init(&ctx, 1);
    rg_attention_map a;
    int n = 6;
    cr_assert_eq(rg_attention_map_compute(&ctx, &m, &c, n, 3, &a, &err), 0, "%s", err.msg);
    cr_assert_eq(a.T, rg_task_seq_len(RG_TASK_COPY, n) - 1);
    long worst_row = 0;
    double row_err = 0, above = 0;
    for (int lh = 0; lh < a.L * a.H; lh++)
        for (int i = 0; i < a.T; i++) {
            const real *row = a.probs + ((long)lh * a.T + i) * a.T;
            double sum = 0;
            for (int j = 0; j < a.T; j++) {
                sum += row[j];
                if (j > i) above = fmax(above, fabs((double)row[j]));
                cr_assert(row[j] >= 0, "%s: negative probability", pos);
            }
            if (fabs(sum - 1) > row_err) row_err = fabs(sum - 1), worst_row = i;
        }
    cr_expect(row_err <= 1e-6, "%s: a row sums to 1 %+.3g (row %ld)", pos, row_err, worst_row);
    cr_expect(above == 0, "%s: %.3g above the diagonal", pos, above);

    real *ref = malloc((size_t)a.L * a.H * a.T * a.T * sizeof(real));
    unfused_probs(&m, &a, ref);
    double diff = 0;
    for (long i = 0; i < (long)a.L * a.H * a.T * a.T; i++)
        diff = fmax(diff, fabs((double)ref[i] - (double)a.probs[i]));
    cr_log_info("%s%s: P from decoding vs the unfused forward: max difference %.3g", pos,
                random_positions ? " (random positions)" : "", diff);
    cr_expect(diff <= P_TOL, "%s%s: P from decoding differs from the forward's by %.3g", pos,
              random_positions ? " (random positions)" : "", diff);
    free(ref);
    rg_attention_map_free(&a);
    rg_ctx_free(&ctx);
    rg_model_free(&m);
}

Test(inspect, probabilities_every_scheme) {
    for (int id = 0; id < rg_scheme_count(); id++) check_scheme(scheme(id), 0);
}

Test(inspect, probabilities_random_positions) {
    for (int id = 0; id < rg_scheme_count(); id++)
        if (strcmp(scheme(id), "none")) check_scheme(scheme(id), 40);
}

/* The probability output is a copy: decoding's logits do not change. */
Test(inspect, asking_for_probabilities_changes_nothing) {
    rg_config c;
    tiny(&c, "t5", 0);
    rg_model m;
    rg_error err;
    cr_assert_eq(rg_model_init(&m, &c.model, 2, &err), 0, "%s", err.msg);
    rg_batch b;
    rg_batch_init(&b);
    int row = rg_eval_example(&c, 5, 2, &b);
    cr_assert_geq(row, 0);
    int T = b.T;
    real *logits[2];
    real *probs = calloc((size_t)c.model.n_layers * c.model.n_heads * T * T, sizeof(real));
    for (int with = 0; with < 2; with++) {
        rg_ctx ctx;
        rg_ctx_init(&ctx, 1);
        rg_kv_cache kv;
        rg_kv_cache_init(&kv, &m, 1, T, NULL);
        if (with) kv.probs = probs;
        rg_tensor *y = rg_model_decode_all(&ctx, &m, &kv, b.tokens + (long)row * T, NULL, T);
        logits[with] = malloc((size_t)y->size * sizeof(real));
        memcpy(logits[with], y->data, (size_t)y->size * sizeof(real));
        rg_kv_cache_free(&kv);
        rg_ctx_free(&ctx);
    }
    cr_expect(!memcmp(logits[0], logits[1], (size_t)T * m.V * sizeof(real)),
              "the logits changed when probabilities were asked for");
    free(logits[0]), free(logits[1]), free(probs);
    rg_batch_free(&b);
    rg_model_free(&m);
}

/* The example is evaluation's: the same tokens as rg_evaluate's batches
 * (example 70 sits in the second batch of 64), and k >= eval_n is refused. */
Test(inspect, the_example_is_evaluations) {
    rg_config c;
    tiny(&c, "rope", 0);
    test_set(&c, "eval_n", "100");
    rg_batch b, all;
    rg_batch_init(&b), rg_batch_init(&all);
    int row = rg_eval_example(&c, 4, 70, &b);
    cr_assert_eq(row, 70 - 64, "example 70 is row %d of its batch", row);
    rg_rng rng; /* evaluation's stream, drawn by hand: 64 examples, then 36 */
    rg_rng_seed(&rng, rg_eval_seed(4));
    rg_batch_make(&all, c.task, c.model.n_symbols, 64, 4, 4, &rng);
    rg_batch_make(&all, c.task, c.model.n_symbols, 36, 4, 4, &rng);
    cr_expect(!memcmp(b.tokens + (long)row * b.T, all.tokens + (long)row * all.T,
                      (size_t)b.T * sizeof(int)),
              "example 70's tokens differ from evaluation's");
    cr_expect_eq(rg_eval_example(&c, 4, 100, &b), -1);
    rg_model m;
    rg_error err;
    cr_assert_eq(rg_model_init(&m, &c.model, 1, &err), 0, "%s", err.msg);
    rg_ctx ctx;
    rg_ctx_init(&ctx, 1);
    rg_attention_map a;
    cr_expect_eq(rg_attention_map_compute(&ctx, &m, &c, 4, 100, &a, &err), 2);
    cr_expect(strstr(err.msg, "example 100") != NULL, "message: %s", err.msg);
    rg_ctx_free(&ctx);
    rg_model_free(&m);
    rg_batch_free(&b), rg_batch_free(&all);
}

/* Every node of a training forward carries its op's kind: a built-in op's
 * node is named rg_op_kind_name(kind), a scheme's own op (FIRE's fire_bias)
 * is RG_OP_SCHEME under its own name; the attention kernel's inputs are
 * told apart by kind (q, k, v on attention_core and none on other nodes). */
Test(inspect, tape_nodes_carry_their_kind) {
    rg_config c;
    tiny(&c, "fire", 0);
    rg_model m;
    rg_error err;
    cr_assert_eq(rg_model_init(&m, &c.model, 3, &err), 0, "%s", err.msg);
    int tok[2 * 6] = {1, 2, 3, 4, 0, 1, 2, 2, 3, 3, 4, 0};
    for (int unfused = 0; unfused < 2; unfused++) {
        m.unfused_attention = unfused;
        rg_ctx ctx;
        rg_ctx_init(&ctx, 1);
        rg_model_forward(&ctx, &m, tok, NULL, NULL, 2, 6, 0, NULL);
        int seen[RG_OP_KIND_COUNT] = {0};
        for (rg_node *node = ctx.tape; node; node = node->prev) {
            cr_assert(node->kind >= 0 && node->kind < RG_OP_KIND_COUNT, "node %s: kind %d",
                      node->op, (int)node->kind);
            seen[node->kind]++;
            if (node->kind == RG_OP_SCHEME)
                cr_expect_str_eq(node->op, "fire_bias");
            else
                cr_expect_str_eq(node->op, rg_op_kind_name(node->kind));
            const char *role = rg_attention_input_role(node, 0);
            if (node->kind == RG_OP_ATTENTION_CORE)
                cr_expect(role && !strcmp(role, "q") &&
                              !strcmp(rg_attention_input_role(node, 2), "v"),
                          "attention_core's inputs 0 and 2 are not q and v");
            else if (node->kind != RG_OP_SCORE_TERMS)
                cr_expect_null(role, "%s: an input role on a node that is not attention's",
                               node->op);
        }
        /* two layers: FIRE's op in each, and each layer's attention fused or not */
        cr_expect_eq(seen[RG_OP_SCHEME], 2);
        cr_expect_eq(seen[unfused ? RG_OP_SOFTMAX_MASKED : RG_OP_ATTENTION_CORE], 2);
        cr_expect_eq(seen[unfused ? RG_OP_ATTENTION_CORE : RG_OP_SOFTMAX_MASKED], 0);
        cr_expect_eq(seen[RG_OP_LAYERNORM], 5, "2 per layer and the final one");
        rg_ctx_free(&ctx);
    }
    cr_expect_str_eq(rg_op_kind_name(RG_OP_LINEAR), "linear");
    cr_expect_str_eq(rg_op_kind_name(RG_OP_KIND_COUNT), "?");
    rg_model_free(&m);
}

/* ---- encoders: the full matrix, from the one forward ---------------------------------- */

/* Whether the scheme has an encoder form (SPEC section 7). */
static bool has_encoder_form(int id) {
    rg_config c;
    test_tiny_config(&c, rg_scheme_name(id), 0);
    c.model.arch = RG_ARCH_ENCODER;
    rg_error err;
    return rg_model_config_validate(&c.model, "test", &err) == 0;
}

/* Every (l, b, h) block of P [L,B,H,T,T] (B rows, row b's keys end at
 * key_end[b]): each row sums to 1 over keys < key_end[b]; keys from
 * key_end[b] on get exactly 0; above the diagonal, among the visible keys,
 * every entry is positive (encoder) or exactly 0 (decoder). */
static void check_rows(const char *what, const real *P, int L, int B, int H, int T,
                       const int *key_end, bool encoder) {
    double row_err = 0, pad = 0, above_min = 1, above_max = 0;
    for (int l = 0; l < L; l++)
        for (int b = 0; b < B; b++)
            for (int h = 0; h < H; h++)
                for (int i = 0; i < T; i++) {
                    const real *row = P + ((((long)l * B + b) * H + h) * T + i) * T;
                    double sum = 0;
                    for (int j = 0; j < T; j++) {
                        cr_assert(row[j] >= 0, "%s: negative probability", what);
                        if (j >= key_end[b]) {
                            pad = fmax(pad, row[j]);
                            continue;
                        }
                        sum += row[j];
                        if (j > i) above_min = fmin(above_min, row[j]);
                        if (j > i) above_max = fmax(above_max, row[j]);
                    }
                    row_err = fmax(row_err, fabs(sum - 1));
                }
    cr_expect(row_err <= 1e-6, "%s: a row's sum over its visible keys is 1 %+.3g", what, row_err);
    cr_expect(pad == 0, "%s: %.3g on a PAD key", what, pad);
    if (encoder)
        cr_expect(above_min > 0, "%s: an encoder's key above the diagonal got %.3g", what,
                  above_min);
    else
        cr_expect(above_max == 0, "%s: a decoder's key above the diagonal got %.3g", what,
                  above_max);
}

static double max_abs_diff(const real *a, const real *b, long n) {
    double d = 0;
    for (long i = 0; i < n; i++) d = fmax(d, fabs((double)a[i] - (double)b[i]));
    return d;
}

/* An encoder checkpoint's maps: the evaluation example through
 * rg_attention_map_compute. */
static void check_encoder_map(const char *pos, int random_positions) {
    rg_config c;
    tiny(&c, pos, random_positions);
    c.model.arch = RG_ARCH_ENCODER;
    char what[96];
    snprintf(what, sizeof what, "encoder %s%s", pos, random_positions ? " (random positions)" : "");
    rg_model m;
    rg_error err;
    cr_assert_eq(rg_model_init(&m, &c.model, 5, &err), 0, "%s", err.msg);
    rg_ctx ctx;
    rg_ctx_init(&ctx, 1);
    rg_attention_map a;
    int n = 6;
    cr_assert_eq(rg_attention_map_compute(&ctx, &m, &c, n, 3, &a, &err), 0, "%s", err.msg);
    cr_expect_eq(a.arch, RG_ARCH_ENCODER);
    cr_expect_eq(a.T, 2 * n + 2, "%s: T %d: BOS x SEP and n ANS slots", what, a.T);
    cr_expect_eq(a.n_real, a.T, "%s: no PAD in an example of one length", what);
    cr_expect_eq(a.tokens[a.T - 1], rg_tok_ans(c.model.n_symbols, 0), "%s: ends in ANS", what);
    check_rows(what, a.probs, a.L, 1, a.H, a.T, &a.T, true);

    long cells = (long)a.L * a.H * a.T * a.T;
    real *ref = malloc((size_t)cells * sizeof(real));
    unfused_probs(&m, &a, ref);
    double diff = max_abs_diff(ref, a.probs, cells);
    cr_log_info("%s: P from the forward vs the unfused ops: max difference %.3g", what, diff);
    cr_expect(diff <= P_TOL, "%s: P differs from the unfused forward's by %.3g", what, diff);
    free(ref);

    /* the statistics, recomputed: signed distance over every key */
    double worst = 0, right_max = 0;
    for (int lh = 0; lh < a.L * a.H; lh++) {
        double dist = 0, ent = 0, left = 0, right = 0;
        for (int i = 0; i < a.T; i++)
            for (int j = 0; j < a.T; j++) {
                double p = a.probs[((long)lh * a.T + i) * a.T + j];
                double r = a.positions[i] - a.positions[j];
                dist += p * r, ent -= p > 0 ? p * log(p) : 0;
                left += r > 0 ? p : 0, right += r < 0 ? p : 0;
            }
        worst = fmax(worst, fabs(dist / a.T - a.mean_distance[lh]));
        worst = fmax(worst, fabs(ent / a.T - a.entropy[lh]));
        worst = fmax(worst, fabs(left / a.T - a.left_share[lh]));
        worst = fmax(worst, fabs(right / a.T - a.right_share[lh]));
        cr_expect(a.left_share[lh] + a.right_share[lh] <= 1 + 1e-9, "%s: shares above 1", what);
        right_max = fmax(right_max, a.right_share[lh]);
    }
    cr_expect(worst <= 1e-9, "%s: statistics differ from a recomputation by %.3g", what, worst);
    cr_expect(right_max > 0.1, "%s: no head looks right (largest right share %.3g)", what,
              right_max);
    rg_attention_map_free(&a);
    rg_ctx_free(&ctx);
    rg_model_free(&m);
}

Test(inspect, encoder_maps_every_scheme) {
    int checked = 0;
    for (int id = 0; id < rg_scheme_count(); id++)
        if (has_encoder_form(id)) check_encoder_map(scheme(id), 0), checked++;
    cr_expect_geq(checked, 7, "only %d schemes with an encoder form", checked);
}

Test(inspect, encoder_maps_random_positions) {
    for (int id = 1; id < rg_scheme_count(); id++) /* none reads no positions */
        if (has_encoder_form(id)) check_encoder_map(scheme(id), 40);
}

Test(inspect, direction_words) {
    cr_expect_str_eq(rg_attention_direction(0.7, 0.2), "left");
    cr_expect_str_eq(rg_attention_direction(0.1, 0.51), "right");
    cr_expect_str_eq(rg_attention_direction(0.5, 0.4), "mixed"); /* half is not most */
    cr_expect_str_eq(rg_attention_direction(0.1, 0.1), "mixed");
}

/* rg_model_forward_probs on B rows of different lengths (trailing PAD for
 * an encoder): the rows' checks, P against the unfused ops, and logits
 * bit-identical to rg_model_forward's. Returns P [L,B,H,T,T] (malloc'd). */
static real *check_forward_probs(rg_model *m, const int *tokens, const int *pos, int B, int T,
                                 const char *what) {
    int L = m->cfg.n_layers, H = m->cfg.n_heads;
    bool enc = m->cfg.arch == RG_ARCH_ENCODER;
    long cells = (long)L * B * H * T * T;
    real *P = malloc((size_t)cells * sizeof(real)), *ref = malloc((size_t)cells * sizeof(real));
    for (long i = 0; i < cells; i++) P[i] = -1; /* every cell must be written */
    real *logits[2];
    for (int with = 0; with < 2; with++) {
        rg_ctx ctx;
        rg_ctx_init(&ctx, 1);
        rg_set_no_grad(&ctx, true);
        rg_tensor *y = with ? rg_model_forward_probs(&ctx, m, tokens, pos, NULL, B, T, P)
                            : rg_model_forward(&ctx, m, tokens, pos, NULL, B, T, 0, NULL);
        logits[with] = malloc((size_t)y->size * sizeof(real));
        memcpy(logits[with], y->data, (size_t)y->size * sizeof(real));
        rg_ctx_free(&ctx);
    }
    cr_expect(!memcmp(logits[0], logits[1], (size_t)B * T * m->V * sizeof(real)),
              "%s: the logits changed when probabilities were asked for", what);
    free(logits[0]), free(logits[1]);
    int key_end[8], pad = rg_tok_pad(m->cfg.n_symbols, m->cfg.n_hints);
    for (int b = 0; b < B; b++) {
        key_end[b] = T;
        while (enc && key_end[b] > 0 && tokens[b * T + key_end[b] - 1] == pad) key_end[b]--;
    }
    check_rows(what, P, L, B, H, T, key_end, enc);
    unfused_probs_of(m, tokens, pos, B, T, ref);
    double diff = max_abs_diff(ref, P, cells);
    cr_expect(diff <= P_TOL, "%s: P differs from the unfused forward's by %.3g", what, diff);
    free(ref);
    return P;
}

/* B rows of T random non-PAD tokens, row b ending in PAD from len[b] on. */
static void random_rows(int *tok, int B, int T, const int *len, int V, int pad, uint64_t seed) {
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

Test(inspect, encoder_forward_probs_pad_keys) {
    enum { B = 3, T = 8 };
    int len[B] = {8, 5, 2}, tokens[B * T], positions[B * T];
    for (int id = 0; id < rg_scheme_count(); id++) {
        if (!has_encoder_form(id)) continue;
        rg_config c;
        tiny(&c, scheme(id), 0);
        c.model.arch = RG_ARCH_ENCODER;
        rg_model m;
        rg_error err;
        cr_assert_eq(rg_model_init(&m, &c.model, 9, &err), 0, "%s", err.msg);
        random_rows(tokens, B, T, len, m.V, rg_tok_pad(c.model.n_symbols, 0), 4);
        rg_gc_random_positions(positions, B, T, 40, 6);
        char what[64];
        snprintf(what, sizeof what, "encoder %s, rows of 8, 5, 2", scheme(id));
        free(check_forward_probs(&m, tokens, NULL, B, T, what));
        if (id > 0) { /* none reads no positions */
            snprintf(what, sizeof what, "encoder %s, padded rows, random positions", scheme(id));
            free(check_forward_probs(&m, tokens, positions, B, T, what));
        }
        rg_model_free(&m);
    }
}

/* A decoder through rg_model_forward_probs: causal rows, and the
 * probabilities the key/value cache gives. */
Test(inspect, decoder_forward_probs_equal_the_caches) {
    enum { B = 2, T = 9 };
    int len[B] = {T, T}, tokens[B * T];
    const char *schemes[] = {"alibi", "rope", "t5", "fire"};
    for (int s = 0; s < 4; s++) {
        rg_config c;
        tiny(&c, schemes[s], 0);
        rg_model m;
        rg_error err;
        cr_assert_eq(rg_model_init(&m, &c.model, 3, &err), 0, "%s", err.msg);
        random_rows(tokens, B, T, len, m.V, -1, 8);
        real *P = check_forward_probs(&m, tokens, NULL, B, T, schemes[s]);
        int L = m.cfg.n_layers, H = m.cfg.n_heads;
        real *cached = calloc((size_t)L * B * H * T * T, sizeof(real));
        rg_ctx ctx;
        rg_ctx_init(&ctx, 1);
        rg_kv_cache kv;
        rg_kv_cache_init(&kv, &m, B, T, NULL);
        kv.probs = cached;
        rg_model_decode_all(&ctx, &m, &kv, tokens, NULL, T);
        double diff = max_abs_diff(cached, P, (long)L * B * H * T * T);
        cr_expect(diff <= P_TOL, "%s: the forward's P differs from the cache's by %.3g", schemes[s],
                  diff);
        rg_kv_cache_free(&kv);
        rg_ctx_free(&ctx);
        free(P), free(cached);
        rg_model_free(&m);
    }
}
