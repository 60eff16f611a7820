/* attention_maps.c: one evaluation example's attention probabilities, every
 * layer and head, through the pass evaluation itself makes: a decoder's
 * cached decoding (chunk by chunk, as the teacher-forced pass), an
 * encoder's one forward (rg_model_forward_probs); and each head's
 * statistics (inspect.h). */
#include "relgrad/inspect.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { CHUNK = 64 }; /* tokens per decoding call, as evaluation's teacher-forced pass */

void rg_attention_map_free(rg_attention_map *a) {
    free(a->tokens);
    free(a->positions);
    free(a->probs);
    free(a->mean_distance);
    free(a->entropy);
    free(a->left_share);
    free(a->right_share);
    memset(a, 0, sizeof *a);
}

/* A decoder: the cache writes each fed token's probabilities into its row. */
static void decoder_probs(rg_ctx *ctx, rg_model *m, const rg_config *cfg, rg_attention_map *out) {
    int T = out->T;
    rg_kv_cache kv;
    rg_kv_cache_init(&kv, m, 1, T, &cfg->model.opts);
    kv.probs = out->probs;
    for (int t0 = 0; t0 < T; t0 += CHUNK) {
        int c = T - t0 < CHUNK ? T - t0 : CHUNK;
        rg_ctx_reset(ctx);
        rg_model_decode_all(ctx, m, &kv, out->tokens + t0, out->positions + t0, c);
    }
    rg_kv_cache_free(&kv);
}

/* An encoder: evaluation's one forward (encoder_accuracy in eval.c), here
 * over the example's row alone (rows do not attend to each other), with the
 * batch's positions and abacus ids and, as there, the model's own scheme
 * options. */
static void encoder_probs(rg_ctx *ctx, rg_model *m, const int *pos, const int *abacus,
                          rg_attention_map *out) {
    rg_ctx_reset(ctx);
    rg_model_forward_probs(ctx, m, out->tokens, pos, abacus, 1, out->T, out->probs);
}

/* Per head, averaged over the queries of real tokens (i < n_real): the
 * attended signed distance, the entropy, and the probability mass on keys
 * at earlier and at later positions. */
static void statistics(rg_attention_map *a) {
    int T = a->T, L = a->L, H = a->H, n = a->n_real;
    a->mean_distance = rg_xcalloc((size_t)L * H, sizeof(double), "attention statistics");
    a->entropy = rg_xcalloc((size_t)L * H, sizeof(double), "attention statistics");
    a->left_share = rg_xcalloc((size_t)L * H, sizeof(double), "attention statistics");
    a->right_share = rg_xcalloc((size_t)L * H, sizeof(double), "attention statistics");
    for (int lh = 0; lh < L * H && n > 0; lh++) {
        const real *P = a->probs + (size_t)lh * T * T;
        double dist = 0, ent = 0, left = 0, right = 0;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < T; j++) { /* 0 where query i sees nothing */
                double p = P[(long)i * T + j];
                int r = a->positions[i] - a->positions[j];
                dist += p * r;
                if (p > 0) ent -= p * log(p);
                if (r > 0) left += p;
                if (r < 0) right += p;
            }
        a->mean_distance[lh] = dist / n;
        a->entropy[lh] = ent / n;
        a->left_share[lh] = left / n;
        a->right_share[lh] = right / n;
    }
}

const char *rg_attention_direction(double left_share, double right_share) {
    return left_share > 0.5 ? "left" : right_share > 0.5 ? "right" : "mixed";
}

int rg_attention_map_compute(rg_ctx *ctx, rg_model *m, const rg_config *cfg, int n, int k,
                             rg_attention_map *out, rg_error *err) {
    memset(out, 0, sizeof *out);
    rg_batch batch;
    rg_batch_init(&batch);
    int row = rg_eval_example(cfg, n, k, &batch);
    if (row < 0) {
        snprintf(err->msg, sizeof err->msg,
                 "example %d: the evaluation set at length %d has eval_n = %d examples; choose "
                 "example in 0..%d",
                 k, n, cfg->eval_n, cfg->eval_n - 1);
        rg_batch_free(&batch);
        return 2;
    }
    int T = batch.T, L = m->cfg.n_layers, H = m->cfg.n_heads;
    rg_arch arch = m->cfg.arch;
    *out = (rg_attention_map){.len = n, .example = k, .arch = arch, .T = T, .L = L, .H = H};
    rg_data_spec spec = rg_config_data_spec(cfg, false); /* index hints lengthen the prompt */
    out->prompt_len = rg_spec_prompt_len(&spec, n);
    out->tokens = rg_xmalloc((size_t)T * sizeof(int), "an attention map");
    out->positions = rg_xmalloc((size_t)T * sizeof(int), "an attention map");
    memcpy(out->tokens, batch.tokens + (long)row * T, (size_t)T * sizeof(int));
    for (int t = 0; t < T; t++) out->positions[t] = batch.pos ? batch.pos[(long)row * T + t] : t;
    int pad = rg_tok_pad(m->cfg.n_symbols, m->cfg.n_hints);
    out->n_real = T; /* an encoder's row may end in PAD (a decoder's example has none) */
    while (arch == RG_ARCH_ENCODER && out->n_real > 0 && out->tokens[out->n_real - 1] == pad)
        out->n_real--;

    out->probs = rg_xcalloc((size_t)L * H * T * T, sizeof(real), "attention probabilities");
    bool was = rg_set_no_grad(ctx, true);
    if (arch == RG_ARCH_ENCODER)
        encoder_probs(ctx, m, batch.pos ? batch.pos + (long)row * T : NULL,
                      batch.abacus ? batch.abacus + (long)row * T : NULL, out);
    else
        decoder_probs(ctx, m, cfg, out);
    rg_set_no_grad(ctx, was);
    rg_batch_free(&batch);
    statistics(out);
    return 0;
}
