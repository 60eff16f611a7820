/* eval.c: accuracy at each evaluation length (SPEC sections 3 and 6).
 *
 * Exact match: a decoder decodes greedily with the key/value cache from the
 * prompt BOS <input> SEP; the example counts when all of y and EOS are
 * right. Token accuracy: a teacher-forced pass over the whole sequence
 * (through the same cache); the share of positions whose argmax is the
 * target. An encoder answers every ANS slot in one forward. Both count the
 * positions the batch's accuracy mask marks (all of y, except what follows
 * a termination token: Ruoss et al.'s accuracy mask).
 * The evaluation set at length n comes from rg_eval_seed(n), the same for
 * every model seed, and its random positions (random_positions > 0) from a
 * stream of their own, so the examples are the same with and without them.
 *
 * Also here: whether a run fitted its training length (rg_evaluate_fit) and
 * the in-distribution validation score select = best reads (rg_validate).
 *
 * The methods of 2024 draw nothing at evaluation: index hints start at the
 * first hint, coupled positions at 1, abacus ids are not shifted. With
 * index hints the model writes the hints of its answer too, and exact match
 * needs all of it (hints, digits, EOS) right: the whole y, as SPEC section 3
 * asks.
 */
#include "relgrad/train.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { CHUNK = 64 };

void rg_eval_result_free(rg_eval_result *r) {
    free(r->len);
    free(r->exact_match);
    free(r->token_acc);
    memset(r, 0, sizeof *r);
}

static int argmax(const real *z, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (z[i] > z[best]) best = i;
    return best;
}

/* Teacher-forced: count masked positions whose argmax equals the target.
 * The sequence goes through the key/value cache in chunks, so memory grows
 * linearly with its length (no T x T score matrix is ever formed). */
static void token_accuracy(rg_ctx *ctx, rg_model *m, const rg_config *cfg, const rg_batch *b,
                           long *right, long *total) {
    int B = b->B, T = b->T;
    rg_kv_cache kv;
    rg_kv_cache_init(&kv, m, B, T, &cfg->model.opts);
    int *chunk = rg_xmalloc((size_t)B * CHUNK * sizeof(int), "an evaluation chunk");
    int *chunk_pos = rg_xmalloc((size_t)B * CHUNK * sizeof(int), "an evaluation chunk");
    for (int t0 = 0; t0 < T; t0 += CHUNK) {
        int n = T - t0 < CHUNK ? T - t0 : CHUNK;
        rg_columns(b->tokens, B, T, t0, n, sizeof(int), chunk);
        rg_ctx_reset(ctx);
        rg_tensor *logits = rg_model_decode_all(
            ctx, m, &kv, chunk, rg_columns(b->pos, B, T, t0, n, sizeof(int), chunk_pos), n);
        for (int i = 0; i < B; i++)
            for (int t = 0; t < n; t++) {
                long at = (long)i * T + t0 + t;
                if (b->acc_mask[at] == 0) continue;
                *total += 1;
                *right += argmax(logits->data + ((long)i * n + t) * m->V, m->V) == b->targets[at];
            }
    }
    free(chunk), free(chunk_pos);
    rg_kv_cache_free(&kv);
}

/* Greedy decoding of every example in b (all of length n). */
static long exact_matches(rg_ctx *ctx, rg_model *m, const rg_config *cfg, const rg_batch *b,
                          int n) {
    rg_data_spec spec = rg_config_data_spec(cfg, false);
    int B = b->B, T = b->T, P = rg_spec_prompt_len(&spec, n);
    int answer = rg_spec_out_len(&spec, n) + 1; /* y (with index hints: hints too) and EOS */
    rg_kv_cache kv;
    rg_kv_cache_init(&kv, m, B, P + answer, &cfg->model.opts);
    int *prompt = rg_xmalloc((size_t)B * P * sizeof(int), "a prompt");
    int *prompt_pos = rg_xmalloc((size_t)B * P * sizeof(int), "a prompt");
    int *next = rg_xmalloc((size_t)B * sizeof(int), "decoded tokens");
    int *next_pos = rg_xmalloc((size_t)B * sizeof(int), "decoded tokens");
    bool *ok = rg_xmalloc((size_t)B * sizeof(bool), "decoding results");
    for (int i = 0; i < B; i++) ok[i] = true;
    rg_columns(b->tokens, B, T, 0, P, sizeof(int), prompt);
    rg_ctx_reset(ctx);
    rg_tensor *logits = rg_model_decode(ctx, m, &kv, prompt,
                                        rg_columns(b->pos, B, T, 0, P, sizeof(int), prompt_pos),
                                        P); /* predicts y_1 */
    for (int j = 0; j < answer; j++) {
        for (int i = 0; i < B; i++) {
            next[i] = argmax(logits->data + (long)i * m->V, m->V);
            /* the true token at this point is targets[P - 1 + j]; it counts
             * where the accuracy mask says (not after a termination token) */
            long at = (long)i * T + P - 1 + j;
            if (next[i] != b->targets[at] && b->acc_mask[at] != 0) ok[i] = false;
        }
        if (j + 1 == answer) break;
        rg_ctx_reset(ctx);
        logits = rg_model_decode(ctx, m, &kv, next,
                                 rg_columns(b->pos, B, T, P + j, 1, sizeof(int), next_pos), 1);
    }
    long count = 0;
    for (int i = 0; i < B; i++) count += ok[i];
    free(prompt), free(prompt_pos), free(next), free(next_pos), free(ok);
    rg_kv_cache_free(&kv);
    return count;
}

/* An encoder answers every slot in one forward: exact match when every
 * counted slot (acc_mask) is right, token accuracy over the counted slots.
 * Nothing [T,T] is kept (no gradient), so memory grows linearly with T. */
static void encoder_accuracy(rg_ctx *ctx, rg_model *m, const rg_batch *b, long *exact, long *right,
                             long *total) {
    int B = b->B, T = b->T, V = m->V;
    rg_ctx_reset(ctx);
    rg_tensor *logits =
        rg_model_forward(ctx, m, b->tokens, b->pos, b->abacus, B, T, 0, NULL); /* (B,T,V) */
    for (int i = 0; i < B; i++) {
        bool ok = true;
        for (int t = 0; t < T; t++) {
            long at = (long)i * T + t;
            if (b->acc_mask[at] == 0) continue;
            bool hit = argmax(logits->data + at * V, V) == b->targets[at];
            *total += 1, *right += hit, ok &= hit;
        }
        *exact += ok;
    }
}

/* Exact matches and token accuracy of one evaluation batch (all rows of
 * length n), by the model's architecture. */
static void batch_accuracy(rg_ctx *ctx, rg_model *m, const rg_config *cfg, const rg_batch *b, int n,
                           long *exact, long *right, long *total) {
    if (m->cfg.arch == RG_ARCH_ENCODER) {
        encoder_accuracy(ctx, m, b, exact, right, total);
        return;
    }
    token_accuracy(ctx, m, cfg, b, right, total);
    *exact += exact_matches(ctx, m, cfg, b, n);
}

void rg_eval_batch_draw(const rg_config *cfg, int B, int n, rg_rng *rng, rg_rng *pos_rng,
                        rg_batch *b) {
    rg_data_spec spec = rg_config_data_spec(cfg, false); /* one length per example */
    rg_batch_draw(b, &spec, B, n, n, rng);               /* hints from the first */
    if (cfg->random_positions > 0)
        rg_batch_random_positions_per(b, cfg->random_positions, cfg->random_positions_per, pos_rng);
    if (spec.coupled_max > 0) rg_batch_coupled_positions(b, &spec, NULL); /* from 1 */
    rg_batch_abacus(b, &spec, NULL);                                      /* no shift */
}

/* The evaluation set at length n, batch by batch: the next batch of it into
 * b (B rows), drawn from rng (examples) and pos_rng (random positions). */
static int next_eval_batch(const rg_config *cfg, int n, int done, rg_batch *b, rg_rng *rng,
                           rg_rng *pos_rng) {
    int B = cfg->eval_n - done < RG_EVAL_BATCH ? cfg->eval_n - done : RG_EVAL_BATCH;
    rg_eval_batch_draw(cfg, B, n, rng, pos_rng, b);
    return B;
}

int rg_eval_example(const rg_config *cfg, int n, int k, rg_batch *b) {
    if (k < 0 || k >= cfg->eval_n) return -1;
    rg_rng rng, pos_rng;
    rg_rng_seed(&rng, rg_eval_seed(n));
    rg_rng_seed(&pos_rng, rg_eval_positions_seed(n));
    for (int done = 0;;) {
        int B = next_eval_batch(cfg, n, done, b, &rng, &pos_rng);
        if (k < done + B) return k - done;
        done += B;
    }
}

void rg_evaluate(rg_ctx *ctx, rg_model *m, const rg_config *cfg, rg_eval_result *res) {
    bool was = rg_set_no_grad(ctx, true);
    rg_batch batch;
    rg_batch_init(&batch);
    memset(res, 0, sizeof *res);
    res->len = rg_config_eval_lens(cfg, &res->n);
    res->exact_match = rg_xcalloc((size_t)res->n, sizeof(double), "evaluation results");
    res->token_acc = rg_xcalloc((size_t)res->n, sizeof(double), "evaluation results");
    for (int k = 0; k < res->n; k++) {
        int n = res->len[k];
        rg_rng rng, pos_rng;
        rg_rng_seed(&rng, rg_eval_seed(n));
        rg_rng_seed(&pos_rng, rg_eval_positions_seed(n));
        long exact = 0, right = 0, total = 0;
        for (int done = 0; done < cfg->eval_n;) {
            int B = next_eval_batch(cfg, n, done, &batch, &rng, &pos_rng);
            batch_accuracy(ctx, m, cfg, &batch, n, &exact, &right, &total);
            done += B;
        }
        res->exact_match[k] = (double)exact / cfg->eval_n;
        res->token_acc[k] = total ? (double)right / total : 0;
    }
    rg_batch_free(&batch);
    rg_set_no_grad(ctx, was);
}

void rg_evaluate_fit(rg_ctx *ctx, rg_model *m, const rg_config *cfg, const rg_eval_result *done,
                     rg_run_info *info) {
    int k = 0;
    while (done && k < done->n && done->len[k] != cfg->train_len) k++;
    if (done && k < done->n) {
        info->fit_exact_match = done->exact_match[k];
        info->fit_token_acc = done->token_acc[k];
    } else { /* train_len is not among eval_lens: evaluate it for this */
        rg_config *c = rg_xmalloc(sizeof *c, "a config");
        *c = *cfg;
        snprintf(c->eval_lens, sizeof c->eval_lens, "%d", c->train_len);
        rg_eval_result res;
        rg_evaluate(ctx, m, c, &res);
        info->fit_exact_match = res.exact_match[0];
        info->fit_token_acc = res.token_acc[0];
        rg_eval_result_free(&res);
        free(c);
    }
    info->fit = info->fit_exact_match >= cfg->fit_threshold;
}

double rg_validate(rg_ctx *ctx, rg_model *m, const rg_config *cfg) {
    bool was = rg_set_no_grad(ctx, true);
    rg_rng rng, pos_rng;
    rg_rng_seed(&rng, rg_val_seed(cfg->train_len));
    rg_rng_seed(&pos_rng, rg_val_positions_seed(cfg->train_len));
    /* every example's length first, as training draws them; then the
     * examples of each length in turn (an evaluation batch has one length) */
    int *count = rg_xcalloc((size_t)cfg->train_len + 1, sizeof(int), "validation lengths");
    for (int i = 0; i < cfg->val_n; i++) count[rg_rng_int(&rng, 1, cfg->train_len)]++;
    rg_batch batch;
    rg_batch_init(&batch);
    long exact = 0, right = 0, total = 0;
    for (int n = 1; n <= cfg->train_len; n++)
        for (int done = 0; done < count[n];) {
            int B = count[n] - done < RG_EVAL_BATCH ? count[n] - done : RG_EVAL_BATCH;
            rg_eval_batch_draw(cfg, B, n, &rng, &pos_rng, &batch);
            batch_accuracy(ctx, m, cfg, &batch, n, &exact, &right, &total);
            done += B;
        }
    rg_batch_free(&batch);
    free(count);
    rg_set_no_grad(ctx, was);
    return (double)exact / cfg->val_n;
}
