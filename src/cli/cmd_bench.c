/* cmd_bench.c: `relgrad bench CONFIG [key=value ...]`: full training steps
 * (forward, backward, AdamW) on batches whose examples all have exactly
 * train_len symbols, timed after warm-up. `steps` is the number of timed
 * steps. Ends with the line SPEC section 5 fixes:
 *   bench: ms_per_step=X tokens_per_s=Y peak_rss_mb=Z */
#include "cli.h"
#include "relgrad/runtime.h"
#include "relgrad/train.h"

#include <stdio.h>
#include <sys/resource.h>
#include <time.h>

enum { BENCH_WARMUP = 3 };

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int rg_cmd_bench(int argc, char **argv) {
    if (argc < 1) {
        fprintf(stderr, "usage: relgrad bench CONFIG [key=value ...]   (steps = timed steps)\n");
        return RG_EXIT_BAD_INPUT;
    }
    rg_config cfg;
    rg_error err;
    rg_model model;
    if (rg_config_from_args(&cfg, argv[0], argc - 1, argv + 1, &err) ||
        rg_model_init(&model, &cfg.model, (uint64_t)cfg.seed, &err)) {
        fprintf(stderr, "relgrad bench: %s\n", err.msg);
        return RG_EXIT_BAD_INPUT;
    }
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
        rg_ctx_reset(&ctx);
        rg_tensor *logits =
            rg_model_forward_seq(&ctx, &model, batch.tokens, batch.pos, batch.B, batch.T);
        rg_tensor *loss = rg_model_loss(&ctx, logits, batch.targets, batch.mask);
        rg_model_zero_grad(&model);
        rg_backward(&ctx, loss);
        rg_clip_grad_norm(&model, cfg.grad_clip);
        rg_adamw_step(&adam, &model, cfg.lr);
    }
    double secs = now_seconds() - t_start;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double ms = secs * 1000 / cfg.steps, tok = (double)batch.B * batch.T * cfg.steps / secs;
    char pos[256];
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
    rg_batch_free(&batch);
    rg_ctx_free(&ctx);
    rg_adamw_free(&adam);
    rg_model_free(&model);
    return RG_EXIT_OK;
}
