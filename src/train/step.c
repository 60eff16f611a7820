/* step.c: one training step, the only one: `relgrad train`, `relgrad
 * bench`, data-parallel training and the tests all call rg_train_step.
 *
 *   forward over this rank's rows of the batch      (nn)
 *   masked mean cross-entropy, backward             (nn, core)
 *   with several ranks: gradients and loss summed   (dist.c, MPI_Allreduce)
 *   divergence check, gradient clipping, AdamW      (optim.c)
 *   divergence check of the updated parameters
 *
 * A non-finite loss, gradient or parameter stops the step before the
 * update reaches anything a checkpoint would save (status 3, with the
 * step, the tensor and what to do in err).
 *
 * And the one place a run's training batches come from (rg_train_data):
 * the task's stream or the fixed training set (with index hints when the
 * config has them), then randomized or coupled positions, then abacus ids,
 * each drawn from the run's data rng in that order.
 */
#include "relgrad/train.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>

static int fail(rg_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(rg_error *err, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return 3;
}

/* x[i] - x[i] is 0 for a finite value and NaN for an infinite or NaN one,
 * so the sum is 0 exactly when all are finite; in any order (a vector
 * reduction: about one instruction per value where isfinite's branch per
 * value took seven). */
static bool finite_all(const real *x, long n) {
    real s = 0;
#pragma omp simd reduction(+ : s)
    for (long i = 0; i < n; i++) s += x[i] - x[i];
    return s == 0;
}

/* The earliest op on the tape whose output holds a non-finite value. */
static const char *first_nonfinite_op(const rg_ctx *ctx, int *index) {
    const char *found = NULL;
    int i = (int)ctx->n_nodes;
    for (const rg_node *n = ctx->tape; n; n = n->prev, i--)
        if (!finite_all(n->out->data, n->out->size)) found = n->op, *index = i;
    return found;
}

/* After backward: parameters, loss and gradients must be finite. */
static int diverged(const rg_ctx *ctx, const rg_model *m, int step, double loss, rg_error *err) {
    for (int i = 0; i < m->n_params; i++)
        if (!finite_all(m->params[i].t.data, m->params[i].t.size))
            return fail(err, "step %d: parameter %s holds a non-finite value", step,
                        m->params[i].name);
    if (!isfinite(loss)) {
        int idx = 0;
        const char *op = first_nonfinite_op(ctx, &idx);
        return fail(err,
                    "step %d: loss is %g; first non-finite tensor: output of op %d (%s) of the "
                    "forward pass; lower lr or raise warmup; the last good checkpoint is kept",
                    step, loss, idx, op ? op : "?");
    }
    for (int i = 0; i < m->n_params; i++)
        if (!finite_all(m->params[i].t.grad, m->params[i].t.size))
            return fail(err,
                        "step %d: gradient of %s holds a non-finite value (loss %g); lower lr "
                        "or set grad_clip; the last good checkpoint is kept",
                        step, m->params[i].name, loss);
    return 0;
}

/* An update can overflow parameters that were finite: that state must not
 * reach a checkpoint either. */
static int diverged_update(const rg_model *m, int step, double lr, rg_error *err) {
    for (int i = 0; i < m->n_params; i++)
        if (!finite_all(m->params[i].t.data, m->params[i].t.size))
            return fail(err,
                        "step %d: the update (lr %g) made parameter %s non-finite; lower lr "
                        "or raise warmup; the last good checkpoint is kept",
                        step, lr, m->params[i].name);
    return 0;
}

/* The sum of a batch's mask over rows first .. first+count-1. */
static double mask_sum(const rg_batch *b, int first, int count) {
    double sum = 0;
    for (long i = (long)first * b->T; i < (long)(first + count) * b->T; i++) sum += b->mask[i];
    return sum;
}

int rg_train_step(rg_ctx *ctx, rg_model *m, rg_adamw *adam, const rg_batch *batch, rg_step *s,
                  rg_error *err) {
    int first, rows; /* this rank's rows of the global batch (all of it when alone) */
    rg_dist_rows(s->dist, batch->B, &first, &rows);
    long at = (long)first * batch->T;
    rg_ctx_reset(ctx);
    rg_tensor *logits =
        rg_model_forward_seq(ctx, m, batch->tokens + at, batch->pos ? batch->pos + at : NULL,
                             batch->abacus ? batch->abacus + at : NULL, rows, batch->T);
    rg_tensor *loss = rg_model_loss(ctx, logits, batch->targets + at, batch->mask + at);
    rg_model_zero_grad(m);
    rg_backward(ctx, loss);
    s->loss = loss->data[0];
    if (s->dist && s->dist->size > 1)
        s->loss = rg_dist_reduce_step(s->dist, m, s->loss, mask_sum(batch, first, rows),
                                      mask_sum(batch, 0, batch->B), &s->stop);
    int rc = diverged(ctx, m, s->step, s->loss, err);
    if (rc) return rc;
    s->grad_norm = rg_clip_grad_norm(m, s->grad_clip);
    rg_adamw_step(adam, m, s->lr);
    return diverged_update(m, s->step, s->lr, err);
}

/* ---- the training batches ------------------------------------------------------------ */

void rg_train_data_init(rg_train_data *d, const rg_config *cfg, int min_len) {
    *d = (rg_train_data){.spec = rg_config_data_spec(cfg, true),
                         .batch_size = cfg->batch_size,
                         .min_len = min_len,
                         .max_len = cfg->train_len,
                         .random_positions = cfg->random_positions,
                         .positions_per = cfg->random_positions_per};
    if (cfg->train_examples > 0 && min_len <= 1) {
        rg_train_set_init(&d->set, &d->spec, cfg->train_examples, cfg->train_len, cfg->seed);
        d->fixed = true;
    }
}

void rg_train_data_batch(rg_train_data *d, long step, rg_batch *b, rg_rng *rng) {
    if (d->fixed)
        rg_train_set_batch(&d->set, step, d->batch_size, b);
    else
        rg_batch_draw(b, &d->spec, d->batch_size, d->min_len, d->max_len, rng);
    if (d->random_positions > 0)
        rg_batch_random_positions_per(b, d->random_positions, d->positions_per, rng);
    if (d->spec.coupled_max > 0) rg_batch_coupled_positions(b, &d->spec, rng);
    rg_batch_abacus(b, &d->spec, rng); /* after the batch and its positions */
}

void rg_train_data_free(rg_train_data *d) {
    if (d->fixed) rg_train_set_free(&d->set);
    d->fixed = false;
}
