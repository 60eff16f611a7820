/* attention_maps.c: one evaluation example's attention probabilities, every
 * layer and head, through evaluation's own cached decoding (inspect.h). */
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
    memset(a, 0, sizeof *a);
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
    *out = (rg_attention_map){.len = n, .example = k, .T = T, .L = L, .H = H};
    rg_data_spec spec = rg_config_data_spec(cfg, false); /* index hints lengthen the prompt */
    out->prompt_len = rg_spec_prompt_len(&spec, n);
    out->tokens = rg_xmalloc((size_t)T * sizeof(int), "an attention map");
    out->positions = rg_xmalloc((size_t)T * sizeof(int), "an attention map");
    memcpy(out->tokens, batch.tokens + (long)row * T, (size_t)T * sizeof(int));
    for (int t = 0; t < T; t++) out->positions[t] = batch.pos ? batch.pos[(long)row * T + t] : t;
    rg_batch_free(&batch);

    /* the cache writes each fed token's probabilities into its row */
    size_t cells = (size_t)L * H * T * T;
    out->probs = rg_xcalloc(cells, sizeof(real), "attention probabilities");
    rg_kv_cache kv;
    rg_kv_cache_init(&kv, m, 1, T, &cfg->model.opts);
    kv.probs = out->probs;
    bool was = rg_set_no_grad(ctx, true);
    for (int t0 = 0; t0 < T; t0 += CHUNK) {
        int c = T - t0 < CHUNK ? T - t0 : CHUNK;
        rg_ctx_reset(ctx);
        rg_model_decode_all(ctx, m, &kv, out->tokens + t0, out->positions + t0, c);
    }
    rg_set_no_grad(ctx, was);
    rg_kv_cache_free(&kv);

    out->mean_distance = rg_xcalloc((size_t)L * H, sizeof(double), "attention statistics");
    out->entropy = rg_xcalloc((size_t)L * H, sizeof(double), "attention statistics");
    for (int lh = 0; lh < L * H; lh++) {
        const real *P = out->probs + (size_t)lh * T * T;
        double dist = 0, ent = 0;
        for (int i = 0; i < T; i++)
            for (int j = 0; j <= i; j++) {
                double p = P[(long)i * T + j];
                dist += p * (out->positions[i] - out->positions[j]);
                if (p > 0) ent -= p * log(p);
            }
        out->mean_distance[lh] = dist / T;
        out->entropy[lh] = ent / T;
    }
    return 0;
}
