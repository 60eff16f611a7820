/* gemm_own.c: relgrad's own float32 GEMM kernels against BLIS, product by
 * product, for the linear layers of the benchmark configs: the
 * measurements behind rg_gemm's rule (src/ops/gemm.c).
 *
 * For each product of a linear layer (forward y = x W^T + b, backward
 * dX = dY W and dW += dY^T X, with the strides src/ops/matmul.c passes) it
 * times rg_sgemm_fma (the best kernel set this CPU runs) and rg_gemm_blis
 * (BLIS, work split between threads as rg_gemm splits it) alternately,
 * `rounds` times each, every timing a block of repetitions lasting ~20 ms,
 * and prints both medians in GFLOP/s, the median of the per-round speed
 * ratios own/BLIS (BLIS's time over own's: above 1, own is faster; same
 * sitting, so machine load mostly cancels) and the path rg_gemm takes for
 * the shape. Wall-clock on a shared machine: the ratios
 * are what to read, not the absolute figures.
 *
 * Build: the CMake target gemm_own (build/gemm_own).
 * Run:   build/gemm_own [threads] [rounds]     (default 1 thread, 7 rounds)
 */
#include "ops/ops_internal.h"

#include <blis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    const char *name;
    long m, n, k;
    long rsa, csa, rsb, csb; /* as matmul.c passes them */
    float beta;
} product;

enum { MAX_PRODUCTS = 64, MAX_ROUNDS = 99 };

/* The products of one linear layer [out, in] on N rows. */
static int add_linear(product *p, int at, const char *cfg, const char *layer, long N, long in,
                      long out, bool bias) {
    static char names[MAX_PRODUCTS][48];
    snprintf(names[at], sizeof names[at], "%s %-4s y = x W^T", cfg, layer);
    p[at] = (product){names[at], N, out, in, in, 1, 1, in, bias ? 1 : 0};
    snprintf(names[at + 1], sizeof names[at + 1], "%s %-4s dX = dY W", cfg, layer);
    p[at + 1] = (product){names[at + 1], N, in, out, out, 1, in, 1, 0};
    snprintf(names[at + 2], sizeof names[at + 2], "%s %-4s dW += dY^T X", cfg, layer);
    p[at + 2] = (product){names[at + 2], out, in, N, 1, out, in, 1, 1};
    return at + 3;
}

/* Config (a) and (b) of tools/bench.sh: N = batch x T rows, d, d_ff, V. */
static int products(product *p) {
    int n = 0;
    const struct {
        const char *cfg;
        long N, d, ff, V;
    } cfgs[] = {{"a", 32 * 40, 64, 256, 20}, {"b", 16 * 128, 256, 1024, 20}};
    for (int c = 0; c < 2; c++) {
        long N = cfgs[c].N, d = cfgs[c].d, ff = cfgs[c].ff;
        n = add_linear(p, n, cfgs[c].cfg, "qkv", N, d, 3 * d, true);
        n = add_linear(p, n, cfgs[c].cfg, "proj", N, d, d, true);
        n = add_linear(p, n, cfgs[c].cfg, "fc1", N, d, ff, true);
        n = add_linear(p, n, cfgs[c].cfg, "fc2", N, ff, d, true);
        n = add_linear(p, n, cfgs[c].cfg, "head", N, d, cfgs[c].V, false);
    }
    return n;
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void run(const product *p, bool own, int simd, const float *A, const float *B, float *C,
                int threads) {
    if (own)
        rg_sgemm_fma(simd, p->m, p->n, p->k, 1, A, p->rsa, p->csa, B, p->rsb, p->csb, p->beta, C,
                     p->n, 1, threads);
    else
        rg_gemm_blis(p->m, p->n, p->k, 1, A, p->rsa, p->csa, B, p->rsb, p->csb, p->beta, C, p->n, 1,
                     threads);
}

/* Seconds per product, over a block of `inner` repetitions. */
static double time_block(const product *p, bool own, int simd, const float *A, const float *B,
                         float *C, int threads, long inner) {
    double t0 = now_seconds();
    for (long i = 0; i < inner; i++) run(p, own, simd, A, B, C, threads);
    return (now_seconds() - t0) / (double)inner;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static long parse(const char *s, const char *what, long lo, long hi) {
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == 0 || *end || v < lo || v > hi) {
        fprintf(stderr,
                "gemm_own: %s '%s' is not a whole number in %ld..%ld\n"
                "usage: gemm_own [threads] [rounds]\n",
                what, s, lo, hi);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv) {
    if (argc > 3) {
        fprintf(stderr, "gemm_own: too many arguments\nusage: gemm_own [threads] [rounds]\n");
        return 2;
    }
    int threads = argc > 1 ? (int)parse(argv[1], "threads", 1, 256) : 1;
    int rounds = argc > 2 ? (int)parse(argv[2], "rounds", 1, MAX_ROUNDS) : 7;
    /* BLIS checks BLIS_ARCH_TYPE against its registered kernel sets, which
     * exist only after bli_init: asking for the arch first aborted */
    bli_init();
    int simd = rg_sgemm_fma_level();
    if (simd == RG_SIMD_SSE4) {
        fprintf(stderr, "gemm_own: this CPU has neither AVX-512 nor AVX2 with FMA: relgrad's "
                        "kernels do not run here (rg_gemm uses BLIS for every product)\n");
        return 1;
    }
    product ps[MAX_PRODUCTS];
    int np = products(ps);
    printf("gemm_own: own %s kernels vs BLIS %s (arch %s), %d thread(s), medians of %d rounds\n",
           simd == RG_SIMD_AVX512 ? "AVX-512" : "AVX2", bli_info_get_version_str(),
           bli_arch_string(bli_arch_query_id()), threads, rounds);
    printf("%-24s %5s %5s %5s  %9s %9s  %9s  %s\n", "product", "M", "N", "K", "own GF/s",
           "BLIS GF/s", "own/BLIS", "rg_gemm runs");
    for (int i = 0; i < np; i++) {
        const product *p = &ps[i];
        long na = (p->rsa == 1 ? p->csa * p->k : p->rsa * p->m);
        long nb = (p->rsb == 1 ? p->csb * p->n : p->rsb * p->k);
        float *A = malloc((size_t)na * sizeof *A), *B = malloc((size_t)nb * sizeof *B);
        float *C = malloc((size_t)(p->m * p->n) * sizeof *C);
        unsigned state = 12345u;
        for (long j = 0; j < na; j++) A[j] = (float)((state = state * 1664525u + 1013904223u) >> 8);
        for (long j = 0; j < nb; j++) B[j] = (float)((state = state * 1664525u + 1013904223u) >> 8);
        for (long j = 0; j < na; j++) A[j] = A[j] / 16777216.0f - 0.5f;
        for (long j = 0; j < nb; j++) B[j] = B[j] / 16777216.0f - 0.5f;
        memset(C, 0, (size_t)(p->m * p->n) * sizeof *C);
        /* warm up both, then pick a block of ~20 ms */
        run(p, true, simd, A, B, C, threads), run(p, false, simd, A, B, C, threads);
        double one = time_block(p, false, simd, A, B, C, threads, 3);
        long inner = (long)(0.02 / one) + 1;
        double t_own[MAX_ROUNDS], t_blis[MAX_ROUNDS], ratio[MAX_ROUNDS];
        for (int r = 0; r < rounds; r++) { /* alternate, starting with each in turn */
            bool own_first = r % 2 == 0;
            double t1 = time_block(p, own_first, simd, A, B, C, threads, inner);
            double t2 = time_block(p, !own_first, simd, A, B, C, threads, inner);
            t_own[r] = own_first ? t1 : t2, t_blis[r] = own_first ? t2 : t1;
            ratio[r] = t_blis[r] / t_own[r]; /* > 1: own faster */
        }
        double flops = 2.0 * (double)p->m * (double)p->n * (double)p->k;
        double r_med = median(ratio, rounds);
        printf("%-24s %5ld %5ld %5ld  %9.1f %9.1f  %9.2f  %s\n", p->name, p->m, p->n, p->k,
               flops / median(t_own, rounds) / 1e9, flops / median(t_blis, rounds) / 1e9, r_med,
               rg_gemm_own(p->m, p->n, p->k) ? "own" : "BLIS");
        fflush(stdout);
        free(A), free(B), free(C);
    }
    return 0;
}
