/* grid.h: training an experiment's runs (src/cli/grid.c): one after
 * another, `jobs` at once in child processes, or spread over MPI ranks. */
#ifndef RELGRAD_GRID_H
#define RELGRAD_GRID_H

#include "relgrad/train.h"

/* One run of the grid. */
typedef struct rg_grid_run {
    rg_config cfg;      /* task, pos, seed, out_dir = base out_dir/runs/<task>-<pos>-<seed> */
    char label[400];    /* "[3/16] copy none seed 1"                                     */
    int cell, seed;     /* its (task, pos) cell, t * n_positions + p, and seed index     */
    bool done;          /* finished: result holds its curves and accuracies              */
    rg_run_data result; /* (result.cfg is not filled)                                    */
} rg_grid_run;

typedef struct rg_grid {
    int n_runs;
    rg_grid_run *runs;              /* in the order tasks x positions x seeds   */
    char results[RG_PATH_MAX + 32]; /* base out_dir/results.h5  */
} rg_grid;

/* The runs of base's grid (each config validated). 0, or 2 with err. */
int rg_grid_make(rg_grid *g, const rg_config *base, const char *config_path, rg_error *err);
void rg_grid_free(rg_grid *g);

/* Train every run that is not done (each resumes from its directory's
 * checkpoint), writing each finished run into g->results:
 *   - dist with more than one rank: runs go to the ranks as they become free
 *     (rank 0 hands them out from a helper thread and trains too); rank 0
 *     collects every result; `threads` is shared by the ranks of a machine;
 *   - otherwise jobs > 1: `jobs` runs at once, each in a child process with
 *     threads / jobs threads;
 *   - otherwise one run after another in this process.
 * Returns 0 when every run finished (on rank 0; another rank returns 0 when
 * its own runs finished), else the first failure's status with err filled
 * (128 + signal when stopped: the runs' checkpoints are saved). */
int rg_grid_train(rg_grid *g, const rg_config *base, const rg_dist *dist, rg_error *err);

#endif
