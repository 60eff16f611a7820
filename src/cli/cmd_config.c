/* cmd_config.c: `relgrad config CONFIG [key=value ...]`: the resolved
 * configuration with the source of every value, checked as the command
 * that would read it checks it (every run of the grid when the config sets
 * tasks, positions or seeds; else the one run of `relgrad train`), and the
 * plan of that command in out_dir. Runs and writes nothing. */
#include "args.h"
#include "cli.h"
#include "help.h"
#include "relgrad/experiment.h"

#include <stdlib.h>

int rg_cmd_config(int argc, char **argv) {
    rg_cli_args a;
    if (rg_cli_parse("config", argc, argv, 0, &a)) return RG_EXIT_BAD_INPUT;
    if (!a.file) {
        fprintf(stderr, "relgrad config: missing CONFIG (an INI file)\n");
        rg_help_usage(stderr, "config");
        rg_cli_args_free(&a);
        return RG_EXIT_BAD_INPUT;
    }
    rg_config *cfg = rg_xmalloc(sizeof *cfg, "a config");
    rg_error err;
    int rc = rg_cli_load(&a, cfg, &err);
    if (!rc) {
        rg_cli_show_config(stdout, "config", cfg, RG_SHOW_ALL);
        bool grid = rg_cli_has_grid(cfg);
        rc = grid ? rg_grid_validate(cfg, a.file, &err) : rg_config_validate(cfg, a.file, &err);
        if (!rc)
            rc = grid ? rg_cli_plan_experiment(stdout, cfg, &err)
                      : rg_cli_plan_train(stdout, cfg, &err);
        if (!rc)
            printf("valid for `relgrad %s`%s\n", grid ? "experiment" : "train",
                   grid ? " (train refuses tasks, positions and seeds)" : "");
    }
    if (rc) fprintf(stderr, "relgrad config: %s\n", err.msg);
    free(cfg);
    rg_cli_args_free(&a);
    return rc ? RG_EXIT_BAD_INPUT : rg_cli_stdout_status("config", RG_EXIT_OK);
}
