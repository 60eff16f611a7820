/* cmd_train.c: `relgrad train CONFIG [key=value ...]`, `relgrad train
 * --from RESULTS TASK/POS/SEED [key=value ...]` (a recorded run trained
 * again from its recorded config, then compared with the record) and
 * `relgrad eval CHECKPOINT [key=value ...]`. Results (the accuracy table,
 * the comparison) go to stdout; the configuration, progress, notes and
 * errors to stderr. */
#include "args.h"
#include "cli.h"
#include "help.h"
#include "relgrad/train.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The accuracy table printed at the end of train and by eval. */
void rg_print_eval(FILE *f, const rg_config *cfg, const rg_eval_result *res) {
    char pos[256];
    rg_scheme_list_text(&cfg->model.schemes, ',', pos, sizeof pos);
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

/* Validation, then the grid keys train would ignore. 0 or 2 with err. */
static int check(const rg_config *cfg, const char *file, rg_error *err) {
    if (rg_config_validate(cfg, file, err)) return 2;
    return rg_cli_refuse_grid_keys("train", file, cfg, err);
}

/* --dry-run: the configuration and the plan on stdout, nothing written. */
static int dry_run(const rg_config *cfg, const char *file) {
    rg_error err;
    rg_cli_show_config(stdout, "train", cfg, 0);
    int rc = check(cfg, file, &err);
    if (!rc) rc = rg_cli_plan_train(stdout, cfg, &err);
    fflush(stdout);
    if (rc) fprintf(stderr, "relgrad train: %s\n", err.msg);
    fprintf(stderr, "relgrad train: dry run: nothing was written\n");
    return rc ? RG_EXIT_BAD_INPUT : rg_cli_stdout_status("train", RG_EXIT_OK);
}

/* --from RESULTS TASK/POS/SEED: the recorded run (into rec) and its config,
 * with out_dir = RESULTS's directory/rerun/TASK-POS-SEED unless an argument
 * sets it, then the key=value arguments. 0 or 2 with err. */
static int load_recorded(const rg_cli_args *a, rg_config *cfg, rg_run_data *rec, rg_error *err) {
    const char *run = a->file, *first = strchr(run, '/'), *last = strrchr(run, '/');
    char task[64] = "", pos[256] = "", *end;
    long seed = last ? strtol(last + 1, &end, 10) : -1;
    if (!first || first == last || first - run >= (long)sizeof task || last - first - 1 < 1 ||
        last - first - 1 >= (long)sizeof pos || !last[1] || *end || seed < 0 || seed > INT_MAX) {
        snprintf(err->msg, sizeof err->msg,
                 "'%.200s' is not a run: write TASK/POS/SEED as `relgrad results list %.200s` "
                 "shows it (e.g. copy/none/1)",
                 run, a->from);
        return 2;
    }
    snprintf(task, sizeof task, "%.*s", (int)(first - run), run);
    snprintf(pos, sizeof pos, "%.*s", (int)(last - first - 1), first + 1);
    if (rg_results_read_run(a->from, task, pos, (int)seed, rec, err)) return 2;
    *cfg = rec->cfg;
    char dir[RG_PATH_MAX + 600], where[RG_PATH_MAX + 40];
    const char *slash = strrchr(a->from, '/');
    rg_scheme_list_text(&cfg->model.schemes, '+', pos, sizeof pos);
    snprintf(dir, sizeof dir, "%.*s%srerun/%s-%s-%ld", slash ? (int)(slash - a->from) : 0, a->from,
             slash ? "/" : "", task, pos, seed);
    snprintf(where, sizeof where, "--from %.*s", RG_PATH_MAX, a->from);
    if (rg_config_set(cfg, "out_dir", dir, where, err)) return 2;
    return rg_cli_apply(a, cfg, err);
}

/* After a rerun: the same losses and accuracies as the record, or the first
 * difference (on stdout, after the accuracy table). */
static void compare_with_record(const rg_cli_args *a, const rg_run_data *rec, const rg_config *cfg,
                                const rg_run_summary *sum) {
    rg_run_data now = {.cfg = *cfg,
                       .train_loss = sum->train_loss,
                       .n_steps = sum->steps_done,
                       .eval_len = sum->eval.len,
                       .exact_match = sum->eval.exact_match,
                       .token_acc = sum->eval.token_acc,
                       .n_eval = sum->eval.n};
    char why[1024];
    rg_run_data_difference(rec, &now, "the record", "this run", why, sizeof why);
    if (why[0])
        printf("rerun of %s from %s: differs from the record: %s\n", a->file, a->from, why);
    else
        printf("rerun of %s from %s: the same as the record: %d losses, exact match and token "
               "accuracy at %d lengths\n",
               a->file, a->from, now.n_steps, now.n_eval);
}

int rg_cmd_train(int argc, char **argv) {
    rg_cli_args a;
    if (rg_cli_parse("train", argc, argv, RG_OPT_DRY_RUN | RG_OPT_QUIET | RG_OPT_FROM, &a))
        return RG_EXIT_BAD_INPUT;
    if (!a.file) {
        fprintf(stderr,
                a.from ? "relgrad train: missing the run after --from %s (TASK/POS/SEED, "
                         "e.g. copy/none/1)\n"
                       : "relgrad train: missing CONFIG (an INI file, e.g. "
                         "experiments/single.ini)%s\n",
                a.from ? a.from : "");
        rg_help_usage(stderr, "train");
        rg_cli_args_free(&a);
        return RG_EXIT_BAD_INPUT;
    }
    rg_config *cfg = rg_xmalloc(sizeof *cfg, "a config");
    rg_run_data *rec = rg_xcalloc(1, sizeof *rec, "a recorded run");
    rg_error err;
    int rc = a.from ? load_recorded(&a, cfg, rec, &err) : rg_cli_load(&a, cfg, &err);
    if (rc) {
        fprintf(stderr, "relgrad train: %s\n", err.msg);
    } else if (a.dry_run) {
        rc = dry_run(cfg, a.from ? a.from : a.file);
    } else if ((rc = check(cfg, a.from ? a.from : a.file, &err))) {
        fprintf(stderr, "relgrad train: %s\n", err.msg);
    } else {
        /* under mpirun: data-parallel over the ranks, `threads` shared by the
         * ranks of each machine (include/relgrad/dist.h) */
        rg_dist dist;
        if (rg_dist_init(&dist, err.msg, sizeof err.msg)) {
            fprintf(stderr, "relgrad train: %s\n", err.msg);
            free(cfg);
            rg_cli_args_free(&a);
            return RG_EXIT_ERROR;
        }
        cfg->threads = rg_dist_threads(&dist, cfg->threads);
        rg_install_stop_handlers(); /* before any output: it may go to a closed pipe */
        bool root = dist.rank == 0;
        if (!cfg->quiet && root) rg_cli_show_config(stderr, "train", cfg, 0);
        if (dist.size > 1 && root && !cfg->quiet)
            fprintf(stderr,
                    "data-parallel over %d ranks (%d on %s), %d thread(s) each; batch %d split "
                    "into rows of about %d\n",
                    dist.size, dist.local_size, dist.host, cfg->threads, cfg->batch_size,
                    cfg->batch_size / dist.size);
        rg_run_summary sum;
        char label[300], pos[256];
        snprintf(label, sizeof label, "%s %s seed %d", rg_task_name(cfg->task),
                 rg_scheme_list_text(&cfg->model.schemes, ',', pos, sizeof pos), cfg->seed);
        rg_train_options opt = {.label = label, .dist = &dist, .lines = dist.mpi};
        rc = rg_train(cfg, &opt, &sum, &err);
        if (rc == 0 && root) {
            rg_print_eval(stdout, cfg, &sum.eval);
            if (a.from) compare_with_record(&a, rec, cfg, &sum);
            rc = rg_cli_stdout_status("train", rc);
            const char *d = cfg->out_dir;
            if (sum.first_step == cfg->steps)
                fprintf(stderr,
                        "relgrad train: wrote %s/results.h5 (the run was complete: evaluated "
                        "only; %d steps, %.1f s)\n",
                        d, sum.steps_done, sum.wall_seconds);
            else
                fprintf(stderr,
                        "relgrad train: wrote %s/checkpoint.h5, %s/train_log.csv, "
                        "%s/results.h5 (%d steps, %.1f s)\n",
                        d, d, d, sum.steps_done, sum.wall_seconds);
        } else if (rc && (root || rc == RG_EXIT_ERROR)) {
            rc = rg_report_status("train", rc, &err); /* every rank knows; rank 0 says why */
        }
        rg_run_summary_free(&sum);
        rc = rg_dist_finish(&dist, rc);
    }
    rg_run_data_free(rec);
    free(rec), free(cfg);
    rg_cli_args_free(&a);
    return rc;
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
    rg_cli_args a;
    if (rg_cli_parse("eval", argc, argv, RG_OPT_QUIET, &a)) return RG_EXIT_BAD_INPUT;
    if (!a.file) {
        fprintf(stderr, "relgrad eval: missing CHECKPOINT (keys it may change: %s)\n", keys);
        rg_help_usage(stderr, "eval");
        rg_cli_args_free(&a);
        return RG_EXIT_BAD_INPUT;
    }
    const char *path = a.file;
    for (int i = 0; i < a.n_over; i++)
        if (!eval_key(a.over[i])) {
            fprintf(stderr,
                    "relgrad eval: argument %d: '%s': eval may change only %s (the rest is "
                    "fixed by the checkpoint)\n",
                    a.over_arg[i], a.over[i], keys);
            rg_cli_args_free(&a);
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
        rc = rg_cli_apply(&a, cfg, &err);
    }
    if (!rc) rc = rg_config_validate(cfg, path, &err);
    if (!rc) rc = rg_model_init(&model, &saved->model, 0, &err);
    if (!rc) rc = rg_checkpoint_load(path, &model, NULL, NULL, &err);
    if (rc) {
        fprintf(stderr, "relgrad eval: %s\n", err.msg);
    } else {
        if (!cfg->quiet) rg_cli_show_config(stderr, "eval", cfg, 0);
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
    rg_cli_args_free(&a);
    return rc ? RG_EXIT_BAD_INPUT : RG_EXIT_OK;
}
