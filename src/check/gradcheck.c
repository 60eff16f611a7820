/* gradcheck.c: the finite-difference checker described in
 * include/relgrad/gradcheck.h and docs/gradcheck.md. */
#include "relgrad/gradcheck.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* L = sum(out * r) in long double, with out computed without recording.
 * If scale is given, it receives sum |out * r|: the size of the terms whose
 * rounding limits what a finite difference can resolve. */
static long double eval_loss_scaled(rg_ctx *ctx, rg_gc_fn f, void *arg, rg_tensor **inputs,
                                    const real *r, long n_out, double *scale) {
    rg_ctx_reset(ctx);
    bool was = rg_set_no_grad(ctx, true);
    rg_tensor *out = f(ctx, inputs, arg);
    rg_set_no_grad(ctx, was);
    if (out->size != n_out) rg_die("gradcheck: output size changed between calls");
    long double L = 0, S = 0;
    for (long j = 0; j < n_out; j++) {
        L += (long double)out->data[j] * r[j];
        S += fabsl((long double)out->data[j] * r[j]);
    }
    if (scale) *scale = (double)S;
    return L;
}

static long double eval_loss(rg_ctx *ctx, rg_gc_fn f, void *arg, rg_tensor **inputs, const real *r,
                             long n_out) {
    return eval_loss_scaled(ctx, f, arg, inputs, r, n_out, NULL);
}

/* The fourth-order central difference
 *   f'(x) ~ (-f(x+2h) + 8 f(x+h) - 8 f(x-h) + f(x-2h)) / (12 h)
 * whose truncation error is O(h^4): with h = 1e-3 in float64 that is ~1e-12,
 * and the rounding error ~1e-16 / h stays ~1e-13, so the check can resolve
 * relative errors far below the 1e-6 bound. */
static double central_difference(rg_ctx *ctx, rg_gc_fn f, void *arg, rg_tensor **inputs,
                                 const real *r, long n_out, real *xk, double h) {
    real saved = *xk;
    long double L[4];
    const real offsets[4] = {2, 1, -1, -2};
    for (int s = 0; s < 4; s++) {
        *xk = saved + offsets[s] * (real)h;
        L[s] = eval_loss(ctx, f, arg, inputs, r, n_out);
    }
    *xk = saved;
    /* grouped as differences so equal values cancel exactly (a zero gradient
     * gives exactly 0) */
    return (double)(((L[3] - L[0]) + 8 * (L[1] - L[2])) / (12 * (long double)(real)h));
}

bool rg_gc_check(const char *op, rg_gc_fn f, void *arg, rg_tensor **inputs, int n, double tol,
                 rg_gc_result *res) {
    return rg_gc_check_opts(op, f, arg, inputs, n, tol, NULL, res);
}

bool rg_gc_check_step(const char *op, rg_gc_fn f, void *arg, rg_tensor **inputs, int n, double tol,
                      double h, rg_gc_result *res) {
    rg_gc_options opt = {.h = h};
    return rg_gc_check_opts(op, f, arg, inputs, n, tol, &opt, res);
}

bool rg_gc_check_opts(const char *op, rg_gc_fn f, void *arg, rg_tensor **inputs, int n, double tol,
                      const rg_gc_options *opt, rg_gc_result *res) {
    static const rg_gc_options defaults;
    if (!opt) opt = &defaults;
    double h = opt->h > 0 ? opt->h : RG_GC_EPS;
    rg_ctx ctx;
    rg_ctx_init(&ctx, 1);
    memset(res, 0, sizeof *res);
    res->worst_input = -1;
    if (opt->per_input) memset(opt->per_input, 0, (size_t)n * sizeof *opt->per_input);

    /* Analytic: one forward with the tape, backward seeded with r. */
    for (int i = 0; i < n; i++)
        if (inputs[i]->requires_grad)
            memset(inputs[i]->grad, 0, (size_t)inputs[i]->size * sizeof(real));
    rg_tensor *out = f(&ctx, inputs, arg);
    long n_out = out->size;
    real *r = rg_xmalloc((size_t)(n_out ? n_out : 1) * sizeof(real), "a gradient-check seed");
    rg_rng rng;
    rg_rng_seed(&rng, 12345);
    for (long j = 0; j < n_out; j++) r[j] = (real)(2 * rg_rng_uniform(&rng) - 1);
    if (opt->seeded) opt->seeded(opt->each_arg, out, r);
    ctx.observer = opt->observer; /* only this backward: the differences run none */
    rg_backward_seeded(&ctx, out, r);
    ctx.observer = (rg_backward_observer){0};

    /* Resolution of the finite difference: terms of size S carry rounding
     * errors of ~ulp * S, which the difference quotient divides by h. */
    double S;
    eval_loss_scaled(&ctx, f, arg, inputs, r, n_out, &S);
    double resolution = 100 * (sizeof(real) == 4 ? 0x1p-24 : 0x1p-53) * S / h;

    for (int i = 0; i < n; i++) {
        rg_tensor *x = inputs[i];
        if (!x->requires_grad) continue;
        double *numeric =
            rg_xmalloc((size_t)(x->size ? x->size : 1) * sizeof(double), "numeric gradients");
        double max_num = 0;
        for (long k = 0; k < x->size; k++) {
            numeric[k] = central_difference(&ctx, f, arg, inputs, r, n_out, &x->data[k], h);
            if (fabs(numeric[k]) > max_num) max_num = fabs(numeric[k]);
        }
        double floor_ = fmax(1e-3 * max_num, resolution);
        rg_gc_input *mine = opt->per_input ? &opt->per_input[i] : NULL;
        for (long k = 0; k < x->size; k++) {
            double a = x->grad[k], nu = numeric[k], err;
            double den = fmax(fmax(fabs(a), fabs(nu)), floor_);
            err = den > 0 ? fabs(a - nu) / den : 0;
            res->n_checked++;
            if (opt->each) opt->each(opt->each_arg, i, x, k, a, nu, err);
            if (mine && (err > mine->worst_err || mine->n_checked == 0))
                *mine = (rg_gc_input){err, k, a, nu, mine->n_checked};
            if (mine) mine->n_checked++;
            if (err > res->worst_err || res->worst_input < 0) {
                res->worst_err = err;
                res->worst_input = i;
                res->worst_index = k;
                res->analytic = a;
                res->numeric = nu;
            }
        }
        free(numeric);
    }
    bool ok = res->worst_err <= tol;
    if (!ok && !opt->quiet) {
        rg_tensor *x = inputs[res->worst_input];
        char s[64];
        fprintf(stderr,
                "gradcheck FAILED: op %s, input %d (%s, shape %s), index %ld: analytic %.17g, "
                "numeric %.17g, error %.3g > %.3g\n",
                op, res->worst_input, x->name ? x->name : "?", rg_shape_str(x, s, sizeof s),
                res->worst_index, res->analytic, res->numeric, res->worst_err, tol);
    }
    free(r);
    rg_ctx_free(&ctx);
    return ok;
}
