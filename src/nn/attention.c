/* attention.c: multi-head causal self-attention and the positional part of
 * each scheme (SPEC section 2). Each scheme's scores are built from ops in
 * ops.h, so their gradients come from those ops' backward functions; the
 * derivations are in docs/schemes.md.
 *
 * Notation: query i (0..T-1) has absolute position offset + i; key j
 * (0..Tk-1, memory first) has offset - M + j; their distance is
 * i + M - j >= 0 where the causal mask lets them meet.
 */
#include "nn_internal.h"

#include <math.h>
#include <string.h>

/* ---- scheme formulas -------------------------------------------------------- */

/* ALiBi (Press et al. 2022): for H a power of two, s_h = 2^(-8(h+1)/H).
 * Otherwise take the slopes for the nearest lower power of two P, then
 * every other slope of the 2P set (its odd-numbered ones) until H are had. */
void rg_alibi_slopes(int H, double *slopes) {
    int P = 1;
    while (P * 2 <= H) P *= 2;
    for (int h = 0; h < P; h++) slopes[h] = pow(2.0, -8.0 * (h + 1) / P);
    for (int h = P, i = 0; h < H; h++, i += 2) slopes[h] = pow(2.0, -8.0 * (i + 1) / (2 * P));
}

/* T5 (Raffel et al. 2020), causal: half the buckets hold distances 0..e-1
 * exactly, the other half cover e..max_distance logarithmically, and every
 * longer distance shares the last bucket. */
int rg_t5_bucket(int n, int n_buckets, int max_distance) {
    int e = n_buckets / 2;
    if (n < e) return n;
    double f = log((double)n / e) / log((double)max_distance / e) * (n_buckets - e);
    int b = e + (int)floor(f);
    return b < n_buckets - 1 ? b : n_buckets - 1;
}

/* DeBERTa (He et al. 2021): relative distance clipped to [-K, K-1], shifted
 * to a row index of rel_emb. */
int rg_deberta_rel(int delta, int K) {
    int c = delta < -K ? -K : delta > K - 1 ? K - 1 : delta;
    return c + K;
}

void rg_sinusoid_row(int p, int d, real *out, bool interleaved) {
    for (int m = 0; m < d / 2; m++) {
        double w = pow(10000.0, -2.0 * m / d), s = sin(p * w), c = cos(p * w);
        if (interleaved)
            out[2 * m] = (real)s, out[2 * m + 1] = (real)c;
        else
            out[m] = (real)s, out[d / 2 + m] = (real)c;
    }
}

/* ---- per-forward positional tables --------------------------------------------- */

void rg_positions_build(rg_ctx *ctx, const rg_model *m, rg_positions *pos, int T, int M,
                        int offset) {
    const rg_config *c = &m->cfg;
    memset(pos, 0, sizeof *pos);
    int Tk = M + T, H = c->n_heads;
    pos->T = T, pos->M = M, pos->Tk = Tk, pos->offset = offset;
    size_t n_idx = (size_t)T * Tk * sizeof(int) + 1;
    switch (c->pos) {
    case RG_POS_ALIBI: {
        double *slopes = rg_arena_alloc(&ctx->arena, (size_t)H * sizeof(double));
        rg_alibi_slopes(H, slopes);
        pos->alibi = rg_new3(ctx, H, T, Tk);
        for (int h = 0; h < H; h++)
            for (int i = 0; i < T; i++)
                for (int j = 0; j <= i + M && j < Tk; j++)
                    pos->alibi->data[((long)h * T + i) * Tk + j] = (real)(-slopes[h] * (i + M - j));
        break;
    }
    case RG_POS_T5:
        pos->t5_bucket = rg_arena_alloc(&ctx->arena, n_idx);
        for (int i = 0; i < T; i++)
            for (int j = 0; j < Tk; j++)
                pos->t5_bucket[i * Tk + j] =
                    j <= i + M ? rg_t5_bucket(i + M - j, c->t5_buckets, c->t5_max_distance) : -1;
        break;
    case RG_POS_XL:
        pos->dist = rg_arena_alloc(&ctx->arena, n_idx);
        for (int i = 0; i < T; i++)
            for (int j = 0; j < Tk; j++) pos->dist[i * Tk + j] = j <= i + M ? i + M - j : -1;
        pos->xl_e = rg_new2(ctx, Tk, c->d_model); /* distances 0 .. Tk-1 */
        for (int n = 0; n < Tk; n++)
            rg_sinusoid_row(n, c->d_model, pos->xl_e->data + (long)n * c->d_model, false);
        break;
    case RG_POS_DEBERTA:
        pos->c2p = rg_arena_alloc(&ctx->arena, n_idx);
        pos->p2c = rg_arena_alloc(&ctx->arena, n_idx);
        for (int i = 0; i < T; i++)
            for (int j = 0; j < Tk; j++) {
                bool seen = j <= i + M;
                int delta = i + M - j; /* position of query minus position of key */
                pos->c2p[i * Tk + j] = seen ? rg_deberta_rel(delta, c->deberta_span) : -1;
                pos->p2c[i * Tk + j] = seen ? rg_deberta_rel(-delta, c->deberta_span) : -1;
            }
        break;
    default:
        break;
    }
}

/* ---- the schemes' scores -------------------------------------------------------------
 * Every scheme's scores have the form S = scale * q' k^T + E: a content term
 * (q' is q, rotated for rope, plus u for xl) and extra scores E (none for
 * none/sinusoidal/learned/rope). scheme_scores returns q', scale and E; the
 * attention then runs fused (rg_attention_core) or, as the tested reference,
 * from the separate ops. q [B,H,T,dh], k [B,H,Tk,dh]. */

typedef struct {
    rg_tensor *q; /* query used in the content term  */
    real scale;   /* of the content term             */
    rg_tensor *E; /* extra scores [B or 1,H,T,Tk], or NULL */
} scores;

/* A [rows, d] table projected by W [d, d] and split into heads: [1,H,rows,dh]. */
static rg_tensor *project_heads(rg_ctx *ctx, rg_tensor *table, rg_tensor *W, int H, int dh) {
    rg_tensor *p = rg_linear(ctx, table, W, NULL); /* (rows,d) */
    p = rg_reshape(ctx, p, 3, (int[]){1, table->shape[0], H * dh});
    return rg_split_heads(ctx, p, 0, H, dh); /* (1,H,rows,dh) */
}

/* [H,T,Tk] -> [1,H,T,Tk]: a per-head bias shared by the batch. */
static rg_tensor *shared_bias(rg_ctx *ctx, rg_tensor *bias) {
    return rg_reshape(ctx, bias, 4, (int[]){1, bias->shape[0], bias->shape[1], bias->shape[2]});
}

/* Transformer-XL (Dai et al. 2019):
 *   S[i,j] = ((q_i + u) . k_j + (q_i + v) . r(i-j)) / sqrt(dh),  r(n) = e(n) Wr^T.
 * The position term is computed for every (i, distance n) as one matmul,
 * then each (i, j) picks its column n = i - j (rel_gather). */
static scores xl_scores(rg_ctx *ctx, const rg_positions *pos, rg_layer *L, rg_tensor *q, int H,
                        int dh) {
    real scale = (real)(1 / sqrt((double)dh));
    rg_tensor *R = project_heads(ctx, pos->xl_e, L->r_w, H, dh); /* (1,H,Tk,dh) */
    rg_tensor *bd =
        rg_matmul(ctx, rg_add_head_bias(ctx, q, L->r_v), R, false, true); /* (B,H,T,n) */
    bd = rg_rel_gather(ctx, bd, pos->dist, pos->T, pos->Tk, false);       /* (B,H,T,Tk) */
    return (scores){rg_add_head_bias(ctx, q, L->r_u), scale, rg_scale(ctx, bd, scale)};
}

/* DeBERTa (He et al. 2021, eq. 4), disentangled attention:
 *   S[i,j] = (q_i . k_j + q_i . Kr[rel(i,j)] + k_j . Qr[rel(j,i)]) / sqrt(3 dh)
 * with Kr = rel_emb Wpk^T, Qr = rel_emb Wpq^T. c2p: all (i, r) products then
 * pick r = rel(i,j); p2c: all (j, r) products then pick r = rel(j,i) from
 * row j (a transposed gather). */
static scores deberta_scores(rg_ctx *ctx, rg_model *m, const rg_positions *pos, rg_layer *L,
                             rg_tensor *q, rg_tensor *k, int H, int dh) {
    real scale = (real)(1 / sqrt(3.0 * dh));
    rg_tensor *Kr = project_heads(ctx, m->rel_emb, L->pos_k, H, dh); /* (1,H,2K,dh) */
    rg_tensor *Qr = project_heads(ctx, m->rel_emb, L->pos_q, H, dh);
    rg_tensor *c2p =
        rg_rel_gather(ctx, rg_matmul(ctx, q, Kr, false, true), pos->c2p, pos->T, pos->Tk, false);
    rg_tensor *p2c =
        rg_rel_gather(ctx, rg_matmul(ctx, k, Qr, false, true), pos->p2c, pos->T, pos->Tk, true);
    return (scores){q, scale, rg_scale(ctx, rg_add(ctx, c2p, p2c), scale)};
}

static scores scheme_scores(rg_ctx *ctx, rg_model *m, rg_layer *L, const rg_positions *pos,
                            rg_tensor *q, rg_tensor *k, int H, int dh) {
    const rg_config *c = &m->cfg;
    real scale = (real)(1 / sqrt((double)dh));
    switch (c->pos) {
    case RG_POS_ALIBI: /* content minus slope times distance */
        return (scores){q, scale, shared_bias(ctx, pos->alibi)};
    case RG_POS_T5: /* content plus a learned bias per (distance bucket, head) */
        return (scores){
            q, scale,
            shared_bias(ctx, rg_bucket_bias(ctx, m->t5_bias, pos->t5_bucket, pos->T, pos->Tk))};
    case RG_POS_XL:
        return xl_scores(ctx, pos, L, q, H, dh);
    case RG_POS_DEBERTA:
        return deberta_scores(ctx, m, pos, L, q, k, H, dh);
    default: /* none, sinusoidal, learned: position entered with the embeddings;
                rope: q and k were rotated before */
        return (scores){q, scale, NULL};
    }
}

/* The reference path: the same attention from separate ops. */
static rg_tensor *attention_unfused(rg_ctx *ctx, scores sc, rg_tensor *k, rg_tensor *v, int diag) {
    rg_tensor *S = rg_scale(ctx, rg_matmul(ctx, sc.q, k, false, true), sc.scale); /* (B,H,T,Tk) */
    if (sc.E && sc.E->shape[0] == 1 && S->shape[0] > 1)
        S = rg_add_bcast(ctx, S, rg_reshape(ctx, sc.E, 3, sc.E->shape + 1));
    else if (sc.E)
        S = rg_add(ctx, S, rg_reshape(ctx, sc.E, 4, S->shape));
    rg_tensor *P = rg_softmax_causal(ctx, S, diag);
    return rg_matmul(ctx, P, v, false, false); /* (B,H,T,dh) */
}

/* ---- attention ---------------------------------------------------------------------------- */

rg_tensor *rg_attention(rg_ctx *ctx, rg_model *m, rg_layer *L, const rg_positions *pos,
                        rg_tensor *a) {
    const rg_config *c = &m->cfg;
    int d = c->d_model, H = c->n_heads, dh = m->dh, M = pos->M, Tk = pos->Tk;
    rg_tensor *qkv = rg_linear(ctx, a, L->qkv_w, L->qkv_b);           /* (B,Tk,3d) */
    rg_tensor *q_rows = M > 0 ? rg_slice_time(ctx, qkv, M, Tk) : qkv; /* (B,T,3d)  */
    rg_tensor *q = rg_split_heads(ctx, q_rows, 0, H, dh);             /* (B,H,T,dh) */
    rg_tensor *k = rg_split_heads(ctx, qkv, d, H, dh);                /* (B,H,Tk,dh) */
    rg_tensor *v = rg_split_heads(ctx, qkv, 2 * d, H, dh);            /* (B,H,Tk,dh) */
    if (c->pos == RG_POS_ROPE) { /* rotate q and k by their absolute positions */
        q = rg_rope(ctx, q, pos->offset, (real)c->rope_base, (real)c->rope_scale);
        k = rg_rope(ctx, k, pos->offset - M, (real)c->rope_base, (real)c->rope_scale);
    }
    scores sc = scheme_scores(ctx, m, L, pos, q, k, H, dh);
    /* key j is visible from query i when j <= i + M */
    rg_tensor *o = m->unfused_attention ? attention_unfused(ctx, sc, k, v, M)
                                        : rg_attention_core(ctx, sc.q, k, v, sc.E, sc.scale, M);
    return rg_linear(ctx, rg_merge_heads(ctx, o), L->proj_w, L->proj_b); /* (B,T,d) */
}
