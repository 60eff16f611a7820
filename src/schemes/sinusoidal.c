/* sinusoidal.c: the absolute sinusoidal embedding (Vaswani et al. 2017),
 * added to the token embeddings:
 *     ape(p)[2m] = sin(p w_m),  ape(p)[2m+1] = cos(p w_m),  w_m = 10000^(-2m/d).
 * It has no parameters, so it adds nothing to the backward. */
#include "scheme.h"

#include <math.h>

void rg_sinusoid_freqs(int d, double *w) {
    for (int m = 0; m < d / 2; m++) w[m] = pow(10000.0, -2.0 * m / d);
}

void rg_sinusoid_row(int p, int d, const double *w, real *out, bool interleaved) {
    for (int m = 0; m < d / 2; m++) {
        double s = sin(p * w[m]), c = cos(p * w[m]);
        if (interleaved)
            out[2 * m] = (real)s, out[2 * m + 1] = (real)c;
        else
            out[m] = (real)s, out[d / 2 + m] = (real)c;
    }
}

static int validate(rg_scheme_check *chk) {
    int d = chk->mc->d_model;
    if (d % 2)
        return chk->fail(chk, "d_model",
                         "%d is odd, but pos = sinusoidal builds sin/cos pairs over d_model; "
                         "choose an even d_model, e.g. %d",
                         d, d + 1);
    return 0;
}

/* [rows, T, d], rows = 1 when every batch row has the same positions */
static rg_tensor *embed(rg_ctx *ctx, const rg_model_config *mc, rg_tensor *const *shared,
                        const int *pos, long pos_stride, int B, int T) {
    (void)shared;
    int d = mc->d_model, rows = pos_stride ? B : 1;
    rg_tensor *pe = rg_empty(ctx, 3, (int[]){rows, T, d});
    double *w = rg_arena_alloc(&ctx->arena, (size_t)(d / 2) * sizeof *w);
    rg_sinusoid_freqs(d, w);
    for (int b = 0; b < rows; b++)
        for (int t = 0; t < T; t++)
            rg_sinusoid_row(pos[b * pos_stride + t], d, w, pe->data + ((long)b * T + t) * d, true);
    return pe;
}

const rg_scheme rg_scheme_sinusoidal = {
    .name = "sinusoidal",
    .summary = "absolute sin/cos embedding of each position added to the tokens "
               "(Vaswani et al. 2017)",
    .flags = RG_SCHEME_ANY_ORDER,
    .validate = validate,
    .embed = embed,
};
