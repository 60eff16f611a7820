/* fire.c: FIRE, functional interpolation for relative positions (Li et al.
 * 2023), the scheme of Zhou et al. 2024's length generalization on addition:
 *     S[i,j] = q_i . k_j / sqrt(dh) + f(z)[h]
 *     z = psi(p_i - p_j) / (psi(max(p_i, thr)) + 1e-6),  psi(x) = log(|c x| + 1),
 *     thr = |L * fire_L|,  f = fc2(relu(fc1(z))): 1 -> fire_width -> H
 * with per-layer parameters attn.fire.fc1.weight [W,1], .fc1.bias [W],
 * .fc2.weight [H,W], .fc2.bias [H], .c [1] (starts at 0.1) and .L [1]
 * (starts at 1). Dividing by psi of the query's own position is FIRE's
 * progressive interpolation: z stays in [0, 1] at any length.
 *
 * Everything FIRE is lives here: the op fire_bias (its forward and
 * backward; the bias goes to the attention kernel as a bias term), its
 * gradient-check case, and what the whole-model check needs to know (relu
 * kinks, and that fc2.bias's gradient is zero). FIRE needs keys before the
 * query (the normalization by the query's own position), so an encoder
 * cannot use it. */
#include "scheme.h"

#include <math.h>
#include <omp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

enum { FC1_W, FC1_B, FC2_W, FC2_B, C, L }; /* its parameters in each layer */

static const rg_key_info KEYS[] = {
    {.name = "fire_width",
     .group = "model",
     .type = RG_KEY_INT,
     .kind = RG_V_INT,
     .offset = offsetof(rg_scheme_opts, fire_width),
     .lo = 1,
     .hi = 256,
     .def = "32",
     .flags = RG_KEY_SCHEME,
     .help = "hidden width of FIRE's MLP; 1 .. 256"},
    {.name = "fire_L",
     .group = "model",
     .type = RG_KEY_REAL,
     .kind = RG_V_REAL,
     .offset = offsetof(rg_scheme_opts, fire_L),
     .lo = 0,
     .open = true,
     .def = "512",
     .flags = RG_KEY_SCHEME,
     .help = "FIRE's threshold scale: positions below |L * fire_L| are normalized by it; > 0"},
};

static void declare_layer(rg_param_builder *pb, const rg_model_config *mc, int l,
                          rg_tensor **slot) {
    int W = mc->opts.fire_width, H = mc->n_heads;
    char name[RG_NAME_MAX];
#define DECLARE(which, suffix, decay, init, value, ...)                                            \
    snprintf(name, sizeof name, "blocks.%d.attn.fire.%s", l, suffix);                              \
    slot[which] = rg_declare(pb, name, RG_SHAPE(__VA_ARGS__), decay, init, value)
    DECLARE(FC1_W, "fc1.weight", true, RG_INIT_NORMAL, 0, W, 1);
    DECLARE(FC1_B, "fc1.bias", false, RG_INIT_ZEROS, 0, W);
    DECLARE(FC2_W, "fc2.weight", true, RG_INIT_NORMAL, 0, H, W);
    DECLARE(FC2_B, "fc2.bias", false, RG_INIT_ZEROS, 0, H);
    DECLARE(C, "c", false, RG_INIT_CONST, 0.1, 1);
    DECLARE(L, "L", false, RG_INIT_CONST, 1.0, 1);
#undef DECLARE
}

/* ---- z, the normalized log distance: the one place it is written ------------------- */

/* psi(x) = log(|c x| + 1) */
static double psi(double c, double x) {
    return log(fabs(c * x) + 1);
}

/* The denominator of z for a query at position p: psi(max(p, thr)) + 1e-6. */
static double z_denominator(double c, int p, double thr) {
    return psi(c, p > thr ? p : thr) + 1e-6;
}

/* ---- the op: fire_bias ------------------------------------------------------------------
 * For query positions qpos [Bp,T] and key positions kpos [Bp,Tk] (Bp rows, 1 =
 * shared), E[bp,h,i,j] = f(z)[h] for visible pairs (j <= i + diag), 0 elsewhere
 * -> [Bp,H,T,Tk]. Forward, for a visible pair with d = p_i - p_j:
 *   m = max(p_i, thr),  z = psi(d) / (psi(m) + 1e-6)
 *   a_w = W1[w] z + b1[w],  u_w = relu(a_w),  E_h = sum_w W2[h,w] u_w + b2[h]
 * Backward, with g_h = dE_h (PyTorch's conventions at the kinks: relu'(0) = 0,
 * d|x|/dx at 0 = 0, and a tie p_i = thr splits max's gradient half and half):
 *   db2[h] += g_h,  dW2[h,w] += g_h u_w,  du_w = sum_h W2[h,w] g_h
 *   da_w = du_w [a_w > 0],  dW1[w] += da_w z,  db1[w] += da_w,  dz = sum_w W1[w] da_w
 *   with N = psi(d), Dn = psi(m) + 1e-6:
 *     dpsi(x)/dc = sgn(c x) x / (|c x| + 1),   dpsi(m)/dm = sgn(c m) c / (|c m| + 1)
 *     dc += dz (dN/dc Dn - N dDn/dc) / Dn^2
 *     dL += dz (-N / Dn^2) dpsi(m)/dm  dm/dthr  sgn(L s) s      (s = fire_L)
 *   where dm/dthr = 1 if thr > p_i, 1/2 if thr = p_i, else 0.
 * The hidden layer is recomputed in the backward rather than kept. */

/* The op's shapes and its parameters in double (exact copies: the same
 * products as reading the floats), and psi(d) of each visible pair, kept
 * by the forward for the backward: N[(bp * T + i) * Tk + j]. */
typedef struct {
    const int *qpos, *kpos;
    int Bp, T, Tk, diag, W, H;
    double c, thr, Lv, s;  /* c, thr = |L s|, L and s = fire_L */
    int simd;              /* the vector code (rg_fire_level) */
    const double *w1, *b1; /* [W] */
    const double *w2;      /* [H,W], fc2.weight */
    const double *w2t;     /* [W,H], its transpose (the forward's inner loop runs over heads) */
    double *N;             /* [Bp,T,Tk] or NULL (no backward) */
    const long *work;      /* [Bp*T + 1]: visible pairs in rows before each row */
} fire_op;

static double sgn(double x) {
    return (x > 0) - (x < 0);
}

/* Visible keys of query row i: j < i + diag + 1, j < Tk. */
static int visible(const fire_op *op, int i) {
    int end = i + op->diag + 1 < op->Tk ? i + op->diag + 1 : op->Tk;
    return end > 0 ? end : 0;
}

/* Rows (bp, i), flattened as r = bp * T + i, for thread t of nt: a
 * contiguous range holding about 1/nt of the visible pairs (the rows of a
 * causal call grow in length, so equal row counts would leave the first
 * thread a quarter of the work at 2 threads). The backward's per-thread sums
 * depend on this split, so it depends on the shape and nt only. */
static long first_row_reaching(const fire_op *op, long goal) { /* work[row] >= goal */
    long lo = 0, hi = (long)op->Bp * op->T;
    while (lo < hi) {
        long mid = (lo + hi) / 2;
        if (op->work[mid] < goal)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}
static void thread_rows(const fire_op *op, int t, int nt, long *r0, long *r1) {
    long n = (long)op->Bp * op->T, total = op->work[n];
    *r0 = first_row_reaching(op, total * t / nt);
    *r1 = t == nt - 1 ? n : first_row_reaching(op, total * (t + 1) / nt);
}

/* Forward of rows [r0, r1): E (zeroed) gets f(z) at each visible pair. Each
 * head's value is summed over the units in unit order, as floats, whatever
 * the vector width: the loops run across heads or units, never reorder a
 * sum. */
static inline __attribute__((always_inline)) void
forward_rows_body(const fire_op *op, const real *b2, real *E, long r0, long r1) {
    int W = op->W, H = op->H, T = op->T, Tk = op->Tk;
    real acc[256]; /* H <= 256: one per head */
    for (long r = r0; r < r1; r++) {
        int bp = (int)(r / T), i = (int)(r % T);
        int pi = op->qpos[r];
        double Dn = z_denominator(op->c, pi, op->thr);
        int end = visible(op, i);
        for (int j = 0; j < end; j++) {
            double N = psi(op->c, pi - op->kpos[(long)bp * Tk + j]), z = N / Dn;
            if (op->N) op->N[r * Tk + j] = N;
            for (int h = 0; h < H; h++) acc[h] = b2[h];
            for (int w = 0; w < W; w++) {
                double a = op->w1[w] * z + op->b1[w];
                if (a <= 0) continue;
                const double *w2t = op->w2t + (long)w * H;
#pragma omp simd
                for (int h = 0; h < H; h++) acc[h] += (real)(w2t[h] * a);
            }
            real *e = E + ((long)bp * H * T + i) * Tk + j; /* e[h * T * Tk] */
            for (int h = 0; h < H; h++) e[(long)h * T * Tk] = acc[h];
        }
    }
}

/* Backward of rows [r0, r1) into one thread's sums a = {dc, dL, dW1 [W],
 * db1 [W], dW2 [H,W], db2 [H]}; dE the op's output gradient. Each sum takes
 * the pairs in row order, and within a pair the heads (du) and units (dz)
 * in order: the vector loops run across units, each unit its own sum. */
static inline __attribute__((always_inline)) void
backward_rows_body(const fire_op *op, const real *dE, double *a, long r0, long r1) {
    int W = op->W, H = op->H, T = op->T, Tk = op->Tk;
    double cv = op->c, thr = op->thr, Lv = op->Lv, s = op->s;
    double *dc = a, *dL = a + 1, *dW1 = a + 2, *db1 = dW1 + W, *dW2 = db1 + W, *db2 = dW2 + H * W;
    double hid[256], pre[256], du[256], da[256], gh[256]; /* W, H <= 256 */
    for (long r = r0; r < r1; r++) {
        int bp = (int)(r / T), i = (int)(r % T);
        int pi = op->qpos[r];
        double m = pi > thr ? pi : thr;
        double Dn = z_denominator(cv, pi, thr);
        double dDn_dc = sgn(cv * m) * m / (fabs(cv * m) + 1);
        double dDn_dm = sgn(cv * m) * cv / (fabs(cv * m) + 1);
        double dm_dthr = thr > pi ? 1 : thr == pi ? 0.5 : 0;
        int end = visible(op, i);
        for (int j = 0; j < end; j++) {
            double d = pi - op->kpos[(long)bp * Tk + j];
            double N = op->N[r * Tk + j], z = N / Dn;
            const real *g = dE + ((long)bp * H * T + i) * Tk + j; /* g[h * T * Tk] */
            for (int h = 0; h < H; h++) gh[h] = g[(long)h * T * Tk];
#pragma omp simd
            for (int w = 0; w < W; w++) {
                pre[w] = op->w1[w] * z + op->b1[w];
                hid[w] = pre[w] > 0 ? pre[w] : 0;
                du[w] = 0;
            }
            for (int h = 0; h < H; h++) { /* du_w = sum_h W2[h,w] g_h; dW2[h,w] += g_h u_w */
                const double *w2 = op->w2 + (long)h * W;
                double *d2 = dW2 + (long)h * W, gv = gh[h];
#pragma omp simd
                for (int w = 0; w < W; w++) {
                    du[w] += w2[w] * gv;
                    d2[w] += gv * hid[w];
                }
            }
#pragma omp simd
            for (int w = 0; w < W; w++) {
                da[w] = pre[w] > 0 ? du[w] : 0;
                dW1[w] += da[w] * z;
                db1[w] += da[w];
            }
            double dz = 0;
            for (int w = 0; w < W; w++) dz += op->w1[w] * da[w];
            for (int h = 0; h < H; h++) db2[h] += gh[h];
            double dN_dc = sgn(cv * d) * d / (fabs(cv * d) + 1);
            *dc += dz * (dN_dc * Dn - N * dDn_dc) / (Dn * Dn);
            *dL += dz * (-N / (Dn * Dn)) * dDn_dm * dm_dthr * sgn(Lv * s) * s;
        }
    }
}

/* The bodies built for each vector width; every width gives the same bits
 * (no sum is reordered, and contraction into FMA is off). */
typedef void forward_fn(const fire_op *op, const real *b2, real *E, long r0, long r1);
typedef void backward_fn(const fire_op *op, const real *dE, double *a, long r0, long r1);
#define FIRE_ROWS(suffix, target)                                                                  \
    target static void forward_rows_##suffix(const fire_op *op, const real *b2, real *E, long r0,  \
                                             long r1) {                                            \
        forward_rows_body(op, b2, E, r0, r1);                                                      \
    }                                                                                              \
    target static void backward_rows_##suffix(const fire_op *op, const real *dE, double *a,        \
                                              long r0, long r1) {                                  \
        backward_rows_body(op, dE, a, r0, r1);                                                     \
    }
FIRE_ROWS(sse4, )
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define FIRE_WIDE 1
FIRE_ROWS(avx2, __attribute__((target("avx2"))))
FIRE_ROWS(avx512, __attribute__((target("avx512f"))))
#endif

int rg_fire_level(void) {
#ifdef FIRE_WIDE
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return RG_SIMD_AVX512;
    if (__builtin_cpu_supports("avx2")) return RG_SIMD_AVX2;
#endif
    return RG_SIMD_SSE4;
}

typedef struct {
    forward_fn *forward;
    backward_fn *backward;
} fire_code;

static fire_code code_at(int simd) {
#ifdef FIRE_WIDE
    if (simd == RG_SIMD_AVX512) return (fire_code){forward_rows_avx512, backward_rows_avx512};
    if (simd == RG_SIMD_AVX2) return (fire_code){forward_rows_avx2, backward_rows_avx2};
#endif
    (void)simd;
    return (fire_code){forward_rows_sse4, backward_rows_sse4};
}

static void fire_backward(rg_ctx *ctx, rg_node *node) {
    const fire_op *op = node->saved;
    rg_tensor *c = node->in[0], *Lp = node->in[1], *W1 = node->in[2], *b1 = node->in[3];
    rg_tensor *W2 = node->in[4], *b2 = node->in[5];
    int W = op->W, H = op->H, threads = ctx->threads;
    /* per-thread sums of the parameter gradients, added in a fixed order after */
    long per = 2 + 2L * W + (long)H * W + H;
    double *acc = rg_arena_calloc(&ctx->arena, (size_t)(threads * per) * sizeof(double));
    const real *dE = node->out->grad;
    backward_fn *rows = code_at(op->simd).backward;
    int used = 1;
#pragma omp parallel num_threads(threads)
    {
        int t = omp_get_thread_num(), nt = omp_get_num_threads();
        if (t == 0) used = nt;
        long r0, r1;
        thread_rows(op, t, nt, &r0, &r1);
        rows(op, dE, acc + t * per, r0, r1);
    }
    rg_tensor *ins[6] = {c, Lp, W1, b1, W2, b2};
    long offs[6] = {0, 1, 2, 2 + W, 2 + 2L * W, 2 + 2L * W + (long)H * W};
    for (int k = 0; k < 6; k++) {
        if (!rg_wants_grad(node, k)) continue;
        real *g = rg_grad(ctx, ins[k]);
        for (long e = 0; e < ins[k]->size; e++) {
            double sum = 0;
            for (int th = 0; th < used; th++) sum += acc[th * per + offs[k] + e];
            g[e] += (real)sum;
        }
    }
}

/* p: c [1], L [1], fc1.weight [W,1], fc1.bias [W], fc2.weight [H,W], fc2.bias [H]. */
rg_tensor *rg_fire_bias_at(rg_ctx *ctx, int simd, const int *qpos, const int *kpos, int Bp, int T,
                           int Tk, int diag, rg_tensor *const p[6], real L_scale) {
    rg_tensor *c = p[0], *Lp = p[1], *W1 = p[2], *b1 = p[3], *W2 = p[4], *b2 = p[5];
    int W = W1->shape[0], H = W2->shape[0];
    if (c->size != 1 || Lp->size != 1 || W1->ndim != 2 || W1->shape[1] != 1 || b1->size != W ||
        W2->ndim != 2 || W2->shape[1] != W || b2->size != H)
        rg_die_shapes("fire_bias", "need c [1], L [1], W1 [W,1], b1 [W], W2 [H,W], b2 [H]", W1, W2);
    if (W > 256 || H > 256) rg_die("fire_bias: width %d or heads %d exceed 256", W, H);
    rg_tensor *E = rg_zeros(ctx, 4, (int[]){Bp, H, T, Tk});
    rg_tensor *in[6] = {c, Lp, W1, b1, W2, b2};
    bool grad = rg_needs_grad(ctx, in, 6);
    fire_op *op = rg_arena_alloc(&ctx->arena, sizeof *op);
    double *w = rg_arena_alloc(&ctx->arena, (size_t)(2 * W + 2 * H * W) * sizeof(double));
    long n = (long)Bp * T, *work = rg_arena_alloc(&ctx->arena, (size_t)(n + 1) * sizeof(long));
    *op = (fire_op){.qpos = qpos,
                    .kpos = kpos,
                    .Bp = Bp,
                    .T = T,
                    .Tk = Tk,
                    .diag = diag,
                    .W = W,
                    .H = H,
                    .c = c->data[0],
                    .thr = fabs(Lp->data[0] * (double)L_scale),
                    .Lv = Lp->data[0],
                    .s = L_scale,
                    .simd = simd,
                    .w1 = w,
                    .b1 = w + W,
                    .w2 = w + 2 * W,
                    .w2t = w + 2 * W + H * W,
                    .N = grad ? rg_arena_alloc(&ctx->arena, (size_t)n * Tk * sizeof(double) + 1)
                              : NULL,
                    .work = work};
    for (int u = 0; u < W; u++) {
        w[u] = W1->data[u], w[W + u] = b1->data[u];
        for (int h = 0; h < H; h++)
            w[2 * W + h * W + u] = w[2 * W + H * W + u * H + h] = W2->data[h * W + u];
    }
    work[0] = 0;
    for (long r = 0; r < n; r++) work[r + 1] = work[r] + visible(op, (int)(r % T));
    forward_fn *rows = code_at(simd).forward;
    int threads = (long)work[n] * W * H > 32768 ? ctx->threads : 1;
#pragma omp parallel num_threads(threads)
    {
        long r0, r1;
        thread_rows(op, omp_get_thread_num(), omp_get_num_threads(), &r0, &r1);
        rows(op, b2->data, E->data, r0, r1);
    }
    if (grad) rg_record_scheme_op(ctx, "fire_bias", fire_backward, E, in, 6)->saved = op;
    return E;
}

/* ---- the scheme's hooks -------------------------------------------------------------- */

static int validate(rg_scheme_check *chk) {
    if (chk->mc->arch == RG_ARCH_ENCODER)
        return chk->fail(chk, "pos",
                         "fire normalizes each distance by the query's own position, which "
                         "assumes every key comes before its query; an encoder (arch = encoder) "
                         "attends both ways: use another scheme (`relgrad list schemes`) or "
                         "arch = decoder");
    return 0;
}

static void scores(rg_scheme_call *call) {
    const int *qpos, *kpos;
    int Bp = rg_dense_positions(call, &qpos, &kpos);
    rg_tensor *const *p = call->params;
    rg_tensor *params[6] = {p[C], p[L], p[FC1_W], p[FC1_B], p[FC2_W], p[FC2_B]};
    rg_tensor *E = rg_fire_bias_at(call->ctx, rg_fire_level(), qpos, kpos, Bp, call->T, call->Tk,
                                   call->diag, params, (real)call->opts->fire_L); /* (Bp,H,T,Tk) */
    rg_term *t = rg_bias_term(call->ctx, E, call->B, call->diag);
    if (call->n_terms == RG_MAX_TERMS) rg_die("fire: too many score terms");
    call->terms[call->n_terms++] = t;
}

/* ---- gradient checks: relu's kinks --------------------------------------------------
 * A unit relu(w z + b) has its kink at z = -b/w; a finite difference that
 * straddles it measures the mean of two slopes, not the derivative. Given the
 * z values a check will feed, place each of the W units' kinks in the middle
 * of a gap between distinct z values, widest gaps first, with slopes
 * +-(0.8..1.2) from rng, so each unit still switches on and off across the z
 * values (its gradient is real) and no step of size h crosses a kink. A unit
 * whose gap is too narrow for that stays off for every z in [0, 1) instead
 * (its gradient is then exactly 0). Returns the number of live units, or -1
 * when the z values take a single value. */

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int place_kinks(double *z, int n, real *w, real *b, int W, double h, rg_rng *rng) {
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

/* The z of every visible pair (queries qpos [Bp,T], keys kpos [Bp,Tk]) into
 * a malloc'd array; its length in *n. */
static double *all_z(const int *qpos, const int *kpos, int Bp, int T, int Tk, int diag, double c,
                     double thr, int *n) {
    double *z = rg_xmalloc((size_t)Bp * T * Tk * sizeof(double) + 1, "FIRE's z values");
    *n = 0;
    for (int b = 0; b < Bp; b++)
        for (int i = 0; i < T; i++) {
            int pi = qpos[b * T + i];
            for (int j = 0; j <= i + diag && j < Tk; j++)
                z[(*n)++] = psi(c, pi - kpos[b * Tk + j]) / z_denominator(c, pi, thr);
        }
    return z;
}

static int check_prepare(const rg_scheme_call *call, const int *qpos, const int *kpos, int Bp,
                         double h, rg_rng *rng, char *why, size_t n) {
    rg_tensor *const *p = call->params;
    double c = p[C]->data[0], thr = fabs(p[L]->data[0] * call->opts->fire_L);
    int nz;
    double *z = all_z(qpos, kpos, Bp, call->T, call->Tk, call->diag, c, thr, &nz);
    int live = place_kinks(z, nz, p[FC1_W]->data, p[FC1_B]->data, (int)p[FC1_W]->size, h, rng);
    free(z);
    if (live > 0) return 0;
    snprintf(why, n, "layer %d's relu units cannot be kept off their kinks (%s); use a longer T",
             call->layer,
             live < 0 ? "every pair has the same z" : "no gap between z values is wide enough");
    return -1;
}

/* fc2.bias adds one constant to a whole score row, which softmax ignores:
 * its gradient is zero up to rounding (SPEC section 6). c and L move every z
 * and so every kink: their steps must be small. */
static rg_check_rule check_rule(int slot) {
    return slot == FC2_B            ? RG_CHECK_ZERO
           : slot == C || slot == L ? RG_CHECK_FINE_STEP
                                    : RG_CHECK_DIFF;
}

/* The op's own check: B rows of keys, row b's key j at position j (1 + b) +
 * b (so rows differ, and distances are not all consecutive), query i at key
 * diag + i's position (diag keys of memory first); width W = C; fire_L 2,
 * so both sides of max(p_i, thr) occur; relu units off their kinks. */
static rg_tensor *f_fire(rg_ctx *ctx, rg_tensor **x, void *arg) {
    const rg_op_check *st = arg;
    return rg_fire_bias_at(ctx, rg_fire_level(), st->idx, st->idx2, st->s.B, st->s.T, st->s.Tk,
                           st->s.diag, x, (real)2);
}

static int s_fire(rg_op_check *st, rg_rng *rng) {
    const rg_op_sizes *s = &st->s;
    int T = s->T, Tk = s->Tk, W = s->C, diag = s->diag;
    if (T + diag > Tk) {
        snprintf(st->why, sizeof st->why,
                 "queries sit after diag memory keys: needs T + diag <= Tk");
        return -1;
    }
#define NEW(...)                                                                                   \
    rg_tensor_random(rng, sizeof((int[]){__VA_ARGS__}) / sizeof(int), (int[]){__VA_ARGS__}, 1.0,   \
                     NULL)
    rg_tensor **x = st->x;
    x[0] = NEW(1), x[1] = NEW(1), x[2] = NEW(W, 1), x[3] = NEW(W), x[4] = NEW(s->H, W),
    x[5] = NEW(s->H);
#undef NEW
    x[0]->data[0] = (real)0.1, x[1]->data[0] = (real)2.3; /* c: |c x| away from 0; thr = 4.6 */
    int B = s->B;
    st->idx = rg_xmalloc((size_t)B * T * sizeof(int), "positions");
    st->idx2 = rg_xmalloc((size_t)B * Tk * sizeof(int), "positions");
    for (int b = 0; b < B; b++) {
        for (int j = 0; j < Tk; j++) st->idx2[b * Tk + j] = j * (1 + b) + b;
        for (int i = 0; i < T; i++) st->idx[b * T + i] = st->idx2[b * Tk + diag + i];
    }
    int nz;
    double *z =
        all_z(st->idx, st->idx2, B, T, Tk, diag, x[0]->data[0], fabs(x[1]->data[0] * 2.0), &nz);
    int live = place_kinks(z, nz, x[2]->data, x[3]->data, W, st->h, rng);
    free(z);
    if (live <= 0) {
        snprintf(st->why, sizeof st->why,
                 "too few distinct distances to keep relu off its kinks; raise T");
        return -1;
    }
    /* c and L move every z, so their steps must stay small (float64), or
     * they are left out (float32, whose step cannot avoid the kinks) */
    if (sizeof(real) == 8)
        st->h = 1e-4;
    else
        x[0]->requires_grad = x[1]->requires_grad = false;
    const char *names[6] = {"c", "L", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"};
    for (int k = 0; k < 6; k++) st->names[k] = names[k];
    return 6;
}

static const rg_op_case OP_CASES[] = {
    {.name = "fire_bias",
     .summary = "FIRE's bias [B,H,T,Tk] (positions per row), width C, diag memory keys, relu "
                "off its kinks",
     .setup = s_fire,
     .f = f_fire},
};

const rg_scheme rg_scheme_fire = {
    .name = "fire",
    .summary = "a learned MLP of the progressively normalized log distance, per head "
               "(Li et al. 2023)",
    .flags = RG_SCHEME_RELATIVE | RG_SCHEME_SHIFT_VARIANT, /* psi(max(p_i, thr)) */
    .keys = KEYS,
    .n_keys = RG_COUNT(KEYS),
    .validate = validate,
    .declare_layer = declare_layer,
    .scores = scores,
    .op_cases = OP_CASES,
    .n_op_cases = RG_COUNT(OP_CASES),
    .check_prepare = check_prepare,
    .check_rule = check_rule,
};
