/* example_mlp.c: the relgrad API in one page. A two-layer MLP on a toy
 * batch: forward, loss, backward, one SGD step; prints the loss and one
 * gradient. Build: cmake --build build --target example_mlp. */
#include "relgrad/relgrad.h"

#include <stdio.h>
#include <stdlib.h>

enum { B = 4, IN = 3, HID = 8, OUT = 2 };

/* A parameter: persistent value and gradient, wrapped as a tensor. */
static rg_tensor param(rg_rng *rng, int ndim, int *shape, double std, const char *name) {
    long n = rg_shape_size(ndim, shape);
    real *data = calloc(n, sizeof(real)), *grad = calloc(n, sizeof(real));
    for (long i = 0; i < n; i++) data[i] = (real)(std * rg_rng_normal(rng));
    return rg_wrap(data, grad, ndim, shape, name);
}

int main(void) {
    rg_ctx ctx;
    rg_ctx_init(&ctx, 2); /* 2 threads for OpenMP and BLIS */
    rg_rng rng;
    rg_rng_seed(&rng, 1);
    rg_tensor W1 = param(&rng, 2, (int[]){HID, IN}, 0.5, "W1"),
              b1 = param(&rng, 1, (int[]){HID}, 0, "b1");
    rg_tensor W2 = param(&rng, 2, (int[]){OUT, HID}, 0.5, "W2"),
              b2 = param(&rng, 1, (int[]){OUT}, 0, "b2");
    rg_tensor *params[] = {&W1, &b1, &W2, &b2};

    for (int step = 0; step < 2; step++) {
        rg_ctx_reset(&ctx); /* new step: empty tape, recycled arena */
        rg_tensor *x = rg_new2(&ctx, B, IN);
        for (int i = 0; i < B * IN; i++) x->data[i] = (real)((i % 5) - 2) / 2;
        int targets[B] = {0, 1, 1, 0};
        real mask[B] = {1, 1, 1, 1};

        rg_tensor *h = rg_gelu(&ctx, rg_linear(&ctx, x, &W1, &b1)); /* (B,HID) */
        rg_tensor *logits = rg_linear(&ctx, h, &W2, &b2);           /* (B,OUT) */
        rg_tensor *loss = rg_cross_entropy(&ctx, logits, targets, mask);
        for (int p = 0; p < 4; p++) /* gradients accumulate until zeroed */
            for (long i = 0; i < params[p]->size; i++) params[p]->grad[i] = 0;
        rg_backward(&ctx, loss);
        printf("step %d: loss %.6f  dL/dW1[0,0] = %.6f\n", step, (double)loss->data[0],
               (double)W1.grad[0]);
        for (int p = 0; p < 4; p++) /* plain SGD, lr 0.5 */
            for (long i = 0; i < params[p]->size; i++)
                params[p]->data[i] -= (real)0.5 * params[p]->grad[i];
    }
    for (int p = 0; p < 4; p++) free(params[p]->data), free(params[p]->grad);
    rg_ctx_free(&ctx);
    return 0;
}
