/* ops_attention.c: the fused attention kernel, one pass per (batch, head):
 *
 *   S = scale * q k^T + E        q [T,D], k [Tk,D], E extra scores (optional)
 *   P = softmax over the visible keys j <= i + diag (causal; memory first)
 *   O = P v                      v [Tk,D]
 *
 * It computes what rg_matmul, rg_scale, rg_add_bcast, rg_softmax_causal and
 * rg_matmul compute one after the other (the unfused path in attention.c,
 * kept as the reference it is tested against), without their intermediate
 * tensors, and lets the causal mask skip work: queries are taken in blocks of
 * ROWS, and a block's products stop at the last key its last query can see.
 *
 * Backward, with dO given and P saved:
 *   dv   = P^T dO
 *   dP   = dO v^T
 *   dS   = P * (dP - rowsum(P * dP))       (the softmax backward)
 *   dq   = scale dS k,   dk = scale dS^T q,   dE = dS (summed over the batch
 *                                              when E is shared by it)
 * Every product goes through BLIS, single-threaded inside the OpenMP loop
 * over (batch, head).
 */
#include "ops_internal.h"

#include <string.h>

enum { ROWS = 32 }; /* queries per block */

/* Last visible key + 1 for a block of queries ending (exclusive) at i1. */
static int key_limit(int i1, int diag, int Tk) {
    long lim = (long)i1 + diag;
    return lim < 0 ? 0 : lim > Tk ? Tk : (int)lim;
}

typedef struct {
    int B, H, T, Tk, D, diag;
    real scale;
    bool e_shared; /* E is [1,H,T,Tk], shared by the batch */
    real *P;       /* [B,H,T,Tk] saved probabilities       */
} attn_saved;

static void attention_backward(rg_ctx *ctx, rg_node *node) {
    const attn_saved *s = node->saved;
    rg_tensor *q = node->in[0], *k = node->in[1], *v = node->in[2], *E = node->in[3];
    int B = s->B, H = s->H, T = s->T, Tk = s->Tk, D = s->D, diag = s->diag;
    long n_bh = (long)B * H, qs = (long)T * D, ks = (long)Tk * D, ss = (long)T * Tk;
    real *dq = rg_wants_grad(node, 0) ? rg_grad(ctx, q) : NULL;
    real *dk = rg_wants_grad(node, 1) ? rg_grad(ctx, k) : NULL;
    real *dv = rg_wants_grad(node, 2) ? rg_grad(ctx, v) : NULL;
    bool want_e = E && rg_wants_grad(node, 3);
    /* dS for every (b,h): written by the loop, then added into dE */
    real *dS_all = rg_arena_alloc(&ctx->arena, (size_t)(n_bh * ss) * sizeof(real));
    const real *dO = node->out->grad;
#pragma omp parallel for schedule(static) if (n_bh > 1)
    for (long bh = 0; bh < n_bh; bh++) {
        const real *P = s->P + bh * ss, *dOb = dO + bh * qs;
        const real *qb = q->data + bh * qs, *kb = k->data + bh * ks, *vb = v->data + bh * ks;
        real *dS = dS_all + bh * ss;
        memset(dS, 0, (size_t)ss * sizeof(real));
        for (int i0 = 0; i0 < T; i0 += ROWS) {
            int i1 = i0 + ROWS < T ? i0 + ROWS : T, n = i1 - i0, lim = key_limit(i1, diag, Tk);
            const real *Pi = P + (long)i0 * Tk, *dOi = dOb + (long)i0 * D;
            real *dSi = dS + (long)i0 * Tk;
            if (lim == 0) continue;
            if (dv) /* dv[0:lim] += P[i0:i1, 0:lim]^T dO[i0:i1] */
                rg_gemm(lim, D, n, 1, Pi, 1, Tk, dOi, D, 1, 1, dv + bh * ks, D, 1, true);
            /* dP[i0:i1, 0:lim] = dO[i0:i1] v[0:lim]^T, into dS's rows */
            rg_gemm(n, lim, D, 1, dOi, D, 1, vb, 1, D, 0, dSi, Tk, 1, true);
            for (int r = 0; r < n; r++) { /* softmax backward, row by row */
                real *row = dSi + (long)r * Tk;
                const real *p = Pi + (long)r * Tk;
                int vis = key_limit(i0 + r + 1, diag, Tk);
                real dot = 0;
                for (int j = 0; j < vis; j++) dot += p[j] * row[j];
                for (int j = 0; j < vis; j++) row[j] = p[j] * (row[j] - dot);
                for (int j = vis; j < lim; j++) row[j] = 0;
            }
            if (dq) /* dq[i0:i1] += scale dS[i0:i1, 0:lim] k[0:lim] */
                rg_gemm(n, D, lim, s->scale, dSi, Tk, 1, kb, D, 1, 1, dq + bh * qs + (long)i0 * D,
                        D, 1, true);
            if (dk) /* dk[0:lim] += scale dS[i0:i1, 0:lim]^T q[i0:i1] */
                rg_gemm(lim, D, n, s->scale, dSi, 1, Tk, qb + (long)i0 * D, D, 1, 1, dk + bh * ks,
                        D, 1, true);
        }
    }
    if (want_e) {
        real *dE = rg_grad(ctx, E);
        if (s->e_shared) { /* sum over the batch; each thread owns some heads */
#pragma omp parallel for schedule(static) if (H > 1)
            for (int h = 0; h < H; h++)
                for (int b = 0; b < B; b++)
                    for (long j = 0; j < ss; j++)
                        dE[h * ss + j] += dS_all[((long)b * H + h) * ss + j];
        } else {
            for (long j = 0; j < n_bh * ss; j++) dE[j] += dS_all[j];
        }
    }
}

rg_tensor *rg_attention_core(rg_ctx *ctx, rg_tensor *q, rg_tensor *k, rg_tensor *v, rg_tensor *E,
                             real scale, int diag) {
    if (q->ndim != 4 || k->ndim != 4 || !rg_same_shape(k, v) || q->shape[0] != k->shape[0] ||
        q->shape[1] != k->shape[1] || q->shape[3] != k->shape[3])
        rg_die_shapes("attention_core", "need q [B,H,T,D], k and v [B,H,Tk,D]", q, k);
    int B = q->shape[0], H = q->shape[1], T = q->shape[2], D = q->shape[3], Tk = k->shape[2];
    bool shared = false;
    if (E) {
        bool ok = E->ndim == 4 && E->shape[1] == H && E->shape[2] == T && E->shape[3] == Tk &&
                  (E->shape[0] == B || E->shape[0] == 1);
        if (!ok) rg_die_shapes("attention_core", "extra scores E must be [B or 1,H,T,Tk]", E, q);
        shared = E->shape[0] == 1 && B > 1;
    }
    long n_bh = (long)B * H, qs = (long)T * D, ks = (long)Tk * D, ss = (long)T * Tk;
    rg_tensor *out = rg_empty(ctx, 4, (int[]){B, H, T, D});
    real *P_all =
        rg_arena_alloc(&ctx->arena, (size_t)(n_bh * ss > 0 ? n_bh * ss : 1) * sizeof(real));
#pragma omp parallel for schedule(static) if (n_bh > 1)
    for (long bh = 0; bh < n_bh; bh++) {
        const real *qb = q->data + bh * qs, *kb = k->data + bh * ks, *vb = v->data + bh * ks;
        const real *Eb = E ? E->data + (shared ? bh % H : bh) * ss : NULL;
        real *P = P_all + bh * ss, *ob = out->data + bh * qs;
        for (int i0 = 0; i0 < T; i0 += ROWS) {
            int i1 = i0 + ROWS < T ? i0 + ROWS : T, n = i1 - i0, lim = key_limit(i1, diag, Tk);
            real *Pi = P + (long)i0 * Tk;
            /* S[i0:i1, 0:lim] = scale q[i0:i1] k[0:lim]^T, in P's rows */
            if (lim > 0)
                rg_gemm(n, lim, D, scale, qb + (long)i0 * D, D, 1, kb, 1, D, 0, Pi, Tk, 1, true);
            for (int r = 0; r < n; r++) { /* + E, then the masked softmax */
                real *row = Pi + (long)r * Tk;
                const real *e = Eb ? Eb + (long)(i0 + r) * Tk : NULL;
                int vis = key_limit(i0 + r + 1, diag, Tk);
                real mx = -INFINITY, sum = 0;
                for (int j = 0; j < vis; j++) {
                    if (e) row[j] += e[j];
                    mx = row[j] > mx ? row[j] : mx;
                }
                for (int j = 0; j < vis; j++) sum += (row[j] = exp(row[j] - mx));
                for (int j = 0; j < vis; j++) row[j] /= sum;
                for (int j = vis; j < Tk; j++) row[j] = 0;
            }
            /* O[i0:i1] = P[i0:i1, 0:lim] v[0:lim] */
            if (lim > 0)
                rg_gemm(n, D, lim, 1, Pi, Tk, 1, vb, D, 1, 0, ob + (long)i0 * D, D, 1, true);
            else
                memset(ob + (long)i0 * D, 0, (size_t)n * D * sizeof(real));
        }
    }
    rg_tensor *in[4] = {q, k, v, E};
    if (rg_needs_grad(ctx, in, 4)) {
        attn_saved *s = rg_arena_alloc(&ctx->arena, sizeof *s);
        *s = (attn_saved){B, H, T, Tk, D, diag, scale, shared, P_all};
        rg_record(ctx, "attention_core", attention_backward, out, in, 4)->saved = s;
    }
    return out;
}
