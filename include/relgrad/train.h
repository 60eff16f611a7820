/* train.h: training runs and evaluation (SPEC sections 3 and 5).
 *
 * A run trains one model on one task from a config, writing checkpoints to
 * out_dir (atomically), resuming from out_dir's checkpoint when there is one
 * so that an interrupted run continues with exactly the losses of an
 * uninterrupted one, and finishing with an evaluation at every eval length.
 */
#ifndef RELGRAD_TRAIN_H
#define RELGRAD_TRAIN_H

#include "relgrad/data.h"
#include "relgrad/io.h"

/* Accuracy at each evaluation length (arrays of n, malloc'd: free with
 * rg_eval_result_free). */
typedef struct rg_eval_result {
    int n;
    int *len;
    double *exact_match; /* greedy decoding: whole y and EOS right          */
    double *token_acc;   /* teacher-forced: argmax right per masked token   */
} rg_eval_result;

void rg_eval_result_free(rg_eval_result *r);

/* Evaluate m on cfg's task at each of cfg's eval_lens with cfg->eval_n
 * examples each, drawn from the evaluation stream of that length
 * (rg_eval_seed: the same set for every model seed), with randomized
 * positions when cfg->random_positions > 0. Decoding uses cfg's scheme
 * options (cfg->model.opts), which evaluation may have changed from the
 * model's (the keys flagged RG_KEY_EVAL). */
void rg_evaluate(rg_ctx *ctx, rg_model *m, const rg_config *cfg, rg_eval_result *res);

/* The evaluation batch that holds example k (0 .. eval_n-1) of the
 * evaluation set at length n, exactly as rg_evaluate draws it, into b;
 * returns k's row in it, or -1 when k is out of range. */
int rg_eval_example(const rg_config *cfg, int n, int k, rg_batch *b);

/* What a finished (or stopped) run reports. */
typedef struct rg_run_summary {
    int steps_done;
    float *train_loss; /* [steps_done], malloc'd; free with rg_run_summary_free */
    rg_eval_result eval;
    double wall_seconds;
} rg_run_summary;

void rg_run_summary_free(rg_run_summary *s);

/* Options the CLI sets; zero-initialise for the defaults. */
typedef struct rg_train_options {
    const char *label; /* prefix for progress lines, e.g. "[3/16] copy none seed 1" */
    bool quiet;        /* no progress output */
    int stop_after;    /* > 0: save a checkpoint and return 0 after this many
                          steps of this call (no final evaluation), as if
                          interrupted; the next call resumes */
} rg_train_options;

/* Train per cfg (resuming from cfg->out_dir/checkpoint.h5 if present).
 * Returns 0, 2 (bad input, err filled), 3 (diverged: err names step and
 * tensor), or 130/143 when stopped by SIGINT/SIGTERM after saving a
 * checkpoint. */
int rg_train(const rg_config *cfg, const rg_train_options *opt, rg_run_summary *out, rg_error *err);

/* Install SIGINT/SIGTERM handlers that ask rg_train to stop after the
 * current step (it saves a checkpoint first). */
void rg_install_stop_handlers(void);

/* The checkpoint path of a run directory: "<out_dir>/checkpoint.h5". */
void rg_checkpoint_path(const rg_config *cfg, char *buf, size_t n);

#endif
