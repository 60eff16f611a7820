/* gradcheck.h: finite-difference gradient checks for the test suite.
 *
 * A check builds f(inputs) -> out, seeds out's gradient with a fixed random
 * vector r (so the checked scalar is L = sum(out * r), which involves every
 * output entry), runs backward, and compares each input's analytic gradient
 * with the fourth-order central difference
 *     numeric_i = (-L(x+2h e_i) + 8 L(x+h e_i) - 8 L(x-h e_i) + L(x-2h e_i)) / (12 h).
 *
 * Error definition (the one bound we quote, see docs/gradcheck.md):
 *     err_i = |analytic_i - numeric_i| / max(|analytic_i|, |numeric_i|, floor)
 *     floor = max(1e-3 * max_k |numeric_k|,  100 u S / h)
 * i.e. relative error per entry, except that entries a thousand times smaller
 * than the input's largest gradient are judged relative to 1/1000 of it (a
 * relative error is meaningless for an entry that is zero up to rounding),
 * and nothing is judged below what the difference can resolve: u is the unit
 * roundoff of `real` (2^-53 or 2^-24), S = sum_j |out_j r_j| the size of the
 * summed terms, h the step. In float64 that resolution is ~1e-11 S and only
 * matters for exactly-zero gradients; in float32 it is ~1e-3 S.
 * Bounds: 1e-6 in the float64 build (ops and whole models); in float32,
 * GC_TOL for single ops and GC_TOL_MODEL for whole models (see below).
 */
#ifndef RELGRAD_TESTS_GRADCHECK_H
#define RELGRAD_TESTS_GRADCHECK_H

#include "relgrad/relgrad.h"

#ifdef RELGRAD_F64
#define GC_EPS       1e-3
#define GC_TOL       1e-6
#define GC_TOL_MODEL 1e-6
#else
/* float32: the step h trades truncation (h^4) against rounding
 * (2^-24 |L| / h); with h = 1e-2 a relative error of 1e-2 is what that
 * balance reliably allows across these ops. */
#define GC_EPS       1e-2
#define GC_TOL       1e-2
/* A whole model in float32 is ~40 ops deep and each adds rounding noise that
 * the difference quotient amplifies; measured worst errors are 6.8e-3 to
 * 1.9e-2 across the schemes (2026-11-29), with h = 1e-2 the best of 1e-2, 3e-2, 5e-2.
 * The binding check of the model is the float64 one, at 1e-6. */
#define GC_TOL_MODEL 5e-2
#endif

typedef rg_tensor *(*gc_fn)(rg_ctx *ctx, rg_tensor **inputs, void *arg);

typedef struct gc_result {
    double worst_err; /* largest err_i seen                      */
    int worst_input;  /* which input and entry it was            */
    long worst_index;
    double analytic, numeric;
    long n_checked;
} gc_result;

/* A persistent tensor (malloc'd value and gradient) filled with N(0, std). */
rg_tensor *gc_tensor(rg_rng *rng, int ndim, const int *shape, double std, const char *name);
void gc_tensor_free(rg_tensor *t);

/* Check d out / d inputs[i] for every input with requires_grad set. Prints a
 * line naming the op, input, index, analytic and numeric values for the
 * worst entry when it fails. Returns true when every error is within tol. */
bool gc_check(const char *op, gc_fn f, void *arg, rg_tensor **inputs, int n, double tol,
              gc_result *res);
/* The same with step h instead of GC_EPS (functions with kinks, e.g. FIRE's
 * relu, need steps that do not cross them). */
bool gc_check_step(const char *op, gc_fn f, void *arg, rg_tensor **inputs, int n, double tol,
                   double h, gc_result *res);

#endif
