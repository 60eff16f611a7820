/* gradcheck.c: the finite-difference checker described in
 * include/relgrad/gradcheck.h and docs/gradcheck.md, and the placing of relu
 * kinks between the values a check feeds them. */
#include "relgrad/gradcheck.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

rg_tensor *rg_gc_tensor(rg_rng *rng, int ndim, const int *shape, double std, const char *name) {
    rg_tensor *t = rg_xcalloc(1, sizeof *t, "a gradient-check input");
    long n = rg_shape_size(ndim, shape);
    real *data = rg_xmalloc((size_t)(n ? n : 1) * sizeof(real), "a gradient-check input");
    real *grad = rg_xcalloc((size_t)(n ? n : 1), sizeof(real), "a gradient-check input");
    for (long i = 0; i < n; i++) data[i] = (real)(std * rg_rng_normal(rng));
    *t = rg_wrap(data, grad, ndim, shape, name);
    return t;
}

void rg_gc_tensor_free(rg_tensor *t) {
    if (!t) return;
    free(t->data);
    free(t->grad);
    free(t);
}

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

/* ---- relu kinks ---------------------------------------------------------------------- */

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int rg_gc_place_kinks(double *z, int n, real *w, real *b, int W, double h, rg_rng *rng) {
    qsort(z, (size_t)n, sizeof *z, compare_doubles);
    /* the gaps between distinct z values, widest first: unit u gets the u-th */
    int n_gaps = 0;
    double *gap = rg_xmalloc((size_t)(n > 0 ? n : 1) * 2 * sizeof(double), "relu gaps");
    for (int k = 0; k + 1 < n; k++)
        if (z[k + 1] - z[k] > 1e-9)
            gap[2 * n_gaps] = -(z[k + 1] - z[k]), gap[2 * n_gaps + 1] = 0.5 * (z[k] + z[k + 1]),
                    n_gaps++;
    if (n_gaps == 0) {
        free(gap);
        return -1;
    }
    qsort(gap, (size_t)n_gaps, 2 * sizeof(double), compare_doubles); /* (width, middle) pairs */
    int live = 0;
    for (int u = 0; u < W; u++) {
        double z0 = gap[2 * (u % n_gaps) + 1], half = -0.5 * gap[2 * (u % n_gaps)];
        double slope = (rg_rng_uniform(rng) < 0.5 ? -1 : 1) * (0.8 + 0.4 * rg_rng_uniform(rng));
        /* a step of 2h in b or w moves w z + b by at most 2h: a unit whose
         * gap is narrower than that stays off for every z instead */
        if (0.8 * half > 3 * h) {
            w[u] = (real)slope;
            b[u] = (real)(-slope * z0);
            live++;
        } else {
            w[u] = (real)0.5;
            b[u] = (real)-1; /* 0.5 z - 1 < 0 for z in [0, 1) */
        }
    }
    free(gap);
    return live;
}
