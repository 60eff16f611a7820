/* cmd_experiment.c: `relgrad experiment CONFIG [key=value ...]`: reads the
 * command line and the config, checks every run of the grid (or, with
 * --dry-run, prints the configuration and the plan), then runs the
 * experiment through the experiment layer (include/relgrad/experiment.h):
 * the grid tasks x positions x seeds, each run in
 * out_dir/runs/<task>-<pos>-<seed>/ (so an interrupted experiment resumes
 * where it stopped), then out_dir/results.h5, table.md, plot.png and
 * report.html. The runs are trained one after another, `jobs` at once, or
 * spread over the ranks of `mpirun -np N relgrad experiment ...` (rank 0
 * then writes the files and prints the table). The process that writes them
 * holds out_dir's lock (out_dir/.lock) throughout; each run's trainer locks
 * its directory.
 */
#include "args.h"
#include "cli.h"
#include "help.h"
#include "relgrad/experiment.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
        rc = rg_grid_validate(base, a.file, &err);
        if (!rc) rc = rg_cli_plan_experiment(stdout, base, &err);
        if (rc) fprintf(stderr, "relgrad experiment: %s\n", err.msg);
        fprintf(stderr, "relgrad experiment: dry run: nothing was written\n");
        rc = rc ? RG_EXIT_BAD_INPUT : rg_cli_stdout_status("experiment", RG_EXIT_OK);
        rc = rc ? rc : 1;
    } else if (rg_grid_validate(base, a.file, &err)) {
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
    rg_experiment_summary sum;
    rg_experiment_options opt = {.dist = &dist, .table_out = stdout};
    int rc = rg_experiment_run(&grid, base, &opt, &sum, &err);
    if (sum.finished) { /* rank 0, every run done: the table is on stdout */
        int out = rg_cli_stdout_status("experiment", rc);
        fprintf(stderr, "relgrad experiment: wrote %s, %s%s%s (%d runs in %.1f min)\n", sum.results,
                sum.table, rc ? "" : ", ", rc ? "" : sum.plot, sum.n_runs, sum.minutes);
        rc = rc ? rc : out;
    }
    rg_grid_free(&grid);
    free(base);
    if (rc && dist.rank != 0)
        return rg_dist_finish(&dist, rc); /* its run said why; rank 0 sums up */
    return rg_dist_finish(&dist, rg_report_status("experiment", rc, &err));
}
