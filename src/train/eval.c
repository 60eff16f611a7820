/* eval.c: accuracy at each evaluation length (SPEC section 3).
 *
 * Exact match: from the prompt BOS x SEP, decode greedily with the key/value
 * cache, m + 1 tokens; the example counts when all of y and EOS are right.
 * Token accuracy: a teacher-forced pass over the whole sequence (through
 * the same cache); the share of masked positions whose argmax is the target.
 */
#include "relgrad/train.h"

#include <stdlib.h>
#include <string.h>

enum { EVAL_BATCH = 64 };

static int argmax(const real *z, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (z[i] > z[best]) best = i;
    return best;
}

/* Teacher-forced: count masked positions whose argmax equals the target.
 * The sequence goes through the key/value cache in chunks, so memory grows
 * linearly with its length (no T x T score matrix is ever formed). */
enum { CHUNK = 64 };
static void token_accuracy(rg_ctx *ctx, rg_model *m, const rg_batch *b, long *right, long *total) {
    int B = b->B, T = b->T;
    rg_kv_cache kv;
    rg_kv_cache_init(&kv, m, B, T);
    int *chunk = malloc((size_t)B * CHUNK * sizeof(int));
    for (int t0 = 0; t0 < T; t0 += CHUNK) {
        int n = T - t0 < CHUNK ? T - t0 : CHUNK;
        for (int i = 0; i < B; i++)
            memcpy(chunk + (long)i * n, b->tokens + (long)i * T + t0, (size_t)n * sizeof(int));
        rg_ctx_reset(ctx);
        rg_tensor *logits = rg_model_decode_all(ctx, m, &kv, chunk, n); /* (B,n,V) */
        for (int i = 0; i < B; i++)
            for (int t = 0; t < n; t++) {
                long at = (long)i * T + t0 + t;
                if (b->mask[at] == 0) continue;
                *total += 1;
                *right += argmax(logits->data + ((long)i * n + t) * m->V, m->V) == b->targets[at];
            }
    }
    free(chunk);
    rg_kv_cache_free(&kv);
}

/* Greedy decoding of every example in b (all have n input symbols). */
static long exact_matches(rg_ctx *ctx, rg_model *m, const rg_config *cfg, const rg_batch *b,
                          int n) {
    int B = b->B, T = b->T, P = n + 2;              /* prompt: BOS x_1..x_n SEP */
    int answer = rg_task_out_len(cfg->task, n) + 1; /* y and EOS */
    rg_kv_cache kv;
    rg_kv_cache_init(&kv, m, B, P + answer);
    int *prompt = malloc((size_t)B * P * sizeof(int)), *next = malloc((size_t)B * sizeof(int));
    bool *ok = malloc((size_t)B * sizeof(bool));
    for (int i = 0; i < B; i++) {
        memcpy(prompt + (long)i * P, b->tokens + (long)i * T, (size_t)P * sizeof(int));
        ok[i] = true;
    }
    rg_ctx_reset(ctx);
    rg_tensor *logits = rg_model_decode(ctx, m, &kv, prompt, P); /* predicts y_1 */
    for (int j = 0; j < answer; j++) {
        for (int i = 0; i < B; i++) {
            next[i] = argmax(logits->data + (long)i * m->V, m->V);
            /* the true token at this point is targets[P - 1 + j] */
            if (next[i] != b->targets[(long)i * T + P - 1 + j]) ok[i] = false;
        }
        if (j + 1 == answer) break;
        rg_ctx_reset(ctx);
        logits = rg_model_decode(ctx, m, &kv, next, 1);
    }
    long count = 0;
    for (int i = 0; i < B; i++) count += ok[i];
    free(prompt), free(next), free(ok);
    rg_kv_cache_free(&kv);
    return count;
}

void rg_evaluate(rg_ctx *ctx, rg_model *m, const rg_config *cfg, rg_eval_result *res) {
    double trained_scale = m->cfg.rope_scale;
    m->cfg.rope_scale = cfg->rope_scale; /* position interpolation applies at evaluation */
    bool was = rg_set_no_grad(ctx, true);
    rg_batch batch;
    rg_batch_init(&batch);
    memset(res, 0, sizeof *res);
    res->n = cfg->n_eval_lens;
    for (int k = 0; k < cfg->n_eval_lens; k++) {
        int n = cfg->eval_lens[k];
        rg_rng rng;
        rg_rng_seed(&rng, rg_eval_seed(cfg->seed, n));
        long exact = 0, right = 0, total = 0;
        for (int done = 0; done < cfg->eval_n;) {
            int B = cfg->eval_n - done < EVAL_BATCH ? cfg->eval_n - done : EVAL_BATCH;
            rg_batch_make(&batch, cfg->task, cfg->n_symbols, B, n, n, &rng);
            token_accuracy(ctx, m, &batch, &right, &total);
            exact += exact_matches(ctx, m, cfg, &batch, n);
            done += B;
        }
        res->len[k] = n;
        res->exact_match[k] = (double)exact / cfg->eval_n;
        res->token_acc[k] = total ? (double)right / total : 0;
    }
    rg_batch_free(&batch);
    rg_set_no_grad(ctx, was);
    m->cfg.rope_scale = trained_scale;
}
