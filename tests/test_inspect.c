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
 *     attention's inputs apart go by it.
 */
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

/* The unfused training forward's softmax outputs, layer by layer. */
static void unfused_probs(rg_model *m, const rg_attention_map *a, real *out) {
    rg_ctx ctx;
    rg_ctx_init(&ctx, 1);
    m->unfused_attention = true;
    rg_model_forward(&ctx, m, a->tokens, a->positions, NULL, 1, a->T, 0, NULL);
    m->unfused_attention = false;
    rg_node *found[16];
    int n = 0;
    for (rg_node *node = ctx.tape; node; node = node->prev)
        if (node->kind == RG_OP_SOFTMAX_MASKED) found[n++] = node;
    cr_assert_eq(n, a->L, "%d softmax nodes for %d layers", n, a->L);
    size_t per = (size_t)a->H * a->T * a->T;
    for (int l = 0; l < a->L; l++) /* the tape is newest first */
        memcpy(out + l * per, found[a->L - 1 - l]->out->data, per * sizeof(real));
    rg_ctx_free(&ctx);
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
