/* xl.c: Transformer-XL's relative attention (Dai et al. 2019):
 *     S[i,j] = ((q_i + u) . k_j + (q_i + v) . r(p_i - p_j)) / sqrt(dh)
 *     r(n)   = e(n) Wr^T,  e(n) = [sin(n w_0..w_{d/2-1}), cos(n w_0..w_{d/2-1})]
 * u = attn.r_w_bias, v = attn.r_r_bias [H, dh] and Wr = attn.r.weight [d, d]
 * per layer. The content part goes to the kernel as the query q + u; the
 * position part is a score term over R = the table r(n) for the distances
 * n = lo .. hi the call's pairs span (lo < 0 in an encoder: keys after the
 * query), split into heads [1, H, Nd, dh] (the tables hook).
 *
 * The term, for a block of rows of (b, h): X[r, n] = (q + v)_i . R_h[n] for
 * the distances n the block can see (one small product), then
 * S[i,j] += X[i, p_i - p_j] / sqrt(dh). Backward, per (b, h):
 *     G[i, n]   = sum over j with p_i - p_j = n of dS[i,j] / sqrt(dh)
 *     d(q+v)   += G R_h,     dR_h += G^T (q + v)      (summed over b)
 * and the ops that made q + v and R carry it on to q, v, Wr.
 *
 * That product is cheap when positions are 0, 1, 2, ...: a block's rows see
 * at most T + Tk - 1 distances. Randomized positions (drawn from 0 .. L-1)
 * spread the span to up to 2L - 1 while a row still has only Tk pairs, and
 * the product would take a dot product for every distance in the span
 * (at L = 2048 and T = 40 up to about 100 times the pairs; a randomized xl run
 * trained 10x slower than the other schemes). So when the span is more than
 * twice the keys, each pair takes its own dot product (per_pair):
 *     S[i,j] += (q+v)_i . R_h[p_i - p_j] / sqrt(dh)
 *     d(q+v)_i += g R_h[n],   dR_h[n] += g (q+v)_i   with g = dS[i,j] / sqrt(dh)
 * The same sums in another order: the same term within rounding. Plain
 * positions always take the product, so their results keep their bits. */
#include "scheme.h"

#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

enum { WR, U, V }; /* its parameters in each layer */

static int validate(rg_scheme_check *chk) {
    int d = chk->mc->d_model;
    if (d % 2)
        return chk->fail(chk, "d_model",
                         "%d is odd, but pos = xl builds sin/cos pairs over d_model; choose an "
                         "even d_model, e.g. %d",
                         d, d + 1);
    return 0;
}

static void declare_layer(rg_param_builder *pb, const rg_model_config *mc, int l,
                          rg_tensor **slot) {
    int d = mc->d_model, H = mc->n_heads;
    char name[RG_NAME_MAX];
    snprintf(name, sizeof name, "blocks.%d.attn.r.weight", l);
    slot[WR] = rg_declare(pb, name, RG_SHAPE(d, d), true, RG_INIT_NORMAL, 0);
    snprintf(name, sizeof name, "blocks.%d.attn.r_w_bias", l);
    slot[U] = rg_declare(pb, name, RG_SHAPE(H, d / H), false, RG_INIT_ZEROS, 0);
    snprintf(name, sizeof name, "blocks.%d.attn.r_r_bias", l);
    slot[V] = rg_declare(pb, name, RG_SHAPE(H, d / H), false, RG_INIT_ZEROS, 0);
}

/* e(lo .. lo+rows-1), sines first: [rows, d]. The same in every layer, so
 * made once per forward and kept in the call's memo for the other layers. */
static rg_tensor *encodings(const rg_scheme_call *call, int lo, int rows, int d) {
    rg_fwd_memo *memo = call->memo;
    if (memo->t && memo->lo == lo && memo->rows == rows) return memo->t;
    rg_ctx *ctx = call->ctx;
    rg_tensor *e = rg_empty(ctx, 2, (int[]){rows, d});
    double *w = rg_arena_alloc(&ctx->arena, (size_t)(d / 2) * sizeof *w);
    rg_sinusoid_freqs(d, w);
    for (int n = 0; n < rows; n++) rg_sinusoid_row(lo + n, d, w, e->data + (long)n * d, false);
    *memo = (rg_fwd_memo){.lo = lo, .rows = rows, .t = e};
    return e;
}

typedef struct {
    const rg_attn_pos *pos;
    const real *qv; /* [B,H,T,dh] queries plus v                */
    const real *R;  /* [H, Nd, dh] projected distance encodings  */
    int lo, Nd, dh; /* row n of R is the distance lo + n           */
    real scale;
    bool per_pair; /* one dot product per pair (sparse distances) */
} xl_data;

static real dot(const real *a, const real *b, int n) {
    real s = 0;
    for (int c = 0; c < n; c++) s += a[c] * b[c];
    return s;
}

/* S[i,j] += (q+v)_i . R_h[p_i - p_j] / sqrt(dh), pair by pair */
static void add_per_pair(const rg_term *t, const rg_term_block *blk) {
    const xl_data *d = t->data;
    int b = blk->b, dh = d->dh;
    const real *qv = d->qv + (((long)b * t->H + blk->h) * t->T + blk->i0) * dh;
    const real *R = d->R + (long)blk->h * d->Nd * dh; /* row n - lo: distance n */
    for (int r = 0; r < blk->n; r++) {
        int pi = rg_qpos(d->pos, b, blk->i0 + r);
        real *row = blk->S + r * blk->ld;
        for (int j = blk->lo[r]; j < blk->hi[r]; j++)
            row[j] += d->scale * dot(qv + (long)r * dh,
                                     R + (long)(pi - rg_kpos(d->pos, b, j) - d->lo) * dh, dh);
    }
}

static void add(const rg_term *t, const rg_term_block *blk) {
    const xl_data *d = t->data;
    if (d->per_pair) {
        add_per_pair(t, blk);
        return;
    }
    int b = blk->b, dh = d->dh;
    /* the distances this block sees: n0 .. n1 (positions increase along keys) */
    int n0 = INT_MAX, n1 = INT_MIN;
    for (int r = 0; r < blk->n; r++) {
        if (blk->lo[r] >= blk->hi[r]) continue;
        int pi = rg_qpos(d->pos, b, blk->i0 + r);
        int near = pi - rg_kpos(d->pos, b, blk->hi[r] - 1),
            far = pi - rg_kpos(d->pos, b, blk->lo[r]);
        n0 = near < n0 ? near : n0, n1 = far > n1 ? far : n1;
    }
    if (n1 < n0) return;
    int nd = n1 - n0 + 1;
    real *X = blk->scratch, *pack = X + (long)RG_ATTN_BLOCK * d->Nd; /* X [n, nd] */
    const real *qv = d->qv + (((long)b * t->H + blk->h) * t->T + blk->i0) * dh;
    const real *R = d->R + ((long)blk->h * d->Nd + n0 - d->lo) * dh;
    rg_gemm_small(blk->n, nd, dh, 1, qv, dh, 1, R, 1, dh, 0, X, nd, 1, pack);
    for (int r = 0; r < blk->n; r++) {
        int pi = rg_qpos(d->pos, b, blk->i0 + r);
        real *row = blk->S + r * blk->ld;
        const real *x = X + (long)r * nd - n0;
        for (int j = blk->lo[r]; j < blk->hi[r]; j++)
            row[j] += d->scale * x[pi - rg_kpos(d->pos, b, j)];
    }
}

/* y += a x over n entries, four at a time: restrict and the fixed inner
 * count let the compiler make each group of four one vector operation at
 * -O2 (each entry is its own sum: the same bits). As a plain loop it ran
 * one float at a time: 13% of a randomized xl step. */
static inline void axpy(real *restrict y, real a, const real *restrict x, int n) {
    int c = 0;
    for (; c + 4 <= n; c += 4)
        for (int e = 0; e < 4; e++) y[c + e] += a * x[c + e];
    for (; c < n; c++) y[c] += a * x[c];
}

/* d(q+v)_i += g R_h[n], dR_h[n] += g (q+v)_i, g = dS[i,j] / sqrt(dh), pair by pair;
 * each thread owns some heads, as in backward */
static void backward_per_pair(rg_ctx *ctx, const rg_term *t, const real *dS, real *dqv, real *dR) {
    const xl_data *d = t->data;
    int B = t->B, H = t->H, T = t->T, Tk = t->Tk, Nd = d->Nd, dh = d->dh;
#pragma omp parallel for schedule(static) if (H > 1) num_threads(ctx->threads)
    for (int h = 0; h < H; h++) {
        const real *R = d->R + (long)h * Nd * dh; /* row n - lo: distance n */
        real *dRh = dR ? dR + (long)h * Nd * dh : NULL;
        for (int b = 0; b < B; b++) {
            long bh = (long)b * H + h;
            for (int i = 0; i < T; i++) {
                const real *g = dS + (bh * T + i) * Tk, *qv = d->qv + (bh * T + i) * dh;
                real *dq = dqv ? dqv + (bh * T + i) * dh : NULL;
                int pi = rg_qpos(d->pos, b, i), end = i + t->diag + 1 < Tk ? i + t->diag + 1 : Tk;
                for (int j = 0; j < end; j++) {
                    real gs = d->scale * g[j];
                    long n = pi - rg_kpos(d->pos, b, j) - d->lo; /* row of R */
                    if (dq) axpy(dq, gs, R + n * dh, dh);
                    if (dRh) axpy(dRh + n * dh, gs, qv, dh);
                }
            }
        }
    }
}

static void backward(rg_ctx *ctx, const rg_term *t, const real *dS) {
    const xl_data *d = t->data;
    rg_tensor *qv_t = t->in[0], *R_t = t->in[1];
    real *dqv = qv_t->requires_grad ? rg_grad(ctx, qv_t) : NULL;
    real *dR = R_t->requires_grad ? rg_grad(ctx, R_t) : NULL;
    if (!dqv && !dR) return;
    if (d->per_pair) {
        backward_per_pair(ctx, t, dS, dqv, dR);
        return;
    }
    int B = t->B, H = t->H, T = t->T, Tk = t->Tk, Nd = d->Nd, dh = d->dh, threads = ctx->threads;
    real *G_all = rg_arena_alloc(&ctx->arena, (size_t)threads * T * Nd * sizeof(real));
    /* each thread owns some heads: dR_h is written by one thread only */
#pragma omp parallel for schedule(static) if (H > 1) num_threads(threads)
    for (int h = 0; h < H; h++) {
        real *G = G_all + (long)omp_get_thread_num() * T * Nd;
        for (int b = 0; b < B; b++) {
            long bh = (long)b * H + h;
            memset(G, 0, (size_t)T * Nd * sizeof(real));
            for (int i = 0; i < T; i++) {
                const real *g = dS + (bh * T + i) * Tk;
                int pi = rg_qpos(d->pos, b, i), end = i + t->diag + 1 < Tk ? i + t->diag + 1 : Tk;
                for (int j = 0; j < end; j++)
                    G[(long)i * Nd + pi - rg_kpos(d->pos, b, j) - d->lo] += d->scale * g[j];
            }
            if (dqv) /* d(q+v)[b,h] += G R_h */
                rg_gemm_small(T, dh, Nd, 1, G, Nd, 1, d->R + (long)h * Nd * dh, dh, 1, 1,
                              dqv + bh * T * dh, dh, 1, NULL);
            if (dR) /* dR_h += G^T (q+v)[b,h] */
                rg_gemm_small(Nd, dh, T, 1, G, 1, Nd, d->qv + bh * T * dh, dh, 1, 1,
                              dR + (long)h * Nd * dh, dh, 1, NULL);
        }
    }
}

/* R [1, H, rows, dh] for the distances lo .. hi, through ops. */
static void tables(const rg_scheme_call *call, int *lo, int *hi, rg_tensor **out) {
    int d = call->m->cfg.d_model;
    rg_tensor *e = encodings(call, *lo, *hi - *lo + 1, d);
    out[0] = rg_project_heads(call->ctx, e, call->params[WR], call->H, call->dh);
}

static void scores(rg_scheme_call *call) {
    rg_ctx *ctx = call->ctx;
    rg_tensor *u = call->params[U], *v = call->params[V], *R = call->tables[0]; /* (1,H,Nd,dh) */
    rg_tensor *qv = rg_add_head_bias(ctx, call->q, v);                          /* (B,H,T,dh) */
    call->q_content = rg_add_head_bias(ctx, call->q, u);
    xl_data *d = rg_arena_alloc(&ctx->arena, sizeof *d);
    *d = (xl_data){.pos = call->pos,
                   .qv = qv->data,
                   .R = R->data,
                   .lo = call->table_lo,
                   .Nd = R->shape[2],
                   .dh = call->dh,
                   .scale = call->scale,
                   .per_pair = R->shape[2] > 2 * call->Tk};
    rg_term *t = rg_term_new(call, "xl", d);
    t->add = add;
    t->backward = backward;
    if (!d->per_pair)
        t->scratch_bytes = ((size_t)RG_ATTN_BLOCK * d->Nd + RG_SMALL_PACK(d->dh)) * sizeof(real);
    t->in[0] = qv, t->in[1] = R, t->n_in = 2;
}

const rg_scheme rg_scheme_xl = {
    .name = "xl",
    .summary = "Transformer-XL: content and sinusoidal-distance terms with learned biases "
               "u, v (Dai et al. 2019)",
    .flags = RG_SCHEME_RELATIVE,
    .validate = validate,
    .declare_layer = declare_layer,
    .n_tables = 1,
    .tables = tables,
    .scores = scores,
};
