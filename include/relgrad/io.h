/* io.h: HDF5 files of SPEC section 4: checkpoints (written atomically),
 * gradient dumps and experiment results.
 *
 * Every function returns 0 on success or 2 with err filled in: what is wrong
 * with which file (and dataset), and what to do about it.
 */
#ifndef RELGRAD_IO_H
#define RELGRAD_IO_H

#include "relgrad/optim.h"

#define RG_CHECKPOINT_FORMAT "relgrad-checkpoint"
#define RG_DUMP_FORMAT       "relgrad-dump"
#define RG_FORMAT_VERSION    1

/* Write model parameters (float32 datasets), optimizer moments and step, the
 * data generator's rng state and every key of the run's config to `path`, through a
 * temporary file in the same directory, fsync'd and renamed into place; a
 * crash at any moment leaves either the old file or the new one. */
int rg_checkpoint_save(const char *path, const rg_config *cfg, const rg_model *m,
                       const rg_adamw *opt, const rg_rng *rng, rg_error *err);

/* Read the config stored in a checkpoint's root attributes (on top of the
 * defaults), so the caller can build the model it describes. */
int rg_checkpoint_read_config(const char *path, rg_config *cfg, rg_error *err);

/* Load parameters (and, when opt / rng are not NULL, optimizer state and rng)
 * into a model built from that config. Checks format, format_version, every
 * dataset's presence and shape. */
int rg_checkpoint_load(const char *path, rg_model *m, rg_adamw *opt, rg_rng *rng, rg_error *err);

/* A checkpoint's progress without loading it: the optimizer step and the
 * training wall time recorded with it (0 when the file predates it). */
int rg_checkpoint_read_step(const char *path, long *step, double *seconds, rg_error *err);

/* select = best: out_dir/best.h5, the parameters that scored best on the
 * validation set so far. A checkpoint without optimizer and rng (so
 * `relgrad eval best.h5` reads it) plus a group /select with attributes
 * step (int64) and val_exact_match (double); written atomically like a
 * checkpoint. rg_best_read_step reads those two without the parameters. */
int rg_best_save(const char *path, const rg_config *cfg, const rg_model *m, long step,
                 double val_exact_match, rg_error *err);
int rg_best_read_step(const char *path, long *step, double *val_exact_match, rg_error *err);

/* Gradient dump (SPEC section 4): params and config as in a checkpoint (in
 * the build's precision), the batch, memory inputs (mems may be NULL or hold
 * len = 0), loss, logits [B,T,V] and every parameter's gradient. */
typedef struct rg_dump_batch {
    int B, T, offset;
    const int *tokens, *targets; /* [B,T] */
    const real *mask;            /* [B,T] */
    const int *positions;        /* [B,T] absolute positions of the tokens */
    const int *abacus_ids;       /* [B,T] abacus ids used, or NULL (no abacus embedding) */
} rg_dump_batch;

int rg_dump_write(const char *path, const rg_config *cfg, const rg_model *m,
                  const rg_dump_batch *batch, const rg_memory *mems, real loss,
                  const rg_tensor *logits, rg_error *err);

/* What a results file records of a run besides its config and curves
 * (attributes of its group, docs/format.md). */
typedef struct rg_run_info {
    /* Fit: exact match and token accuracy at the training length (evaluated
     * there even when train_len is not among eval_lens); fit = 1 when that
     * exact match is >= the run's fit_threshold. fit = -1: not recorded (a
     * file written before relgrad recorded it). */
    int fit;
    double fit_exact_match, fit_token_acc;
    /* Selection (key select): the step whose parameters were evaluated
     * (select = last: steps; 0 = not recorded) and, with select = best, its
     * validation exact match (NaN otherwise). */
    long selected_step;
    double val_exact_match;
    /* Provenance: the relgrad build that trained it (its git commit, see
     * `relgrad --version`, and precision "float32" / "float64") and the
     * machine's CPU ("model name" of /proc/cpuinfo). "" = not recorded. */
    char git_commit[64], precision[16], cpu_model[128];
} rg_run_info;

/* "Nothing recorded": fit = -1, selected_step = 0, val_exact_match NaN,
 * empty provenance. */
void rg_run_info_init(rg_run_info *info);
/* This process's provenance into info: the build's git commit ("unknown"
 * when it was built outside a git checkout), its precision, and this
 * machine's CPU model ("unknown" when /proc/cpuinfo does not name it). */
void rg_run_info_provenance(rg_run_info *info);

/* Experiment results (SPEC section 4): one group /runs/{task}/{pos}/{seed}. */
typedef struct rg_run_result {
    const rg_config *cfg; /* the run's config (task, pos, seed, ...)   */
    const float *train_loss;
    int n_steps;
    const int *eval_len;
    const double *exact_match, *token_acc;
    int n_eval;
    double wall_seconds;
    rg_run_info info; /* fit, selection, provenance: written as given */
} rg_run_result;

/* Add (or replace) one run's group in `path`, creating the file if needed;
 * the file is rewritten atomically so an interrupted experiment keeps every
 * finished run. */
int rg_results_write_run(const char *path, const rg_run_result *run, rg_error *err);

/* Reading one run back (tests and tools): the group's config (on top of the
 * defaults), curves and wall time. The arrays are malloc'd; free them with
 * rg_run_data_free. 0, or 2 with err (e.g. no such run in the file). */
typedef struct rg_run_data {
    rg_config cfg;
    float *train_loss;
    int n_steps;
    int *eval_len;
    double *exact_match, *token_acc;
    int n_eval;
    double wall_seconds;
    rg_run_info info; /* what the file records (rg_run_info_init's values where not) */
} rg_run_data;

int rg_results_read_run(const char *path, const char *task, const char *pos, int seed,
                        rg_run_data *out, rg_error *err);
void rg_run_data_free(rg_run_data *r);

/* Whether `path` records the run (task, pos as written, seed) in *has. 0, or
 * 2 with err when the file cannot be read. */
int rg_results_has_run(const char *path, const char *task, const char *pos, int seed, bool *has,
                       rg_error *err);

/* The runs a results file records, in (task, pos, seed) order: a malloc'd
 * array (free it) of *n names. 0, or 2 with err. */
typedef struct rg_run_name {
    char task[64], pos[256];
    int seed;
} rg_run_name;
int rg_results_list(const char *path, rg_run_name **runs, int *n, rg_error *err);

/* The first difference between two records of one run, a (from source
 * fa: a file name, "recorded") and b (fb), into why: a config key that
 * decides the results (rg_config_differs, RG_SAME_RESULTS), the number of
 * steps or lengths, a step's loss, or a length's accuracy, each with both
 * values; "" when they agree. Wall time and provenance are not compared. */
void rg_run_data_difference(const rg_run_data *a, const rg_run_data *b, const char *fa,
                            const char *fb, char *why, size_t n);

/* Merge results files made on several machines into `out` (written
 * atomically): every run of every input, once. A run recorded by more than
 * one input must be recorded alike: the same config where it decides the
 * results (rg_config_differs, RG_SAME_RESULTS) and the same losses and
 * accuracies; the first input's record is kept (its provenance and wall
 * time). Otherwise nothing is written and err names the run, the two files
 * and the first difference. `out` may be one of the inputs (merging into
 * it); an existing `out` that is not an input is refused. 0, or 2. */
int rg_results_merge(const char *out, const char *const *inputs, int n_inputs, int *n_runs,
                     rg_error *err);

/* ---- run directories: made, and held by one owner (dirlock.c) ------------------
 * rg_out_dir_make: mkdir -p dir, then check that it is a writable directory.
 * 0, or 2 with err saying which part could not be made and what to do. */
int rg_out_dir_make(const char *dir, rg_error *err);

/*
 * An advisory lock (flock) on "<dir>/.lock", which holds the owner's
 * "pid host". Whoever trains in or writes a run directory (train, experiment)
 * holds it for as long as it works there; the kernel releases it when the
 * process ends, however it ends, so a killed run never blocks its resume. */
typedef struct rg_dir_lock {
    int fd; /* -1 when not held */
} rg_dir_lock;

/* Take dir's lock without waiting. 0, or 2 with err naming the process that
 * holds it. */
int rg_dir_lock_take(rg_dir_lock *lock, const char *dir, rg_error *err);
/* Release it (no-op when not held). */
void rg_dir_lock_release(rg_dir_lock *lock);

#endif
