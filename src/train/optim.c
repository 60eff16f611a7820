/* optim.c: AdamW (Loshchilov & Hutter 2019), the warmup + cosine schedule,
 * and global gradient-norm clipping.
 *
 * AdamW's update is entrywise, in double, rounded to float where it is
 * stored (m, v, w). GCC 12 at -O2 for x86-64-v2 left it scalar (about 45
 * instructions per value under callgrind); where the CPU has AVX-512 or
 * AVX2 (cpuid, at run time) it runs 8 or 4 values at a time with the same
 * operations in the same order (IEEE add, mul, div and sqrt round the same
 * in a vector lane; no fused multiply-add), so the bits do not depend on
 * the path (tests/test_train.c, adamw_paths_same_bits, compares them). */
#include "relgrad/optim.h"

#include <immintrin.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

void rg_adamw_init(rg_adamw *opt, const rg_model *model, double weight_decay) {
    memset(opt, 0, sizeof *opt);
    opt->n = model->n_values;
    opt->m = rg_xcalloc((size_t)opt->n, sizeof(real), "AdamW's first moments");
    opt->v = rg_xcalloc((size_t)opt->n, sizeof(real), "AdamW's second moments");
    opt->beta1 = 0.9, opt->beta2 = 0.95, opt->eps = 1e-8;
    opt->weight_decay = weight_decay;
    opt->threads = 1;
}

void rg_adamw_free(rg_adamw *opt) {
    free(opt->m);
    free(opt->v);
    memset(opt, 0, sizeof *opt);
}

/* The constants of one parameter's update. */
typedef struct {
    double b1, b2, c1, c2, decay, lr, eps;
} adamw_consts;

/* Values [lo, hi) one at a time: the reference every vector path equals. */
static void adamw_scalar(const adamw_consts *k, real *w, const real *g, real *m, real *v, long lo,
                         long hi) {
    double b1 = k->b1, b2 = k->b2;
    for (long j = lo; j < hi; j++) {
        m[j] = (real)(b1 * m[j] + (1 - b1) * g[j]);
        v[j] = (real)(b2 * v[j] + (1 - b2) * g[j] * g[j]);
        double mhat = m[j] / k->c1, vhat = v[j] / k->c2;
        w[j] = (real)(w[j] - k->decay * w[j] - k->lr * mhat / (sqrt(vhat) + k->eps));
    }
}

#ifndef RELGRAD_F64
/* 4 values a time in double lanes: adamw_scalar's operations, in its order. */
__attribute__((target("avx2"))) static long
adamw_avx2(const adamw_consts *k, float *w, const float *g, float *m, float *v, long lo, long hi) {
    __m256d b1 = _mm256_set1_pd(k->b1), ob1 = _mm256_set1_pd(1 - k->b1);
    __m256d b2 = _mm256_set1_pd(k->b2), ob2 = _mm256_set1_pd(1 - k->b2);
    __m256d c1 = _mm256_set1_pd(k->c1), c2 = _mm256_set1_pd(k->c2);
    __m256d decay = _mm256_set1_pd(k->decay), lr = _mm256_set1_pd(k->lr);
    __m256d eps = _mm256_set1_pd(k->eps);
    long j = lo;
    for (; j + 4 <= hi; j += 4) {
        __m256d gd = _mm256_cvtps_pd(_mm_loadu_ps(g + j));
        __m256d md = _mm256_cvtps_pd(_mm_loadu_ps(m + j));
        __m256d vd = _mm256_cvtps_pd(_mm_loadu_ps(v + j));
        __m256d wd = _mm256_cvtps_pd(_mm_loadu_ps(w + j));
        __m128 mf = _mm256_cvtpd_ps(_mm256_add_pd(_mm256_mul_pd(b1, md), _mm256_mul_pd(ob1, gd)));
        __m128 vf = _mm256_cvtpd_ps(
            _mm256_add_pd(_mm256_mul_pd(b2, vd), _mm256_mul_pd(_mm256_mul_pd(ob2, gd), gd)));
        _mm_storeu_ps(m + j, mf);
        _mm_storeu_ps(v + j, vf);
        __m256d mhat = _mm256_div_pd(_mm256_cvtps_pd(mf), c1);
        __m256d vhat = _mm256_div_pd(_mm256_cvtps_pd(vf), c2);
        __m256d step =
            _mm256_div_pd(_mm256_mul_pd(lr, mhat), _mm256_add_pd(_mm256_sqrt_pd(vhat), eps));
        __m256d wn = _mm256_sub_pd(_mm256_sub_pd(wd, _mm256_mul_pd(decay, wd)), step);
        _mm_storeu_ps(w + j, _mm256_cvtpd_ps(wn));
    }
    return j;
}

/* 8 values a time: the same in AVX-512's double lanes. */
__attribute__((target("avx512f"))) static long adamw_avx512(const adamw_consts *k, float *w,
                                                            const float *g, float *m, float *v,
                                                            long lo, long hi) {
    __m512d b1 = _mm512_set1_pd(k->b1), ob1 = _mm512_set1_pd(1 - k->b1);
    __m512d b2 = _mm512_set1_pd(k->b2), ob2 = _mm512_set1_pd(1 - k->b2);
    __m512d c1 = _mm512_set1_pd(k->c1), c2 = _mm512_set1_pd(k->c2);
    __m512d decay = _mm512_set1_pd(k->decay), lr = _mm512_set1_pd(k->lr);
    __m512d eps = _mm512_set1_pd(k->eps);
    long j = lo;
    for (; j + 8 <= hi; j += 8) {
        __m512d gd = _mm512_cvtps_pd(_mm256_loadu_ps(g + j));
        __m512d md = _mm512_cvtps_pd(_mm256_loadu_ps(m + j));
        __m512d vd = _mm512_cvtps_pd(_mm256_loadu_ps(v + j));
        __m512d wd = _mm512_cvtps_pd(_mm256_loadu_ps(w + j));
        __m256 mf = _mm512_cvtpd_ps(_mm512_add_pd(_mm512_mul_pd(b1, md), _mm512_mul_pd(ob1, gd)));
        __m256 vf = _mm512_cvtpd_ps(
            _mm512_add_pd(_mm512_mul_pd(b2, vd), _mm512_mul_pd(_mm512_mul_pd(ob2, gd), gd)));
        _mm256_storeu_ps(m + j, mf);
        _mm256_storeu_ps(v + j, vf);
        __m512d mhat = _mm512_div_pd(_mm512_cvtps_pd(mf), c1);
        __m512d vhat = _mm512_div_pd(_mm512_cvtps_pd(vf), c2);
        __m512d step =
            _mm512_div_pd(_mm512_mul_pd(lr, mhat), _mm512_add_pd(_mm512_sqrt_pd(vhat), eps));
        __m512d wn = _mm512_sub_pd(_mm512_sub_pd(wd, _mm512_mul_pd(decay, wd)), step);
        _mm256_storeu_ps(w + j, _mm512_cvtpd_ps(wn));
    }
    return j;
}
#endif

int rg_adamw_simd_level(void) {
#ifdef RELGRAD_F64
    return RG_ADAMW_SCALAR;
#else
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return RG_ADAMW_AVX512;
    return __builtin_cpu_supports("avx2") ? RG_ADAMW_AVX2 : RG_ADAMW_SCALAR;
#endif
}

/* Values [lo, hi) on the path `simd` (at most rg_adamw_simd_level()). */
static void adamw_range(int simd, const adamw_consts *k, real *w, const real *g, real *m, real *v,
                        long lo, long hi) {
#ifndef RELGRAD_F64
    if (simd == RG_ADAMW_AVX512)
        lo = adamw_avx512(k, w, g, m, v, lo, hi);
    else if (simd == RG_ADAMW_AVX2)
        lo = adamw_avx2(k, w, g, m, v, lo, hi);
#else
    (void)simd;
#endif
    adamw_scalar(k, w, g, m, v, lo, hi); /* the rest, or all */
}

void rg_adamw_step_simd(rg_adamw *opt, rg_model *model, double lr, int simd) {
    if (simd > rg_adamw_simd_level())
        rg_die("rg_adamw_step_simd: this CPU lacks the vector path %d (at most %d)", simd,
               rg_adamw_simd_level());
    opt->step++;
    double b1 = opt->beta1, b2 = opt->beta2;
    double c1 = 1 - pow(b1, (double)opt->step), c2 = 1 - pow(b2, (double)opt->step);
    for (int i = 0; i < model->n_params; i++) {
        const rg_param *p = &model->params[i];
        adamw_consts k = {.b1 = b1,
                          .b2 = b2,
                          .c1 = c1,
                          .c2 = c2,
                          .decay = p->decay ? lr * opt->weight_decay : 0,
                          .lr = lr,
                          .eps = opt->eps};
        real *w = p->t.data, *g = p->t.grad, *m = opt->m + p->offset, *v = opt->v + p->offset;
        long n = p->t.size;
#pragma omp parallel if (n > 32768) num_threads(opt->threads)
        {
            long lo, hi; /* this thread's share; the update is entrywise */
            int nth = omp_get_num_threads(), t = omp_get_thread_num();
            lo = n * t / nth, hi = n * (t + 1) / nth;
            adamw_range(simd, &k, w, g, m, v, lo, hi);
        }
    }
}

void rg_adamw_step(rg_adamw *opt, rg_model *model, double lr) {
    rg_adamw_step_simd(opt, model, lr, rg_adamw_simd_level());
}

double rg_lr_at(int s, int steps, int warmup, double lr_max) {
    if (s < warmup) return lr_max * (s + 1) / warmup;
    if (steps <= warmup) return lr_max;
    double progress = (double)(s - warmup) / (steps - warmup); /* 0 .. 1 */
    return lr_max * 0.5 * (1 + cos(M_PI * progress));
}

double rg_clip_grad_norm(rg_model *model, double max_norm) {
    double sum = 0;
    for (long i = 0; i < model->n_values; i++) sum += (double)model->grads[i] * model->grads[i];
    double norm = sqrt(sum);
    if (max_norm > 0 && norm > max_norm) {
        real scale = (real)(max_norm / (norm + 1e-6));
        for (long i = 0; i < model->n_values; i++) model->grads[i] *= scale;
    }
    return norm;
}
