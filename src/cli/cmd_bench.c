/* cmd_bench.c: `relgrad bench CONFIG [key=value ...]`: full training steps
 * (forward, backward, AdamW) on batches whose examples all have exactly
 * train_len symbols, timed after warm-up. `steps` is the number of timed
 * steps. Ends with the line SPEC section 5 fixes:
 *   bench: ms_per_step=X tokens_per_s=Y peak_rss_mb=Z
 * Under mpirun the steps are data-parallel as in train (each rank takes its
 * rows of every batch; include/relgrad/dist.h) and rank 0 reports; tokens
 * count the whole global batch.
 *
 * `relgrad bench --decode LEN[,BATCH] CONFIG [key=value ...]`: greedy
 * decoding with the key/value cache (the evaluation path) of the config's
 * model at its initial weights: BATCH rows (default 1) of a prompt of LEN/2
 * random symbols, fed at once, then LEN/2 tokens generated one at a time,
 * each the argmax of the last logits. Timed as a whole (prefill and
 * generation), after one untimed run of 16 tokens; ends with
 *   decode: len=L batch=B ms=X tokens_per_s=Y peak_rss_mb=Z prefill_ms=W
 * with Y = generated tokens (B * LEN/2) per second, W the prompt's part of
 * X. tools/bench_torch.py --decode times a PyTorch decoder the same way. */
#include "args.h"
#include "cli.h"
#include "help.h"
#include "relgrad/runtime.h"
#include "relgrad/train.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

enum { BENCH_WARMUP = 3 };

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int argmax(const real *z, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (z[i] > z[best]) best = i;
    return best;
}

/* Prompt of len/2 random symbols, then len/2 greedy tokens; returns seconds
 * (and the prompt's share in *prefill). */
/* The configuration of the command line, checked, and its model. 0, or
 * nonzero with err (bench reads one run, so the grid keys are refused). */
static int load_model(rg_cli_args *a, rg_config *cfg, rg_model *model, rg_error *err) {
    return rg_cli_load(a, cfg, err) || rg_config_validate(cfg, a->file, err) ||
           rg_cli_refuse_grid_keys("bench", a->file, cfg, err) ||
           rg_model_init(model, &cfg->model, (uint64_t)cfg->seed, err);
}

static double decode_once(rg_ctx *ctx, rg_model *m, int B, int len, rg_rng *rng, double *prefill) {
    int P = len / 2, G = len - P;
    rg_kv_cache kv;
    rg_kv_cache_init(&kv, m, B, len, NULL);
    int *prompt = rg_xmalloc((size_t)B * P * sizeof(int), "a prompt");
    int *next = rg_xmalloc((size_t)B * sizeof(int), "decoded tokens");
    for (long i = 0; i < (long)B * P; i++) prompt[i] = rg_rng_int(rng, 0, m->cfg.n_symbols - 1);
    double t0 = now_seconds();
    rg_ctx_reset(ctx);
    rg_tensor *logits = rg_model_decode(ctx, m, &kv, prompt, NULL, P);
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

static int bench_decode(const char *spec, int argc, char **argv) {
    int len = 0, B = 1;
    if (sscanf(spec, "%d,%d", &len, &B) < 1 || len < 4 || B < 1) {
        fprintf(stderr,
                "relgrad bench: --decode '%s': expected LEN[,BATCH], LEN >= 4, e.g. "
                "--decode 1024 or --decode 1024,8\n",
                spec);
        return RG_EXIT_BAD_INPUT;
    }
    rg_cli_args a;
    if (rg_cli_parse("bench", argc, argv, RG_OPT_QUIET, &a)) return RG_EXIT_BAD_INPUT;
    if (!a.file) {
        fprintf(stderr, "relgrad bench: --decode: missing CONFIG (e.g. experiments/bench.ini)\n");
        rg_help_usage(stderr, "bench");
        rg_cli_args_free(&a);
        return RG_EXIT_BAD_INPUT;
    }
    rg_config cfg;
    rg_error err;
    rg_model model;
    int bad = load_model(&a, &cfg, &model, &err);
    rg_cli_args_free(&a);
    if (bad) {
        fprintf(stderr, "relgrad bench: %s\n", err.msg);
        return RG_EXIT_BAD_INPUT;
    }
    rg_ctx ctx;
    rg_ctx_init(&ctx, cfg.threads);
    bool was = rg_set_no_grad(&ctx, true);
    rg_rng rng;
    rg_rng_seed(&rng, rg_train_seed(cfg.seed));
    double prefill;
    decode_once(&ctx, &model, B, 16, &rng, &prefill); /* warm-up */
    double secs = decode_once(&ctx, &model, B, len, &rng, &prefill);
    rg_set_no_grad(&ctx, was);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    char pos[256], blas[256];
    printf("config: pos %s d_model %d n_heads %d n_layers %d d_ff %d threads %d (%s)\n",
           rg_pos_list_text(&cfg.model.pos, ',', pos, sizeof pos), cfg.model.d_model,
           cfg.model.n_heads, cfg.model.n_layers, cfg.model.d_ff, cfg.threads, RG_REAL_NAME);
    printf("blas: %s\n", rg_runtime_blas_text(blas, sizeof blas));
    printf("decode: len=%d batch=%d ms=%.3f tokens_per_s=%.1f peak_rss_mb=%.1f prefill_ms=%.3f\n",
           len, B, secs * 1000, (double)B * (len - len / 2) / secs, ru.ru_maxrss / 1024.0,
           prefill * 1000);
    rg_ctx_free(&ctx);
    rg_model_free(&model);
    return RG_EXIT_OK;
}

int rg_cmd_bench(int argc, char **argv) {
    if (argc >= 1 && !strcmp(argv[0], "--decode")) {
        if (argc < 2) {
            fprintf(stderr, "relgrad bench: --decode needs LEN[,BATCH], e.g. --decode 1024\n");
            rg_help_usage(stderr, "bench");
            return RG_EXIT_BAD_INPUT;
        }
        return bench_decode(argv[1], argc - 2, argv + 2);
    }
    rg_cli_args a;
    if (rg_cli_parse("bench", argc, argv, RG_OPT_QUIET, &a)) return RG_EXIT_BAD_INPUT;
    if (!a.file) {
        fprintf(stderr, "relgrad bench: missing CONFIG (e.g. experiments/bench.ini)\n");
        rg_help_usage(stderr, "bench");
        rg_cli_args_free(&a);
        return RG_EXIT_BAD_INPUT;
    }
    rg_config cfg;
    rg_error err;
    rg_model model;
    rg_dist dist;
    if (rg_dist_init(&dist, err.msg, sizeof err.msg)) {
        fprintf(stderr, "relgrad bench: %s\n", err.msg);
        rg_cli_args_free(&a);
        return RG_EXIT_ERROR;
    }
    int bad = load_model(&a, &cfg, &model, &err);
    rg_cli_args_free(&a);
    if (bad) {
        fprintf(stderr, "relgrad bench: %s\n", err.msg);
        return rg_dist_finish(&dist, RG_EXIT_BAD_INPUT);
    }
    if (dist.size > cfg.batch_size) {
        fprintf(stderr, "relgrad bench: batch_size = %d cannot be split over %d ranks\n",
                cfg.batch_size, dist.size);
        return rg_dist_finish(&dist, RG_EXIT_BAD_INPUT);
    }
    cfg.threads = rg_dist_threads(&dist, cfg.threads);
    if (!cfg.quiet && dist.rank == 0) rg_cli_show_config(stderr, "bench", &cfg, 0);
    rg_adamw adam;
    rg_adamw_init(&adam, &model, cfg.weight_decay);
    adam.threads = cfg.threads;
    rg_ctx ctx;
    rg_ctx_init(&ctx, cfg.threads);
    rg_rng rng;
    rg_rng_seed(&rng, rg_train_seed(cfg.seed));
    rg_batch batch;
    rg_batch_init(&batch);
    double t_start = 0;
    long mallocs_before = 0;
    for (int s = 0; s < BENCH_WARMUP + cfg.steps; s++) {
        if (s == BENCH_WARMUP) t_start = now_seconds(), mallocs_before = ctx.arena.n_mallocs;
        rg_batch_make(&batch, cfg.task, cfg.model.n_symbols, cfg.batch_size, cfg.train_len,
                      cfg.train_len, &rng);
        if (cfg.random_positions > 0) rg_batch_random_positions(&batch, cfg.random_positions, &rng);
        rg_step st = {.lr = cfg.lr, .grad_clip = cfg.grad_clip, .dist = &dist, .step = s + 1};
        if (rg_train_step(&ctx, &model, &adam, &batch, &st, &err)) {
            fprintf(stderr, "relgrad bench: %s\n", err.msg);
            bad = RG_EXIT_DIVERGED;
            break;
        }
    }
    double secs = now_seconds() - t_start;
    if (bad) goto done;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double ms = secs * 1000 / cfg.steps, tok = (double)batch.B * batch.T * cfg.steps / secs;
    char pos[256];
    if (dist.rank > 0) goto done;
    if (dist.size > 1)
        printf("data-parallel: %d ranks, %d thread(s) each\n", dist.size, cfg.threads);
    printf("config: pos %s d_model %d n_heads %d n_layers %d d_ff %d batch %d seq %d threads %d "
           "(%s)\n",
           rg_pos_list_text(&cfg.model.pos, ',', pos, sizeof pos), cfg.model.d_model,
           cfg.model.n_heads, cfg.model.n_layers, cfg.model.d_ff, batch.B, batch.T, cfg.threads,
           RG_REAL_NAME);
    char blas[256];
    printf("blas: %s\n", rg_runtime_blas_text(blas, sizeof blas));
    printf("arena: %.1f MB per step, %ld block allocations during timed steps\n",
           ctx.arena.high_water / 1e6, ctx.arena.n_mallocs - mallocs_before);
    printf("bench: ms_per_step=%.3f tokens_per_s=%.0f peak_rss_mb=%.1f\n", ms, tok,
           ru.ru_maxrss / 1024.0);
done:
    rg_batch_free(&batch);
    rg_ctx_free(&ctx);
    rg_adamw_free(&adam);
    rg_model_free(&model);
    return rg_dist_finish(&dist, bad ? bad : RG_EXIT_OK);
}
