/* cmd_experiment.c: `relgrad experiment CONFIG [key=value ...]`: trains the
 * grid tasks x positions x seeds, each run in out_dir/runs/<task>-<pos>-<seed>/
 * (so an interrupted experiment resumes where it stopped), and writes
 *   out_dir/results.h5  every run (SPEC section 4)
 *   out_dir/table.md    exact match by task, scheme and evaluation length
 *   out_dir/plot.png    exact match against length, a panel per task
 *                       (drawn by tools/plot_results.py with /usr/bin/python3) */
#include "cli.h"
#include "relgrad/train.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int rg_report_status(const char *cmd, int rc, const rg_error *err);

/* Mean exact match over seeds, per (task, pos, length). */
typedef struct {
    double sum[RG_MAX_LIST];
    double min[RG_MAX_LIST], max[RG_MAX_LIST];
    int n;
} cell;

static int write_table(const char *path, const rg_config *cfg, cell *cells, double minutes) {
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fprintf(f, "# Exact match by evaluation length\n\n");
    fprintf(f,
            "Greedy decoding, whole answer and EOS right; %d examples per length; trained on "
            "lengths 1..%d for %d steps; %d seed(s); mean over seeds (min-max when more than one). "
            "Wall time %.1f min.\n\n",
            cfg->eval_n, cfg->train_len, cfg->steps, cfg->n_seeds, minutes);
    fprintf(f, "| task | pos |");
    for (int k = 0; k < cfg->n_eval_lens; k++)
        fprintf(f, " %d%s |", cfg->eval_lens[k],
                cfg->eval_lens[k] == cfg->train_len ? " (train)" : "");
    fprintf(f, "\n|---|---|");
    for (int k = 0; k < cfg->n_eval_lens; k++) fprintf(f, "---|");
    fprintf(f, "\n");
    for (int t = 0; t < cfg->n_tasks; t++)
        for (int p = 0; p < cfg->n_positions; p++) {
            cell *c = &cells[t * cfg->n_positions + p];
            fprintf(f, "| %s | %s |", rg_task_name(cfg->tasks[t]), rg_pos_name(cfg->positions[p]));
            for (int k = 0; k < cfg->n_eval_lens; k++) {
                if (c->n == 0)
                    fprintf(f, " - |");
                else if (c->n == 1)
                    fprintf(f, " %.3f |", c->sum[k]);
                else
                    fprintf(f, " %.3f (%.2f-%.2f) |", c->sum[k] / c->n, c->min[k], c->max[k]);
            }
            fprintf(f, "\n");
        }
    return fclose(f);
}

int rg_cmd_experiment(int argc, char **argv) {
    if (argc < 1) {
        fprintf(stderr, "usage: relgrad experiment CONFIG [key=value ...]\n");
        return RG_EXIT_BAD_INPUT;
    }
    rg_config base;
    rg_error err;
    if (rg_config_from_args(&base, argv[0], argc - 1, argv + 1, &err)) {
        fprintf(stderr, "relgrad experiment: %s\n", err.msg);
        return RG_EXIT_BAD_INPUT;
    }
    /* Check every run's config before training any. */
    for (int t = 0; t < base.n_tasks; t++)
        for (int p = 0; p < base.n_positions; p++) {
            rg_config c = base;
            c.task = base.tasks[t], c.pos = base.positions[p];
            char where[64];
            snprintf(where, sizeof where, "%s (task %s, pos %s)", argv[0], rg_task_name(c.task),
                     rg_pos_name(c.pos));
            if (rg_config_validate(&c, where, &err)) {
                fprintf(stderr, "relgrad experiment: %s\n", err.msg);
                return RG_EXIT_BAD_INPUT;
            }
        }
    rg_install_stop_handlers();
    int n_runs = base.n_tasks * base.n_positions * base.n_seeds, run = 0;
    cell *cells = calloc((size_t)base.n_tasks * base.n_positions, sizeof *cells);
    char results[RG_PATH_MAX + 32], table[RG_PATH_MAX + 32], plot[RG_PATH_MAX + 32];
    snprintf(results, sizeof results, "%s/results.h5", base.out_dir);
    snprintf(table, sizeof table, "%s/table.md", base.out_dir);
    snprintf(plot, sizeof plot, "%s/plot.png", base.out_dir);
    printf("experiment: %d tasks x %d positions x %d seeds = %d runs of %d steps -> %s/\n",
           base.n_tasks, base.n_positions, base.n_seeds, n_runs, base.steps, base.out_dir);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = 0;
    for (int t = 0; t < base.n_tasks && rc == 0; t++)
        for (int p = 0; p < base.n_positions && rc == 0; p++)
            for (int s = 0; s < base.n_seeds && rc == 0; s++) {
                rg_config c = base;
                c.task = base.tasks[t], c.pos = base.positions[p], c.seed = base.seeds[s];
                char dir[2 * RG_PATH_MAX];
                int len = snprintf(dir, sizeof dir, "%s/runs/%s-%s-%d", base.out_dir,
                                   rg_task_name(c.task), rg_pos_name(c.pos), c.seed);
                if (len >= (int)sizeof c.out_dir) {
                    snprintf(err.msg, sizeof err.msg,
                             "out_dir '%s' is too long; use a shorter path", base.out_dir);
                    rc = RG_EXIT_BAD_INPUT;
                    break;
                }
                memcpy(c.out_dir, dir, (size_t)len + 1);
                char label[160];
                snprintf(label, sizeof label, "[%d/%d] %s %s seed %d", ++run, n_runs,
                         rg_task_name(c.task), rg_pos_name(c.pos), c.seed);
                rg_train_options opt = {.label = label};
                rg_run_summary sum;
                rc = rg_train(&c, &opt, &sum, &err);
                if (rc == 0) {
                    /* the run wrote its own results.h5; gather it into the experiment's */
                    rg_run_result res = {&c,           sum.train_loss,       sum.steps_done,
                                         sum.eval.len, sum.eval.exact_match, sum.eval.token_acc,
                                         sum.eval.n,   sum.wall_seconds};
                    rc = rg_results_write_run(results, &res, &err);
                    cell *cl = &cells[t * base.n_positions + p];
                    for (int k = 0; k < sum.eval.n; k++) {
                        double e = sum.eval.exact_match[k];
                        cl->sum[k] += e;
                        cl->min[k] = cl->n ? (e < cl->min[k] ? e : cl->min[k]) : e;
                        cl->max[k] = cl->n ? (e > cl->max[k] ? e : cl->max[k]) : e;
                    }
                    cl->n++;
                    printf("%s  exact match:", label);
                    for (int k = 0; k < sum.eval.n; k++)
                        printf(" %d:%.2f", sum.eval.len[k], sum.eval.exact_match[k]);
                    printf("\n");
                    fflush(stdout);
                }
                rg_run_summary_free(&sum);
            }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double minutes = ((t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9) / 60;
    if (rc == 0) {
        if (write_table(table, &base, cells, minutes)) {
            fprintf(stderr, "relgrad experiment: cannot write %s\n", table);
            rc = RG_EXIT_ERROR;
        } else {
            char cmd[4 * RG_PATH_MAX];
            snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s/tools/plot_results.py' '%s' '%s'",
                     RELGRAD_SOURCE_DIR, results, plot);
            if (system(cmd) != 0) {
                fprintf(stderr,
                        "relgrad experiment: plotting failed (%s); results.h5 and table.md "
                        "are complete; install python3-matplotlib python3-h5py (tools/setup.sh)\n",
                        cmd);
                rc = RG_EXIT_ERROR;
            }
            printf("experiment done in %.1f min: %s, %s, %s\n\n", minutes, results, table, plot);
            FILE *f = fopen(table, "r"); /* show the table */
            for (int ch; f && (ch = fgetc(f)) != EOF;) putchar(ch);
            if (f) fclose(f);
        }
    }
    free(cells);
    return rg_report_status("experiment", rc, &err);
}
