/* attention_core.c: the fused attention kernel, one pass per (batch, head):
 *
 *   S = scale * q k^T + terms     q [T,D], k [Tk,D]; terms: a positional
 *                                 scheme's scores (ops.h: rg_term)
 *   P = softmax over the visible keys j in [lo_i, i + diag] (causal; memory first)
 *   O = P v                       v [Tk,D]
 *
 * It computes what rg_matmul, rg_scale, rg_add, rg_softmax_causal and
 * rg_matmul compute one after the other (the unfused path in nn/attention.c,
 * kept as the reference it is tested against), without their intermediate
 * tensors, and lets the causal mask skip work: queries are taken in blocks of
 * ROWS, and a block's products stop at the last key its last query can see.
 * Score terms add their part to each block's rows as it is formed, so most
 * schemes' positional scores never exist as a [B,H,T,Tk] tensor (a scheme
 * whose bias is a learned function of each pair may form it whole and hand
 * it over with rg_bias_term). Training still keeps P at that size, and the
 * backward all of dS when a term's backward reads it whole (otherwise one
 * block of rows per thread, which a term's backward_rows reads as it is
 * made).
 *
 * Backward, with dO given and P saved:
 *   dv   = P^T dO
 *   dP   = dO v^T
 *   dS   = P * (dP - rowsum(P * dP))       (the softmax backward)
 *   dq   = scale dS k,   dk = scale dS^T q
 *   and each term's backward from dS (its scores are added unscaled).
 * Every product is a small one (one block of queries of one (batch, head)),
 * made by rg_gemm_small inside the OpenMP loop over (batch, head): BLIS's
 * per-call cost would exceed the arithmetic at these sizes.
 *
 * The same op serves the key/value-cache decoder: its keys and values are
 * the cache's rows (a [B,H,cap,D] tensor of which the first Tk rows are in
 * use), it passes the transposed keys the cache keeps, and under no-grad
 * nothing of size [T,Tk] is kept. Training and decoding share one kernel.
 */
#include "ops_internal.h"

#include <omp.h>
#include <string.h>

enum { ROWS = RG_ATTN_BLOCK }; /* queries per block */

/* One call of the kernel, as attend_one and the backward read it. */
typedef struct {
    int B, H, T, Tk, D;
    const real *q, *k, *v; /* q [B,H,T,D]; k, v [B,H,Kc,D]: (b,h) blocks kv_bh apart */
    long kv_bh;
    real *o; /* [B,H,T,D] */
    real scale;
    rg_attn_opts opts;
    rg_term *const *terms;
    int n_terms;
} kernel_call;

/* End (exclusive) of the visible keys of query row i. */
static int row_end(long i, int diag, int Tk) {
    long e = i + diag + 1;
    return e < 0 ? 0 : e > Tk ? Tk : (int)e;
}

/* End (exclusive) of the visible keys of query row i of batch row b. */
static int row_end_b(const rg_attn_mask *m, int b, long i, int Tk) {
    int e = row_end(i, m->diag, Tk);
    return m->key_end && m->key_end[b] < e ? m->key_end[b] : e;
}

/* Per-thread scratch: one block of scores, the keys transposed, the rows'
 * windows, each term's own. */
typedef struct {
    size_t block, keys_t, terms[RG_MAX_INPUTS], total; /* byte offsets, and the size */
} scratch_layout;

static scratch_layout layout_of(const kernel_call *a, bool keep_P) {
    scratch_layout s;
    size_t at = 0;
    s.block = at;
    at += keep_P ? 0 : (size_t)ROWS * a->Tk * sizeof(real);
    at += 2 * ROWS * sizeof(int); /* lo[], hi[] */
    at = (at + 63) & ~(size_t)63;
    s.keys_t = at;
    at += a->opts.k_t ? 0 : (size_t)a->D * a->Tk * sizeof(real);
    for (int t = 0; t < a->n_terms; t++) {
        at = (at + 63) & ~(size_t)63;
        s.terms[t] = at;
        at += a->terms[t]->scratch_bytes;
    }
    s.total = (at + 63) & ~(size_t)63;
    return s;
}

void rg_transpose_rows(const real *x, int D, int j0, int j1, real *xt, long ld) {
    for (int j = j0; j < j1; j++)
        for (int d = 0; d < D; d++) xt[(long)d * ld + j] = x[(long)j * D + d];
}

/* S[:, first:lim] = scale q k[first:lim]^T for n queries q [n,D], from the
 * keys transposed: the kernel's own copy kt [D, Tk], or one (b, h) block of
 * the cache's tiles (rg_attn_opts.k_t), one product per tile. Every score
 * is one chain of D fused multiply-adds whichever columns a product covers
 * (rg_gemm_small splits no chain for k = D <= 512), so the tiles do not
 * change the bits. */
static void block_scores(const kernel_call *a, int n, int first, int lim, const real *q,
                         const real *kt, real *S) {
    int D = a->D, Tk = a->Tk;
    if (!a->opts.k_t) {
        rg_gemm_small(n, lim - first, D, a->scale, q, D, 1, kt + first, Tk, 1, 0, S + first, Tk, 1,
                      NULL);
        return;
    }
    for (int j0 = first; j0 < lim;) {
        int t = j0 / RG_KT_TILE, end = (t + 1) * RG_KT_TILE, j1 = end < lim ? end : lim;
        const real *tile = kt + (long)t * D * RG_KT_TILE; /* [D, RG_KT_TILE] */
        rg_gemm_small(n, j1 - j0, D, a->scale, q, D, 1, tile + j0 % RG_KT_TILE, RG_KT_TILE, 1, 0,
                      S + j0, Tk, 1, NULL);
        j0 = j1;
    }
}

/* out[r] = the sum over j in [lo[r], hi[r]) of X[r, j] (Y NULL) or of
 * X[r, j] Y[r, j], adding in order of j from zero as the reference does
 * (softmax's denominators, its backward's rowsum(P * dP)), for rows r < n
 * of stride ld. One row's chain waits on each add; here eight rows' chains
 * run side by side over the keys their windows share (rows whose windows
 * start together), then each row's own tail: the same additions in the
 * same order. */
#define ROW_SUMS(TERM)                                                                             \
    do {                                                                                           \
        int r = 0;                                                                                 \
        for (; r + 8 <= n; r += 8) {                                                               \
            int start = lo[r], end = hi[r];                                                        \
            bool together = true;                                                                  \
            for (int x = 1; x < 8; x++) {                                                          \
                together &= lo[r + x] == start;                                                    \
                end = hi[r + x] < end ? hi[r + x] : end;                                           \
            }                                                                                      \
            if (!together) break;                                                                  \
            const long o0 = (long)r * ld;                                                          \
            real s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;                   \
            for (long j = start; j < end; j++) {                                                   \
                s0 += TERM(o0 + j), s1 += TERM(o0 + ld + j), s2 += TERM(o0 + 2 * ld + j);          \
                s3 += TERM(o0 + 3 * ld + j), s4 += TERM(o0 + 4 * ld + j);                          \
                s5 += TERM(o0 + 5 * ld + j), s6 += TERM(o0 + 6 * ld + j);                          \
                s7 += TERM(o0 + 7 * ld + j);                                                       \
            }                                                                                      \
            real s[8] = {s0, s1, s2, s3, s4, s5, s6, s7};                                          \
            for (int x = 0; x < 8; x++) {                                                          \
                long o = (long)(r + x) * ld;                                                       \
                for (long j = end > start ? end : start; j < hi[r + x]; j++) s[x] += TERM(o + j);  \
                out[r + x] = s[x];                                                                 \
            }                                                                                      \
        }                                                                                          \
        for (; r < n; r++) {                                                                       \
            long o = (long)r * ld;                                                                 \
            real s0 = 0;                                                                           \
            for (long j = lo[r]; j < hi[r]; j++) s0 += TERM(o + j);                                \
            out[r] = s0;                                                                           \
        }                                                                                          \
    } while (0)

static void row_sums(int n, const int *lo, const int *hi, const real *X, long ld, real *out) {
#define X_AT(at) X[at]
    ROW_SUMS(X_AT);
#undef X_AT
}

static void row_dots(int n, const int *lo, const int *hi, const real *X, const real *Y, long ld,
                     real *out) {
#define XY_AT(at) X[at] * Y[at]
    ROW_SUMS(XY_AT);
#undef XY_AT
}

/* Forward of one (b, h). P: [T, Tk] rows to keep (training), or NULL to use
 * the thread's block scratch (decoding: memory stays linear in Tk). */
static void attend_one(const kernel_call *a, int b, int h, real *P, char *scratch,
                       const scratch_layout *sl) {
    int T = a->T, Tk = a->Tk, D = a->D;
    const rg_attn_mask *mask = &a->opts.mask;
    long bh = (long)b * a->H + h;
    const real *qb = a->q + bh * T * D, *kb = a->k + bh * a->kv_bh, *vb = a->v + bh * a->kv_bh;
    real *ob = a->o + bh * (long)T * D;
    int *lo = (int *)(scratch + sl->block + (P ? 0 : (size_t)ROWS * Tk * sizeof(real)));
    int *hi = lo + ROWS;
    const real *kt =
        a->opts.k_t ? a->opts.k_t + bh * a->opts.k_t_bh : (real *)(scratch + sl->keys_t);
    if (!a->opts.k_t) {
        /* the first block's first key is the smallest any block reads */
        int k_end = row_end_b(mask, b, T - 1, Tk), k_first = mask->key_lo ? mask->key_lo[0] : 0;
        if (k_first > row_end_b(mask, b, 0, Tk)) k_first = row_end_b(mask, b, 0, Tk);
        rg_transpose_rows(kb, D, k_first, k_end, (real *)kt, Tk);
    }
    for (int t = 0; t < a->n_terms; t++)
        if (a->terms[t]->begin) a->terms[t]->begin(a->terms[t], b, h, scratch + sl->terms[t]);
    for (int i0 = 0; i0 < T; i0 += ROWS) {
        int n = i0 + ROWS < T ? ROWS : T - i0;
        for (int r = 0; r < n; r++) {
            hi[r] = row_end_b(mask, b, i0 + r, Tk);
            lo[r] = mask->key_lo ? mask->key_lo[i0 + r] : 0;
            if (lo[r] > hi[r]) lo[r] = hi[r];
        }
        int first = lo[0], lim = hi[n - 1]; /* windows only move right */
        real *S = P ? P + (long)i0 * Tk : (real *)(scratch + sl->block);
        if (lim > first) block_scores(a, n, first, lim, qb + (long)i0 * D, kt, S);
        for (int t = 0; t < a->n_terms; t++) {
            rg_term_block blk = {.b = b,
                                 .h = h,
                                 .i0 = i0,
                                 .n = n,
                                 .lo = lo,
                                 .hi = hi,
                                 .S = S,
                                 .ld = Tk,
                                 .scratch = scratch + sl->terms[t]};
            a->terms[t]->add(a->terms[t], &blk);
        }
        for (int r = 0; r < n; r++) { /* masked softmax of each row: exp(S - max) */
            real *row = S + (long)r * Tk, mx = -INFINITY;
            /* (the maximum is the same value in any order) */
#pragma omp simd reduction(max : mx)
            for (int j = lo[r]; j < hi[r]; j++) mx = row[j] > mx ? row[j] : mx;
            rg_exp_shifted(row + lo[r], mx, row + lo[r], hi[r] - lo[r]);
        }
        real sums[ROWS];
        row_sums(n, lo, hi, S, Tk, sums);
        for (int r = 0; r < n; r++) { /* divided by the row's sum */
            real *row = S + (long)r * Tk, sum = sums[r];
#pragma omp simd
            for (int j = lo[r]; j < hi[r]; j++) row[j] /= sum;
            int z0 = P ? 0 : first, z1 = P ? Tk : lim; /* zeros where the row sees nothing */
            for (int j = z0; j < lo[r]; j++) row[j] = 0;
            for (int j = hi[r]; j < z1; j++) row[j] = 0;
            if (a->opts.probs) { /* a copy for whoever asked (P[i, 0..Tk-1]) */
                real *dst =
                    a->opts.probs + bh * a->opts.probs_bh + (long)(i0 + r) * a->opts.probs_ld;
                for (int j = 0; j < Tk; j++) dst[j] = j >= lo[r] && j < hi[r] ? row[j] : 0;
            }
        }
        /* O[i0:i0+n] = P[:, first:lim] v[first:lim] */
        if (lim > first)
            rg_gemm_small(n, D, lim - first, 1, S + first, Tk, 1, vb + (long)first * D, D, 1, 0,
                          ob + (long)i0 * D, D, 1, NULL);
        else
            memset(ob + (long)i0 * D, 0, (size_t)n * D * sizeof(real));
    }
}

/* Every (b, h) in parallel. P_all [B,H,T,Tk] or NULL. */
static void attend_all(rg_ctx *ctx, const kernel_call *a, real *P_all) {
    scratch_layout sl = layout_of(a, P_all != NULL);
    int threads = ctx->threads;
    char *scratch = rg_arena_alloc(&ctx->arena, (size_t)threads * sl.total);
    long n_bh = (long)a->B * a->H, ss = (long)a->T * a->Tk;
#pragma omp parallel num_threads(threads) if (n_bh > 1)
    {
        char *mine = scratch + (size_t)omp_get_thread_num() * sl.total;
#pragma omp for schedule(static)
        for (long bh = 0; bh < n_bh; bh++)
            attend_one(a, (int)(bh / a->H), (int)(bh % a->H), P_all ? P_all + bh * ss : NULL, mine,
                       &sl);
    }
}

/* ---- the op: forward, saved P, backward ------------------------------------------- */

typedef struct {
    kernel_call call; /* q, k, v, o, terms as the forward had them */
    real *P;          /* [B,H,T,Tk] saved probabilities */
    rg_term *terms[RG_MAX_INPUTS];
} attn_saved;

/* What the backward of one (b, h) reads and writes. */
typedef struct {
    const attn_saved *s;
    const real *q, *k, *v, *dO;
    real *dq, *dk, *dv; /* NULL: not wanted */
    real *dS_all;       /* [B,H,T,Tk] (keep_dS), or one block of rows per thread */
    bool keep_dS;
    real *vt_all;                  /* per thread: v transposed, [D, Tk] */
    real *grads[RG_MAX_INPUTS][4]; /* term t's input gradients, for backward_rows */
} backward_args;

static void backward_one(const backward_args *w, long bh, int thread) {
    const kernel_call *a = &w->s->call;
    const rg_attn_mask *mask = &a->opts.mask;
    int H = a->H, T = a->T, Tk = a->Tk, D = a->D, b = (int)(bh / H);
    long qs = (long)T * D, ks = a->kv_bh, ss = (long)T * Tk;
    const real *P = w->s->P + bh * ss, *dOb = w->dO + bh * qs;
    const real *qb = w->q + bh * qs, *kb = w->k + bh * ks, *vb = w->v + bh * ks;
    real *dq = w->dq, *dk = w->dk, *dv = w->dv;
    real *vt = w->vt_all + (long)thread * Tk * D;
    rg_transpose_rows(vb, D, 0, row_end_b(mask, b, T - 1, Tk), vt, Tk);
    for (int i0 = 0; i0 < T; i0 += ROWS) {
        int i1 = i0 + ROWS < T ? i0 + ROWS : T, n = i1 - i0;
        int lim = row_end_b(mask, b, i1 - 1, Tk);
        const real *Pi = P + (long)i0 * Tk, *dOi = dOb + (long)i0 * D;
        real *dSi = w->keep_dS ? w->dS_all + bh * ss + (long)i0 * Tk
                               : w->dS_all + (long)thread * ROWS * Tk; /* [n, Tk] */
        if (w->keep_dS) /* the rows below write [0, lim); the rest is zero */
            for (int r = 0; r < n; r++)
                memset(dSi + (long)r * Tk + lim, 0, (size_t)(Tk - lim) * sizeof(real));
        if (lim == 0) continue;
        if (dv) /* dv[0:lim] += P[i0:i1, 0:lim]^T dO[i0:i1] */
            rg_gemm_small(lim, D, n, 1, Pi, 1, Tk, dOi, D, 1, 1, dv + bh * ks, D, 1, NULL);
        /* dP[i0:i1, 0:lim] = dO[i0:i1] v[0:lim]^T, into dS's rows */
        rg_gemm_small(n, lim, D, 1, dOi, D, 1, vt, Tk, 1, 0, dSi, Tk, 1, NULL);
        int lo[ROWS], hi[ROWS]; /* the rows' windows */
        real dots[ROWS];
        for (int r = 0; r < n; r++) {
            hi[r] = row_end_b(mask, b, i0 + r, Tk);
            lo[r] = mask->key_lo ? mask->key_lo[i0 + r] : 0;
            if (lo[r] > hi[r]) lo[r] = hi[r];
        }
        row_dots(n, lo, hi, Pi, dSi, Tk, dots); /* rowsum(P * dP) */
        for (int r = 0; r < n; r++) {           /* softmax backward, row by row */
            real *row = dSi + (long)r * Tk;
            const real *p = Pi + (long)r * Tk;
            int vis = hi[r], first = lo[r];
            real dot = dots[r];
            for (int j = 0; j < first; j++) row[j] = 0;
#pragma omp simd
            for (int j = first; j < vis; j++) row[j] = p[j] * (row[j] - dot);
            for (int j = vis; j < lim; j++) row[j] = 0;
        }
        for (int t = 0; t < a->n_terms; t++) /* terms that take dS a block at a time */
            if (a->terms[t]->backward_rows && !w->keep_dS) {
                rg_term_block blk = {.b = b,
                                     .h = (int)(bh % H),
                                     .i0 = i0,
                                     .n = n,
                                     .lo = lo,
                                     .hi = hi,
                                     .S = dSi,
                                     .ld = Tk};
                a->terms[t]->backward_rows(a->terms[t], &blk, w->grads[t]);
            }
        if (dq) /* dq[i0:i1] += scale dS[i0:i1, 0:lim] k[0:lim] */
            rg_gemm_small(n, D, lim, a->scale, dSi, Tk, 1, kb, D, 1, 1, dq + bh * qs + (long)i0 * D,
                          D, 1, NULL);
        if (dk) /* dk[0:lim] += scale dS[i0:i1, 0:lim]^T q[i0:i1] */
            rg_gemm_small(lim, D, n, a->scale, dSi, 1, Tk, qb + (long)i0 * D, D, 1, 1, dk + bh * ks,
                          D, 1, NULL);
    }
}

static void attention_backward(rg_ctx *ctx, rg_node *node) {
    const attn_saved *s = node->saved;
    const kernel_call *a = &s->call;
    rg_tensor *q = node->in[0], *k = node->in[1], *v = node->in[2];
    int B = a->B, H = a->H, T = a->T, Tk = a->Tk, D = a->D, threads = ctx->threads;
    long n_bh = (long)B * H;
    backward_args w = {.s = s,
                       .q = q->data,
                       .k = k->data,
                       .v = v->data,
                       .dO = node->out->grad,
                       .dq = rg_wants_grad(node, 0) ? rg_grad(ctx, q) : NULL,
                       .dk = rg_wants_grad(node, 1) ? rg_grad(ctx, k) : NULL,
                       .dv = rg_wants_grad(node, 2) ? rg_grad(ctx, v) : NULL};
    /* Terms that read dS: a block at a time inside the loop (backward_rows),
     * when every such term can and the heads split evenly between the
     * threads (each thread owns whole heads, walked in order of b); else
     * dS is kept for every (b,h) and their backward reads it after the
     * loop. Both make the same additions in the same order. Without such
     * terms, one block of dS rows per thread. */
    bool any_dS = false, all_rows = true;
    for (int t = 0; t < a->n_terms; t++) {
        const rg_term *term = s->terms[t];
        if (!term->backward) continue;
        any_dS = true;
        all_rows &= term->backward_rows != NULL;
        for (int i = 0; i < term->n_in; i++)
            w.grads[t][i] = term->in[i]->requires_grad ? rg_grad(ctx, term->in[i]) : NULL;
    }
    bool by_head = any_dS && all_rows && H % threads == 0;
    w.keep_dS = any_dS && !by_head;
    size_t dS_size = w.keep_dS ? (size_t)n_bh * T * Tk : (size_t)threads * ROWS * Tk;
    w.dS_all = rg_arena_alloc(&ctx->arena, dS_size * sizeof(real) + 1);
    w.vt_all = rg_arena_alloc(&ctx->arena, (size_t)threads * Tk * D * sizeof(real) + 1);
    if (by_head) {
#pragma omp parallel for schedule(static) if (H > 1) num_threads(threads)
        for (int h = 0; h < H; h++)
            for (int b = 0; b < B; b++) backward_one(&w, (long)b * H + h, omp_get_thread_num());
    } else {
#pragma omp parallel for schedule(static) if (n_bh > 1) num_threads(threads)
        for (long bh = 0; bh < n_bh; bh++) backward_one(&w, bh, omp_get_thread_num());
    }
    if (w.keep_dS)
        for (int t = 0; t < a->n_terms; t++)
            if (s->terms[t]->backward) s->terms[t]->backward(ctx, s->terms[t], w.dS_all);
}

/* The tape inputs: q, k, v, then every term's inputs. */
static int gather_inputs(rg_tensor **in, rg_tensor *q, rg_tensor *k, rg_tensor *v,
                         rg_term *const *terms, int n_terms) {
    int n = 0;
    if (q) in[n++] = q, in[n++] = k, in[n++] = v;
    for (int t = 0; t < n_terms; t++)
        for (int i = 0; i < terms[t]->n_in; i++) {
            if (n == RG_MAX_INPUTS) rg_die("attention: score terms have too many inputs");
            in[n++] = terms[t]->in[i];
        }
    return n;
}

rg_tensor *rg_attention_core(rg_ctx *ctx, rg_tensor *q, rg_tensor *k, rg_tensor *v, real scale,
                             const rg_attn_opts *opts, rg_term *const *terms, int n_terms) {
    if (q->ndim != 4 || k->ndim != 4 || !rg_same_shape(k, v) || q->shape[0] != k->shape[0] ||
        q->shape[1] != k->shape[1] || q->shape[3] != k->shape[3])
        rg_die_shapes("attention_core", "need q [B,H,T,D], k and v [B,H,Tk,D]", q, k);
    if (n_terms > RG_MAX_INPUTS) rg_die("attention_core: %d score terms", n_terms);
    int B = q->shape[0], H = q->shape[1], T = q->shape[2], D = q->shape[3], Kc = k->shape[2];
    int diag = opts->mask.diag, Tk = rg_attn_keys(T, Kc, diag);
    for (int t = 0; t < n_terms; t++)
        if (terms[t]->B != B || terms[t]->H != H || terms[t]->T != T || terms[t]->Tk != Tk ||
            terms[t]->diag != diag)
            rg_die("attention_core: term %s was made for [%d,%d,%d,%d] diag %d, the call is "
                   "[%d,%d,%d,%d] diag %d",
                   terms[t]->name, terms[t]->B, terms[t]->H, terms[t]->T, terms[t]->Tk,
                   terms[t]->diag, B, H, T, Tk, diag);
    rg_tensor *out = rg_empty(ctx, 4, (int[]){B, H, T, D});
    kernel_call a = {.B = B,
                     .H = H,
                     .T = T,
                     .Tk = Tk,
                     .D = D,
                     .q = q->data,
                     .k = k->data,
                     .v = v->data,
                     .kv_bh = (long)Kc * D,
                     .o = out->data,
                     .scale = scale,
                     .opts = *opts,
                     .terms = terms,
                     .n_terms = n_terms};
    rg_tensor *in[RG_MAX_INPUTS];
    int n_in = gather_inputs(in, q, k, v, terms, n_terms);
    bool record = rg_needs_grad(ctx, in, n_in);
    real *P_all = NULL;
    if (record) /* the probabilities are kept for the backward */
        P_all = rg_arena_alloc(&ctx->arena, (size_t)B * H * T * Tk * sizeof(real) + 1);
    attend_all(ctx, &a, P_all);
    if (record) {
        attn_saved *s = rg_arena_alloc(&ctx->arena, sizeof *s);
        *s = (attn_saved){.call = a, .P = P_all};
        for (int t = 0; t < n_terms; t++) s->terms[t] = terms[t];
        s->call.terms = s->terms;
        rg_record(ctx, RG_OP_ATTENTION_CORE, attention_backward, out, in, n_in)->saved = s;
    }
    return out;
}

/* ---- score terms as a dense tensor (the unfused reference) ---------------------------- */

typedef struct {
    rg_term *terms[RG_MAX_INPUTS];
    int n_terms;
} terms_saved;

static void score_terms_backward(rg_ctx *ctx, rg_node *node) {
    const terms_saved *s = node->saved;
    for (int t = 0; t < s->n_terms; t++)
        if (s->terms[t]->backward) s->terms[t]->backward(ctx, s->terms[t], node->out->grad);
}

rg_tensor *rg_score_terms(rg_ctx *ctx, rg_term *const *terms, int n_terms) {
    if (n_terms < 1 || n_terms > RG_MAX_INPUTS) rg_die("score_terms: %d terms", n_terms);
    int B = terms[0]->B, H = terms[0]->H, T = terms[0]->T, Tk = terms[0]->Tk;
    int diag = terms[0]->diag;
    rg_tensor *E = rg_zeros(ctx, 4, (int[]){B, H, T, Tk});
    size_t most = 0;
    for (int t = 0; t < n_terms; t++)
        most = terms[t]->scratch_bytes > most ? terms[t]->scratch_bytes : most;
    char *scratch = rg_arena_alloc(&ctx->arena, most + 1);
    int lo[ROWS], hi[ROWS];
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int t = 0; t < n_terms; t++) {
                if (terms[t]->begin) terms[t]->begin(terms[t], b, h, scratch);
                for (int i0 = 0; i0 < T; i0 += ROWS) {
                    int n = i0 + ROWS < T ? ROWS : T - i0;
                    for (int r = 0; r < n; r++) lo[r] = 0, hi[r] = row_end(i0 + r, diag, Tk);
                    real *S = E->data + (((long)b * H + h) * T + i0) * Tk;
                    rg_term_block blk = {b, h, i0, n, lo, hi, S, Tk, scratch};
                    terms[t]->add(terms[t], &blk);
                }
            }
    rg_tensor *in[RG_MAX_INPUTS];
    int n_in = gather_inputs(in, NULL, NULL, NULL, terms, n_terms);
    if (rg_needs_grad(ctx, in, n_in)) {
        terms_saved *s = rg_arena_alloc(&ctx->arena, sizeof *s);
        s->n_terms = n_terms;
        for (int t = 0; t < n_terms; t++) s->terms[t] = terms[t];
        rg_record(ctx, RG_OP_SCORE_TERMS, score_terms_backward, E, in, n_in)->saved = s;
    }
    return E;
}

/* ---- what each input of an attention node is (relgrad graph) --------------------------- */

const char *rg_attention_term_name(const rg_node *node, int t) {
    if (node->kind == RG_OP_ATTENTION_CORE) {
        const attn_saved *s = node->saved;
        return t >= 0 && t < s->call.n_terms ? s->terms[t]->name : NULL;
    }
    if (node->kind == RG_OP_SCORE_TERMS) {
        const terms_saved *s = node->saved;
        return t >= 0 && t < s->n_terms ? s->terms[t]->name : NULL;
    }
    return NULL;
}

const char *rg_attention_input_role(const rg_node *node, int i) {
    rg_term *const *terms;
    int n_terms, at;
    if (node->kind == RG_OP_ATTENTION_CORE) {
        if (i < 3) return i == 0 ? "q" : i == 1 ? "k" : "v";
        const attn_saved *s = node->saved;
        terms = s->terms, n_terms = s->call.n_terms, at = 3;
    } else if (node->kind == RG_OP_SCORE_TERMS) {
        const terms_saved *s = node->saved;
        terms = s->terms, n_terms = s->n_terms, at = 0;
    } else {
        return NULL;
    }
    for (int t = 0; t < n_terms; t++) /* inputs in gather_inputs' order */
        for (int k = 0; k < terms[t]->n_in; k++, at++)
            if (at == i) return terms[t]->name;
    return NULL;
}

/* ---- a precomputed bias as a term ------------------------------------------------------ */

typedef struct {
    const real *E; /* [Bp,H,T,Tk] */
    int Bp;
} bias_data;

static void bias_add(const rg_term *t, const rg_term_block *blk) {
    const bias_data *d = t->data;
    int bp = d->Bp == 1 ? 0 : blk->b;
    const real *E = d->E + (((long)bp * t->H + blk->h) * t->T + blk->i0) * t->Tk;
    for (int r = 0; r < blk->n; r++)
        for (int j = blk->lo[r]; j < blk->hi[r]; j++)
            blk->S[r * blk->ld + j] += E[(long)r * t->Tk + j];
}

/* dE = dS, summed over the batch when E is shared by it (each thread owns
 * some heads, so no two threads add into one entry). */
static void bias_backward(rg_ctx *ctx, const rg_term *t, const real *dS) {
    const bias_data *d = t->data;
    if (!t->in[0]->requires_grad) return;
    real *dE = rg_grad(ctx, t->in[0]);
    long ss = (long)t->T * t->Tk;
    int B = t->B, H = t->H;
#pragma omp parallel for schedule(static) if (H > 1) num_threads(ctx->threads)
    for (int h = 0; h < H; h++)
        for (int b = 0; b < B; b++) {
            real *dst = dE + ((long)(d->Bp == 1 ? 0 : b) * H + h) * ss;
            const real *src = dS + ((long)b * H + h) * ss;
            for (long j = 0; j < ss; j++) dst[j] += src[j];
        }
}

/* The same additions a block of dS rows at a time (the kernel's
 * backward_rows, which walks each head's b in order on one thread, as the
 * loop above does): dE[bp, h, i0 + r, j] += dS[r, j] over the row's window
 * [lo, hi). Outside it dS is zero and bias_backward adds +0, which leaves
 * dE as it is (dE starts at +0 and never becomes -0), so the bits are the
 * same; the kernel then keeps no dS [B,H,T,Tk] for this term. */
static void bias_backward_rows(const rg_term *t, const rg_term_block *blk, real *const *grads) {
    const bias_data *d = t->data;
    real *dE = grads[0];
    if (!dE) return;
    int bp = d->Bp == 1 ? 0 : blk->b;
    real *dst = dE + (((long)bp * t->H + blk->h) * t->T + blk->i0) * t->Tk;
    for (int r = 0; r < blk->n; r++)
        for (int j = blk->lo[r]; j < blk->hi[r]; j++)
            dst[(long)r * t->Tk + j] += blk->S[r * blk->ld + j];
}

rg_term *rg_bias_term(rg_ctx *ctx, rg_tensor *E, int B, int diag) {
    if (E->ndim != 4 || (E->shape[0] != 1 && E->shape[0] != B))
        rg_die_shapes("bias_term", "E must be [B or 1,H,T,Tk]", E, NULL);
    rg_term *t = rg_arena_calloc(&ctx->arena, sizeof *t);
    bias_data *d = rg_arena_alloc(&ctx->arena, sizeof *d);
    *d = (bias_data){E->data, E->shape[0]};
    t->name = "bias";
    t->add = bias_add;
    t->backward = bias_backward;
    t->backward_rows = bias_backward_rows;
    t->in[0] = E, t->n_in = 1;
    t->B = B, t->H = E->shape[1], t->T = E->shape[2], t->Tk = E->shape[3], t->diag = diag;
    t->data = d;
    return t;
}
