/* bench.c: timing a model (experiment.h): full training steps (forward,
 * backward, AdamW) on batches whose examples all have train_len symbols,
 * after warm-up, data-parallel under MPI as in training; greedy decoding
 * through the key/value cache, the path a decoder's evaluation takes; and
 * an encoder's evaluation, one pass over a batch of the evaluation set.
 * `relgrad bench` prints what these measure; tools/bench.sh compares it
 * with PyTorch (tools/bench_torch.py times its models the same way). */
#include "relgrad/experiment.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

enum { BENCH_WARMUP = 3 }; /* untimed training steps first */
/* an encoder's evaluation pass is timed at least EVAL_MIN_RUNS times and until
 * EVAL_MIN_SECONDS have gone by, at most EVAL_MAX_RUNS times */
enum { EVAL_MIN_RUNS = 3, EVAL_MAX_RUNS = 50 };
static const double EVAL_MIN_SECONDS = 1.0;

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double peak_rss_mb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024.0;
}

int rg_bench_train(const rg_config *cfg, rg_model *model, const rg_dist *dist,
                   rg_bench_train_result *out, rg_error *err) {
    memset(out, 0, sizeof *out);
    rg_adamw adam;
    rg_adamw_init(&adam, model, cfg->weight_decay);
    adam.threads = cfg->threads;
    rg_ctx ctx;
    rg_ctx_init(&ctx, cfg->threads);
    rg_rng rng;
    rg_rng_seed(&rng, rg_train_seed(cfg->seed));
    rg_batch batch;
    rg_batch_init(&batch);
    rg_train_data data; /* full-length examples, as the run's config draws them */
    rg_train_data_init(&data, cfg, cfg->train_len);
    double t_start = 0;
    long mallocs_before = 0;
    int rc = 0;
    for (int s = 0; s < BENCH_WARMUP + cfg->steps && !rc; s++) {
        if (s == BENCH_WARMUP) t_start = now_seconds(), mallocs_before = ctx.arena.n_mallocs;
        rg_train_data_batch(&data, s, &batch, &rng);
        /* the training step itself (train.h): this rank's rows, the gradients over the ranks */
        rg_step st = {.lr = cfg->lr, .grad_clip = cfg->grad_clip, .dist = dist, .step = s + 1};
        rc = rg_train_step(&ctx, model, &adam, &batch, &st, err);
    }
    double secs = now_seconds() - t_start;
    if (!rc)
        *out = (rg_bench_train_result){
            .B = batch.B,
            .T = batch.T,
            .ms_per_step = secs * 1000 / cfg->steps,
            .tokens_per_s = (double)batch.B * batch.T * cfg->steps / secs,
            .peak_rss_mb = peak_rss_mb(),
            .arena_mb = ctx.arena.high_water / 1e6,
            .arena_mallocs = ctx.arena.n_mallocs - mallocs_before,
        };
    rg_batch_free(&batch);
    rg_train_data_free(&data);
    rg_ctx_free(&ctx);
    rg_adamw_free(&adam);
    return rc;
}

static int argmax(const real *z, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (z[i] > z[best]) best = i;
    return best;
}

/* Prompt of len/2 random symbols, then len/2 greedy tokens; returns seconds
 * (and the prompt's share in *prefill). */
static double decode_once(rg_ctx *ctx, rg_model *m, int B, int len, rg_rng *rng, double *prefill) {
    int P = len / 2, G = len - P;
    rg_kv_cache kv;
    rg_kv_cache_init(&kv, m, B, len, NULL);
    int *prompt = rg_xmalloc((size_t)B * P * sizeof(int), "a prompt"); // (B,P)
    int *next = rg_xmalloc((size_t)B * sizeof(int), "decoded tokens"); // (B)
    for (long i = 0; i < (long)B * P; i++) prompt[i] = rg_rng_int(rng, 0, m->cfg.n_symbols - 1);
    double t0 = now_seconds();
    rg_ctx_reset(ctx);
    rg_tensor *logits = rg_model_decode(ctx, m, &kv, prompt, NULL, P); // (B,V): the last token's
    *prefill = now_seconds() - t0;
    for (int t = 0; t < G; t++) {
        for (int b = 0; b < B; b++) next[b] = argmax(logits->data + (long)b * m->V, m->V);
        if (t + 1 == G) break;
        rg_ctx_reset(ctx);
        logits = rg_model_decode(ctx, m, &kv, next, NULL, 1);
    }
    double secs = now_seconds() - t0;
    free(prompt), free(next);
    rg_kv_cache_free(&kv);
    return secs;
}

void rg_bench_decode(const rg_config *cfg, rg_model *model, int len, int B,
                     rg_bench_decode_result *out) {
    rg_ctx ctx;
    rg_ctx_init(&ctx, cfg->threads);
    bool was = rg_set_no_grad(&ctx, true);
    rg_rng rng;
    rg_rng_seed(&rng, rg_train_seed(cfg->seed));
    double prefill;
    decode_once(&ctx, model, B, 16, &rng, &prefill); /* warm-up */
    double secs = decode_once(&ctx, model, B, len, &rng, &prefill);
    rg_set_no_grad(&ctx, was);
    *out = (rg_bench_decode_result){
        .ms = secs * 1000,
        .tokens_per_s = (double)B * (len - len / 2) / secs,
        .peak_rss_mb = peak_rss_mb(),
        .prefill_ms = prefill * 1000,
    };
    rg_ctx_free(&ctx);
}

/* One evaluation pass of an encoder over b: the forward and the argmax of
 * every slot the accuracy counts (what encoder_accuracy in train/eval.c
 * does); returns the number of right slots, so the work is used. */
static long eval_pass(rg_ctx *ctx, rg_model *m, const rg_batch *b) {
    int B = b->B, T = b->T, V = m->V;
    rg_ctx_reset(ctx);
    rg_tensor *logits = rg_model_forward(ctx, m, b->tokens, b->pos, b->abacus, B, T, 0, NULL);
    long right = 0; // logits (B,T,V)
    for (long at = 0; at < (long)B * T; at++)
        if (b->acc_mask[at] != 0) right += argmax(logits->data + at * V, V) == b->targets[at];
    return right;
}

static int compare_doubles(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

int rg_bench_eval(const rg_config *cfg, rg_model *model, int n, int B, rg_bench_eval_result *out,
                  rg_error *err) {
    memset(out, 0, sizeof *out);
    if (model->cfg.arch != RG_ARCH_ENCODER) {
        snprintf(err->msg, sizeof err->msg,
                 "an encoder's evaluation pass needs arch = encoder (a decoder's evaluation "
                 "decodes: time it with --decode LEN)");
        return 2;
    }
    rg_batch batch;
    rg_batch_init(&batch);
    rg_rng rng, pos_rng; /* the evaluation set at n, as rg_evaluate draws it */
    rg_rng_seed(&rng, rg_eval_seed(n));
    rg_rng_seed(&pos_rng, rg_eval_positions_seed(n));
    rg_eval_batch_draw(cfg, B, n, &rng, &pos_rng, &batch);
    rg_ctx ctx;
    rg_ctx_init(&ctx, cfg->threads);
    bool was = rg_set_no_grad(&ctx, true);
    eval_pass(&ctx, model, &batch); /* warm-up */
    double ms[EVAL_MAX_RUNS], total = 0;
    int runs = 0;
    while (runs < EVAL_MAX_RUNS && (runs < EVAL_MIN_RUNS || total < EVAL_MIN_SECONDS)) {
        double t0 = now_seconds();
        eval_pass(&ctx, model, &batch);
        double secs = now_seconds() - t0;
        ms[runs++] = secs * 1000, total += secs;
    }
    rg_set_no_grad(&ctx, was);
    qsort(ms, (size_t)runs, sizeof *ms, compare_doubles);
    double median = runs % 2 ? ms[runs / 2] : (ms[runs / 2 - 1] + ms[runs / 2]) / 2;
    *out = (rg_bench_eval_result){
        .T = batch.T,
        .runs = runs,
        .ms = median,
        .tokens_per_s = (double)batch.B * batch.T / (median / 1000),
        .peak_rss_mb = peak_rss_mb(),
    };
    rg_ctx_free(&ctx);
    rg_batch_free(&batch);
    return 0;
}
