/* cope.c: CoPE, contextual position encoding (Golovneva et al. 2024; the
 * authors' facebookresearch/RAM projects/cope with its default options).
 * Positions are counted by the model, not given: each key a query sees
 * opens a gate, and a key's position is the number of open gates between it
 * and the query, so a head can attend to "the third noun back" rather than
 * "token 3 back". Per layer and head, for a query i and a visible key j:
 *     g_ij = sigmoid(q_i . k_j / sqrt(dh))
 *     p_ij = min(sum over visible t >= j of g_it, P - 1)
 *     z_ij = (1 - w) (q_i . E[:, floor p_ij]) + w (q_i . E[:, ceil p_ij]),  w = p_ij - floor p_ij
 *     S[i,j] = (q_i . k_j + z_ij) / sqrt(dh)
 * E = blocks.{l}.attn.cope.pos_emb [dh, P], shared by the layer's heads, zeros
 * at first; P = cope_npos. floor and ceil carry no gradient, w does. CoPE
 * reads no pos_ids at all.
 *
 * The term, for a block of rows of (b, h): the content scores c_ij = q_i .
 * k_j / sqrt(dh) of the block (one small product: the term computes them
 * itself, so it does not depend on what else S holds) give the gates;
 * X[r, x] = q_i . E[:, x] (another), then S[i,j] += X[i, p_ij] interpolated
 * / sqrt(dh).
 *
 * Backward, per (b, h), recomputing c, g, p and X (nothing [T,Tk] is kept),
 * with G = dS / sqrt(dh) on the visible pairs:
 *     dX[i, floor p] += (1 - w) G,  dX[i, ceil p] += w G
 *     dp_ij = G (X[i, ceil p] - X[i, floor p])        (0 where p was clamped)
 *     dg_it = sum over visible j <= t of dp_ij        (p sums gates from j up)
 *     dc_it = dg_it g_it (1 - g_it)
 *     dq_i += sum_t dc_it k_t / sqrt(dh) + dX[i, :] E^T,   dk_t += sum_i dc_it q_i / sqrt(dh)
 *     dE    += q^T dX  (summed over b and h)
 */
#include "scheme.h"

#include <limits.h>
#include <math.h>
#include <omp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { POS_EMB }; /* its one parameter in each layer */

static const rg_key_info KEYS[] = {
    {.name = "cope_npos",
     .group = "model",
     .type = RG_KEY_INT,
     .kind = RG_V_INT,
     .offset = offsetof(rg_scheme_opts, cope_npos),
     .lo = 2,
     .hi = 1 << 20,
     .def = "64",
     .flags = RG_KEY_SCHEME,
     .help = "CoPE's number of positions P: counted positions are clamped to P - 1; >= 2"},
};

static int validate(rg_scheme_check *chk) {
    if (chk->mc->arch == RG_ARCH_ENCODER)
        return chk->fail(chk, "pos",
                         "cope counts the keys between each key and its query from the key up "
                         "to the query, a decoder's causal view; an encoder (arch = encoder) "
                         "has keys on both sides: use another scheme (`relgrad list schemes`) "
                         "or arch = decoder");
    return 0;
}

static void declare_layer(rg_param_builder *pb, const rg_model_config *mc, int l,
                          rg_tensor **slot) {
    char name[RG_NAME_MAX];
    snprintf(name, sizeof name, "blocks.%d.attn.cope.pos_emb", l);
    slot[POS_EMB] = rg_declare(pb, name, RG_SHAPE(mc->d_model / mc->n_heads, mc->opts.cope_npos),
                               false, RG_INIT_ZEROS, 0);
}

/* ---- the term ------------------------------------------------------------------------ */

typedef struct {
    const real *q, *k; /* q [B,H,T,dh]; k [B,H,Kc,dh] (blocks k_bh apart) */
    long k_bh;
    const real *E; /* [dh, P] */
    int P, dh;
    real scale;
} cope_data;

static double sigmoid(double x) {
    return 1 / (1 + exp(-x));
}

/* Row i's counted positions over its visible keys [lo, hi) from its
 * content scores c[j] (already scaled): p[j] (clamped to P - 1), whether
 * each was clamped, and (unless gate is NULL) the gates g[j] themselves,
 * which the backward reads again. */
static void count_positions(const real *c, int lo, int hi, int P, double *p, bool *clamped,
                            double *gate) {
    double sum = 0;
    for (int j = hi - 1; j >= lo; j--) {
        double g = sigmoid(c[j]);
        if (gate) gate[j] = g;
        sum += g;
        clamped[j] = sum > P - 1;
        p[j] = clamped[j] ? P - 1 : sum;
    }
}

/* scratch: X [BLOCK, P], C [BLOCK, Tk], kt [dh, Tk], then p [Tk] (double)
 * and clamped [Tk] (both products read op(B) with unit column stride, so
 * rg_gemm_small needs no pack) */
static size_t scratch_bytes(int P, int Tk, int dh) {
    return ((size_t)RG_ATTN_BLOCK * (P + Tk) + (size_t)dh * Tk) * sizeof(real) +
           (size_t)Tk * (sizeof(double) + 1) + 64;
}

static void add(const rg_term *t, const rg_term_block *blk) {
    const cope_data *d = t->data;
    int P = d->P, dh = d->dh;
    int Tk = t->Tk, first = blk->lo[0], lim = blk->hi[blk->n - 1]; /* windows move right */
    real *X = blk->scratch, *C = X + (long)RG_ATTN_BLOCK * P, *kt = C + (long)RG_ATTN_BLOCK * Tk;
    double *p = (double *)(kt + (long)dh * Tk);
    bool *clamped = (bool *)(p + Tk);
    long bh = (long)blk->b * t->H + blk->h;
    const real *q = d->q + (bh * t->T + blk->i0) * dh, *k = d->k + bh * d->k_bh;
    /* X[r, x] = q_i . E[:, x];  C[r, j] = scale q_i . k_j for the keys the block sees,
     * from k turned on its side (kt [dh, keys]) so that the small GEMM's
     * register-blocked kernel takes it: the same chains, so the same bits */
    rg_gemm_small(blk->n, P, dh, 1, q, dh, 1, d->E, P, 1, 0, X, P, 1, NULL);
    if (lim > first) {
        rg_transpose_rows(k + (long)first * dh, dh, 0, lim - first, kt, lim - first);
        rg_gemm_small(blk->n, lim - first, dh, d->scale, q, dh, 1, kt, lim - first, 1, 0, C + first,
                      Tk, 1, NULL);
    }
    for (int r = 0; r < blk->n; r++) {
        real *row = blk->S + r * blk->ld;
        const real *x = X + (long)r * P;
        count_positions(C + (long)r * Tk, blk->lo[r], blk->hi[r], P, p, clamped, NULL);
        for (int j = blk->lo[r]; j < blk->hi[r]; j++) {
            int f = (int)floor(p[j]), c = (int)ceil(p[j]);
            double w = p[j] - f;
            row[j] += d->scale * (real)((1 - w) * x[f] + w * x[c]);
        }
    }
}

static void backward(rg_ctx *ctx, const rg_term *t, const real *dS) {
    const cope_data *d = t->data;
    rg_tensor *q_t = t->in[0], *k_t = t->in[1], *E_t = t->in[2];
    real *dq = q_t->requires_grad ? rg_grad(ctx, q_t) : NULL;
    real *dk = k_t->requires_grad ? rg_grad(ctx, k_t) : NULL;
    real *dE = E_t->requires_grad ? rg_grad(ctx, E_t) : NULL;
    int B = t->B, H = t->H, T = t->T, Tk = t->Tk, P = d->P, dh = d->dh, threads = ctx->threads;
    /* per thread: C and dC [T,Tk], X and dX [T,P], its own dE [dh,P], k^T
     * [dh,Tk]; p and the gates [Tk] (double), clamped [Tk]. Shared: E^T [P,dh],
     * so that dX E^T reads it with unit column stride (as kt for q k^T). */
    long per = 2L * T * Tk + 2L * T * P + (long)dh * P + (long)dh * Tk;
    real *Et = rg_arena_alloc(&ctx->arena, (size_t)P * dh * sizeof(real));
    rg_transpose_rows(d->E, P, 0, dh, Et, dh); /* E [dh, P] as dh rows of P: Et [P, dh] */
    real *scratch = rg_arena_alloc(&ctx->arena, (size_t)threads * per * sizeof(real) + 1);
    double *pos_all = rg_arena_alloc(&ctx->arena, (size_t)threads * 2 * Tk * sizeof(double) + 1);
    bool *cl_all = rg_arena_alloc(&ctx->arena, (size_t)threads * Tk + 1);
    memset(scratch, 0, (size_t)threads * per * sizeof(real));
#pragma omp parallel for schedule(static) if (H > 1) num_threads(threads)
    for (int h = 0; h < H; h++) {
        int th = omp_get_thread_num();
        real *C = scratch + th * per, *dC = C + (long)T * Tk, *X = dC + (long)T * Tk,
             *dX = X + (long)T * P, *dE_mine = dX + (long)T * P, *kt = dE_mine + (long)dh * P;
        double *p = pos_all + 2L * th * Tk, *gates = p + Tk;
        bool *clamped = cl_all + (long)th * Tk;
        for (int b = 0; b < B; b++) {
            long bh = (long)b * H + h;
            const real *qb = d->q + bh * T * dh, *kb = d->k + bh * d->k_bh;
            /* C = scale q k^T, X = q E */
            rg_transpose_rows(kb, dh, 0, Tk, kt, Tk);
            rg_gemm_small(T, Tk, dh, d->scale, qb, dh, 1, kt, Tk, 1, 0, C, Tk, 1, NULL);
            rg_gemm_small(T, P, dh, 1, qb, dh, 1, d->E, P, 1, 0, X, P, 1, NULL);
            memset(dC, 0, (size_t)T * Tk * sizeof(real));
            memset(dX, 0, (size_t)T * P * sizeof(real));
            for (int i = 0; i < T; i++) {
                int end = i + t->diag + 1 < Tk ? i + t->diag + 1 : Tk;
                const real *c = C + (long)i * Tk, *g = dS + (bh * T + i) * Tk, *x = X + (long)i * P;
                real *dx = dX + (long)i * P, *dc = dC + (long)i * Tk;
                count_positions(c, 0, end, P, p, clamped, gates);
                double run = 0; /* dg_it = sum over j <= t of dp_ij */
                for (int j = 0; j < end; j++) {
                    int f = (int)floor(p[j]), ce = (int)ceil(p[j]);
                    double w = p[j] - f, G = d->scale * g[j];
                    dx[f] += (real)((1 - w) * G);
                    dx[ce] += (real)(w * G);
                    run += clamped[j] ? 0 : G * (x[ce] - x[f]);
                    dc[j] = (real)(run * gates[j] * (1 - gates[j]));
                }
            }
            if (dq) { /* dq += scale dC k + dX E^T */
                rg_gemm_small(T, dh, Tk, d->scale, dC, Tk, 1, kb, dh, 1, 1, dq + bh * T * dh, dh, 1,
                              NULL);
                rg_gemm_small(T, dh, P, 1, dX, P, 1, Et, dh, 1, 1, dq + bh * T * dh, dh, 1, NULL);
            }
            if (dk) /* dk += scale dC^T q */
                rg_gemm_small(Tk, dh, T, d->scale, dC, 1, Tk, qb, dh, 1, 1, dk + bh * d->k_bh, dh,
                              1, NULL);
            if (dE) /* dE += q^T dX */
                rg_gemm_small(dh, P, T, 1, qb, 1, dh, dX, P, 1, 1, dE_mine, P, 1, NULL);
        }
    }
    if (dE) /* the threads' sums, in a fixed order */
        for (int th = 0; th < threads; th++) {
            const real *mine = scratch + th * per + 2L * T * Tk + 2L * T * P;
            for (long e = 0; e < (long)dh * P; e++) dE[e] += mine[e];
        }
}

/* The CoPE term for queries q [B,H,T,dh] and keys k [B,H,Kc,dh] (Tk of them
 * in use), position table E [dh, P]; content scale `scale`. */
static rg_term *cope_term(rg_ctx *ctx, rg_tensor *q, rg_tensor *k, int Tk, int diag, rg_tensor *E,
                          real scale) {
    int dh = q->shape[3], P = E->shape[1];
    cope_data *d = rg_arena_alloc(&ctx->arena, sizeof *d);
    *d = (cope_data){.q = q->data,
                     .k = k->data,
                     .k_bh = (long)k->shape[2] * dh,
                     .E = E->data,
                     .P = P,
                     .dh = dh,
                     .scale = scale};
    rg_term *t = rg_arena_calloc(&ctx->arena, sizeof *t);
    *t = (rg_term){.name = "cope",
                   .add = add,
                   .backward = backward,
                   .scratch_bytes = scratch_bytes(P, Tk, dh),
                   .in = {q, k, E},
                   .n_in = 3,
                   .B = q->shape[0],
                   .H = q->shape[1],
                   .T = q->shape[2],
                   .Tk = Tk,
                   .diag = diag,
                   .data = d};
    return t;
}

static void scores(rg_scheme_call *call) {
    if (call->n_terms == RG_MAX_TERMS) rg_die("cope: too many score terms");
    call->terms[call->n_terms++] = cope_term(call->ctx, call->q, call->k, call->Tk, call->diag,
                                             call->params[POS_EMB], call->scale);
}

/* ---- gradient checks --------------------------------------------------------------------
 * z is linear in p between whole numbers and bends at each one: a finite
 * difference in q or k that moves a p across one would measure the mean of
 * two slopes. So the checks make E affine in the position, E[:, x] = a + b x:
 * then q . E[:, p] is linear in p everywhere and z is smooth, while every
 * gradient (gates, sums, interpolation weights, E's entries, each of which
 * z depends on linearly) stays in play. Only the clamp at P - 1 remains a
 * bend: the op's check draws inputs until no sum lies near it. */

static void make_affine(rg_tensor *E, rg_rng *rng) {
    int dh = E->shape[0], P = E->shape[1];
    for (int e = 0; e < dh; e++) {
        double a = 0.5 * rg_rng_normal(rng), b = rg_rng_normal(rng);
        for (int x = 0; x < P; x++) E->data[(long)e * P + x] = (real)(a + b * x / P);
    }
}

static int check_prepare(const rg_scheme_call *call, const int *qpos, const int *kpos, int Bp,
                         double h, rg_rng *rng, char *why, size_t n) {
    (void)qpos, (void)kpos, (void)Bp, (void)h, (void)why, (void)n;
    make_affine(call->params[POS_EMB], rng);
    return 0;
}

/* inputs q [B,H,T,D], k, v [B,H,Tk,D], E [D, C] (P = C); diag memory keys */
static rg_tensor *f_cope(rg_ctx *ctx, rg_tensor **x, void *arg) {
    const rg_op_check *st = arg;
    real scale = (real)(1 / sqrt((double)st->s.D));
    rg_term *t = cope_term(ctx, x[0], x[1], x[1]->shape[2], st->s.diag, x[3], scale);
    return rg_attention_core(ctx, x[0], x[1], x[2], scale,
                             &(rg_attn_opts){.mask = {.diag = st->s.diag}}, &t, 1);
}

/* The smallest distance of any gate sum of (q, k) from the clamp P - 1, and
 * how many sums were clamped. */
static double clamp_margin(const rg_op_check *st, int P, int *n_clamped) {
    const rg_op_sizes *s = &st->s;
    int T = s->T, Tk = s->Tk, D = s->D;
    double closest = 1e9;
    *n_clamped = 0;
    for (long bh = 0; bh < (long)s->B * s->H; bh++)
        for (int i = 0; i < T; i++) {
            int end = i + s->diag + 1 < Tk ? i + s->diag + 1 : Tk;
            double sum = 0;
            for (int j = end - 1; j >= 0; j--) {
                double dot = 0;
                for (int e = 0; e < D; e++)
                    dot += (double)st->x[0]->data[(bh * T + i) * D + e] *
                           st->x[1]->data[(bh * Tk + j) * D + e];
                sum += sigmoid(dot / sqrt((double)D));
                closest = fmin(closest, fabs(sum - (P - 1)));
                *n_clamped += sum > P - 1;
            }
        }
    return closest;
}

static int s_cope(rg_op_check *st, rg_rng *rng) {
    const rg_op_sizes *s = &st->s;
    int P = s->C;
    if (s->T + s->diag > s->Tk) {
        snprintf(st->why, sizeof st->why, "queries sit after diag memory keys: T + diag <= Tk");
        return -1;
    }
    double margin = 4 * st->h * (s->D + 1); /* what a step of 2h can move a sum by, with room */
    for (int tries = 0;; tries++) {
        for (int k = 0; k < 4; k++) rg_tensor_free(st->x[k]);
#define NEW(...)                                                                                   \
    rg_tensor_random(rng, sizeof((int[]){__VA_ARGS__}) / sizeof(int), (int[]){__VA_ARGS__}, 1.0,   \
                     NULL)
        st->x[0] = NEW(s->B, s->H, s->T, s->D), st->x[1] = NEW(s->B, s->H, s->Tk, s->D);
        st->x[2] = NEW(s->B, s->H, s->Tk, s->D), st->x[3] = NEW(s->D, P);
#undef NEW
        make_affine(st->x[3], rng);
        int n_clamped;
        if (clamp_margin(st, P, &n_clamped) > margin) break;
        if (tries == 200) {
            snprintf(st->why, sizeof st->why,
                     "no draw keeps every gate sum off the clamp P - 1 = %d; change C (P) or T",
                     P - 1);
            return -1;
        }
    }
    const char *names[4] = {"q", "k", "v", "pos_emb"};
    for (int k = 0; k < 4; k++) st->names[k] = names[k];
    return 4;
}

static const rg_op_case OP_CASES[] = {
    {.name = "cope_attention",
     .summary = "attention q [B,H,T,D], k, v [B,H,Tk,D] with CoPE's term, E [D,C] (P = C, "
                "affine in the position), diag memory keys; no gate sum near the clamp",
     .setup = s_cope,
     .f = f_cope},
};

const rg_scheme rg_scheme_cope = {
    .name = "cope",
    .summary = "contextual positions: gates count the keys between key and query "
               "(Golovneva et al. 2024)",
    /* no absolute embedding and no pos_ids at all */
    .flags = RG_SCHEME_RELATIVE | RG_SCHEME_ANY_ORDER | RG_SCHEME_NO_POSITIONS,
    .keys = KEYS,
    .n_keys = RG_COUNT(KEYS),
    .validate = validate,
    .declare_layer = declare_layer,
    .scores = scores,
    .op_cases = OP_CASES,
    .n_op_cases = RG_COUNT(OP_CASES),
    .check_prepare = check_prepare,
};
