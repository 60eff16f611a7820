/* optim.h: AdamW with decoupled weight decay, the learning-rate schedule
 * (linear warmup, then cosine decay to zero) and global gradient-norm
 * clipping. */
#ifndef RELGRAD_OPTIM_H
#define RELGRAD_OPTIM_H

#include "relgrad/nn.h"

typedef struct rg_adamw {
    long n;         /* number of parameter values               */
    real *m, *v;    /* first and second moments, [n] each       */
    long step;      /* updates done so far                      */
    double seconds; /* wall time the run spent reaching `step` (all sessions;
                       checkpointed with it; 0 = not recorded) */
    /* select = best: the step whose parameters scored best on the validation
     * set so far (0 = none yet) and that score; checkpointed with `step`, so
     * a resumed run selects what an uninterrupted one would. */
    long best_step;
    double best_score;
    double beta1, beta2, eps, weight_decay;
    int threads; /* OpenMP threads of the update loop (1 after init) */
} rg_adamw;

void rg_adamw_init(rg_adamw *opt, const rg_model *model, double weight_decay);
void rg_adamw_free(rg_adamw *opt);

/* One update at learning rate lr, with t = ++step (beta1 0.9, beta2 0.95,
 * eps 1e-8, the usual choice for small Transformers):
 *   m = b1 m + (1-b1) g,   v = b2 v + (1-b2) g^2
 *   p -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)
 *   p -= lr * weight_decay * p        (only where param->decay; decoupled,
 *                                      applied to the value before the step)
 */
void rg_adamw_step(rg_adamw *opt, rg_model *model, double lr);

/* The code paths of the update (float32 builds; relgrad-f64 runs only the
 * scalar one): the same bits on each. rg_adamw_step takes the widest this
 * CPU has (cpuid), rg_adamw_simd_level(); tests run each one they can. */
enum { RG_ADAMW_SCALAR = 0, RG_ADAMW_AVX2 = 1, RG_ADAMW_AVX512 = 2 };
int rg_adamw_simd_level(void);
void rg_adamw_step_simd(rg_adamw *opt, rg_model *model, double lr, int simd);

/* lr at step s (0-based): lr_max * (s+1)/warmup during warmup, then cosine
 * from lr_max down to 0 at step `steps`. */
double rg_lr_at(int s, int steps, int warmup, double lr_max);

/* Global L2 norm of all gradients; if it exceeds max_norm > 0, scales every
 * gradient by max_norm / (norm + 1e-6). Returns the norm before clipping. */
double rg_clip_grad_norm(rg_model *model, double max_norm);

#endif
