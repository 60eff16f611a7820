/* cmd_train.c: `relgrad train CONFIG [key=value ...]` and
 * `relgrad eval CHECKPOINT [key=value ...]`. */
#include "cli.h"
#include "relgrad/train.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The accuracy table printed at the end of train and by eval. */
void rg_print_eval(FILE *f, const rg_config *cfg, const rg_eval_result *res) {
    fprintf(f, "%-8s %-10s %8s %12s %10s\n", "task", "pos", "length", "exact_match", "token_acc");
    for (int k = 0; k < res->n; k++)
        fprintf(f, "%-8s %-10s %8d %12.3f %10.3f%s\n", rg_task_name(cfg->task),
                rg_pos_name(cfg->pos), res->len[k], res->exact_match[k], res->token_acc[k],
                res->len[k] == cfg->train_len ? "   (training length)" : "");
}

/* Map rg_train's status to an exit code, printing its message. */
int rg_report_status(const char *cmd, int rc, const rg_error *err) {
    if (rc == 0) return RG_EXIT_OK;
    fprintf(stderr, "relgrad %s: %s%s\n", cmd, rc == 3 ? "training diverged: " : "", err->msg);
    return rc;
}

int rg_cmd_train(int argc, char **argv) {
    if (argc < 1) {
        fprintf(stderr, "usage: relgrad train CONFIG [key=value ...]\n");
        return RG_EXIT_BAD_INPUT;
    }
    rg_config cfg;
    rg_error err;
    if (rg_config_from_args(&cfg, argv[0], argc - 1, argv + 1, &err)) {
        fprintf(stderr, "relgrad train: %s\n", err.msg);
        return RG_EXIT_BAD_INPUT;
    }
    rg_install_stop_handlers();
    rg_run_summary sum;
    char label[128];
    snprintf(label, sizeof label, "%s %s seed %d", rg_task_name(cfg.task), rg_pos_name(cfg.pos),
             cfg.seed);
    rg_train_options opt = {.label = label};
    int rc = rg_train(&cfg, &opt, &sum, &err);
    if (rc == 0) {
        rg_print_eval(stdout, &cfg, &sum.eval);
        printf("trained %d steps in %.1f s; checkpoint, train_log.csv and results.h5 in %s/\n",
               sum.steps_done, sum.wall_seconds, cfg.out_dir);
    }
    rg_run_summary_free(&sum);
    return rg_report_status("train", rc, &err);
}

/* eval may change only what evaluation reads. */
static bool eval_key(const char *kv) {
    static const char *ok[] = {"eval_lens=", "eval_n=", "rope_scale=", "threads=", NULL};
    for (int i = 0; ok[i]; i++)
        if (!strncmp(kv, ok[i], strlen(ok[i]))) return true;
    return false;
}

int rg_cmd_eval(int argc, char **argv) {
    if (argc < 1) {
        fprintf(stderr, "usage: relgrad eval CHECKPOINT [eval_lens=..] [eval_n=..] [rope_scale=..] "
                        "[threads=..]\n");
        return RG_EXIT_BAD_INPUT;
    }
    const char *path = argv[0];
    for (int i = 1; i < argc; i++)
        if (!eval_key(argv[i])) {
            fprintf(stderr,
                    "relgrad eval: argument %d: '%s': eval accepts only eval_lens, eval_n, "
                    "rope_scale and threads (the rest is fixed by the checkpoint)\n",
                    i + 1, argv[i]);
            return RG_EXIT_BAD_INPUT;
        }
    rg_config cfg;
    rg_error err;
    rg_config_defaults(&cfg);
    if (rg_checkpoint_read_config(path, &cfg, &err) ||
        rg_config_override(&cfg, argc - 1, argv + 1, &err) ||
        rg_config_validate(&cfg, path, &err)) {
        fprintf(stderr, "relgrad eval: %s\n", err.msg);
        return RG_EXIT_BAD_INPUT;
    }
    rg_model model;
    if (rg_model_init(&model, &cfg, 0, &err) ||
        rg_checkpoint_load(path, &model, NULL, NULL, &err)) {
        fprintf(stderr, "relgrad eval: %s\n", err.msg);
        rg_model_free(&model);
        return RG_EXIT_BAD_INPUT;
    }
    rg_ctx ctx;
    rg_ctx_init(&ctx, cfg.threads);
    rg_eval_result res;
    rg_evaluate(&ctx, &model, &cfg, &res);
    rg_print_eval(stdout, &cfg, &res);
    rg_ctx_free(&ctx);
    rg_model_free(&model);
    return RG_EXIT_OK;
}
