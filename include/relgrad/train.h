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
#include "relgrad/dist.h"
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

/* B examples of n symbols as evaluation and validation draw them, into b:
 * the examples from rng; random positions (random_positions > 0) from
 * pos_rng; coupled positions from 1 and abacus ids without a shift (the
 * methods of 2024 draw nothing at evaluation). */
void rg_eval_batch_draw(const rg_config *cfg, int B, int n, rg_rng *rng, rg_rng *pos_rng,
                        rg_batch *b);

/* The evaluation batch that holds example k (0 .. eval_n-1) of the
 * evaluation set at length n, exactly as rg_evaluate draws it, into b;
 * returns k's row in it, or -1 when k is out of range. */
int rg_eval_example(const rg_config *cfg, int n, int k, rg_batch *b);

/* Whether a run fitted its training length, into info's fit fields:
 * exact match and token accuracy at train_len, taken from `done` (an
 * evaluation of m with cfg, or NULL) when train_len is among its lengths,
 * else evaluated here on the evaluation set at train_len (eval_n examples);
 * fit = 1 when that exact match is >= cfg->fit_threshold. */
void rg_evaluate_fit(rg_ctx *ctx, rg_model *m, const rg_config *cfg, const rg_eval_result *done,
                     rg_run_info *info);

/* The validation score select = best compares: exact match on val_n
 * in-distribution examples, lengths drawn uniformly from 1 .. train_len as
 * training draws them, each drawn as rg_eval_batch_draw draws it (the
 * run's format, random positions, coupled positions, abacus ids), from the validation stream
 * (rg_val_seed(train_len)): the same set at every call and for every model
 * seed, disjoint in seed from training and evaluation. Scored as
 * rg_evaluate scores a length (decoder: greedy decoding; encoder: one
 * forward). */
double rg_validate(rg_ctx *ctx, rg_model *m, const rg_config *cfg);

/* One training step (src/train/step.c): forward over this rank's rows of
 * batch, loss, backward, the gradients summed over dist's ranks (when there
 * are several), divergence checks, clipping to grad_clip, one AdamW update
 * at lr. The one step train, bench, data-parallel training and the tests
 * run. */
typedef struct rg_step {
    double lr, grad_clip;
    const rg_dist *dist; /* NULL: alone                                          */
    int step;            /* the step's 1-based number, for messages              */
    int stop;            /* in: this process's stop request (a signal, or 0); out:
                            the largest over the ranks, so all stop together     */
    double loss;         /* out: the (global) batch's loss                       */
    double grad_norm;    /* out: the gradient norm before clipping               */
} rg_step;

/* 0, or 3 when the loss, a gradient or a parameter is not finite (err says
 * which, at which step, and what to do; the update is then incomplete and
 * the model must not be saved). */
int rg_train_step(rg_ctx *ctx, rg_model *m, rg_adamw *adam, const rg_batch *batch, rg_step *s,
                  rg_error *err);

/* Where a run's training batches come from: the task's stream (examples
 * drawn from the run's data rng, lengths min_len .. train_len, with their
 * index hints) or, with train_examples > 0 and min_len 1, the fixed
 * training set; then randomized or coupled positions and abacus ids when
 * the config asks for them (from the same rng, in that order). train,
 * bench, dump and graph all draw their batches through it. */
typedef struct rg_train_data {
    rg_data_spec spec;
    int batch_size, min_len, max_len, random_positions;
    rg_positions_per positions_per;
    bool fixed; /* the fixed training set, not the stream */
    rg_train_set set;
} rg_train_data;

void rg_train_data_init(rg_train_data *d, const rg_config *cfg, int min_len);
/* The batch of step `step` (0-based; the fixed set's batches are a
 * function of it) into b. */
void rg_train_data_batch(rg_train_data *d, long step, rg_batch *b, rg_rng *rng);
void rg_train_data_free(rg_train_data *d);

/* What a finished (or stopped) run reports. */
typedef struct rg_run_summary {
    int first_step; /* the step this call started from (> 0: resumed)      */
    int steps_done;
    float *train_loss; /* [steps_done], malloc'd; free with rg_run_summary_free */
    rg_eval_result eval;
    double wall_seconds;
    rg_run_info info; /* after a final evaluation: fit, selection, provenance
                         (as written to results.h5) */
} rg_run_summary;

void rg_run_summary_free(rg_run_summary *s);

/* Options the CLI sets; zero-initialise for the defaults. */
typedef struct rg_train_options {
    const char *label;   /* prefix for progress lines, e.g. "[3/16] copy none seed 1" */
    bool quiet;          /* no progress output */
    bool lines;          /* progress as whole lines even on a terminal (for processes
                            that share one: MPI ranks, experiment jobs) */
    int stop_after;      /* > 0: save a checkpoint and return 0 after this many
                            steps of this call (no final evaluation), as if
                            interrupted; the next call resumes */
    const rg_dist *dist; /* NULL: alone. Otherwise data-parallel over dist's ranks:
                            each takes its rows of every global batch, gradients
                            are summed over the ranks, every rank takes the same
                            step; rank 0 alone locks out_dir, writes checkpoints,
                            the log and results and evaluates (the others return
                            after the last step, without an evaluation) */
} rg_train_options;

/* Train per cfg (resuming from cfg->out_dir/checkpoint.h5 if present,
 * saying so on stderr; a run already at `steps` is only evaluated).
 * Progress goes to stderr unless opt->quiet or cfg->quiet. Returns 0, 2
 * (bad input, err filled), 3 (diverged: err names step and tensor), or
 * 128 + the signal (130 SIGINT, 143 SIGTERM, 129 SIGHUP, 141 SIGPIPE) when
 * stopped by a signal after saving a checkpoint. out->wall_seconds is the
 * training wall time over all the run's sessions (recorded in the
 * checkpoint) plus the final evaluation. */
int rg_train(const rg_config *cfg, const rg_train_options *opt, rg_run_summary *out, rg_error *err);

/* Install handlers for SIGINT, SIGTERM, SIGHUP and SIGPIPE that ask
 * rg_train to stop after the current step (it saves a checkpoint first).
 * With SIGPIPE handled, a write to a closed pipe fails with EPIPE instead
 * of ending the process. */
void rg_install_stop_handlers(void);

/* The signal that asked to stop (0: none), for the CLI's exit status after
 * rg_train returned or when writing its results failed. */
int rg_stop_signal(void);

/* What rg_train would do with cfg->out_dir, changing nothing: *step = -1
 * when it holds no checkpoint (a fresh start), else the checkpoint's step
 * (cfg->steps: only the final evaluation is left). 0, or 2 with err when
 * rg_train would refuse to resume (a checkpoint of another run or beyond
 * steps, an unreadable file). */
int rg_train_resume_point(const rg_config *cfg, int *step, rg_error *err);

/* The checkpoint path of a run directory: "<out_dir>/checkpoint.h5". */
void rg_checkpoint_path(const rg_config *cfg, char *buf, size_t n);

#endif
