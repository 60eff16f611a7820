/* test_decode_path.c: the decoding path of the attention kernel and the
 * key/value cache over long contexts.
 *
 * - The softmax's exp (src/ops/exp_rows.c) gives expf's (float32) or exp's
 *   (float64) bits at every vector width this CPU runs, over a sweep of
 *   arguments and shifts, on lengths that leave a scalar tail.
 * - Products of one to three rows (decoding's) give the chains small_gemm.c
 *   documents, bit for bit, on every path (wide, split, narrow).
 * - The cache's tiled transposed keys (rg_attn_opts.k_t) give the kernel's
 *   output bit for bit as the kernel's own transposed copy does, for one
 *   query and for blocks of queries, across tile boundaries, past 512 keys
 *   (where one query's products split their chains), dh 8 .. 64.
 * - Greedy decoding through the cache, one token at a time after prefills
 *   that end inside a tile, and in chunks, gives the full forward's logits
 *   over 540 tokens for every scheme, hybrids of tables and terms, with
 *   segment windows, batch 2; and (some schemes) the same bits on 1 and 2
 *   threads. */
#include "relgrad/gradcheck.h"
#include "testing.h"

#include "ops/ops_internal.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define EQ_TOL (sizeof(real) == 8 ? 1e-10 : 1e-4)

static real max_abs_diff(const real *a, const real *b, long n) {
    real mx = 0;
    for (long i = 0; i < n; i++) mx = fmax(mx, fabs(a[i] - b[i]));
    return mx;
}

static bool same_bits(const real *a, const real *b, long n, long *at) {
    for (long i = 0; i < n; i++)
        if (memcmp(a + i, b + i, sizeof(real)) && !(isnan(a[i]) && isnan(b[i]))) {
            *at = i;
            return false;
        }
    return true;
}

/* ---- exp ------------------------------------------------------------------------------ */

/* x values: every 4099th float (or double, through its top 32 bits) bit
 * pattern, then dense runs where softmax arguments live (-20 .. 0), around
 * the scalar path's edge |x| = 88 and exp's underflow near -104. */
static real *exp_sweep(long *n) {
    long cap = (long)(UINT32_MAX / 4099) + 1 + 3 * 20000;
    real *x = malloc((size_t)cap * sizeof(real));
    cr_assert_not_null(x);
    long k = 0;
    for (uint64_t u = 0; u <= UINT32_MAX; u += 4099) {
        uint32_t b = (uint32_t)u;
        if (sizeof(real) == 4) {
            float f;
            memcpy(&f, &b, sizeof f);
            x[k++] = (real)f;
        } else {
            uint64_t w = (uint64_t)b << 32 | (uint64_t)(b * 2654435761u);
            double d;
            memcpy(&d, &w, sizeof d);
            x[k++] = (real)d;
        }
    }
    for (int i = 0; i < 20000; i++) {
        x[k++] = (real)(-20.0 * i / 20000);
        x[k++] = (real)(-87.9 - 0.0001 * i);
        x[k++] = (real)(-103.0 - 0.0001 * i);
    }
    *n = k;
    return x;
}

Test(decode_path, exp_same_bits_as_libm) {
    long n;
    real *x = exp_sweep(&n);
    real *y = malloc((size_t)n * sizeof(real)), *want = malloc((size_t)n * sizeof(real));
    cr_assert(y && want);
    const real shifts[] = {0, (real)2.5, (real)-3.75, (real)1e-3};
    int top = rg_exp_level();
    for (int level = 0; level <= top; level++)
        for (size_t s = 0; s < sizeof shifts / sizeof *shifts; s++) {
            real c = shifts[s];
            for (long j = 0; j < n; j++) want[j] = exp(x[j] - c);
            long at = 0;
            rg_exp_shifted_at(level, x, c, y, n);
            cr_assert(same_bits(y, want, n, &at), "level %d, c = %a: exp(%a - c) = %a, libm %a",
                      level, (double)c, (double)x[at], (double)y[at], (double)want[at]);
            for (long len = 0; len <= 37; len++) { /* tails shorter than a vector */
                rg_exp_shifted_at(level, x + 5000 * len, c, y, len);
                cr_assert(same_bits(y, want + 5000 * len, len, &at), "level %d, length %ld", level,
                          len);
            }
            memcpy(y, x, (size_t)n * sizeof(real)); /* in place, as the kernel calls it */
            rg_exp_shifted_at(level, y, c, y, n);
            cr_assert(same_bits(y, want, n, &at), "level %d in place", level);
        }
    cr_log_info("exp levels tested bit for bit against libm: 0..%d", top);
    free(x), free(y), free(want);
}

static void fill(real *x, long n, uint64_t seed) {
    rg_rng rng;
    rg_rng_seed(&rng, seed);
    for (long i = 0; i < n; i++) x[i] = (real)rg_rng_normal(&rng);
}

/* ---- one-to-three-row products (src/ops/small_gemm.c) ------------------------------------ */

/* C[i, j] as small_gemm.c documents it: one chain of fused multiply-adds
 * over p in order from zero, or for 1-3 rows, k > 512 and a pass of 32 (16)
 * columns, KS = 4 (8) segments' chains summed in order; then alpha acc
 * (+ beta C). Passes: 128 columns at a time first (1-3 rows), then 32. */
static real ref_entry(long m, long n, long k, real alpha, const real *A, long csa, const real *B,
                      long rsb, real beta, real c, long j) {
    long wide = m < 4 ? n / 128 * 128 : 0, nj = 0;
    if (j >= wide) {
        long j0 = wide + (j - wide) / 32 * 32;
        nj = n - j0 < 32 ? n - j0 : 32;
    }
    int ks = m < 4 && k > 512 && (nj == 32 || nj == 16) ? (nj == 32 ? 4 : 8) : 1;
    real acc[8] = {0}, sum;
    long seg = k / ks;
    for (int q = 0; q < ks; q++)
        for (long p = q * seg; p < (q == ks - 1 ? k : (q + 1) * seg); p++)
            acc[q] = fma(A[p * csa], B[p * rsb + j], acc[q]);
    sum = acc[0];
    for (int q = 1; q < ks; q++) sum += acc[q];
    return beta == 0 ? alpha * sum : fma(beta, c, alpha * sum);
}

Test(decode_path, few_row_products_same_bits) {
    const long ns[] = {7, 16, 32, 48, 128, 160, 300}, ks[] = {0, 1, 31, 300, 513, 700, 1031};
    long most = 1031 * 300 + 64;
    real *A = malloc((size_t)3 * (1031 * 2 + 1) * sizeof(real)),
         *B = malloc((size_t)most * sizeof(real));
    real *C = malloc((size_t)3 * 300 * sizeof(real)), *C0 = malloc((size_t)3 * 300 * sizeof(real));
    cr_assert(A && B && C && C0);
    fill(A, 3 * (1031 * 2 + 1), 4), fill(B, most, 5), fill(C0, 3 * 300, 6);
    for (long m = 1; m <= 3; m++)
        for (size_t a = 0; a < sizeof ns / sizeof *ns; a++)
            for (size_t b = 0; b < sizeof ks / sizeof *ks; b++)
                for (int csa = 1; csa <= 2; csa++)
                    for (int with_beta = 0; with_beta < 2; with_beta++) {
                        long n = ns[a], k = ks[b];
                        real alpha = (real)0.3, beta = with_beta ? (real)-0.7 : 0;
                        long rsa = k * csa + 1;
                        memcpy(C, C0, (size_t)m * n * sizeof(real));
                        rg_gemm_small(m, n, k, alpha, A, rsa, csa, B, n, 1, beta, C, n, 1, NULL);
                        for (long i = 0; i < m; i++)
                            for (long j = 0; j < n; j++) {
                                real want = ref_entry(m, n, k, alpha, A + i * rsa, csa, B, n, beta,
                                                      C0[i * n + j], j);
                                cr_assert(!memcmp(&want, C + i * n + j, sizeof(real)),
                                          "m %ld n %ld k %ld csa %d beta %g: C[%ld,%ld] = %a, "
                                          "want %a",
                                          m, n, k, csa, (double)beta, i, j, (double)C[i * n + j],
                                          (double)want);
                            }
                    }
    free(A), free(B), free(C), free(C0);
}

/* ---- the kernel with the cache's tiled keys ---------------------------------------------- */

/* T queries after p0 cached keys of B*H blocks (cap rows each), through the
 * kernel with and without the keys' tiles; the outputs must be the same bits. */
static void tiled_vs_own(int B, int H, int D, int T, int p0, int cap, int threads) {
    long kv = (long)B * H * cap * D, tiles = (cap + RG_KT_TILE - 1) / RG_KT_TILE;
    long kt_bh = tiles * RG_KT_TILE * D;
    rg_ctx ctx;
    rg_ctx_init(&ctx, threads);
    rg_set_no_grad(&ctx, true);
    rg_tensor *q = rg_empty(&ctx, 4, (int[]){B, H, T, D});
    rg_tensor *k = rg_empty(&ctx, 4, (int[]){B, H, cap, D});
    rg_tensor *v = rg_empty(&ctx, 4, (int[]){B, H, cap, D});
    fill(q->data, q->size, 1), fill(k->data, kv, 2), fill(v->data, kv, 3);
    real *kt = calloc((size_t)(B * H * kt_bh), sizeof(real));
    cr_assert_not_null(kt);
    for (long bh = 0; bh < (long)B * H; bh++) /* the layout ops.h gives */
        for (int j = 0; j < cap; j++)
            for (int d = 0; d < D; d++)
                kt[bh * kt_bh + (long)(j / RG_KT_TILE) * D * RG_KT_TILE + d * RG_KT_TILE +
                   j % RG_KT_TILE] = k->data[(bh * cap + j) * D + d];
    int *lo = malloc((size_t)T * sizeof(int));
    for (int i = 0; i < T; i++) lo[i] = (p0 + i) / 3; /* windows that move, as recurrence's */
    for (int windows = 0; windows < 2; windows++) {
        rg_attn_opts own = {.mask = {.diag = p0, .key_lo = windows ? lo : NULL}};
        rg_attn_opts tiled = own;
        tiled.k_t = kt, tiled.k_t_bh = kt_bh;
        real scale = (real)(1 / sqrt((double)D));
        rg_tensor *a = rg_attention_core(&ctx, q, k, v, scale, &own, NULL, 0);
        rg_tensor *b = rg_attention_core(&ctx, q, k, v, scale, &tiled, NULL, 0);
        long at = 0;
        cr_assert(same_bits(a->data, b->data, a->size, &at),
                  "B %d H %d D %d T %d p0 %d windows %d threads %d: element %ld %a vs %a", B, H, D,
                  T, p0, windows, threads, at, (double)a->data[at], (double)b->data[at]);
    }
    free(lo), free(kt);
    rg_ctx_free(&ctx);
}

Test(decode_path, tiled_keys_same_bits) {
    const int dims[] = {8, 16, 32, 48, 64};
    for (size_t i = 0; i < sizeof dims / sizeof *dims; i++) {
        int D = dims[i];
        tiled_vs_own(2, 3, D, 1, 0, 1, 1);      /* the first token */
        tiled_vs_own(2, 3, D, 1, 127, 300, 1);  /* the last key of a tile */
        tiled_vs_own(2, 3, D, 1, 128, 300, 2);  /* the first of the next */
        tiled_vs_own(1, 2, D, 1, 700, 701, 1);  /* past 512 keys: split chains */
        tiled_vs_own(2, 3, D, 37, 100, 200, 2); /* a chunk across a boundary */
        tiled_vs_own(1, 2, D, 70, 530, 640, 1); /* blocks of queries, long */
    }
}

/* ---- whole-model decoding over long contexts --------------------------------------------- */

static void long_config(rg_config *c, const char *pos, int n_layers, int mem_len) {
    test_tiny_config(c, pos, mem_len);
    test_set(c, "d_model", "64");
    test_set(c, "n_heads", "2"); /* dh 32, the benchmark's */
    test_setf(c, "n_layers", "%d", n_layers);
    test_set(c, "max_positions", "1024");
    test_set(c, "init_std", "0.1");
    test_set(c, "t5_max_distance", "300");
    test_set(c, "fire_L", "64");
    if (mem_len) test_set(c, "segment_len", "100");
}

/* Decode T tokens of B rows (prefill P, then one at a time) on `threads`
 * threads; every step's logits [T-P+1 rows of B,V] into out. */
static void decode_steps(rg_model *m, const int *tok, int B, int T, int P, int threads, real *out) {
    rg_ctx ctx;
    rg_ctx_init(&ctx, threads);
    rg_set_no_grad(&ctx, true);
    rg_kv_cache kv;
    rg_kv_cache_init(&kv, m, B, T, NULL);
    int *step = malloc((size_t)B * P * sizeof(int));
    for (int b = 0; b < B; b++) memcpy(step + b * P, tok + b * T, (size_t)P * sizeof(int));
    rg_tensor *y = rg_model_decode(&ctx, m, &kv, step, NULL, P);
    memcpy(out, y->data, (size_t)B * m->V * sizeof(real));
    for (int t = P; t < T; t++) {
        for (int b = 0; b < B; b++) step[b] = tok[b * T + t];
        rg_ctx_reset(&ctx);
        y = rg_model_decode(&ctx, m, &kv, step, NULL, 1);
        memcpy(out + (long)(t - P + 1) * B * m->V, y->data, (size_t)B * m->V * sizeof(real));
    }
    free(step);
    rg_kv_cache_free(&kv);
    rg_ctx_free(&ctx);
}

static void check_long(const rg_config *c, const char *what, bool two_threads) {
    enum { B = 2, T = 540, P = 200 }; /* past 512 keys; the prefill ends inside a tile */
    rg_model m;
    rg_error err;
    cr_assert_eq(rg_gc_model_init(&m, &c->model, 21, &err), 0, "%s", err.msg);
    int *tok = malloc((size_t)B * T * sizeof(int));
    rg_gc_random_tokens(tok, B * T, m.V, 31);
    rg_ctx ctx;
    rg_ctx_init(&ctx, 1);
    rg_set_no_grad(&ctx, true);
    rg_tensor *full = rg_model_forward_seq(&ctx, &m, tok, NULL, NULL, B, T); /* (B,T,V) */
    long steps = T - P + 1, V = m.V;
    real *one = malloc((size_t)steps * B * V * sizeof(real));
    real *two = malloc((size_t)steps * B * V * sizeof(real));
    decode_steps(&m, tok, B, T, P, 1, one);
    if (two_threads) decode_steps(&m, tok, B, T, P, 2, two);
    real worst = 0;
    for (long s = 0; s < steps; s++) /* step s: the logits of token P - 1 + s */
        for (int b = 0; b < B; b++)
            worst = fmax(worst, max_abs_diff(one + (s * B + b) * V,
                                             full->data + ((long)b * T + P - 1 + s) * V, V));
    cr_expect(worst < EQ_TOL, "%s mem_len %d: decoding 540 tokens differs by %.3g", what,
              c->model.mem_len, worst);
    long at = 0;
    if (two_threads)
        cr_expect(same_bits(one, two, steps * B * V, &at), "%s: 2 threads differ from 1 at %ld",
                  what, at);
    /* the teacher-forced pass: chunks of 37 through the cache */
    rg_kv_cache kv;
    rg_kv_cache_init(&kv, &m, B, T, NULL);
    worst = 0;
    int chunk[B * 37];
    for (int t = 0; t < T; t += 37) {
        int n = T - t < 37 ? T - t : 37;
        for (int b = 0; b < B; b++) memcpy(chunk + b * n, tok + b * T + t, (size_t)n * sizeof(int));
        rg_tensor *y = rg_model_decode_all(&ctx, &m, &kv, chunk, NULL, n); /* (B,n,V) */
        for (int b = 0; b < B; b++)
            worst = fmax(worst, max_abs_diff(y->data + (long)b * n * V,
                                             full->data + ((long)b * T + t) * V, (long)n * V));
    }
    cr_expect(worst < EQ_TOL, "%s mem_len %d: chunked decoding differs by %.3g", what,
              c->model.mem_len, worst);
    rg_kv_cache_free(&kv);
    rg_ctx_free(&ctx);
    free(one), free(two), free(tok);
    rg_model_free(&m);
}

Test(decode_path, long_decoding_equals_forward) {
    for (int id = 0; id < rg_scheme_count(); id++) {
        rg_config c;
        long_config(&c, rg_scheme_name(id), 2, 0);
        check_long(&c, rg_scheme_name(id), !strcmp(rg_scheme_name(id), "rope"));
        if (!rg_scheme_is_relative(id)) continue;
        long_config(&c, rg_scheme_name(id), 2, 150); /* windows of 150 + this segment's */
        check_long(&c, rg_scheme_name(id), false);
    }
    rg_config c;
    long_config(&c, "t5,deberta,xl", 3, 0);
    check_long(&c, "t5,deberta,xl", true);
    long_config(&c, "cope,fire,rope", 3, 0);
    check_long(&c, "cope,fire,rope", true);
}
