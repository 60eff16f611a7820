/* test_gradcheck.c: a finite-difference check of every op and every
 * differentiable input, on shapes with odd sizes and size-1 dims.
 *
 * An op's check is written once, as a case of the one table
 * (src/check/op_cases.c, and each scheme's own ops from its file); this file
 * is the list of sizes and variants each case runs at, written as the
 * key=value words of `relgrad gradcheck OP` (any run here can be repeated
 * from the command line). Built twice: float64 (bound 1e-6) and float32
 * (looser bound, gradcheck.h). */
#include "ops/ops_internal.h" /* rg_gemm, for the empty-product test */
#include "relgrad/gradcheck.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Entries whose analytic and numeric gradients are both exactly 0, of one
 * input: what a mask cuts off. */
typedef struct {
    int input;
    long zeros;
} zero_count;

static void count_zero(void *arg, int i, const rg_tensor *x, long k, double analytic,
                       double numeric, double err) {
    zero_count *z = arg;
    (void)x, (void)k, (void)err;
    if (i == z->input && analytic == 0 && numeric == 0) z->zeros++;
}

/* Check case `op` at `sizes` ("B=2 T=5 ...": the keys of rg_op_sizes_set,
 * the rest at their defaults) against RG_GC_TOL; with zeros, count that
 * input's exactly-zero entries. */
static void run_counting(const char *op, const char *sizes, zero_count *zeros) {
    int i = rg_gc_op_find(op);
    cr_assert_geq(i, 0, "no op case %s", op);
    rg_op_sizes s;
    rg_op_sizes_defaults(&s);
    rg_error err;
    char words[256];
    snprintf(words, sizeof words, "%s", sizes);
    for (char *save, *w = strtok_r(words, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
        char *eq = strchr(w, '=');
        cr_assert_not_null(eq, "%s: '%s' is not key=value", op, w);
        *eq = '\0';
        cr_assert_eq(rg_op_sizes_set(&s, w, eq + 1, "test sizes", &err), 0, "%s", err.msg);
    }
    rg_gc_options opt = {0};
    if (zeros) opt.each = count_zero, opt.each_arg = zeros;
    rg_gc_op_report rep;
    cr_assert_eq(rg_gc_op(i, &s, &opt, RG_GC_TOL, &rep, &err), 0, "%s %s: %s", op, sizes, err.msg);
    cr_log_info("%s %s: %ld entries, worst error %.3g (input %d index %ld)", op, sizes,
                rep.res.n_checked, rep.res.worst_err, rep.res.worst_input, rep.res.worst_index);
    cr_expect(rep.ok, "%s %s: worst error %.3g at input %d index %ld: analytic %.17g numeric %.17g",
              op, sizes, rep.res.worst_err, rep.res.worst_input, rep.res.worst_index,
              rep.res.analytic, rep.res.numeric);
}

static void run(const char *op, const char *sizes) {
    run_counting(op, sizes, NULL);
}

/* Case `op` at each of the size lists. */
#define RUNS(op, ...)                                                                              \
    do {                                                                                           \
        const char *sizes_[] = {__VA_ARGS__};                                                      \
        for (size_t r_ = 0; r_ < sizeof sizes_ / sizeof *sizes_; r_++) run(op, sizes_[r_]);        \
    } while (0)

/* ---- linear / matmul ------------------------------------------------------------- */

Test(gradcheck, linear) {
    int shapes[][3] = {{5, 3, 4}, {1, 1, 1}, {7, 6, 1}, {2, 1, 9}}; /* N, in, out */
    for (int s = 0; s < 4; s++) {
        char a[128], b[128];
        snprintf(a, sizeof a, "batched=0 N=%d in=%d out=%d", shapes[s][0], shapes[s][1],
                 shapes[s][2]);
        snprintf(b, sizeof b, "B=2 N=%d in=%d out=%d bias=0", shapes[s][0], shapes[s][1],
                 shapes[s][2]);
        RUNS("linear", a, b); /* x [N,in] with a bias; x [2,N,in] without */
    }
}

Test(gradcheck, matmul) {
    int dims[][3] = {{3, 4, 5}, {1, 1, 1}, {5, 1, 3}, {1, 7, 2}}; /* m (T), k (D), n (Tk) */
    for (int s = 0; s < 4; s++)
        for (int t = 0; t < 4; t++) {
            char shape[96], batched[160], flat[160], shared[160];
            snprintf(shape, sizeof shape, "T=%d D=%d Tk=%d ta=%d tb=%d", dims[s][0], dims[s][1],
                     dims[s][2], t & 1, t >> 1);
            snprintf(batched, sizeof batched, "B=2 H=3 %s", shape);
            snprintf(flat, sizeof flat, "batched=0 %s", shape);
            snprintf(shared, sizeof shared, "B=3 H=2 bcast=1 %s", shape); /* b [1,2,..] */
            RUNS("matmul", batched, flat, shared);
        }
}

/* ---- elementwise --------------------------------------------------------------------- */

Test(gradcheck, add) {
    RUNS("add", "B=1 T=3 C=5", "B=1 T=1 C=1");
    run("reuse", "B=2 T=3 C=1"); /* a value used twice must receive both contributions */
}
Test(gradcheck, mul) {
    run("mul", "B=4 T=1 C=3");
}
Test(gradcheck, scale) {
    run("scale", "B=1 T=2 C=7");
}
Test(gradcheck, gelu) {
    run("gelu", "B=1 T=5 C=7");
}
Test(gradcheck, bias_add) {
    RUNS("bias_add", "B=3 T=2 C=5", "B=1 T=1 C=1");
}
Test(gradcheck, add_bcast) {
    run("add_bcast", "B=2 H=3 T=4 Tk=5");
}
Test(gradcheck, add_head_bias) {
    RUNS("add_head_bias", "B=2 H=3 T=5 D=4", "B=1 H=1 T=3 D=1");
}

/* ---- normalisation, softmax, loss -------------------------------------------------------- */

Test(gradcheck, layernorm) {
    RUNS("layernorm", "B=2 T=3 C=5", "B=2 T=3 C=1", "B=2 T=3 C=8", "B=2 T=3 C=2");
}

Test(gradcheck, softmax_causal) {
    RUNS("softmax_causal", "B=2 H=3 T=4 Tk=4 diag=0", "B=2 H=3 T=4 Tk=7 diag=3",
         "B=2 H=3 T=4 Tk=4 diag=100", "B=1 H=1 T=1 Tk=1 diag=0",
         /* a decoder's key windows (key_lo): each query sees its last 3 or 2 keys */
         "B=2 H=3 T=4 Tk=7 diag=3 window=3", "B=2 H=2 T=6 Tk=6 diag=0 window=2");
    /* an encoder: every key (diag >= Tk) but row b's PAD keys from
     * key_end[b] = max(1, Tk - 1 - b) on, whose entries get exactly 0 (as do
     * rows that see one key: their softmax is the constant 1) */
    const char *encoders[] = {"B=3 H=2 T=5 Tk=5 key_end=1", "B=4 H=1 T=3 Tk=3 diag=9 key_end=1"};
    for (int e = 0; e < 2; e++) {
        zero_count z = {.input = 0};
        run_counting("softmax_causal", encoders[e], &z);
        int B = e ? 4 : 3, H = e ? 1 : 2, T = e ? 3 : 5, Tk = T;
        long want = 0;
        for (int b = 0; b < B; b++) {
            int key_end = Tk - 1 - b > 1 ? Tk - 1 - b : 1;
            want += (long)H * T * (key_end > 1 ? Tk - key_end : Tk);
        }
        cr_expect_eq(z.zeros, want, "%s: %ld entries of x masked, not %ld", encoders[e], z.zeros,
                     want);
    }
}

Test(gradcheck, cross_entropy) {
    RUNS("cross_entropy", "B=2 N=3 V=5", "batched=0 N=1 V=1");
}

/* ---- indexing and shapes ---------------------------------------------------------------- */

Test(gradcheck, embedding) {
    run("embedding", "V=5 C=3 N=7"); /* repeated rows: gradients must add */
}
Test(gradcheck, reshape) {
    run("reshape", "B=2 T=3 C=2"); /* [2,6] viewed as [3,4] */
}
Test(gradcheck, split_heads) {
    RUNS("split_heads", "B=2 T=5 H=2 D=3 cols=11 col0=3", "B=1 T=1 H=1 D=1 cols=1 col0=0");
}
Test(gradcheck, merge_heads) {
    run("merge_heads", "B=2 H=3 T=5 D=2");
}
Test(gradcheck, concat_time) {
    RUNS("concat_time", "B=2 T=3 Tk=5 C=4", "B=1 T=1 Tk=2 C=1");
}
Test(gradcheck, slice_time) {
    RUNS("slice_time", "B=3 Tk=7 T=3 t0=2 C=2", "B=1 Tk=1 T=1 t0=0 C=3");
}

/* ---- positional pieces ----------------------------------------------------------------- */

Test(gradcheck, rotate_pairs) {
    RUNS("rotate_pairs", "B=2 H=3 T=5 D=4", "B=2 H=3 T=5 D=4 per_row=1 base=100 scale=2.5",
         "B=1 H=1 T=1 D=2 per_row=1 base=100 scale=2.5");
}

/* A scheme's own op: its case lives in its scheme's file. One row, no
 * memory; two rows of different positions with 2 memory keys. */
Test(gradcheck, fire_bias) {
    RUNS("fire_bias", "B=1 H=3 T=4 Tk=4 diag=0 C=5", "B=2 H=3 T=3 Tk=5 diag=2 C=5");
}

/* CoPE's own op: its term inside the kernel, with memory keys, and across
 * the kernel's 32-query block (P = 40 > any gate sum: nothing clamped). */
Test(gradcheck, cope_attention) {
    RUNS("cope_attention", "B=2 H=3 T=5 Tk=7 D=4 C=5", "B=1 H=2 T=35 Tk=35 D=2 C=40 diag=0");
}

/* ---- fused attention ------------------------------------------------------------------ */

/* The kernel and the same attention from separate ops, at each size. */
Test(gradcheck, attention_core) {
    const char *sizes[] = {
        "B=2 H=3 T=5 Tk=5 D=4 diag=0 terms=0 scale=0.7",
        /* diag 3 = memory of 3 keys; a bias term shared by the batch, then per row */
        "B=2 H=2 T=4 Tk=7 D=3 diag=3 terms=1 scale=0.7",
        "B=2 H=2 T=4 Tk=7 D=3 diag=3 terms=1 per_row=1 scale=0.7",
        /* T = 35 crosses the kernel's 32-query block */
        "B=1 H=1 T=35 Tk=35 D=2 diag=0 terms=1 scale=0.7",
        "B=1 H=1 T=1 Tk=1 D=1 diag=0 terms=0 scale=0.7",
        /* a decoder's key windows (key_lo), within a block and across one */
        "B=2 H=2 T=4 Tk=7 D=3 diag=3 window=3 terms=1",
        "B=1 H=2 T=35 Tk=38 D=2 diag=3 window=8 terms=1",
    };
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++)
        run("attention_core", sizes[s]), run("attention_unfused", sizes[s]);
    /* an encoder: every key (diag >= Tk) but row b's PAD keys from
     * key_end[b] = max(1, Tk - 1 - b) on, whose k rows get exactly 0 */
    const char *encoders[] = {"B=3 H=2 T=6 Tk=6 D=3 key_end=1 terms=1 per_row=1",
                              "B=2 H=1 T=35 Tk=35 D=2 diag=40 key_end=1 terms=1"};
    int B[] = {3, 2}, H[] = {2, 1}, Tk[] = {6, 35}, D[] = {3, 2};
    for (int e = 0; e < 2; e++)
        for (int unfused = 0; unfused < 2; unfused++) {
            zero_count z = {.input = 1};
            run_counting(unfused ? "attention_unfused" : "attention_core", encoders[e], &z);
            long want = 0;
            for (int b = 0; b < B[e]; b++)
                want += (long)H[e] * D[e] * (Tk[e] - (Tk[e] - 1 - b > 1 ? Tk[e] - 1 - b : 1));
            cr_expect_eq(z.zeros, want, "%s%s: %ld entries of k masked, not %ld", encoders[e],
                         unfused ? " (unfused)" : "", z.zeros, want);
        }
}

/* Every case of the table (the ops' own and each scheme's) runs above: this
 * file's source names each case in quotes, as run and RUNS take it. */
Test(gradcheck, every_case_is_run) {
    char path[600];
    snprintf(path, sizeof path, "%s/tests/test_gradcheck.c", RELGRAD_SOURCE_DIR);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "cannot read %s", path);
    static char text[1 << 17];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    for (int i = 0; i < rg_gc_op_count(); i++) {
        char want[96];
        snprintf(want, sizeof want, "\"%s\"", rg_gc_op_name(i));
        cr_expect(strstr(text, want), "op case %s is never run in tests/test_gradcheck.c",
                  rg_gc_op_name(i));
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
