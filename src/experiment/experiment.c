/* experiment.c: one experiment from its grid to its files (experiment.h):
 * out_dir and its lock, the runs results.h5 already records set aside, the
 * grid trained (grid.c), then table.md (table.c),
 * plot.png and report.html (report.c), the table shown. Under MPI rank 0
 * takes the lock and writes the files; every rank trains. */
#include "relgrad/experiment.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* Rank 0 (or the only process): the experiment's out_dir, and its lock. */
static int take_out_dir(const rg_config *base, rg_dir_lock *lock, rg_error *err) {
    int rc = rg_out_dir_make(base->out_dir, err);
    return rc ? rc : rg_dir_lock_take(lock, base->out_dir, err);
}

/* "4 runs at once (jobs), 1 thread each" and the like, after the header. */
static void print_mode(const rg_config *base, const rg_dist *dist) {
    if (dist && dist->size > 1) {
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

/* table.md, plot.png, report.html (unless skipped), then the table shown.
 * The first failure's status (1), or 0. */
static int write_files(const rg_grid *g, const rg_config *base, const rg_experiment_options *opt,
                       const rg_experiment_summary *sum, rg_error *err) {
    int rc = 0;
    if (rg_experiment_table(g, base, sum->table, err))
        rc = 1;
    else if (!opt->no_plot && rg_experiment_plot(base, err))
        rc = 1;
    else if (!opt->no_report && rg_experiment_report(base, err)) /* out_dir/report.html */
        rc = 1;
    FILE *f = opt->table_out ? fopen(sum->table, "r") : NULL; /* show the table */
    for (int ch; f && (ch = fgetc(f)) != EOF;) fputc(ch, opt->table_out);
    if (f) fclose(f);
    return rc;
}

int rg_experiment_run(rg_grid *g, const rg_config *base, const rg_experiment_options *opt,
                      rg_experiment_summary *sum, rg_error *err) {
    memset(sum, 0, sizeof *sum);
    const rg_dist *dist = opt->dist;
    bool root = !dist || dist->rank == 0;
    sum->n_runs = g->n_runs;
    snprintf(sum->results, sizeof sum->results, "%s", g->results);
    snprintf(sum->table, sizeof sum->table, "%s/table.md", base->out_dir);
    snprintf(sum->plot, sizeof sum->plot, "%s/plot.png", base->out_dir);
    rg_dir_lock lock = {-1};
    int rc = root ? take_out_dir(base, &lock, err) : 0;
    /* runs results.h5 records are not trained again (rank 0 hands out the rest) */
    if (rc == 0 && root) rc = rg_grid_recorded(g, true, err); /* a note, even when quiet */
    if (dist) rc = rg_dist_agree(dist, rc);
    if (rc) {
        if (!root) snprintf(err->msg, sizeof err->msg, "rank 0 could not start the experiment");
        rg_dir_lock_release(&lock);
        return rc;
    }
    if (root && !base->quiet) {
        fprintf(
            stderr, "experiment: %d tasks x %d positions x %d seeds = %d runs of %d steps -> %s/\n",
            base->n_tasks, base->n_positions, base->n_seeds, g->n_runs, base->steps, base->out_dir);
        print_mode(base, dist);
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    rc = rg_grid_train(g, base, dist, err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    sum->minutes = ((t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9) / 60;
    if (rc == 0 && root) {
        rc = write_files(g, base, opt, sum, err);
        sum->finished = true;
    }
    rg_dir_lock_release(&lock);
    return rc;
}
