/* test_gradcheck.c: a finite-difference check for every op and every
 * differentiable input, on shapes with odd sizes and size-1 dims.
 * Built twice: float64 (bound 1e-6) and float32 (looser bound, gradcheck.h). */
#include "ops/ops_internal.h" /* rg_gemm, for the empty-product test */
#include "relgrad/gradcheck.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

/* Run one check and report it. `inputs` are freed afterwards. */
static void run(const char *op, rg_gc_fn f, void *arg, rg_tensor **in, int n) {
    rg_gc_result res;
    bool ok = rg_gc_check(op, f, arg, in, n, RG_GC_TOL, &res);
    cr_log_info("%s: %ld entries, worst error %.3g (input %d index %ld)", op, res.n_checked,
                res.worst_err, res.worst_input, res.worst_index);
    cr_expect(ok, "%s: worst error %.3g at input %d index %ld: analytic %.17g numeric %.17g", op,
              res.worst_err, res.worst_input, res.worst_index, res.analytic, res.numeric);
    for (int i = 0; i < n; i++) rg_tensor_free(in[i]);
}

#define T(...)                                                                                     \
    rg_tensor_random(&rng, sizeof((int[]){__VA_ARGS__}) / sizeof(int), (int[]){__VA_ARGS__}, 1.0,  \
                     NULL)

static rg_rng rng_for(const char *op) {
    rg_rng rng;
    uint64_t h = 1469598103934665603ull;
    for (const char *c = op; *c; c++) h = (h ^ (unsigned char)*c) * 1099511628211ull;
    rg_rng_seed(&rng, h);
    return rng;
}

/* ---- linear / matmul ------------------------------------------------------------- */

static rg_tensor *f_linear(rg_ctx *c, rg_tensor **x, void *arg) {
    return rg_linear(c, x[0], x[1], arg ? x[2] : NULL);
}
Test(gradcheck, linear) {
    rg_rng rng = rng_for("linear");
    int shapes[][3] = {{5, 3, 4}, {1, 1, 1}, {7, 6, 1}, {2, 1, 9}};
    for (int s = 0; s < 4; s++) {
        int N = shapes[s][0], in = shapes[s][1], out = shapes[s][2];
        rg_tensor *x[3] = {T(N, in), T(out, in), T(out)};
        run("linear", f_linear, (void *)1, x, 3);
        rg_tensor *y[3] = {T(2, N, in), T(out, in), T(out)};
        run("linear (3-d x, no bias)", f_linear, NULL, y, 2);
        rg_tensor_free(y[2]);
    }
}

typedef struct {
    bool ta, tb;
} mm_arg;
static rg_tensor *f_matmul(rg_ctx *c, rg_tensor **x, void *arg) {
    mm_arg *a = arg;
    return rg_matmul(c, x[0], x[1], a->ta, a->tb);
}
Test(gradcheck, matmul) {
    rg_rng rng = rng_for("matmul");
    int dims[][3] = {{3, 4, 5}, {1, 1, 1}, {5, 1, 3}, {1, 7, 2}};
    for (int s = 0; s < 4; s++)
        for (int t = 0; t < 4; t++) {
            mm_arg a = {t & 1, t & 2};
            int m = dims[s][0], k = dims[s][1], n = dims[s][2];
            rg_tensor *x[2] = {a.ta ? T(2, 3, k, m) : T(2, 3, m, k),
                               a.tb ? T(2, 3, n, k) : T(2, 3, k, n)};
            run("matmul (batched)", f_matmul, &a, x, 2);
            rg_tensor *y[2] = {a.ta ? T(k, m) : T(m, k), a.tb ? T(n, k) : T(k, n)};
            run("matmul (2-d)", f_matmul, &a, y, 2);
            rg_tensor *z[2] = {a.ta ? T(3, 2, k, m) : T(3, 2, m, k),
                               a.tb ? T(1, 2, n, k) : T(1, 2, k, n)};
            run("matmul (b broadcast over dim 0)", f_matmul, &a, z, 2);
        }
}

/* ---- elementwise --------------------------------------------------------------------- */

static rg_tensor *f_add(rg_ctx *c, rg_tensor **x, void *a) {
    (void)a;
    return rg_add(c, x[0], x[1]);
}
static rg_tensor *f_mul(rg_ctx *c, rg_tensor **x, void *a) {
    (void)a;
    return rg_mul(c, x[0], x[1]);
}
static rg_tensor *f_scale(rg_ctx *c, rg_tensor **x, void *a) {
    (void)a;
    return rg_scale(c, x[0], (real)-1.7);
}
static rg_tensor *f_gelu(rg_ctx *c, rg_tensor **x, void *a) {
    (void)a;
    return rg_gelu(c, x[0]);
}
static rg_tensor *f_bias_add(rg_ctx *c, rg_tensor **x, void *a) {
    (void)a;
    return rg_bias_add(c, x[0], x[1]);
}
static rg_tensor *f_add_bcast(rg_ctx *c, rg_tensor **x, void *a) {
    (void)a;
    return rg_add_bcast(c, x[0], x[1]);
}
static rg_tensor *f_head_bias(rg_ctx *c, rg_tensor **x, void *a) {
    (void)a;
    return rg_add_head_bias(c, x[0], x[1]);
}
/* a value used twice must receive both contributions */
static rg_tensor *f_reuse(rg_ctx *c, rg_tensor **x, void *a) {
    (void)a;
    rg_tensor *y = rg_mul(c, x[0], x[0]);
    return rg_add(c, y, rg_gelu(c, x[0]));
}

Test(gradcheck, add) {
    rg_rng rng = rng_for("add");
    rg_tensor *x[2] = {T(3, 5), T(3, 5)};
    run("add", f_add, NULL, x, 2);
    rg_tensor *y[2] = {T(1), T(1)};
    run("add (size 1)", f_add, NULL, y, 2);
    rg_tensor *z[1] = {T(2, 3, 1)};
    run("add (reused input)", f_reuse, NULL, z, 1);
}
Test(gradcheck, mul) {
    rg_rng rng = rng_for("mul");
    rg_tensor *x[2] = {T(4, 1, 3), T(4, 1, 3)};
    run("mul", f_mul, NULL, x, 2);
}
Test(gradcheck, scale) {
    rg_rng rng = rng_for("scale");
    rg_tensor *x[1] = {T(2, 7)};
    run("scale", f_scale, NULL, x, 1);
}
Test(gradcheck, gelu) {
    rg_rng rng = rng_for("gelu");
    rg_tensor *x[1] = {rg_tensor_random(&rng, 2, (int[]){5, 7}, 2.0, NULL)};
    run("gelu", f_gelu, NULL, x, 1);
}
Test(gradcheck, bias_add) {
    rg_rng rng = rng_for("bias_add");
    rg_tensor *x[2] = {T(3, 2, 5), T(5)};
    run("bias_add", f_bias_add, NULL, x, 2);
    rg_tensor *y[2] = {T(1, 1), T(1)};
    run("bias_add (1x1)", f_bias_add, NULL, y, 2);
}
Test(gradcheck, add_bcast) {
    rg_rng rng = rng_for("add_bcast");
    rg_tensor *x[2] = {T(2, 3, 4, 5), T(3, 4, 5)};
    run("add_bcast", f_add_bcast, NULL, x, 2);
}
Test(gradcheck, add_head_bias) {
    rg_rng rng = rng_for("add_head_bias");
    rg_tensor *x[2] = {T(2, 3, 5, 4), T(3, 4)};
    run("add_head_bias", f_head_bias, NULL, x, 2);
    rg_tensor *y[2] = {T(1, 1, 3, 1), T(1, 1)};
    run("add_head_bias (size 1)", f_head_bias, NULL, y, 2);
}

/* ---- normalisation, softmax, loss -------------------------------------------------------- */

static rg_tensor *f_layernorm(rg_ctx *c, rg_tensor **x, void *a) {
    (void)a;
    return rg_layernorm(c, x[0], x[1], x[2]);
}
Test(gradcheck, layernorm) {
    rg_rng rng = rng_for("layernorm");
    int C[] = {5, 1, 8, 2};
    for (int s = 0; s < 4; s++) {
        rg_tensor *x[3] = {T(2, 3, C[s]), T(C[s]), T(C[s])};
        run("layernorm", f_layernorm, NULL, x, 3);
    }
}

static rg_tensor *f_softmax(rg_ctx *c, rg_tensor **x, void *a) {
    return rg_softmax_masked(c, x[0], &(rg_attn_mask){.diag = *(int *)a});
}
Test(gradcheck, softmax_causal) {
    rg_rng rng = rng_for("softmax_causal");
    int diag[] = {0, 3, 100};
    for (int s = 0; s < 3; s++) {
        rg_tensor *x[1] = {T(2, 3, 4, 4 + (s == 1 ? 3 : 0))};
        run("softmax_causal", f_softmax, &diag[s], x, 1);
    }
    int zero = 0;
    rg_tensor *y[1] = {T(1, 1, 1, 1)};
    run("softmax_causal (1x1)", f_softmax, &zero, y, 1);
}

typedef struct {
    const int *targets;
    const real *mask;
} ce_arg;
static rg_tensor *f_ce(rg_ctx *c, rg_tensor **x, void *a) {
    ce_arg *ce = a;
    return rg_cross_entropy(c, x[0], ce->targets, ce->mask);
}
Test(gradcheck, cross_entropy) {
    rg_rng rng = rng_for("cross_entropy");
    int targets[6] = {0, 4, 2, 2, 1, 3};
    real mask[6] = {1, 0, 1, 1, 0, 1};
    ce_arg a = {targets, mask};
    rg_tensor *x[1] = {rg_tensor_random(&rng, 3, (int[]){2, 3, 5}, 2.0, NULL)};
    run("cross_entropy", f_ce, &a, x, 1);
    int t1[1] = {0};
    real m1[1] = {1};
    ce_arg b = {t1, m1};
    rg_tensor *y[1] = {T(1, 1)};
    run("cross_entropy (V=1)", f_ce, &b, y, 1);
}

/* ---- indexing and shapes ---------------------------------------------------------------- */

static rg_tensor *f_embedding(rg_ctx *c, rg_tensor **x, void *a) {
    return rg_embedding(c, x[0], a, 7);
}
Test(gradcheck, embedding) {
    rg_rng rng = rng_for("embedding");
    int idx[7] = {3, 0, 3, 4, 1, 3, 0}; /* repeated rows: gradients must add */
    rg_tensor *x[1] = {T(5, 3)};
    run("embedding", f_embedding, idx, x, 1);
}

/* reshape then a shape-sensitive op, so a wrong view would show */
static rg_tensor *f_reshape(rg_ctx *c, rg_tensor **x, void *a) {
    (void)a;
    rg_tensor *y = rg_reshape(c, x[0], 2, (int[]){3, 4});
    return rg_mul(c, y, x[1]);
}
Test(gradcheck, reshape) {
    rg_rng rng = rng_for("reshape");
    rg_tensor *x[2] = {T(2, 6), T(3, 4)};
    run("reshape", f_reshape, NULL, x, 2);
}

static rg_tensor *f_split(rg_ctx *c, rg_tensor **x, void *a) {
    int *p = a; /* col0, H, D */
    return rg_mul(c, rg_split_heads(c, x[0], p[0], p[1], p[2]), x[1]);
}
Test(gradcheck, split_heads) {
    rg_rng rng = rng_for("split_heads");
    int p[3] = {3, 2, 3}; /* columns 3..8 of 11 */
    rg_tensor *x[2] = {T(2, 5, 11), T(2, 2, 5, 3)};
    run("split_heads", f_split, p, x, 2);
    int q[3] = {0, 1, 1};
    rg_tensor *y[2] = {T(1, 1, 1), T(1, 1, 1, 1)};
    run("split_heads (size 1)", f_split, q, y, 2);
}

static rg_tensor *f_merge(rg_ctx *c, rg_tensor **x, void *a) {
    (void)a;
    return rg_mul(c, rg_merge_heads(c, x[0]), x[1]);
}
Test(gradcheck, merge_heads) {
    rg_rng rng = rng_for("merge_heads");
    rg_tensor *x[2] = {T(2, 3, 5, 2), T(2, 5, 6)};
    run("merge_heads", f_merge, NULL, x, 2);
}

static rg_tensor *f_concat(rg_ctx *c, rg_tensor **x, void *a) {
    (void)a;
    return rg_mul(c, rg_concat_time(c, x[0], x[1]), x[2]);
}
Test(gradcheck, concat_time) {
    rg_rng rng = rng_for("concat_time");
    rg_tensor *x[3] = {T(2, 3, 4), T(2, 5, 4), T(2, 8, 4)};
    run("concat_time", f_concat, NULL, x, 3);
    rg_tensor *y[3] = {T(1, 1, 1), T(1, 2, 1), T(1, 3, 1)};
    run("concat_time (size 1)", f_concat, NULL, y, 3);
}

static rg_tensor *f_slice(rg_ctx *c, rg_tensor **x, void *a) {
    int *p = a;
    return rg_mul(c, rg_slice_time(c, x[0], p[0], p[1]), x[1]);
}
Test(gradcheck, slice_time) {
    rg_rng rng = rng_for("slice_time");
    int p[2] = {2, 5};
    rg_tensor *x[2] = {T(3, 7, 2), T(3, 3, 2)};
    run("slice_time", f_slice, p, x, 2);
    int q[2] = {0, 1};
    rg_tensor *y[2] = {T(1, 1, 3), T(1, 1, 3)};
    run("slice_time (size 1)", f_slice, q, y, 2);
}

/* ---- positional pieces ----------------------------------------------------------------- */

typedef struct {
    const int *pos;
    long stride;
    real base, scale;
} rotate_arg;
static rg_tensor *f_rotate(rg_ctx *c, rg_tensor **x, void *a) {
    rotate_arg *r = a;
    return rg_rotate_pairs(c, x[0], r->pos, r->stride, r->base, r->scale);
}
Test(gradcheck, rotate_pairs) {
    rg_rng rng = rng_for("rotate_pairs");
    int shared[5] = {0, 1, 2, 3, 4}, rows[2 * 5] = {5, 6, 7, 8, 9, 0, 3, 11, 40, 41};
    rotate_arg args[] = {{shared, 0, 10000, 1}, {rows, 5, 100, (real)2.5}};
    for (int s = 0; s < 2; s++) {
        rg_tensor *x[1] = {T(2, 3, 5, 4)};
        run(s ? "rotate_pairs (per-row positions)" : "rotate_pairs", f_rotate, &args[s], x, 1);
    }
    rg_tensor *y[1] = {T(1, 1, 1, 2)};
    run("rotate_pairs (size 1)", f_rotate, &args[1], y, 1);
}

/* A scheme's own op is checked through the one table of op cases (its
 * case lives in its scheme's file; src/check/op_cases.c lists them). */
static void run_case(const char *op, rg_op_sizes s) {
    int i = rg_gc_op_find(op);
    cr_assert_geq(i, 0, "no op case %s", op);
    rg_gc_op_report rep;
    rg_error err;
    cr_assert_eq(rg_gc_op(i, &s, NULL, RG_GC_TOL, &rep, &err), 0, "%s: %s", op, err.msg);
    cr_log_info("%s: %ld entries, worst error %.3g", op, rep.res.n_checked, rep.res.worst_err);
    cr_expect(rep.ok, "%s: worst error %.3g at input %d index %ld: analytic %.17g numeric %.17g",
              op, rep.res.worst_err, rep.res.worst_input, rep.res.worst_index, rep.res.analytic,
              rep.res.numeric);
}

Test(gradcheck, fire_bias) {
    /* one row, no memory; two rows of different positions with 2 memory keys */
    rg_op_sizes s;
    rg_op_sizes_defaults(&s);
    s.B = 1, s.H = 3, s.T = 4, s.Tk = 4, s.diag = 0, s.C = 5;
    run_case("fire_bias", s);
    s.B = 2, s.T = 3, s.Tk = 5, s.diag = 2;
    run_case("fire_bias", s);
}

/* ---- fused attention ------------------------------------------------------------------ */

typedef struct {
    real scale;
    int diag, e_rows; /* e_rows: 0 no bias term; 1 shared; B per row */
} attn_arg;
static rg_tensor *f_attention(rg_ctx *c, rg_tensor **x, void *a) {
    attn_arg *p = a;
    rg_term *terms[1];
    int n = 0;
    if (p->e_rows) terms[n++] = rg_bias_term(c, x[3], x[0]->shape[0], p->diag);
    return rg_attention_core(c, x[0], x[1], x[2], p->scale,
                             &(rg_attn_opts){.mask = {.diag = p->diag}}, terms, n);
}
static rg_tensor *f_attention_unfused(rg_ctx *c, rg_tensor **x, void *a) {
    attn_arg *p = a;
    rg_tensor *S = rg_scale(c, rg_matmul(c, x[0], x[1], false, true), p->scale);
    if (p->e_rows) {
        rg_term *t = rg_bias_term(c, x[3], x[0]->shape[0], p->diag);
        S = rg_add(c, S, rg_score_terms(c, &t, 1));
    }
    return rg_matmul(c, rg_softmax_masked(c, S, &(rg_attn_mask){.diag = p->diag}), x[2], false,
                     false);
}
Test(gradcheck, attention_core) {
    rg_rng rng = rng_for("attention_core");
    /* T = 35 crosses the kernel's 32-query block; diag 3 = memory of 3 keys */
    struct {
        int B, H, T, Tk, D, diag, e_rows;
    } cases[] = {
        {2, 3, 5, 5, 4, 0, 0},   {2, 2, 4, 7, 3, 3, 1}, {2, 2, 4, 7, 3, 3, 2},
        {1, 1, 35, 35, 2, 0, 1}, {1, 1, 1, 1, 1, 0, 0},
    };
    for (int s = 0; s < 5; s++) {
        int B = cases[s].B, H = cases[s].H, T = cases[s].T, Tk = cases[s].Tk, D = cases[s].D;
        attn_arg a = {(real)0.7, cases[s].diag, cases[s].e_rows};
        for (int unfused = 0; unfused < 2; unfused++) {
            rg_tensor *x[4] = {T(B, H, T, D), T(B, H, Tk, D), T(B, H, Tk, D),
                               T(cases[s].e_rows ? cases[s].e_rows : 1, H, T, Tk)};
            int n = cases[s].e_rows ? 4 : 3;
            run(unfused ? "attention (unfused ops with score_terms)" : "attention_core",
                unfused ? f_attention_unfused : f_attention, &a, x, n);
            if (n == 3) rg_tensor_free(x[3]);
        }
    }
}

/* Not a gradient check, but the product every op's forward and backward
 * rests on: with k = 0 the product is empty and C = beta C, so beta = 0 must
 * give zeros without reading C (which may hold anything, here NaN). */
Test(gemm, empty_inner_product) {
    real A[1], B[1], C[6];
    for (int threads = 1; threads <= 2; threads++) {
        for (int i = 0; i < 6; i++) C[i] = NAN;
        rg_gemm(2, 3, 0, 1, A, 0, 1, B, 3, 1, 0, C, 3, 1, threads);
        for (int i = 0; i < 6; i++)
            cr_expect_eq(C[i], 0, "beta 0: C[%d] = %g, not 0", i, (double)C[i]);
        for (int i = 0; i < 6; i++) C[i] = (real)i;
        rg_gemm(2, 3, 0, 1, A, 0, 1, B, 3, 1, 2, C, 3, 1, threads);
        for (int i = 0; i < 6; i++)
            cr_expect_eq(C[i], 2 * i, "beta 2: C[%d] = %g, not %d", i, (double)C[i], 2 * i);
    }
}
