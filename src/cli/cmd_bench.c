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
 *
 * `relgrad bench --eval LEN[,BATCH] CONFIG [key=value ...]`: an encoder's
 * evaluation at length LEN (arch = encoder): the one pass `relgrad eval`
 * makes (forward under no-grad, argmax of every slot) over the first BATCH
 * examples (default 1) of the evaluation set at LEN symbols, model at its
 * initial weights; timed after one untimed pass, at least 3 times and until
 * 1 s has gone by; ends with
 *   eval: len=N batch=B ms=X tokens_per_s=Y peak_rss_mb=Z seq=T runs=R
 * with X the median pass, T the tokens of a row and Y = B * T / X.
 * tools/bench_torch.py --eval times a PyTorch encoder the same way.
 * The timing is the experiment layer's (rg_bench_train, rg_bench_decode,
 * rg_bench_eval); this file reads the command line, loads the model and
 * prints. */
#include "args.h"
#include "cli.h"
#include "help.h"
#include "relgrad/experiment.h"
#include "relgrad/runtime.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The configuration of the command line, checked, and its model. 0, or
 * nonzero with err (bench reads one run, so the grid keys are refused).
 * eval_len (--eval's LEN) > 0 is the one evaluation length and eval_batch
 * its batch, so the checks of what evaluation reads (learned positions, the
 * activations of a batch) see those and not the training batch_size, which
 * --eval does not use. */
static int load_model(rg_cli_args *a, int eval_len, int eval_batch, rg_config *cfg, rg_model *model,
                      rg_error *err) {
    char len[32], rows[32];
    snprintf(len, sizeof len, "%d", eval_len);
    snprintf(rows, sizeof rows, "%d", eval_batch);
    return rg_cli_load(a, cfg, err) ||
           (eval_len > 0 && (rg_config_set(cfg, "eval_lens", len, "argument 3 (--eval)", err) ||
                             rg_config_set(cfg, "batch_size", rows, "argument 3 (--eval)", err))) ||
           rg_config_validate(cfg, a->file, err) ||
           rg_cli_refuse_grid_keys("bench", a->file, cfg, err) ||
           rg_model_init(model, &cfg->model, (uint64_t)cfg->seed, err);
}

/* "LEN[,BATCH]" (argument 3, after --decode or --eval) into *len and *B
 * (default 1): 0, or 2 after saying what is wrong. */
static int parse_len_batch(const char *opt, const char *spec, int min_len, int *len, int *B) {
    char *end;
    long l = strtol(spec, &end, 10), b = 1;
    bool ok = end != spec && l >= min_len && l <= 1 << 20;
    if (ok && *end == ',') {
        const char *at = end + 1;
        b = strtol(at, &end, 10);
        ok = end != at && b >= 1 && b <= 1 << 16;
    }
    if (!ok || *end) {
        fprintf(stderr,
                "relgrad bench: argument 3: %s '%s': expected LEN[,BATCH] with %d <= LEN <= "
                "1048576 and 1 <= BATCH <= 65536, e.g. %s 1024 or %s 1024,8\n",
                opt, spec, min_len, opt, opt);
        return RG_EXIT_BAD_INPUT;
    }
    *len = (int)l, *B = (int)b;
    return 0;
}

/* bench --decode or --eval: the command line after LEN[,BATCH], the model
 * (eval_len, eval_batch: as for load_model). 0, or 2 after saying what is
 * wrong. */
static int load_for(const char *opt, int eval_len, int eval_batch, int argc, char **argv,
                    rg_config *cfg, rg_model *model) {
    rg_cli_args a;
    if (rg_cli_parse("bench", argc, argv, RG_OPT_QUIET, &a)) return RG_EXIT_BAD_INPUT;
    if (!a.file) {
        fprintf(stderr, "relgrad bench: %s: missing CONFIG (e.g. experiments/bench.ini)\n", opt);
        rg_help_usage(stderr, "bench");
        rg_cli_args_free(&a);
        return RG_EXIT_BAD_INPUT;
    }
    rg_error err;
    int bad = load_model(&a, eval_len, eval_batch, cfg, model, &err);
    rg_cli_args_free(&a);
    if (bad) {
        fprintf(stderr, "relgrad bench: %s\n", err.msg);
        return RG_EXIT_BAD_INPUT;
    }
    return 0;
}

/* The `config:` line of --decode and --eval. */
static void print_model_line(const rg_config *cfg, const rg_model *model) {
    char pos[256], blas[256];
    printf("config: pos %s arch %s d_model %d n_heads %d n_layers %d d_ff %d params %ld threads %d "
           "(%s)\n",
           rg_scheme_list_text(&cfg->model.schemes, ',', pos, sizeof pos),
           cfg->model.arch == RG_ARCH_ENCODER ? "encoder" : "decoder", cfg->model.d_model,
           cfg->model.n_heads, cfg->model.n_layers, cfg->model.d_ff, model->n_values, cfg->threads,
           RG_REAL_NAME);
    printf("blas: %s\n", rg_runtime_blas_text(blas, sizeof blas));
}

static int bench_decode(const char *spec, int argc, char **argv) {
    int len, B;
    if (parse_len_batch("--decode", spec, 4, &len, &B)) return RG_EXIT_BAD_INPUT;
    rg_config cfg;
    rg_model model;
    if (load_for("--decode", 0, 0, argc, argv, &cfg, &model)) return RG_EXIT_BAD_INPUT;
    if (cfg.model.arch == RG_ARCH_ENCODER) {
        fprintf(stderr, "relgrad bench: --decode: arch = encoder does not decode (it answers "
                        "every slot in one pass); time its evaluation with --eval LEN\n");
        rg_model_free(&model);
        return RG_EXIT_BAD_INPUT;
    }
    rg_bench_decode_result r;
    rg_bench_decode(&cfg, &model, len, B, &r);
    print_model_line(&cfg, &model);
    printf("decode: len=%d batch=%d ms=%.3f tokens_per_s=%.1f peak_rss_mb=%.1f prefill_ms=%.3f\n",
           len, B, r.ms, r.tokens_per_s, r.peak_rss_mb, r.prefill_ms);
    rg_model_free(&model);
    return RG_EXIT_OK;
}

static int bench_eval(const char *spec, int argc, char **argv) {
    int len, B;
    if (parse_len_batch("--eval", spec, 1, &len, &B)) return RG_EXIT_BAD_INPUT;
    rg_config cfg;
    rg_model model;
    if (load_for("--eval", len, B, argc, argv, &cfg, &model)) return RG_EXIT_BAD_INPUT;
    rg_bench_eval_result r;
    rg_error err;
    if (rg_bench_eval(&cfg, &model, len, B, &r, &err)) {
        fprintf(stderr, "relgrad bench: --eval: %s\n", err.msg);
        rg_model_free(&model);
        return RG_EXIT_BAD_INPUT;
    }
    print_model_line(&cfg, &model);
    printf("eval: len=%d batch=%d ms=%.3f tokens_per_s=%.1f peak_rss_mb=%.1f seq=%d runs=%d\n", len,
           B, r.ms, r.tokens_per_s, r.peak_rss_mb, r.T, r.runs);
    rg_model_free(&model);
    return RG_EXIT_OK;
}

int rg_cmd_bench(int argc, char **argv) {
    if (argc >= 1 && (!strcmp(argv[0], "--decode") || !strcmp(argv[0], "--eval"))) {
        if (argc < 2) {
            fprintf(stderr, "relgrad bench: %s needs LEN[,BATCH], e.g. %s 1024\n", argv[0],
                    argv[0]);
            rg_help_usage(stderr, "bench");
            return RG_EXIT_BAD_INPUT;
        }
        return (!strcmp(argv[0], "--decode") ? bench_decode : bench_eval)(argv[1], argc - 2,
                                                                          argv + 2);
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
    int bad = load_model(&a, 0, 0, &cfg, &model, &err);
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
    printf("config: pos %s arch %s d_model %d n_heads %d n_layers %d d_ff %d batch %d seq %d "
           "params %ld threads %d (%s)\n",
           rg_scheme_list_text(&cfg.model.schemes, ',', pos, sizeof pos),
           cfg.model.arch == RG_ARCH_ENCODER ? "encoder" : "decoder", cfg.model.d_model,
           cfg.model.n_heads, cfg.model.n_layers, cfg.model.d_ff, r.B, r.T, model.n_values,
           cfg.threads, RG_REAL_NAME);
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
