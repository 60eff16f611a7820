/* experiment.h: an experiment (the experiment layer, src/experiment/), and
 * the timing of a model (`relgrad bench`). An experiment is the
 * grid tasks x positions x seeds of one base config, trained one run after
 * another, `jobs` at once in child processes, or over the ranks of an MPI
 * job, each run in its own directory out_dir/runs/TASK-POS-SEED (so an
 * interrupted experiment resumes where it stopped); then what it writes:
 *   out_dir/results.h5  every run (SPEC section 4)
 *   out_dir/table.md    per task, scheme and evaluation length: the mean
 *                       over seeds with a 95% interval, for exact match and
 *                       for per-token accuracy, how many seeds fitted the
 *                       training length (unfitted rows marked), and the
 *                       mean beyond it over fitted runs and over all runs
 *   out_dir/plot.png    both against length, a panel per task (drawn by
 *                       tools/plot_results.py)
 *   out_dir/report.html all of it on one static page, with attention maps
 *                       (inspect.h) and each run's config and loss curve
 *
 * In one page (docs/example_grid.c does this):
 *     rg_grid grid;
 *     rg_grid_make(&grid, &cfg, "my grid", &err);     // cfg: tasks, positions, seeds, ...
 *     rg_experiment_run(&grid, &cfg, &(rg_experiment_options){.table_out = stdout}, &sum, &err);
 *     rg_grid_free(&grid);
 */
#ifndef RELGRAD_EXPERIMENT_H
#define RELGRAD_EXPERIMENT_H

#include "relgrad/train.h"

#include <stdbool.h>
#include <stdio.h>

/* ---- the grid (grid.c) ------------------------------------------------------------------- */

/* One run of the grid. */
typedef struct rg_grid_run {
    rg_config cfg;      /* task, pos, seed, out_dir = base out_dir/runs/<task>-<pos>-<seed> */
    char label[400];    /* "[3/16] copy none seed 1"                                     */
    int cell, seed;     /* its (task, pos) cell, t * n_positions + p, and seed index     */
    bool done;          /* finished: result holds its curves and accuracies              */
    bool recorded;      /* done because out_dir/results.h5 records it (rg_grid_recorded) */
    rg_run_data result; /* (result.cfg is not filled)                                    */
} rg_grid_run;

typedef struct rg_grid {
    int n_runs;
    rg_grid_run *runs;              /* in the order tasks x positions x seeds   */
    char results[RG_PATH_MAX + 32]; /* base out_dir/results.h5  */
} rg_grid;

/* Validate every (task, pos) cell of base's grid as its runs will be
 * trained; `where` names the config in messages ("quick.ini (task copy,
 * pos NAME): ..."). 0 or 2 with err. */
int rg_grid_validate(const rg_config *base, const char *where, rg_error *err);

/* The directory of run c of experiment base: base->out_dir/runs/TASK-POS-SEED
 * (a per-layer list joined with '+'). 0, or 2 with err when it would be
 * RG_PATH_MAX bytes or longer. */
int rg_grid_run_dir(const rg_config *base, const rg_config *c, char *out, rg_error *err);

/* The runs of base's grid (each config validated; config_path names the
 * config in messages). 0, or 2 with err. Free with rg_grid_free (also after
 * a failure). */
int rg_grid_make(rg_grid *g, const rg_config *base, const char *config_path, rg_error *err);
void rg_grid_free(rg_grid *g);

/* The runs g->results (out_dir/results.h5) already records, when it exists:
 * each becomes done (and recorded) with its record as its result, whether
 * or not its run directory exists, so it is not trained again. A record
 * made with another config where the config decides the results
 * (rg_config_differs, RG_SAME_RESULTS) is an error naming the key. With
 * say, a line on stderr counts them. 0, or 2 with err. */
int rg_grid_recorded(rg_grid *g, bool say, rg_error *err);

/* Train every run that is not done (each resumes from its directory's
 * checkpoint), writing each finished run into g->results:
 *   - dist with more than one rank: runs go to the ranks as they become free
 *     (rank 0 hands them out from a helper thread and trains too); rank 0
 *     collects every result; `threads` is shared by the ranks of a machine;
 *   - otherwise jobs > 1: `jobs` runs at once, each in a child process with
 *     threads / jobs threads;
 *   - otherwise one run after another in this process.
 * dist may be NULL (this process alone). Returns 0 when every run finished
 * (on rank 0; another rank returns 0 when its own runs finished), else the
 * first failure's status with err filled (128 + signal when stopped: the
 * runs' checkpoints are saved; rg_install_stop_handlers makes signals stop
 * runs that way). */
int rg_grid_train(rg_grid *g, const rg_config *base, const rg_dist *dist, rg_error *err);

/* ---- what an experiment writes (table.c, report.c) ------------------------------------------ */

/* table.md at path from a trained grid: exact match and token accuracy per
 * task, scheme and evaluation length, the mean over seeds with the
 * half-width of its 95% interval (Student's t) when there is more than one
 * seed, with a column fit (fitted seeds / seeds; a dagger and a footnote
 * where one did not fit); then per task and scheme the mean beyond the
 * training length over the fitted runs and over all runs ("no fitted run"
 * when none fitted); and the runs' summed time. tools/tables.py writes the
 * same tables from a results file. 0, or 1 with err (the file cannot be
 * written). */
int rg_experiment_table(const rg_grid *g, const rg_config *base, const char *path, rg_error *err);

/* out_dir/plot.png from out_dir/results.h5, drawn by tools/plot_results.py
 * (/usr/bin/python3 with matplotlib and h5py). 0, or 1 with err. */
int rg_experiment_plot(const rg_config *base, rg_error *err);

/* After an experiment has written results.h5, table.md and plot.png: the
 * attention maps of each (task, scheme) cell's first seed at the training
 * length and at 2x (out_dir/report/attention-<task>-<pos>.h5, drawn to .png),
 * then tools/report.py writes out_dir/report.html, one static page with the
 * table, the plot, the maps, and each run's config, wall time and loss curve.
 * A cell whose maps cannot be made (say, a learned table shorter than 2x
 * the training length) is named on stderr and left out. 0, or 2 with err. */
int rg_experiment_report(const rg_config *base, rg_error *err);

/* ---- the whole experiment (experiment.c) ------------------------------------------------------
 */

typedef struct rg_experiment_options {
    const rg_dist *dist; /* the ranks of an MPI job (rg_dist_init), or NULL: this process */
    FILE *table_out;     /* when not NULL: table.md is printed here at the end            */
    bool no_plot;        /* skip plot.png (it needs /usr/bin/python3 with matplotlib)     */
    bool no_report;      /* skip report.html and its attention maps (the same)            */
} rg_experiment_options;

/* What rg_experiment_run did, for the caller's last words. */
typedef struct rg_experiment_summary {
    bool finished;  /* every run finished and this process (rank 0) went on to the files */
    int n_runs;     /* runs of the grid                                                 */
    double minutes; /* wall time of this call's training                              */
    char results[RG_PATH_MAX + 32], table[RG_PATH_MAX + 32], plot[RG_PATH_MAX + 32];
} rg_experiment_summary;

/* The experiment of grid g (made from base by rg_grid_make): rank 0 (or the
 * only process) makes base->out_dir and holds its lock (out_dir/.lock)
 * throughout; the grid is trained (rg_grid_train; progress on stderr unless
 * base->quiet); then rank 0 writes table.md, plot.png and report.html
 * (unless skipped) and prints the table to opt->table_out. Returns 0, or
 * the first failure's status with err filled: 2 (out_dir in use or not
 * writable), a run's status (2, 3 diverged, 128 + signal stopped), 1 (a file
 * could not be written or drawn; results.h5 and what came before are
 * complete). Another rank than 0 returns its own runs' status (its err is
 * filled only when one of its runs failed). */
int rg_experiment_run(rg_grid *g, const rg_config *base, const rg_experiment_options *opt,
                      rg_experiment_summary *sum, rg_error *err);

/* ---- timing (bench.c)
 * ---------------------------------------------------------------------------- */

/* What rg_bench_train measured. */
typedef struct rg_bench_train_result {
    int B, T;            /* the (global) batch: rows, tokens per row               */
    double ms_per_step;  /* wall time per timed step                               */
    double tokens_per_s; /* B * T per step (the whole batch, over every rank)      */
    double peak_rss_mb;  /* the process's peak resident memory                      */
    double arena_mb;     /* the most a step took from the context's arena           */
    long arena_mallocs;  /* blocks the arena allocated during the timed steps       */
} rg_bench_train_result;

/* cfg->steps full training steps of model (rg_train_step: forward,
 * backward, clipping, AdamW at cfg->lr), timed after 3 untimed ones, on
 * batches of batch_size examples that all have train_len symbols (the
 * training stream of cfg->seed), with cfg->threads threads. dist (NULL:
 * this process alone) with more than one rank: each rank takes its rows of
 * every batch and the gradients are summed, as in training. Changes model's
 * parameters. 0, or 3 with err when the training diverged (out is then
 * zero). */
int rg_bench_train(const rg_config *cfg, rg_model *model, const rg_dist *dist,
                   rg_bench_train_result *out, rg_error *err);

/* What rg_bench_decode measured. */
typedef struct rg_bench_decode_result {
    double ms;           /* prompt and generation                       */
    double tokens_per_s; /* generated tokens (B * (len - len/2)) per second */
    double peak_rss_mb;  /* the process's peak resident memory           */
    double prefill_ms;   /* the prompt's part of ms                      */
} rg_bench_decode_result;

/* Greedy decoding through the key/value cache (the evaluation path): B rows
 * of a prompt of len/2 random symbols fed at once, then len - len/2 tokens
 * one at a time, each the argmax of the last logits; timed as a whole after
 * one untimed run of 16 tokens. len >= 4, B >= 1. */
void rg_bench_decode(const rg_config *cfg, rg_model *model, int len, int B,
                     rg_bench_decode_result *out);

/* What rg_bench_eval measured. */
typedef struct rg_bench_eval_result {
    int T;               /* tokens per row of the evaluation batch (the encoder's input) */
    int runs;            /* timed passes                                                 */
    double ms;           /* median wall time of one pass                                 */
    double tokens_per_s; /* B * T per pass / ms                                          */
    double peak_rss_mb;  /* the process's peak resident memory                           */
} rg_bench_eval_result;

/* An encoder's evaluation at length n (arch = encoder): the one pass
 * `relgrad eval` makes over a batch (rg_model_forward under no-grad, then
 * the argmax of every slot) on the first B examples of the evaluation set
 * at n (rg_eval_batch_draw from rg_eval_seed(n): relgrad eval's first
 * batch when B <= 64), with the model as it is. After one untimed pass, the
 * pass is timed at least 3 times and until 1 s has gone by (at most 50
 * times); ms is the median. n >= 1, B >= 1. 0, or 2 with err when model is
 * not an encoder (a decoder's evaluation decodes: rg_bench_decode). */
int rg_bench_eval(const rg_config *cfg, rg_model *model, int n, int B, rg_bench_eval_result *out,
                  rg_error *err);

#endif
