/* train_internal.h: what the train layer's files share beyond train.h:
 * select = best's steps, which rg_train (train.c) calls and select.c
 * implements. */
#ifndef RELGRAD_TRAIN_INTERNAL_H
#define RELGRAD_TRAIN_INTERNAL_H

#include "relgrad/train.h"

/* "<out_dir>/best.h5" */
void rg_best_path(const rg_config *cfg, char *buf, size_t n);

/* Whether step (1-based, after its update) is one where select = best
 * validates: every eval_every steps and the last step. */
bool rg_select_due(const rg_config *cfg, int step);

/* Validate m after `step` (rg_validate) into *score; when it beats the best
 * so far in opt (strictly: a tie keeps the earlier step), write best.h5 and
 * record step and score in opt->best_step, opt->best_score. Call it before
 * the step's checkpoint, so the checkpoint holds what this step found.
 * 0, or 2 with err when best.h5 cannot be written. */
int rg_select_check(rg_ctx *ctx, rg_model *m, const rg_config *cfg, rg_adamw *opt, int step,
                    double *score, rg_error *err);

/* Before the final evaluation: the parameters of best.h5 into m, after
 * checking that the file holds opt's best step. 0, or 2 with err. */
int rg_select_restore(rg_model *m, const rg_config *cfg, const rg_adamw *opt, rg_error *err);

#endif
