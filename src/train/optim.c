/* optim.c: AdamW (Loshchilov & Hutter 2019), the warmup + cosine schedule,
 * and global gradient-norm clipping. */
#include "relgrad/optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void rg_adamw_init(rg_adamw *opt, const rg_model *model, double weight_decay) {
    memset(opt, 0, sizeof *opt);
    opt->n = model->n_values;
    opt->m = rg_xcalloc((size_t)opt->n, sizeof(real), "AdamW's first moments");
    opt->v = rg_xcalloc((size_t)opt->n, sizeof(real), "AdamW's second moments");
    opt->beta1 = 0.9, opt->beta2 = 0.95, opt->eps = 1e-8;
    opt->weight_decay = weight_decay;
    opt->threads = 1;
}

void rg_adamw_free(rg_adamw *opt) {
    free(opt->m);
    free(opt->v);
    memset(opt, 0, sizeof *opt);
}

void rg_adamw_step(rg_adamw *opt, rg_model *model, double lr) {
    opt->step++;
    double b1 = opt->beta1, b2 = opt->beta2;
    double c1 = 1 - pow(b1, (double)opt->step), c2 = 1 - pow(b2, (double)opt->step);
    for (int i = 0; i < model->n_params; i++) {
        const rg_param *p = &model->params[i];
        double decay = p->decay ? lr * opt->weight_decay : 0;
        real *w = p->t.data, *g = p->t.grad, *m = opt->m + p->offset, *v = opt->v + p->offset;
        long n = p->t.size;
#pragma omp parallel for schedule(static) if (n > 32768) num_threads(opt->threads)
        for (long j = 0; j < n; j++) {
            m[j] = (real)(b1 * m[j] + (1 - b1) * g[j]);
            v[j] = (real)(b2 * v[j] + (1 - b2) * g[j] * g[j]);
            double mhat = m[j] / c1, vhat = v[j] / c2;
            w[j] = (real)(w[j] - decay * w[j] - lr * mhat / (sqrt(vhat) + opt->eps));
        }
    }
}

double rg_lr_at(int s, int steps, int warmup, double lr_max) {
    if (s < warmup) return lr_max * (s + 1) / warmup;
    if (steps <= warmup) return lr_max;
    double progress = (double)(s - warmup) / (steps - warmup); /* 0 .. 1 */
    return lr_max * 0.5 * (1 + cos(M_PI * progress));
}

double rg_clip_grad_norm(rg_model *model, double max_norm) {
    double sum = 0;
    for (long i = 0; i < model->n_values; i++) sum += (double)model->grads[i] * model->grads[i];
    double norm = sqrt(sum);
    if (max_norm > 0 && norm > max_norm) {
        real scale = (real)(max_norm / (norm + 1e-6));
        for (long i = 0; i < model->n_values; i++) model->grads[i] *= scale;
    }
    return norm;
}
