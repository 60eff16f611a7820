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
 * The runs are trained by src/cli/grid.c: one after another, `jobs` at once,
 * or spread over the ranks of `mpirun -np N relgrad experiment ...` (rank 0
 * then writes the three files). The process that writes them holds out_dir's
 * lock (out_dir/.lock) throughout; each run's trainer locks its directory.
 */
#include "args.h"
#include "cli.h"
#include "grid.h"
#include "help.h"
#include "report.h"
#include "spawn.h"
#include "relgrad/train.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

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
            char pos[256], text[64], alphabet[16] = "";
            if (cfg->task_symbols[t])
                snprintf(alphabet, sizeof alphabet, ":%d", cfg->task_symbols[t]);
            fprintf(f, "| %s%s | %s |", rg_task_name(cfg->tasks[t]), alphabet,
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

/* minutes: the runs' recorded time (training over all sessions plus the
 * final evaluation), summed. */
static int write_table(const char *path, const rg_config *cfg, const cell *cells, const int *lens,
                       int n_lens, double minutes) {
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fprintf(f, "# Accuracy by evaluation length\n\n");
    fprintf(f,
            "Exact match: greedy decoding, whole answer and EOS right. Token accuracy: "
            "teacher-forced, per answer token. %d examples per length (the same set for every "
            "seed); trained on lengths 1..%d for %d steps; %d seed(s): mean over seeds, ± the "
            "half-width of its 95%% interval (Student's t) when there is more than one. Time "
            "%.1f min (the runs' training and evaluation, summed).\n\n",
            cfg->eval_n, cfg->train_len, cfg->steps, cfg->n_seeds, minutes);
    write_one_table(f, cfg, cells, lens, n_lens, true);
    write_one_table(f, cfg, cells, lens, n_lens, false);
    return fclose(f);
}

/* tools/plot_results.py RESULTS PLOT, through /usr/bin/python3, started
 * with an argument vector (no shell reads the paths). 0, or -1 with why. */
static int draw_plot(const char *results, const char *plot, char *why, size_t n) {
    char script[RG_PATH_MAX + 64];
    char *args[] = {"/usr/bin/python3",
                    (char *)rg_tool_path("plot_results.py", script, sizeof script), (char *)results,
                    (char *)plot, NULL};
    return rg_spawn_wait(args, why, n);
}

/* Rank 0 (or the only process): the experiment's out_dir, and its lock. */
static int take_out_dir(const rg_config *base, rg_dir_lock *lock, rg_error *err) {
    int rc = rg_out_dir_make(base->out_dir, err);
    return rc ? rc : rg_dir_lock_take(lock, base->out_dir, err);
}

/* "4 runs at once (jobs), 1 thread each" and the like, after the header. */
static void print_mode(const rg_config *base, const rg_dist *dist) {
    if (dist->size > 1) {
        fprintf(stderr,
                "experiment: over %d MPI ranks (%d on %s), %d thread(s) each; runs go to the "
                "ranks as they become free\n",
                dist->size, dist->local_size, dist->host, rg_dist_threads(dist, base->threads));
        if (base->jobs > 1)
            fprintf(stderr,
                    "experiment: jobs = %d does not apply under mpirun (each rank is one job)\n",
                    base->jobs);
    } else if (base->jobs > 1) {
        int each = base->threads / base->jobs > 0 ? base->threads / base->jobs : 1;
        fprintf(stderr,
                "experiment: %d runs at once (jobs), each its own process with %d thread(s)\n",
                base->jobs, each);
    }
}

/* The config (every run's checked before training any), or 2. --dry-run:
 * the configuration and the plan on stdout, and 1 when all was well. */
static int setup(int argc, char **argv, rg_config *base, char *file, size_t n) {
    rg_install_stop_handlers(); /* before any output: it may go to a closed pipe */
    rg_cli_args a;
    if (rg_cli_parse("experiment", argc, argv, RG_OPT_DRY_RUN | RG_OPT_QUIET, &a))
        return RG_EXIT_BAD_INPUT;
    rg_error err;
    int rc = 0;
    if (!a.file) {
        fprintf(stderr, "relgrad experiment: missing CONFIG (an INI file, e.g. "
                        "experiments/quick.ini)\n");
        rg_help_usage(stderr, "experiment");
        rc = RG_EXIT_BAD_INPUT;
    } else if (rg_cli_load(&a, base, &err)) {
        fprintf(stderr, "relgrad experiment: %s\n", err.msg);
        rc = RG_EXIT_BAD_INPUT;
    } else if (a.dry_run) {
        rg_cli_show_config(stdout, "experiment", base, RG_SHOW_GRID);
        rc = rg_cli_validate_grid(base, a.file, &err);
        if (!rc) rc = rg_cli_plan_experiment(stdout, base, &err);
        if (rc) fprintf(stderr, "relgrad experiment: %s\n", err.msg);
        fprintf(stderr, "relgrad experiment: dry run: nothing was written\n");
        rc = rc ? RG_EXIT_BAD_INPUT : rg_cli_stdout_status("experiment", RG_EXIT_OK);
        rc = rc ? rc : 1;
    } else if (rg_cli_validate_grid(base, a.file, &err)) {
        fprintf(stderr, "relgrad experiment: %s\n", err.msg);
        rc = RG_EXIT_BAD_INPUT;
    } else if (!base->quiet) {
        rg_cli_show_config(stderr, "experiment", base, RG_SHOW_GRID);
    }
    if (a.file) snprintf(file, n, "%s", a.file);
    rg_cli_args_free(&a);
    return rc;
}

int rg_cmd_experiment(int argc, char **argv) {
    rg_config *base = rg_xmalloc(sizeof *base, "a config");
    char file[RG_PATH_MAX] = "";
    rg_error err;
    int status = setup(argc, argv, base, file, sizeof file);
    if (status) {
        free(base);
        return status == 1 ? RG_EXIT_OK : status;
    }
    rg_grid grid;
    memset(&grid, 0, sizeof grid);
    if (rg_grid_make(&grid, base, file, &err)) {
        fprintf(stderr, "relgrad experiment: %s\n", err.msg);
        rg_grid_free(&grid);
        free(base);
        return RG_EXIT_BAD_INPUT;
    }
    rg_dist dist;
    if (rg_dist_init(&dist, err.msg, sizeof err.msg)) {
        fprintf(stderr, "relgrad experiment: %s\n", err.msg);
        rg_grid_free(&grid);
        free(base);
        return RG_EXIT_ERROR;
    }
    bool root = dist.rank == 0;
    rg_dir_lock lock = {-1};
    int rc = root ? take_out_dir(base, &lock, &err) : 0;
    rc = rg_dist_agree(&dist, rc);
    if (rc) {
        if (root) fprintf(stderr, "relgrad experiment: %s\n", err.msg);
        rg_grid_free(&grid);
        free(base);
        return rg_dist_finish(&dist, rc);
    }
    int n_lens, *lens = rg_config_eval_lens(base, &n_lens);
    int n_cells = base->n_tasks * base->n_positions;
    char table[RG_PATH_MAX + 32], plot[RG_PATH_MAX + 32];
    const char *results = grid.results;
    snprintf(table, sizeof table, "%s/table.md", base->out_dir);
    snprintf(plot, sizeof plot, "%s/plot.png", base->out_dir);
    if (root && !base->quiet) {
        fprintf(stderr,
                "experiment: %d tasks x %d positions x %d seeds = %d runs of %d steps -> %s/\n",
                base->n_tasks, base->n_positions, base->n_seeds, grid.n_runs, base->steps,
                base->out_dir);
        print_mode(base, &dist);
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    rc = rg_grid_train(&grid, base, &dist, &err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double minutes = ((t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9) / 60;
    if (rc == 0 && root) {
        /* every run is done: each cell's seeds in seed order */
        cell *cells = rg_xcalloc((size_t)n_cells, sizeof *cells, "the result grid");
        for (int i = 0; i < n_cells; i++) {
            cells[i].exact = rg_xcalloc((size_t)base->n_seeds * n_lens, sizeof(double), "results");
            cells[i].token = rg_xcalloc((size_t)base->n_seeds * n_lens, sizeof(double), "results");
            cells[i].n_seeds = base->n_seeds;
        }
        double run_seconds = 0; /* the runs' recorded times, summed */
        for (int i = 0; i < grid.n_runs; i++) {
            const rg_grid_run *run = &grid.runs[i];
            cell *cl = &cells[run->cell];
            run_seconds += run->result.wall_seconds;
            for (int k = 0; k < run->result.n_eval && k < n_lens; k++) {
                cl->exact[run->seed * n_lens + k] = run->result.exact_match[k];
                cl->token[run->seed * n_lens + k] = run->result.token_acc[k];
            }
        }
        char why[RG_PATH_MAX + 200];
        if (write_table(table, base, cells, lens, n_lens, run_seconds / 60)) {
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
        FILE *f = fopen(table, "r"); /* show the table */
        for (int ch; f && (ch = fgetc(f)) != EOF;) putchar(ch);
        if (f) fclose(f);
        for (int i = 0; i < n_cells; i++) free(cells[i].exact), free(cells[i].token);
        free(cells);
        int out = rg_cli_stdout_status("experiment", rc);
        fprintf(stderr, "relgrad experiment: wrote %s, %s%s%s (%d runs in %.1f min)\n", results,
                table, rc ? "" : ", ", rc ? "" : plot, grid.n_runs, minutes);
        rc = rc ? rc : out;
    }
    rg_dir_lock_release(&lock);
    rg_grid_free(&grid);
    free(lens), free(base);
    if (rc && !root) return rg_dist_finish(&dist, rc); /* its run said why; rank 0 sums up */
    return rg_dist_finish(&dist, rg_report_status("experiment", rc, &err));
}
