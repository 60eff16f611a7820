/* example_grid.c: an experiment through the library, without the relgrad
 * program. The grid: the copy task, trained on inputs of 1..6 symbols with
 * two positional schemes (one seed each), 500 steps of a two-layer model,
 * evaluated at the training length and at 2x and 3x it. Prints the table
 * (as `relgrad experiment` does; out_dir/table.md) and each run's numbers
 * read back from out_dir/results.h5. A few seconds on one core.
 * Build: cmake --build build --target example_grid
 * Run:   build/example_grid [OUT_DIR]   (default out/example_grid; run it
 *        again and the finished runs are only evaluated again) */
#include "relgrad/relgrad.h"

#include <stdio.h>
#include <stdlib.h>

/* The config, as `key = value` lines of an INI file would give it. */
static const char *const SETTINGS[][2] = {
    /* the grid: 1 task x 2 schemes x 1 seed = 2 runs */
    {"tasks", "copy"},
    {"positions", "rope,alibi"},
    {"seeds", "1"},
    /* a tiny model */
    {"d_model", "32"},
    {"n_heads", "2"},
    {"n_layers", "2"},
    {"d_ff", "64"},
    /* the task: inputs of 1..6 symbols out of 8; evaluated at 1x, 2x, 3x */
    {"n_symbols", "8"},
    {"train_len", "6"},
    {"eval_lens", "6,12,18"},
    {"eval_n", "50"},
    /* training */
    {"steps", "500"},
    {"batch_size", "16"},
    {"lr", "5e-3"},
    {"warmup", "20"},
    {"threads", "1"},
    {"quiet", "1"}, /* no progress lines while a run trains */
};

int main(int argc, char **argv) {
    rg_config *cfg = malloc(sizeof *cfg); /* a config is large (every key's origin) */
    rg_error err;
    rg_grid grid = {0};
    int rc = 0;
    rg_config_defaults(cfg);
    for (size_t i = 0; i < sizeof SETTINGS / sizeof SETTINGS[0] && !rc; i++)
        rc = rg_config_set(cfg, SETTINGS[i][0], SETTINGS[i][1], "example_grid.c", &err);
    if (!rc)
        rc = rg_config_set(cfg, "out_dir", argc > 1 ? argv[1] : "out/example_grid", "argument 1",
                           &err);
    /* every run's config checked, then the runs with their directories */
    if (!rc) rc = rg_grid_validate(cfg, "example_grid.c", &err);
    if (!rc) rc = rg_grid_make(&grid, cfg, "example_grid.c", &err);

    /* train the grid in this process, write results.h5 and table.md (no
     * plot or report: those start Python), print the table */
    rg_experiment_options opt = {.table_out = stdout, .no_plot = true, .no_report = true};
    rg_experiment_summary sum;
    if (!rc) rc = rg_experiment_run(&grid, cfg, &opt, &sum, &err);

    /* each run as results.h5 stores it */
    for (int i = 0; i < grid.n_runs && !rc; i++) {
        const rg_config *c = &grid.runs[i].cfg;
        char pos[64];
        rg_run_data run;
        rc = rg_results_read_run(sum.results, rg_task_name(c->task),
                                 rg_scheme_list_text(&c->model.schemes, ',', pos, sizeof pos),
                                 c->seed, &run, &err);
        if (rc) break;
        printf("%s %s seed %d: loss %.3f -> %.3f in %d steps; exact match", rg_task_name(c->task),
               pos, c->seed, run.train_loss[0], run.train_loss[run.n_steps - 1], run.n_steps);
        for (int k = 0; k < run.n_eval; k++)
            printf(" %.2f at %d%s", run.exact_match[k], run.eval_len[k],
                   k + 1 < run.n_eval ? "," : "\n");
        rg_run_data_free(&run);
    }
    if (rc) fprintf(stderr, "example_grid: %s\n", err.msg);
    rg_grid_free(&grid);
    free(cfg);
    return rc ? 1 : 0;
}
