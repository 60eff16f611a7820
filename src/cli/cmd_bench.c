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
 * X. tools/bench_torch.py --decode times a PyTorch decoder the same way.
 * The timing is the experiment layer's (rg_bench_train, rg_bench_decode);
 * this file reads the command line, loads the model and prints. */
#include "args.h"
#include "cli.h"
#include "help.h"
#include "relgrad/experiment.h"
#include "relgrad/runtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The configuration of the command line, checked, and its model. 0, or
 * nonzero with err (bench reads one run, so the grid keys are refused). */
static int load_model(rg_cli_args *a, rg_config *cfg, rg_model *model, rg_error *err) {
    return rg_cli_load(a, cfg, err) || rg_config_validate(cfg, a->file, err) ||
           rg_cli_refuse_grid_keys("bench", a->file, cfg, err) ||
           rg_model_init(model, &cfg->model, (uint64_t)cfg->seed, err);
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
    rg_bench_decode_result r;
    rg_bench_decode(&cfg, &model, len, B, &r);
    char pos[256], blas[256];
    printf("config: pos %s d_model %d n_heads %d n_layers %d d_ff %d threads %d (%s)\n",
           rg_scheme_list_text(&cfg.model.schemes, ',', pos, sizeof pos), cfg.model.d_model,
           cfg.model.n_heads, cfg.model.n_layers, cfg.model.d_ff, cfg.threads, RG_REAL_NAME);
    printf("blas: %s\n", rg_runtime_blas_text(blas, sizeof blas));
    printf("decode: len=%d batch=%d ms=%.3f tokens_per_s=%.1f peak_rss_mb=%.1f prefill_ms=%.3f\n",
           len, B, r.ms, r.tokens_per_s, r.peak_rss_mb, r.prefill_ms);
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
    rg_bench_train_result r;
    int rc = rg_bench_train(&cfg, &model, &dist, &r, &err);
    if (rc) fprintf(stderr, "relgrad bench: %s\n", err.msg);
    char pos[256];
    if (rc || dist.rank > 0) goto done;
    if (dist.size > 1)
        printf("data-parallel: %d ranks, %d thread(s) each\n", dist.size, cfg.threads);
    printf("config: pos %s d_model %d n_heads %d n_layers %d d_ff %d batch %d seq %d threads %d "
           "(%s)\n",
           rg_scheme_list_text(&cfg.model.schemes, ',', pos, sizeof pos), cfg.model.d_model,
           cfg.model.n_heads, cfg.model.n_layers, cfg.model.d_ff, r.B, r.T, cfg.threads,
           RG_REAL_NAME);
    char blas[256];
    printf("blas: %s\n", rg_runtime_blas_text(blas, sizeof blas));
    printf("arena: %.1f MB per step, %ld block allocations during timed steps\n", r.arena_mb,
           r.arena_mallocs);
    printf("bench: ms_per_step=%.3f tokens_per_s=%.0f peak_rss_mb=%.1f\n", r.ms_per_step,
           r.tokens_per_s, r.peak_rss_mb);
done:
    rg_model_free(&model);
    return rg_dist_finish(&dist, rc ? RG_EXIT_DIVERGED : RG_EXIT_OK);
}
