/* table.c: an experiment's out_dir/table.md (experiment.h): per task,
 * scheme and evaluation length, exact match and token accuracy as the mean
 * over seeds with the half-width of its 95% interval. tools/relgrad.py
 * (interval95) computes the same intervals for the plot. */
#include "relgrad/experiment.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One (task, pos) cell of the grid: each seed's accuracy per length. */
typedef struct {
    int n_seeds;
    double *exact, *token; /* (seed, length) */
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
            char pos[512], text[64], alphabet[16] = "";
            if (cfg->task_symbols[t])
                snprintf(alphabet, sizeof alphabet, ":%d", cfg->task_symbols[t]);
            fprintf(f, "| %s%s | %s |", rg_task_name(cfg->tasks[t]), alphabet,
                    rg_config_entry_name(cfg, p, ',', pos, sizeof pos));
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

int rg_experiment_table(const rg_grid *g, const rg_config *base, const char *path, rg_error *err) {
    int n_lens, *lens = rg_config_eval_lens(base, &n_lens);
    int n_cells = base->n_tasks * base->n_positions;
    /* every run is done: each cell's seeds in seed order */
    cell *cells = rg_xcalloc((size_t)n_cells, sizeof *cells, "the result grid");
    for (int i = 0; i < n_cells; i++) {
        cells[i].exact = rg_xcalloc((size_t)base->n_seeds * n_lens, sizeof(double), "results");
        cells[i].token = rg_xcalloc((size_t)base->n_seeds * n_lens, sizeof(double), "results");
        cells[i].n_seeds = base->n_seeds;
    }
    double run_seconds = 0; /* the runs' recorded times, summed */
    for (int i = 0; i < g->n_runs; i++) {
        const rg_grid_run *run = &g->runs[i];
        cell *cl = &cells[run->cell];
        run_seconds += run->result.wall_seconds;
        for (int k = 0; k < run->result.n_eval && k < n_lens; k++) {
            cl->exact[run->seed * n_lens + k] = run->result.exact_match[k];
            cl->token[run->seed * n_lens + k] = run->result.token_acc[k];
        }
    }
    int rc = 0;
    if (write_table(path, base, cells, lens, n_lens, run_seconds / 60)) {
        snprintf(err->msg, sizeof err->msg, "cannot write %s: %s; check out_dir", path,
                 strerror(errno));
        rc = 1;
    }
    for (int i = 0; i < n_cells; i++) free(cells[i].exact), free(cells[i].token);
    free(cells), free(lens);
    return rc;
}
