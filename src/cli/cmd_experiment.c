/* cmd_experiment.c: `relgrad experiment CONFIG [key=value ...]`: trains the
 * grid tasks x positions x seeds, each run in out_dir/runs/<task>-<pos>-<seed>/
 * (so an interrupted experiment resumes where it stopped), and writes
 *   out_dir/results.h5  every run (SPEC section 4)
 *   out_dir/table.md    per task, scheme and evaluation length: the mean
 *                       over seeds with a 95% interval, for exact match and
 *                       for per-token accuracy
 *   out_dir/plot.png    both against length, a panel per task (drawn by
 *                       tools/plot_results.py, started without a shell)
 *   out_dir/report.html all of it on one static page, with attention maps
 *                       and each run's config and loss curve (report.c)
 */
#include "cli.h"
#include "report.h"
#include "relgrad/train.h"

#include <errno.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

int rg_report_status(const char *cmd, int rc, const rg_error *err);

/* One (task, pos) cell of the grid: each seed's accuracy per length. */
typedef struct {
    int n_seeds;
    double *exact, *token; /* [seed][length] */
} cell;

/* Student's t quantile t_{0.975, df}: the half-width of a 95% interval of a
 * mean over n = df + 1 seeds is t * sd / sqrt(n). */
static double t975(int df) {
    static const double T[] = {0,     12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365,
                               2.306, 2.262,  2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
                               2.120, 2.110,  2.101, 2.093, 2.086, 2.080, 2.074, 2.069,
                               2.064, 2.060,  2.056, 2.052, 2.048, 2.045, 2.042};
    return df < (int)(sizeof T / sizeof T[0]) ? T[df] : 1.96;
}

/* "0.953" for one seed; "0.953 ± 0.021" for more (95% interval of the mean). */
static void mean_interval(const double *v, int n, int stride, char *buf, size_t len) {
    double sum = 0, sq = 0;
    for (int i = 0; i < n; i++) sum += v[i * stride];
    double mean = sum / n;
    if (n == 1) {
        snprintf(buf, len, "%.3f", mean);
        return;
    }
    for (int i = 0; i < n; i++) sq += (v[i * stride] - mean) * (v[i * stride] - mean);
    double half = t975(n - 1) * sqrt(sq / (n - 1)) / sqrt((double)n);
    snprintf(buf, len, "%.3f ± %.3f", mean, half);
}

static void write_one_table(FILE *f, const rg_config *cfg, const cell *cells, const int *lens,
                            int n_lens, bool exact) {
    fprintf(f, "## %s\n\n| task | pos |", exact ? "Exact match" : "Token accuracy");
    for (int k = 0; k < n_lens; k++)
        fprintf(f, " %d%s |", lens[k], lens[k] == cfg->train_len ? " (train)" : "");
    fprintf(f, "\n|---|---|");
    for (int k = 0; k < n_lens; k++) fprintf(f, "---|");
    fprintf(f, "\n");
    for (int t = 0; t < cfg->n_tasks; t++)
        for (int p = 0; p < cfg->n_positions; p++) {
            const cell *c = &cells[t * cfg->n_positions + p];
            char pos[256], text[64];
            fprintf(f, "| %s | %s |", rg_task_name(cfg->tasks[t]),
                    rg_pos_list_text(&cfg->positions[p], ',', pos, sizeof pos));
            for (int k = 0; k < n_lens; k++) {
                if (c->n_seeds == 0) {
                    fprintf(f, " - |");
                    continue;
                }
                mean_interval((exact ? c->exact : c->token) + k, c->n_seeds, n_lens, text,
                              sizeof text);
                fprintf(f, " %s |", text);
            }
            fprintf(f, "\n");
        }
    fprintf(f, "\n");
}

static int write_table(const char *path, const rg_config *cfg, const cell *cells, const int *lens,
                       int n_lens, double minutes) {
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fprintf(f, "# Accuracy by evaluation length\n\n");
    fprintf(f,
            "Exact match: greedy decoding, whole answer and EOS right. Token accuracy: "
            "teacher-forced, per answer token. %d examples per length (the same set for every "
            "seed); trained on lengths 1..%d for %d steps; %d seed(s): mean over seeds, ± the "
            "half-width of its 95%% interval (Student's t) when there is more than one. Wall "
            "time %.1f min.\n\n",
            cfg->eval_n, cfg->train_len, cfg->steps, cfg->n_seeds, minutes);
    write_one_table(f, cfg, cells, lens, n_lens, true);
    write_one_table(f, cfg, cells, lens, n_lens, false);
    return fclose(f);
}

/* tools/plot_results.py RESULTS PLOT, through /usr/bin/python3, started
 * with an argument vector (no shell reads the paths). 0, or -1 with why. */
static int draw_plot(const char *results, const char *plot, char *why, size_t n) {
    char script[RG_PATH_MAX + 64];
    snprintf(script, sizeof script, "%s/tools/plot_results.py", RELGRAD_SOURCE_DIR);
    char *args[] = {"/usr/bin/python3", script, (char *)results, (char *)plot, NULL};
    pid_t pid;
    int rc = posix_spawn(&pid, args[0], NULL, NULL, args, environ);
    if (rc) {
        snprintf(why, n, "cannot start %s: %s", args[0], strerror(rc));
        return -1;
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) {
            snprintf(why, n, "waiting for the plot: %s", strerror(errno));
            return -1;
        }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        snprintf(why, n, "%s %s exited with status %d", args[0], script,
                 WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
        return -1;
    }
    return 0;
}

/* The run directory of one grid point. */
static int run_dir(const rg_config *base, const rg_config *c, char *out, rg_error *err) {
    char pos[256], dir[2 * RG_PATH_MAX];
    rg_pos_list_text(&c->model.pos, '+', pos, sizeof pos);
    int len = snprintf(dir, sizeof dir, "%s/runs/%s-%s-%d", base->out_dir, rg_task_name(c->task),
                       pos, c->seed);
    if (len >= RG_PATH_MAX) {
        snprintf(err->msg, sizeof err->msg,
                 "out_dir '%s' is too long for its run directories; use a shorter path",
                 base->out_dir);
        return RG_EXIT_BAD_INPUT;
    }
    memcpy(out, dir, (size_t)len + 1);
    return 0;
}

int rg_cmd_experiment(int argc, char **argv) {
    if (argc < 1) {
        fprintf(stderr, "usage: relgrad experiment CONFIG [key=value ...]\n");
        return RG_EXIT_BAD_INPUT;
    }
    rg_config *base = rg_xmalloc(sizeof *base, "a config"), *c = rg_xmalloc(sizeof *c, "a config");
    rg_error err;
    if (rg_config_from_args(base, argv[0], argc - 1, argv + 1, &err)) {
        fprintf(stderr, "relgrad experiment: %s\n", err.msg);
        free(base), free(c);
        return RG_EXIT_BAD_INPUT;
    }
    /* Check every run's config before training any. */
    for (int t = 0; t < base->n_tasks; t++)
        for (int p = 0; p < base->n_positions; p++) {
            *c = *base;
            c->task = base->tasks[t], c->model.pos = base->positions[p];
            char where[RG_PATH_MAX + 300], pos[256];
            snprintf(where, sizeof where, "%s (task %s, pos %s)", argv[0], rg_task_name(c->task),
                     rg_pos_list_text(&c->model.pos, ',', pos, sizeof pos));
            if (rg_config_validate(c, where, &err)) {
                fprintf(stderr, "relgrad experiment: %s\n", err.msg);
                free(base), free(c);
                return RG_EXIT_BAD_INPUT;
            }
        }
    rg_install_stop_handlers();
    int n_lens, *lens = rg_config_eval_lens(base, &n_lens);
    int n_cells = base->n_tasks * base->n_positions, n_runs = n_cells * base->n_seeds, run = 0;
    cell *cells = rg_xcalloc((size_t)n_cells, sizeof *cells, "the result grid");
    for (int i = 0; i < n_cells; i++) {
        cells[i].exact = rg_xcalloc((size_t)base->n_seeds * n_lens, sizeof(double), "results");
        cells[i].token = rg_xcalloc((size_t)base->n_seeds * n_lens, sizeof(double), "results");
    }
    char results[RG_PATH_MAX + 32], table[RG_PATH_MAX + 32], plot[RG_PATH_MAX + 32];
    snprintf(results, sizeof results, "%s/results.h5", base->out_dir);
    snprintf(table, sizeof table, "%s/table.md", base->out_dir);
    snprintf(plot, sizeof plot, "%s/plot.png", base->out_dir);
    printf("experiment: %d tasks x %d positions x %d seeds = %d runs of %d steps -> %s/\n",
           base->n_tasks, base->n_positions, base->n_seeds, n_runs, base->steps, base->out_dir);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = 0;
    for (int t = 0; t < base->n_tasks && rc == 0; t++)
        for (int p = 0; p < base->n_positions && rc == 0; p++)
            for (int s = 0; s < base->n_seeds && rc == 0; s++) {
                *c = *base;
                c->task = base->tasks[t], c->model.pos = base->positions[p];
                c->seed = base->seeds[s];
                if ((rc = run_dir(base, c, c->out_dir, &err))) break;
                char label[400], pos[256];
                snprintf(label, sizeof label, "[%d/%d] %s %s seed %d", ++run, n_runs,
                         rg_task_name(c->task),
                         rg_pos_list_text(&c->model.pos, ',', pos, sizeof pos), c->seed);
                rg_train_options opt = {.label = label};
                rg_run_summary sum;
                rc = rg_train(c, &opt, &sum, &err);
                if (rc == 0) {
                    /* the run wrote its own results.h5; gather it into the experiment's */
                    rg_run_result res = {c,
                                         sum.train_loss,
                                         sum.steps_done,
                                         sum.eval.len,
                                         sum.eval.exact_match,
                                         sum.eval.token_acc,
                                         sum.eval.n,
                                         sum.wall_seconds};
                    rc = rg_results_write_run(results, &res, &err);
                    cell *cl = &cells[t * base->n_positions + p];
                    for (int k = 0; k < sum.eval.n && k < n_lens; k++) {
                        cl->exact[cl->n_seeds * n_lens + k] = sum.eval.exact_match[k];
                        cl->token[cl->n_seeds * n_lens + k] = sum.eval.token_acc[k];
                    }
                    cl->n_seeds++;
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
        char why[RG_PATH_MAX + 200];
        if (write_table(table, base, cells, lens, n_lens, minutes)) {
            snprintf(err.msg, sizeof err.msg, "cannot write %s: %s; check out_dir", table,
                     strerror(errno));
            rc = RG_EXIT_ERROR;
        } else if (draw_plot(results, plot, why, sizeof why)) {
            snprintf(err.msg, sizeof err.msg,
                     "plotting failed (%s); results.h5 and table.md are complete; install "
                     "python3-matplotlib python3-h5py (tools/setup.sh)",
                     why);
            rc = RG_EXIT_ERROR;
        } else if (rg_experiment_report(base, &err)) { /* out_dir/report.html */
            rc = RG_EXIT_ERROR;
        }
        printf("experiment done in %.1f min: %s, %s%s%s\n\n", minutes, results, table,
               rc ? "" : ", ", rc ? "" : plot);
        FILE *f = fopen(table, "r"); /* show the table */
        for (int ch; f && (ch = fgetc(f)) != EOF;) putchar(ch);
        if (f) fclose(f);
    }
    for (int i = 0; i < n_cells; i++) free(cells[i].exact), free(cells[i].token);
    free(cells), free(lens), free(base), free(c);
    return rg_report_status("experiment", rc, &err);
}
