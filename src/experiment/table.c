/* table.c: an experiment's out_dir/table.md (experiment.h): per task,
 * scheme and evaluation length, exact match and token accuracy as the mean
 * over seeds with the half-width of its 95% interval, a column saying how
 * many seeds fitted the training length (a dagger and a footnote on rows
 * where one did not), and each cell's mean beyond the training length over
 * its fitted runs and over all its runs ("no fitted run" when it has
 * none). tools/tables.py writes the same tables from a results file (for
 * report.html and docs/results.md), and tools/relgrad.py (interval95)
 * computes the same intervals for the plot; tests/robust/results.sh checks
 * that the two agree. */
#include "relgrad/experiment.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAGGER "†"

/* One (task, pos) cell of the grid: its runs, in ascending seed number. */
typedef struct {
    int n;
    const rg_grid_run **runs;
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

/* "0.953" for one value; "0.953 ± 0.021" for more (95% interval of the
 * mean); with count, " (n)" after it. */
static void mean_interval(const double *v, int n, bool count, char *buf, size_t len) {
    double sum = 0, sq = 0;
    for (int i = 0; i < n; i++) sum += v[i];
    double mean = sum / n;
    int used = snprintf(buf, len, "%.3f", mean);
    if (n > 1) {
        for (int i = 0; i < n; i++) sq += (v[i] - mean) * (v[i] - mean);
        double half = t975(n - 1) * sqrt(sq / (n - 1)) / sqrt((double)n);
        used += snprintf(buf + used, len - (size_t)used, " ± %.3f", half);
    }
    if (count) snprintf(buf + used, len - (size_t)used, " (%d)", n);
}

/* Whether a run fitted its training length: as recorded, or for a run
 * recorded before fit was (results.h5 of an older relgrad), from its exact
 * match at train_len when that length was evaluated; unknown counts as
 * not. */
static bool fitted(const rg_grid_run *run) {
    const rg_run_data *r = &run->result;
    if (r->info.fit >= 0) return r->info.fit == 1;
    for (int k = 0; k < r->n_eval; k++)
        if (r->eval_len[k] == run->cfg.train_len)
            return r->exact_match[k] >= run->cfg.fit_threshold;
    return false;
}

/* A run's mean of exact match (or token accuracy) over its evaluation
 * lengths above its training length; false when it has none there. */
static bool beyond(const rg_grid_run *run, bool exact, double *out) {
    const rg_run_data *r = &run->result;
    double sum = 0;
    int n = 0;
    for (int k = 0; k < r->n_eval; k++)
        if (r->eval_len[k] > run->cfg.train_len)
            sum += exact ? r->exact_match[k] : r->token_acc[k], n++;
    if (n) *out = sum / n;
    return n > 0;
}

static const char *footnote(void) {
    return DAGGER " at least one seed did not fit the training length (exact match there "
                  "below its fit_threshold, or not recorded); the means above include it. "
                  "\"Beyond the training length\" averages over the fitted runs only and over all "
                  "runs.";
}

/* "| copy:5 | rope |": a row's first cells. */
static void row_start(FILE *f, const rg_config *cfg, int t, int p) {
    char pos[512], alphabet[16] = "";
    if (cfg->task_symbols[t]) snprintf(alphabet, sizeof alphabet, ":%d", cfg->task_symbols[t]);
    fprintf(f, "| %s%s | %s |", rg_task_name(cfg->tasks[t]), alphabet,
            rg_config_entry_name(cfg, p, ',', pos, sizeof pos));
}

static void write_one_table(FILE *f, const rg_config *cfg, const cell *cells, const int *lens,
                            int n_lens, bool exact) {
    fprintf(f, "## %s\n\n| task | pos | fit |", exact ? "Exact match" : "Token accuracy");
    for (int k = 0; k < n_lens; k++)
        fprintf(f, " %d%s |", lens[k], lens[k] == cfg->train_len ? " (train)" : "");
    fprintf(f, "\n|---|---|---|");
    for (int k = 0; k < n_lens; k++) fprintf(f, "---|");
    fprintf(f, "\n");
    bool marked = false;
    double *v = rg_xcalloc((size_t)cfg->n_seeds + 1, sizeof *v, "a cell's values");
    for (int t = 0; t < cfg->n_tasks; t++)
        for (int p = 0; p < cfg->n_positions; p++) {
            const cell *c = &cells[t * cfg->n_positions + p];
            int n_fit = 0;
            for (int i = 0; i < c->n; i++) n_fit += fitted(c->runs[i]);
            marked |= n_fit < c->n;
            row_start(f, cfg, t, p);
            fprintf(f, " %d/%d%s |", n_fit, c->n, n_fit < c->n ? " " DAGGER : "");
            for (int k = 0; k < n_lens; k++) {
                int n = 0;
                for (int i = 0; i < c->n; i++) {
                    const rg_run_data *r = &c->runs[i]->result;
                    for (int j = 0; j < r->n_eval; j++)
                        if (r->eval_len[j] == lens[k])
                            v[n++] = exact ? r->exact_match[j] : r->token_acc[j];
                }
                char text[80] = "-";
                if (n) mean_interval(v, n, false, text, sizeof text);
                fprintf(f, " %s |", text);
            }
            fprintf(f, "\n");
        }
    if (marked) fprintf(f, "\n%s\n", footnote());
    fprintf(f, "\n");
    free(v);
}

static void write_beyond(FILE *f, const rg_config *cfg, const cell *cells) {
    fprintf(f, "## Beyond the training length\n\n"
               "Each run's mean over the evaluation lengths above its training length, then the "
               "mean over runs ± the half-width of its 95%% interval (runs in brackets).\n\n"
               "| task | pos | exact match: fitted runs | exact match: all runs | "
               "token accuracy: fitted runs | token accuracy: all runs |\n"
               "|---|---|---|---|---|---|\n");
    double *v = rg_xcalloc((size_t)cfg->n_seeds + 1, sizeof *v, "a cell's values");
    for (int t = 0; t < cfg->n_tasks; t++)
        for (int p = 0; p < cfg->n_positions; p++) {
            const cell *c = &cells[t * cfg->n_positions + p];
            row_start(f, cfg, t, p);
            int n_fit = 0;
            for (int i = 0; i < c->n; i++) n_fit += fitted(c->runs[i]);
            for (int m = 0; m < 4; m++) { /* exact: fitted, all; token: fitted, all */
                bool exact = m < 2, only_fitted = m % 2 == 0;
                int n = 0;
                for (int i = 0; i < c->n; i++)
                    if ((fitted(c->runs[i]) || !only_fitted) && beyond(c->runs[i], exact, &v[n]))
                        n++;
                char text[80] = "-";
                if (n)
                    mean_interval(v, n, true, text, sizeof text);
                else if (only_fitted && n_fit == 0)
                    snprintf(text, sizeof text, "no fitted run");
                fprintf(f, " %s |", text);
            }
            fprintf(f, "\n");
        }
    fprintf(f, "\n");
    free(v);
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
            "half-width of its 95%% interval (Student's t) when there is more than one. fit: "
            "the seeds whose exact match at the training length reached fit_threshold (%g). "
            "Time %.1f min (the runs' training and evaluation, summed).\n\n",
            cfg->eval_n, cfg->train_len, cfg->steps, cfg->n_seeds, cfg->fit_threshold, minutes);
    write_one_table(f, cfg, cells, lens, n_lens, true);
    write_one_table(f, cfg, cells, lens, n_lens, false);
    write_beyond(f, cfg, cells);
    return fclose(f);
}

int rg_experiment_table(const rg_grid *g, const rg_config *base, const char *path, rg_error *err) {
    int n_lens, *lens = rg_config_eval_lens(base, &n_lens);
    int n_cells = base->n_tasks * base->n_positions;
    /* every run is done: each cell's runs in ascending seed number (the
     * order tools/tables.py sums them in) */
    cell *cells = rg_xcalloc((size_t)n_cells, sizeof *cells, "the result grid");
    for (int i = 0; i < n_cells; i++)
        cells[i].runs = rg_xcalloc((size_t)base->n_seeds, sizeof *cells[i].runs, "the result grid");
    double run_seconds = 0; /* the runs' recorded times, summed */
    for (int i = 0; i < g->n_runs; i++) {
        const rg_grid_run *run = &g->runs[i];
        cell *cl = &cells[run->cell];
        run_seconds += run->result.wall_seconds;
        int at = cl->n++;
        while (at > 0 && cl->runs[at - 1]->cfg.seed > run->cfg.seed)
            cl->runs[at] = cl->runs[at - 1], at--;
        cl->runs[at] = run;
    }
    int rc = 0;
    if (write_table(path, base, cells, lens, n_lens, run_seconds / 60)) {
        snprintf(err->msg, sizeof err->msg, "cannot write %s: %s; check out_dir", path,
                 strerror(errno));
        rc = 1;
    }
    for (int i = 0; i < n_cells; i++) free(cells[i].runs);
    free(cells), free(lens);
    return rc;
}
