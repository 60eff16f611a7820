/* args.h: what the run commands share: reading a command line (the file,
 * key=value overrides numbered as typed, the options), building the
 * config from it, refusing keys the command would ignore, printing the
 * resolved configuration with the source of every value and the plan of
 * a run, and the exit status after results were written. */
#ifndef RELGRAD_CLI_ARGS_H
#define RELGRAD_CLI_ARGS_H

#include "relgrad/config.h"

#include <stdbool.h>
#include <stdio.h>

/* Options a command takes. */
enum {
    RG_OPT_DRY_RUN = 1,    /* --dry-run                                     */
    RG_OPT_QUIET = 2,      /* --quiet                                       */
    RG_OPT_OUT = 4,        /* --out FILE                                    */
    RG_OPT_CHECKPOINT = 8, /* --checkpoint CHECKPOINT                       */
    RG_OPT_FROM = 16,      /* --from RESULTS (train: rerun a recorded run)  */
};

typedef struct rg_cli_args {
    const char *cmd;  /* "train"                                      */
    const char *file; /* CONFIG or CHECKPOINT (with --from: the run), or NULL */
    const char *out, *checkpoint, *from;
    bool dry_run, quiet;
    int quiet_arg; /* the number of --quiet on the command line */
    int n_over;
    char **over;   /* the key=value arguments                               */
    int *over_arg; /* their numbers ("argument 3": counted after `relgrad`) */
} rg_cli_args;

/* Read a command's arguments (argv after the command's name). `options`:
 * RG_OPT_* it accepts. Prints what is wrong and the usage and returns 2 on
 * an unknown option or a missing value; 0 otherwise. */
int rg_cli_parse(const char *cmd, int argc, char **argv, unsigned options, rg_cli_args *a);
void rg_cli_args_free(rg_cli_args *a);

/* Apply the key=value arguments (and --quiet) to c, each with its own
 * argument number for messages. 0 or 2. */
int rg_cli_apply(const rg_cli_args *a, rg_config *c, rg_error *err);
/* Defaults, then a->file (an INI file), then rg_cli_apply. No validation. */
int rg_cli_load(const rg_cli_args *a, rg_config *c, rg_error *err);

/* The experiment grid's keys (tasks, positions, seeds) set to other than
 * their defaults in c (not counting values read from a checkpoint): 2
 * with one line per key in err - where it was set, that `relgrad
 * experiment` reads it - and how to fix (`file`: the config, or NULL);
 * else 0. */
int rg_cli_refuse_grid_keys(const char *cmd, const char *file, const rg_config *c, rg_error *err);
/* Whether any grid key differs from its default (c is an experiment's). */
bool rg_cli_has_grid(const rg_config *c);

/* ---- showing what will happen (show.c) ------------------------------------------- */

enum {
    RG_SHOW_GRID = 1, /* experiment: tasks/positions/seeds, not task/pos/seed */
    RG_SHOW_ALL = 2,  /* config: every key                                    */
};
/* The resolved configuration: every key the command reads (the keys of
 * schemes in use and of any set; RG_SHOW_ALL: every key), its value and
 * where it was set (FILE:LINE, argument N, checkpoint, default), by group;
 * a header line first. Grid keys appear outside an experiment only when
 * the user set them (they are then refused). */
void rg_cli_show_config(FILE *f, const char *cmd, const rg_config *c, unsigned what);
/* What `relgrad train` would do with c: model size, steps, evaluation, and
 * whether out_dir starts fresh, resumes or only evaluates. 0, or 2 with
 * err when the run could not start (e.g. a checkpoint of another run). */
int rg_cli_plan_train(FILE *f, const rg_config *c, rg_error *err);
/* The same for every run of an experiment's grid. 0 or 2. */
int rg_cli_plan_experiment(FILE *f, const rg_config *base, rg_error *err);

/* ---- exit -------------------------------------------------------------------------- */

/* After a command wrote its results to stdout: flush it; if that failed
 * because the reader is gone (EPIPE, SIGPIPE) and rc is 0, say so on
 * stderr and return 141 (128 + SIGPIPE), like a run stopped by SIGPIPE;
 * else rc. */
int rg_cli_stdout_status(const char *cmd, int rc);

#endif
