/* gemm_peak.c: how fast is BLIS's own single-precision GEMM on this machine?
 *
 * The yardstick for relgrad's benchmark (tools/bench.sh): relgrad's model
 * FLOP utilization is its training FLOPs per second divided by the figure
 * this program prints on its last line.
 *
 * For each shape it runs C = A op(B) through BLIS's typed API (bli_sgemm,
 * row-major operands) with the given number of BLIS threads, repeats the
 * product until one repetition lasts at least ~60 ms, keeps the best of
 * several repetitions and reports 2*M*N*K / time. The shapes are square sizes
 * and the largest products of the benchmark configs (B*T rows of
 * activations against the fused qkv, fc1 and fc2 weights; forward x W^T and
 * the two backward products dX = dY W and dW = dY^T X).
 *
 * Build (the CMake target does the same):
 *   gcc -O2 -std=gnu11 -Wall -Wextra -Werror \
 *       -isystem /usr/include/x86_64-linux-gnu/blis-openmp \
 *       tools/gemm_peak.c -lblis -fopenmp -lm -o build/gemm_peak
 * Run:
 *   build/gemm_peak [threads] [--quick]        (threads default 2)
 * Output: one line per shape, then
 *   gemm: sgemm_gflops=X threads=N
 * where X is the best figure over the square sizes >= 1024.
 */
#include <blis.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    const char *name; /* what the product stands for */
    long m, n, k;
    int ta, tb; /* 1: operand stored transposed (A is [K,M], B is [N,K]) */
    int square; /* counts towards the final figure (when m >= 1024) */
} shape;

static const shape shapes[] = {
    {"square", 256, 256, 256, 0, 0, 1},
    {"square", 512, 512, 512, 0, 0, 1},
    {"square", 1024, 1024, 1024, 0, 0, 1},
    {"square", 2048, 2048, 2048, 0, 0, 1},
    /* config (a): d 64, F 256, B*T = 32*40 = 1280 */
    {"a qkv  x W^T", 1280, 192, 64, 0, 1, 0},
    {"a fc1  x W^T", 1280, 256, 64, 0, 1, 0},
    {"a fc2  x W^T", 1280, 64, 256, 0, 1, 0},
    /* config (b): d 256, F 1024, B*T = 16*128 = 2048 */
    {"b qkv  x W^T", 2048, 768, 256, 0, 1, 0},
    {"b fc1  x W^T", 2048, 1024, 256, 0, 1, 0},
    {"b fc2  x W^T", 2048, 256, 1024, 0, 1, 0},
    {"b qkv  dX = dY W", 2048, 256, 768, 0, 0, 0},
    {"b fc1  dW = dY^T X", 1024, 256, 2048, 1, 0, 0},
    {"b attn q k^T (1 head)", 128, 128, 32, 0, 1, 0},
};

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static float *random_matrix(long rows, long cols, unsigned *state) {
    float *p = malloc((size_t)rows * (size_t)cols * sizeof *p);
    if (!p) {
        fprintf(stderr, "gemm_peak: out of memory\n");
        exit(1);
    }
    for (long i = 0; i < rows * cols; i++) {
        *state = *state * 1664525u + 1013904223u;
        p[i] = (float)((*state >> 8) & 0xffff) / 65536.0f - 0.5f;
    }
    return p;
}

/* One product C[M,N] = op(A) op(B), all row-major. */
static void run_gemm(const shape *s, float *a, float *b, float *c) {
    float one = 1.0f, zero = 0.0f;
    /* A stored [M,K] (ta = 0) or [K,M] (ta = 1); B stored [K,N] or [N,K]. */
    inc_t lda = s->ta ? s->m : s->k, ldb = s->tb ? s->k : s->n;
    bli_sgemm(s->ta ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE,
              s->tb ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE, s->m, s->n, s->k, &one, a, lda, 1, b, ldb,
              1, &zero, c, s->n, 1);
}

/* Best GFLOP/s over `reps` repetitions, each at least `min_secs` long. */
static double measure(const shape *s, int reps, double min_secs) {
    unsigned state = 12345u;
    float *a = random_matrix(s->m, s->k, &state);
    float *b = random_matrix(s->k, s->n, &state);
    float *c = random_matrix(s->m, s->n, &state);
    double flops = 2.0 * (double)s->m * (double)s->n * (double)s->k;

    /* warm up (threads, packing buffers) and pick the inner count */
    run_gemm(s, a, b, c);
    double t0 = now_seconds();
    run_gemm(s, a, b, c);
    double one = now_seconds() - t0;
    long inner = one > 0 ? (long)(min_secs / one) + 1 : 1000;

    double best = 0;
    for (int r = 0; r < reps; r++) {
        t0 = now_seconds();
        for (long i = 0; i < inner; i++) run_gemm(s, a, b, c);
        double dt = now_seconds() - t0;
        double gf = flops * (double)inner / dt / 1e9;
        if (gf > best) best = gf;
    }
    free(a);
    free(b);
    free(c);
    return best;
}

int main(int argc, char **argv) {
    int threads = 2, quick = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            quick = 1;
        } else {
            char *end;
            long t = strtol(argv[i], &end, 10);
            if (*end || t < 1 || t > 1024) {
                fprintf(stderr, "usage: gemm_peak [threads] [--quick]\n");
                return 2;
            }
            threads = (int)t;
        }
    }
    bli_thread_set_num_threads(threads);
    int reps = quick ? 3 : 7;
    double min_secs = quick ? 0.03 : 0.06;

    printf("gemm_peak: BLIS %s, arch %s, threads %d, best of %d repetitions\n",
           bli_info_get_version_str(), bli_arch_string(bli_arch_query_id()), threads, reps);
    double peak = 0;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        const shape *s = &shapes[i];
        double gf = measure(s, reps, min_secs);
        printf("shape %-22s M=%-5ld N=%-5ld K=%-5ld %c%c  %8.1f GFLOP/s\n", s->name, s->m, s->n,
               s->k, s->ta ? 'T' : 'N', s->tb ? 'T' : 'N', gf);
        fflush(stdout);
        if (s->square && s->m >= 1024 && gf > peak) peak = gf;
    }
    printf("gemm: sgemm_gflops=%.1f threads=%d\n", peak, threads);
    return 0;
}
