/* loss.c: masked mean cross-entropy fused with log-softmax.
 *
 * loss = sum_n w_n (lse_n - z_n[y_n]),  w_n = mask_n / sum(mask),
 * lse_n = log sum_v exp(z_n[v]). Since d lse / d z[v] = softmax(z)[v],
 *   d loss / d z_n[v] = w_n (softmax(z_n)[v] - [v == y_n]).
 * Fusing the two avoids ever forming log-probabilities and keeps the
 * gradient exact where softmax underflows.
 */
#include "ops_internal.h"

#include <math.h>
#include <string.h>

typedef struct {
    int *targets;
    real *weight; /* mask / sum(mask) */
    real *lse;    /* log-sum-exp per row */
} ce_saved;

static void cross_entropy_backward(rg_ctx *ctx, rg_node *node) {
    rg_tensor *z = node->in[0];
    const ce_saved *s = node->saved;
    long N = rg_rows(z);
    int V = rg_last(z);
    real dl = node->out->grad[0], *dz = rg_grad(ctx, z);
#pragma omp parallel for schedule(static) if (N * V > 32768) num_threads(ctx->threads)
    for (long n = 0; n < N; n++) {
        if (s->weight[n] == 0) continue;
        real w = dl * s->weight[n];
        for (int v = 0; v < V; v++) dz[n * V + v] += w * exp(z->data[n * V + v] - s->lse[n]);
        dz[n * V + s->targets[n]] -= w;
    }
}

rg_tensor *rg_cross_entropy(rg_ctx *ctx, rg_tensor *logits, const int *targets, const real *mask) {
    long N = rg_rows(logits);
    int V = rg_last(logits);
    ce_saved *s = rg_arena_alloc(&ctx->arena, sizeof *s);
    s->targets = rg_arena_alloc(&ctx->arena, (size_t)N * sizeof(int));
    s->weight = rg_arena_alloc(&ctx->arena, (size_t)N * sizeof(real));
    s->lse = rg_arena_alloc(&ctx->arena, (size_t)N * sizeof(real));
    memcpy(s->targets, targets, (size_t)N * sizeof(int));
    real total = 0;
    for (long n = 0; n < N; n++) {
        if (mask[n] != 0 && (targets[n] < 0 || targets[n] >= V))
            rg_die("cross_entropy: target %d at row %ld is outside the vocabulary [0,%d)",
                   targets[n], n, V);
        total += mask[n];
    }
    for (long n = 0; n < N; n++) s->weight[n] = total > 0 ? mask[n] / total : 0;

    real loss = 0;
    for (long n = 0; n < N; n++) {
        const real *z = logits->data + n * V;
        real mx = z[0], sum = 0;
        for (int v = 1; v < V; v++) mx = z[v] > mx ? z[v] : mx;
        for (int v = 0; v < V; v++) sum += exp(z[v] - mx);
        s->lse[n] = mx + log(sum);
        if (s->weight[n] != 0) loss += s->weight[n] * (s->lse[n] - z[targets[n]]);
    }
    rg_tensor *out = rg_new1(ctx, 1);
    out->data[0] = loss;
    if (rg_needs_grad(ctx, &logits, 1))
        rg_record(ctx, RG_OP_CROSS_ENTROPY, cross_entropy_backward, out, &logits, 1)->saved = s;
    return out;
}
