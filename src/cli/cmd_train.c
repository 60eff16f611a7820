/* cmd_train.c: `relgrad train CONFIG [key=value ...]` and
 * `relgrad eval CHECKPOINT [key=value ...]`. */
#include "cli.h"
#include "relgrad/train.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The accuracy table printed at the end of train and by eval. */
void rg_print_eval(FILE *f, const rg_config *cfg, const rg_eval_result *res) {
    char pos[256];
    rg_pos_list_text(&cfg->model.pos, ',', pos, sizeof pos);
    fprintf(f, "%-10s %-10s %8s %12s %10s\n", "task", "pos", "length", "exact_match", "token_acc");
    for (int k = 0; k < res->n; k++)
        fprintf(f, "%-10s %-10s %8d %12.3f %10.3f%s\n", rg_task_name(cfg->task), pos, res->len[k],
                res->exact_match[k], res->token_acc[k],
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
    /* under mpirun: data-parallel over the ranks, `threads` shared by the
     * ranks of each machine (include/relgrad/dist.h) */
    rg_dist dist;
    if (rg_dist_init(&dist, err.msg, sizeof err.msg)) {
        fprintf(stderr, "relgrad train: %s\n", err.msg);
        return RG_EXIT_ERROR;
    }
    cfg.threads = rg_dist_threads(&dist, cfg.threads);
    if (dist.size > 1 && dist.rank == 0)
        printf("data-parallel over %d ranks (%d on %s), %d thread(s) each; batch %d split into "
               "rows of about %d\n",
               dist.size, dist.local_size, dist.host, cfg.threads, cfg.batch_size,
               cfg.batch_size / dist.size);
    rg_install_stop_handlers();
    rg_run_summary sum;
    char label[300], pos[256];
    snprintf(label, sizeof label, "%s %s seed %d", rg_task_name(cfg.task),
             rg_pos_list_text(&cfg.model.pos, ',', pos, sizeof pos), cfg.seed);
    rg_train_options opt = {.label = label, .dist = &dist, .lines = dist.mpi};
    int rc = rg_train(&cfg, &opt, &sum, &err);
    if (rc == 0 && dist.rank == 0) {
        rg_print_eval(stdout, &cfg, &sum.eval);
        printf("trained %d steps in %.1f s; checkpoint, train_log.csv and results.h5 in %s/\n",
               sum.steps_done, sum.wall_seconds, cfg.out_dir);
    }
    rg_run_summary_free(&sum);
    if (rc && dist.rank > 0 && rc != RG_EXIT_ERROR)
        return rg_dist_finish(&dist, rc); /* every rank knows; rank 0 says why */
    return rg_dist_finish(&dist, rg_report_status("train", rc, &err));
}

/* eval may change only what evaluation reads (keys flagged RG_KEY_EVAL). */
static bool eval_key(const char *kv) {
    int n = rg_config_key_count();
    for (int k = 0; k < n; k++) {
        const rg_key_info *key = rg_config_key(k);
        size_t len = strlen(key->name);
        if ((key->flags & RG_KEY_EVAL) && !strncmp(kv, key->name, len) && kv[len] == '=')
            return true;
    }
    return false;
}

/* "eval_lens, eval_n, threads, ..." (and the schemes' evaluation keys) */
static const char *eval_keys_text(char *buf, size_t n) {
    size_t used = 0;
    buf[0] = '\0';
    for (int k = 0; k < rg_config_key_count() && used < n; k++) {
        const rg_key_info *key = rg_config_key(k);
        if (key->flags & RG_KEY_EVAL)
            used += (size_t)snprintf(buf + used, n - used, "%s%s", used ? ", " : "", key->name);
    }
    return buf;
}

int rg_cmd_eval(int argc, char **argv) {
    char keys[256];
    eval_keys_text(keys, sizeof keys);
    if (argc < 1) {
        fprintf(stderr, "usage: relgrad eval CHECKPOINT [key=value ...]   (keys: %s)\n", keys);
        return RG_EXIT_BAD_INPUT;
    }
    const char *path = argv[0];
    for (int i = 1; i < argc; i++)
        if (!eval_key(argv[i])) {
            fprintf(stderr,
                    "relgrad eval: argument %d: '%s': eval may change only %s (the rest is "
                    "fixed by the checkpoint)\n",
                    i + 2, argv[i], keys);
            return RG_EXIT_BAD_INPUT;
        }
    /* the model is built from the checkpoint's config; evaluation reads the
     * same config with the overrides (its scheme options go to decoding) */
    rg_config *saved = rg_xmalloc(sizeof *saved, "a config"),
              *cfg = rg_xmalloc(sizeof *cfg, "a config");
    rg_error err;
    rg_model model;
    memset(&model, 0, sizeof model);
    rg_config_defaults(saved);
    int rc = rg_checkpoint_read_config(path, saved, &err);
    if (!rc) {
        *cfg = *saved;
        rc = rg_config_override(cfg, argc - 1, argv + 1, 3, &err);
    }
    if (!rc) rc = rg_config_validate(cfg, path, &err);
    if (!rc) rc = rg_model_init(&model, &saved->model, 0, &err);
    if (!rc) rc = rg_checkpoint_load(path, &model, NULL, NULL, &err);
    if (rc) {
        fprintf(stderr, "relgrad eval: %s\n", err.msg);
    } else {
        rg_ctx ctx;
        rg_ctx_init(&ctx, cfg->threads);
        rg_eval_result res;
        rg_evaluate(&ctx, &model, cfg, &res);
        rg_print_eval(stdout, cfg, &res);
        rg_eval_result_free(&res);
        rg_ctx_free(&ctx);
    }
    rg_model_free(&model);
    free(saved), free(cfg);
    return rc ? RG_EXIT_BAD_INPUT : RG_EXIT_OK;
}
