/* deberta.c: DeBERTa's disentangled attention (He et al. 2021, eq. 4):
 *     S[i,j] = (q_i . k_j + q_i . Kr_h[rel(i,j)] + k_j . Qr_h[rel(j,i)]) / sqrt(3 dh)
 *     rel(a,b) = clamp(p_a - p_b, -K, K-1) + K,   Kr = rel_emb Wpk^T,  Qr = rel_emb Wpq^T
 * with rel_emb.weight [2K, d] shared by the model (K = deberta_span) and
 * attn.pos_k.weight, attn.pos_q.weight [d, d] per layer. The content term
 * goes to the kernel with scale 1/sqrt(3 dh); content-to-position (c2p) and
 * position-to-content (p2c) are one score term.
 *
 * The term, for a block of rows of (b, h):
 *     C[r, x] = q_i . Kr_h[x]  (one BLIS product over the 2K rows), S += C[i, rel(i,j)] s
 *     Q[j, x] = k_j . Qr_h[x]  (once per (b, h), when there are enough queries to
 *                               pay for it; else k_j . Qr_h[rel(j,i)] per pair), S += Q[j,
 * rel(j,i)] s Backward, per (b, h), with s = 1/sqrt(3 dh): GC[i, x] = s sum over j with rel(i,j) =
 * x of dS[i,j]:  dq += GC Kr_h,  dKr_h += GC^T q GQ[j, x] = s sum over i with rel(j,i) = x of
 * dS[i,j]:  dk += GQ Qr_h,  dQr_h += GQ^T k. Kr and Qr are the scheme's
 * tables (made once per forward, kept by a key/value cache). */
#include "scheme.h"

#include <math.h>
#include <stdio.h>
#include <omp.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

enum { REL_EMB };      /* shared */
enum { POS_K, POS_Q }; /* per layer */

int rg_deberta_rel(int delta, int K) {
    int c = delta < -K ? -K : delta > K - 1 ? K - 1 : delta;
    return c + K;
}

static const rg_key_info KEYS[] = {
    {.name = "deberta_span",
     .group = "model",
     .type = RG_KEY_INT,
     .kind = RG_V_INT,
     .offset = offsetof(rg_scheme_opts, deberta_span),
     .lo = 1,
     .hi = INT_MAX,
     .def = "16",
     .flags = RG_KEY_SCHEME,
     .help = "DeBERTa span K: relative distances clamped to [-K, K-1]; >= 1"},
};

static void declare_shared(rg_param_builder *pb, const rg_model_config *mc, rg_tensor **slot) {
    slot[REL_EMB] =
        rg_declare(pb, "rel_emb.weight", RG_SHAPE(2 * mc->opts.deberta_span, mc->d_model), false,
                   RG_INIT_NORMAL, 0);
}

static void declare_layer(rg_param_builder *pb, const rg_model_config *mc, int l,
                          rg_tensor **slot) {
    int d = mc->d_model;
    char name[RG_NAME_MAX];
    snprintf(name, sizeof name, "blocks.%d.attn.pos_k.weight", l);
    slot[POS_K] = rg_declare(pb, name, RG_SHAPE(d, d), true, RG_INIT_NORMAL, 0);
    snprintf(name, sizeof name, "blocks.%d.attn.pos_q.weight", l);
    slot[POS_Q] = rg_declare(pb, name, RG_SHAPE(d, d), true, RG_INIT_NORMAL, 0);
}

typedef struct {
    const rg_attn_pos *pos;
    const real *q, *k; /* q [B,H,T,dh]; k [B,H,Kc,dh]: (b,h) blocks k_bh apart */
    long k_bh;
    const real *Kr, *Qr; /* [H, 2K, dh] */
    int K, dh;
    real scale;
    bool key_table; /* precompute Q[j, x] per (b, h) */
} deberta_data;

static real dot(const real *a, const real *b, int n) {
    real s = 0;
    for (int i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

/* scratch: C [BLOCK, 2K], then (key_table) Q [Tk, 2K] */
static void begin(const rg_term *t, int b, int h, void *scratch) {
    const deberta_data *d = t->data;
    if (!d->key_table) return;
    int R = 2 * d->K, dh = d->dh;
    real *Q = (real *)scratch + (long)RG_ATTN_BLOCK * R;
    const real *k = d->k + ((long)b * t->H + h) * d->k_bh;
    real *pack = Q + (d->key_table ? (long)t->Tk * R : 0);
    rg_gemm_small(t->Tk, R, dh, 1, k, dh, 1, d->Qr + (long)h * R * dh, 1, dh, 0, Q, R, 1, pack);
}

static void add(const rg_term *t, const rg_term_block *blk) {
    const deberta_data *d = t->data;
    int b = blk->b, h = blk->h, R = 2 * d->K, dh = d->dh, K = d->K;
    real *C = blk->scratch, *Q = C + (long)RG_ATTN_BLOCK * R;
    const real *q = d->q + (((long)b * t->H + h) * t->T + blk->i0) * dh;
    const real *k = d->k + ((long)b * t->H + h) * d->k_bh, *Qr = d->Qr + (long)h * R * dh;
    real *pack = Q + (d->key_table ? (long)t->Tk * R : 0);
    rg_gemm_small(blk->n, R, dh, 1, q, dh, 1, d->Kr + (long)h * R * dh, 1, dh, 0, C, R, 1, pack);
    for (int r = 0; r < blk->n; r++) {
        int pi = rg_qpos(d->pos, b, blk->i0 + r);
        real *row = blk->S + r * blk->ld;
        const real *c = C + (long)r * R;
        for (int j = blk->lo[r]; j < blk->hi[r]; j++) {
            int pj = rg_kpos(d->pos, b, j), back = rg_deberta_rel(pj - pi, K);
            real p2c = d->key_table ? Q[(long)j * R + back]
                                    : dot(k + (long)j * dh, Qr + (long)back * dh, dh);
            row[j] += d->scale * (c[rg_deberta_rel(pi - pj, K)] + p2c);
        }
    }
}

static void backward(rg_ctx *ctx, const rg_term *t, const real *dS) {
    const deberta_data *d = t->data;
    rg_tensor *q_t = t->in[0], *k_t = t->in[1], *Kr_t = t->in[2], *Qr_t = t->in[3];
    real *dq = q_t->requires_grad ? rg_grad(ctx, q_t) : NULL;
    real *dk = k_t->requires_grad ? rg_grad(ctx, k_t) : NULL;
    real *dKr = Kr_t->requires_grad ? rg_grad(ctx, Kr_t) : NULL;
    real *dQr = Qr_t->requires_grad ? rg_grad(ctx, Qr_t) : NULL;
    int B = t->B, H = t->H, T = t->T, Tk = t->Tk, K = d->K, R = 2 * K, dh = d->dh;
    int threads = ctx->threads;
    long per = (long)(T + Tk) * R;
    real *scratch = rg_arena_alloc(&ctx->arena, (size_t)(threads * per) * sizeof(real));
    /* each thread owns some heads: dKr_h and dQr_h are written by one thread only */
#pragma omp parallel for schedule(static) if (H > 1) num_threads(threads)
    for (int h = 0; h < H; h++) {
        real *GC = scratch + omp_get_thread_num() * per, *GQ = GC + (long)T * R;
        const real *Kr = d->Kr + (long)h * R * dh, *Qr = d->Qr + (long)h * R * dh;
        for (int b = 0; b < B; b++) {
            long bh = (long)b * H + h;
            memset(GC, 0, (size_t)per * sizeof(real));
            for (int i = 0; i < T; i++) {
                const real *g = dS + (bh * T + i) * Tk;
                int pi = rg_qpos(d->pos, b, i), end = i + t->diag + 1 < Tk ? i + t->diag + 1 : Tk;
                for (int j = 0; j < end; j++) {
                    int pj = rg_kpos(d->pos, b, j);
                    real gs = d->scale * g[j];
                    GC[(long)i * R + rg_deberta_rel(pi - pj, K)] += gs;
                    GQ[(long)j * R + rg_deberta_rel(pj - pi, K)] += gs;
                }
            }
            const real *qb = d->q + bh * T * dh, *kb = d->k + bh * d->k_bh;
            if (dq)
                rg_gemm_small(T, dh, R, 1, GC, R, 1, Kr, dh, 1, 1, dq + bh * T * dh, dh, 1, NULL);
            if (dKr)
                rg_gemm_small(R, dh, T, 1, GC, 1, R, qb, dh, 1, 1, dKr + (long)h * R * dh, dh, 1,
                              NULL);
            if (dk)
                rg_gemm_small(Tk, dh, R, 1, GQ, R, 1, Qr, dh, 1, 1, dk + bh * d->k_bh, dh, 1, NULL);
            if (dQr)
                rg_gemm_small(R, dh, Tk, 1, GQ, 1, R, kb, dh, 1, 1, dQr + (long)h * R * dh, dh, 1,
                              NULL);
        }
    }
}

/* Kr = rel_emb Wpk^T and Qr = rel_emb Wpq^T split into heads, (1,H,2K,dh)
 * each; they serve every distance (distances are clamped to the span). */
static void tables(const rg_scheme_call *call, int *lo, int *hi, rg_tensor **out) {
    rg_tensor *rel = call->shared[REL_EMB];
    out[0] = rg_project_heads(call->ctx, rel, call->params[POS_K], call->H, call->dh);
    out[1] = rg_project_heads(call->ctx, rel, call->params[POS_Q], call->H, call->dh);
    *lo = INT_MIN, *hi = INT_MAX;
}

static void scores(rg_scheme_call *call) {
    rg_ctx *ctx = call->ctx;
    int dh = call->dh, K = call->opts->deberta_span, R = 2 * K;
    rg_tensor *Kr = call->tables[0], *Qr = call->tables[1];
    call->scale = (real)(1 / sqrt(3.0 * dh));
    deberta_data *d = rg_arena_alloc(&ctx->arena, sizeof *d);
    *d = (deberta_data){.pos = call->pos,
                        .q = call->q->data,
                        .k = call->k->data,
                        .k_bh = (long)call->k->shape[2] * dh,
                        .Kr = Kr->data,
                        .Qr = Qr->data,
                        .K = K,
                        .dh = dh,
                        .scale = call->scale,
                        .key_table = call->T >= R};
    rg_term *t = rg_term_new(call, "deberta", d);
    t->begin = begin;
    t->add = add;
    t->backward = backward;
    t->scratch_bytes =
        ((size_t)(RG_ATTN_BLOCK + (d->key_table ? call->Tk : 0)) * R + RG_SMALL_PACK(dh)) *
        sizeof(real);
    t->in[0] = call->q, t->in[1] = call->k, t->in[2] = Kr, t->in[3] = Qr, t->n_in = 4;
}

const rg_scheme rg_scheme_deberta = {
    .name = "deberta",
    .summary = "disentangled attention: content-to-position and position-to-content terms "
               "over clamped distances (He et al. 2021)",
    .flags = RG_SCHEME_RELATIVE,
    .keys = KEYS,
    .n_keys = RG_COUNT(KEYS),
    .declare_shared = declare_shared,
    .declare_layer = declare_layer,
    .n_tables = 2,
    .tables = tables,
    .scores = scores,
};
