/* select.c: select = best (Kazemnejad et al. 2023 pick the checkpoint with
 * the best in-distribution validation exact match): validate every
 * eval_every steps and at the last step, keep the best parameters in
 * out_dir/best.h5, and hand them to the final evaluation.
 *
 * The best so far (step and score) travels with the optimizer state
 * (rg_adamw.best_step, best_score), which every checkpoint stores: a run
 * interrupted and resumed selects exactly what an uninterrupted one does.
 * best.h5 is written before the checkpoint that names its step, so a
 * checkpoint never names a best.h5 that is not on disk; a crash between
 * the two leaves a newer best.h5 that the resumed run, retracing the same
 * steps, writes again identically.
 */
#include "train_internal.h"

#include <stdio.h>

void rg_best_path(const rg_config *cfg, char *buf, size_t n) {
    snprintf(buf, n, "%s/best.h5", cfg->out_dir);
}

bool rg_select_due(const rg_config *cfg, int step) {
    return cfg->select == RG_SELECT_BEST && (step % cfg->eval_every == 0 || step == cfg->steps);
}

int rg_select_check(rg_ctx *ctx, rg_model *m, const rg_config *cfg, rg_adamw *opt, int step,
                    double *score, rg_error *err) {
    *score = rg_validate(ctx, m, cfg);
    if (opt->best_step > 0 && !(*score > opt->best_score)) return 0;
    char path[RG_PATH_MAX + 32];
    rg_best_path(cfg, path, sizeof path);
    if (rg_best_save(path, cfg, m, step, *score, err)) return 2;
    opt->best_step = step;
    opt->best_score = *score;
    return 0;
}

int rg_select_restore(rg_model *m, const rg_config *cfg, const rg_adamw *opt, rg_error *err) {
    char path[RG_PATH_MAX + 32];
    rg_best_path(cfg, path, sizeof path);
    long step = 0;
    double score;
    if (rg_best_read_step(path, &step, &score, err)) return 2;
    if (step != opt->best_step) {
        snprintf(err->msg, sizeof err->msg,
                 "%.400s holds the parameters of step %ld, but the checkpoint's best step is "
                 "%ld; the run directory is inconsistent: delete its checkpoint.h5 and best.h5 "
                 "to train again",
                 path, step, opt->best_step);
        return 2;
    }
    return rg_checkpoint_load(path, m, NULL, NULL, err);
}
