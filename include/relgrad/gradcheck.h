/* gradcheck.h: finite-difference gradient checks, the one checker shared by
 * the test suite (tests/test_gradcheck.c, tests/test_model.c) and the
 * `relgrad gradcheck` command (docs/gradcheck.md).
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
 * RG_GC_TOL for single ops and RG_GC_TOL_MODEL for whole models (below).
 */
#ifndef RELGRAD_GRADCHECK_H
#define RELGRAD_GRADCHECK_H

#include "relgrad/nn.h"

#ifdef RELGRAD_F64
#define RG_GC_EPS       1e-3
#define RG_GC_TOL       1e-6
#define RG_GC_TOL_MODEL 1e-6
#else
/* float32: the step h trades truncation (h^4) against rounding
 * (2^-24 |L| / h); with h = 1e-2 a relative error of 1e-2 is what that
 * balance reliably allows across these ops. */
#define RG_GC_EPS       1e-2
#define RG_GC_TOL       1e-2
/* A whole model in float32 is ~40 ops deep and each adds rounding noise that
 * the difference quotient amplifies; measured worst errors are 6.8e-3 to
 * 1.9e-2 across the schemes (2026-11-29), with h = 1e-2 the best of 1e-2, 3e-2, 5e-2.
 * The binding check of the model is the float64 one, at 1e-6. */
#define RG_GC_TOL_MODEL 5e-2
#endif

typedef rg_tensor *(*rg_gc_fn)(rg_ctx *ctx, rg_tensor **inputs, void *arg);

/* The worst entry of one input. */
typedef struct rg_gc_input {
    double worst_err;
    long worst_index; /* flat, row-major */
    double analytic, numeric;
    long n_checked; /* 0: the input was not checked (requires_grad unset) */
} rg_gc_input;

typedef struct rg_gc_result {
    double worst_err; /* largest err_i seen                      */
    int worst_input;  /* which input and entry it was            */
    long worst_index;
    double analytic, numeric;
    long n_checked;
} rg_gc_result;

typedef struct rg_gc_options {
    double h;                      /* the step; 0 = RG_GC_EPS                      */
    rg_gc_input *per_input;        /* optional: room for n, filled per input       */
    rg_backward_observer observer; /* optional: installed on the analytic pass     */
    bool quiet;                    /* no "gradcheck FAILED" line on stderr         */
    /* optional: called for every checked entry k of input i (x = inputs[i]) */
    void (*each)(void *arg, int i, const rg_tensor *x, long k, double analytic, double numeric,
                 double err);
    void *each_arg;
    /* optional: called once with the output of the analytic pass and the
     * seed r of its backward (the gradient L = sum(out * r) gives it) */
    void (*seeded)(void *arg, const rg_tensor *out, const real *r);
} rg_gc_options;

/* Check d out / d inputs[i] for every input with requires_grad set. Prints a
 * line naming the op, input, index, analytic and numeric values for the
 * worst entry when it fails (unless quiet). Returns true when every error is
 * within tol. opt may be NULL (defaults). */
bool rg_gc_check_opts(const char *op, rg_gc_fn f, void *arg, rg_tensor **inputs, int n, double tol,
                      const rg_gc_options *opt, rg_gc_result *res);
/* With the defaults, and with a step h instead of RG_GC_EPS (functions with
 * kinks, e.g. FIRE's relu, need steps that do not cross them). */
bool rg_gc_check(const char *op, rg_gc_fn f, void *arg, rg_tensor **inputs, int n, double tol,
                 rg_gc_result *res);
bool rg_gc_check_step(const char *op, rg_gc_fn f, void *arg, rg_tensor **inputs, int n, double tol,
                      double h, rg_gc_result *res);

/* ---- the whole model ------------------------------------------------------------------ */

/* The set-up of a model check, shared with tests/test_model.c:
 * rg_gc_model_init is rg_model_init from seed with every value then moved by
 * 0.1 N(0, 1) (from seed + 1), so no parameter sits at a special point
 * (biases at 0, gains at 1): 0, or 2 with err (mc invalid).
 * rg_gc_random_tokens fills tokens[0..n-1] uniformly from 0..V-1;
 * rg_gc_random_positions fills pos [B,T] with each row a sorted random
 * T-subset of 0..L-1, as random_positions draws them (L >= T). */
int rg_gc_model_init(rg_model *m, const rg_model_config *mc, uint64_t seed, rg_error *err);
void rg_gc_random_tokens(int *tokens, int n, int V, uint64_t seed);
void rg_gc_random_positions(int *pos, int B, int T, int L, uint64_t seed);

typedef struct rg_gc_model_options {
    int B, T;                      /* rows and tokens of the checked batch (0: 2 and 5)      */
    int random_positions;          /* > 0: each row's positions a sorted random T-subset of
                                      0..L-1 (0: positions 0..T-1, or offset + t with memory) */
    uint64_t seed;                 /* model initialisation (0: 7)                            */
    double tol;                    /* 0: RG_GC_TOL_MODEL                                     */
    rg_backward_observer observer; /* passed to the check (rg_gc_options)         */
    bool quiet;
    void (*each)(void *arg, int i, const rg_tensor *x, long k, double analytic, double numeric,
                 double err); /* passed to the check (rg_gc_options)                         */
    void *each_arg;
} rg_gc_model_options;

/* What a whole-model check found: the result over the checked parameters,
 * each parameter's worst entry, and the gradients checked to be ~0 instead
 * of by differences (FIRE's fc2.bias, SPEC section 6). */
typedef struct rg_gc_model_report {
    char what[320]; /* "model POS mem_len=M [random positions]": names the check */
    bool ok;        /* res within tol and every left-out gradient ~0 */
    rg_gc_result res;
    double h, tol;
    int n_params;
    rg_param *params;             /* [n_params] copies, model order: name, shape (no data) */
    rg_gc_input *per_param;       /* [n_params]; n_checked 0 = not checked by differences */
    bool *left_out;               /* [n_params] checked to be ~0 instead               */
    double left_out_max, largest; /* largest left-out |gradient|, largest of all     */
    bool left_out_ok;
    const char *worst_name; /* params[...].name of the worst checked entry */
    long worst_index;
} rg_gc_model_report;

/* Gradient check of the whole model built from mc by rg_gc_model_init (seed
 * 7 unless given); B x T random tokens (rg_gc_random_tokens, seed 3); with
 * mem_len > 0, one earlier segment without gradient fills the memory first
 * and the checked segment starts at offset T. FIRE's relu units are kept off
 * their kinks (its check_prepare hook) and its c and L are checked with a
 * step of 1e-4 in float64 (the kinks move with them); in float32, whose step
 * cannot avoid the kinks, c and L are left out. 0, or 2 with err (mc invalid, random positions
 * with memory or fewer than T of them). Free the report with
 * rg_gc_model_report_free. */
int rg_gc_model(const rg_model_config *mc, const rg_gc_model_options *opt, rg_gc_model_report *rep,
                rg_error *err);
void rg_gc_model_report_free(rg_gc_model_report *rep);

/* ---- single ops, by name (relgrad gradcheck OP) ------------------------------------------ */

int rg_gc_op_count(void);
const char *rg_gc_op_name(int i);
const char *rg_gc_op_summary(int i); /* inputs and the sizes it reads */
int rg_gc_op_find(const char *name); /* index, or -1 */
/* The defaults of the size keys ("B=2 ..."); rg_op_sizes_set parses one
 * key=value: 0, or 2 with a message (unknown key, bad value) in err;
 * rg_op_sizes_text writes every key as "B=2 H=3 ... seed=1" into buf. */
void rg_op_sizes_defaults(rg_op_sizes *s);
int rg_op_sizes_set(rg_op_sizes *s, const char *key, const char *value, const char *where,
                    rg_error *err);
const char *rg_op_sizes_text(const rg_op_sizes *s, char *buf, size_t n);
/* What an op check found: its inputs' headers (name, shape; no data), each
 * input's worst entry, the overall result. */
typedef struct rg_gc_op_report {
    int n_inputs;
    rg_tensor inputs[RG_MAX_INPUTS];
    rg_gc_input per_input[RG_MAX_INPUTS];
    rg_gc_result res;
    double h, tol;
    bool ok;
} rg_gc_op_report;

/* Check op i at sizes s against tol (opt may be NULL; its per_input is not
 * used: the report has them). 0, or 2 with err when the sizes do not fit
 * the op. */
int rg_gc_op(int i, const rg_op_sizes *s, const rg_gc_options *opt, double tol,
             rg_gc_op_report *rep, rg_error *err);

#endif
