/* attention.c: one layer's multi-head causal self-attention in training,
 * with the layer's positional scheme plugged in through its hooks
 * (src/schemes/scheme.h): it may rotate queries and keys, and it may add
 * score terms and change the content query and scale. The attention then
 * runs in the fused kernel (rg_attention_core) or, as the reference it is
 * tested against, from separate ops.
 *
 * Notation: query i (0..T-1) and key j (0..Tk-1, memory first); key j is
 * visible from query i when j <= i + M.
 */
#include "nn_internal.h"

#include <math.h>

rg_scheme_call rg_scheme_call_for(rg_ctx *ctx, const rg_model *m, const rg_scheme_opts *opts, int l,
                                  const rg_attn_pos *pos, rg_tensor *q, int Tk, int diag) {
    const rg_layer *L = &m->layers[l];
    rg_scheme_call call = {
        .ctx = ctx,
        .m = m,
        .opts = opts,
        .layer = l,
        .pos = pos,
        .B = q->shape[0],
        .H = q->shape[1],
        .T = q->shape[2],
        .Tk = Tk,
        .dh = q->shape[3],
        .diag = diag,
        .q = q,
        .shared = m->shared[L->scheme],
        .params = L->sp,
        .q_content = q,
        .scale = (real)(1 / sqrt((double)q->shape[3])),
    };
    return call;
}

/* The reference path: the same attention from separate ops. */
static rg_tensor *attention_unfused(rg_ctx *ctx, const rg_scheme_call *call, rg_tensor *k,
                                    rg_tensor *v) {
    rg_tensor *S = rg_matmul(ctx, call->q_content, k, false, true); /* (B,H,T,Tk) */
    S = rg_scale(ctx, S, call->scale);
    if (call->n_terms) S = rg_add(ctx, S, rg_score_terms(ctx, call->terms, call->n_terms));
    rg_tensor *P = rg_softmax_causal(ctx, S, call->diag);
    return rg_matmul(ctx, P, v, false, false); /* (B,H,T,dh) */
}

rg_tensor *rg_attention(rg_ctx *ctx, rg_model *m, int l, const rg_attn_pos *pos, rg_tensor *a,
                        int M) {
    rg_layer *L = &m->layers[l];
    const rg_scheme *s = rg_scheme_get(L->scheme);
    const rg_scheme_opts *opts = &m->cfg.opts;
    int d = m->cfg.d_model, H = m->cfg.n_heads, dh = m->dh, Tk = a->shape[1];
    rg_tensor *qkv = rg_linear(ctx, a, L->qkv_w, L->qkv_b);           /* (B,Tk,3d) */
    rg_tensor *q_rows = M > 0 ? rg_slice_time(ctx, qkv, M, Tk) : qkv; /* (B,T,3d)  */
    rg_tensor *q = rg_split_heads(ctx, q_rows, 0, H, dh);             /* (B,H,T,dh) */
    rg_tensor *k = rg_split_heads(ctx, qkv, d, H, dh);                /* (B,H,Tk,dh) */
    rg_tensor *v = rg_split_heads(ctx, qkv, 2 * d, H, dh);            /* (B,H,Tk,dh) */
    /* the scheme's hooks record under its origin (relgrad graph colours them) */
    rg_origin was = rg_set_origin(ctx, (rg_origin){l, L->scheme});
    if (s->rotate) { /* by each one's absolute position */
        q = s->rotate(ctx, opts, q, pos->q, pos->q_stride);
        k = s->rotate(ctx, opts, k, pos->k, pos->k_stride);
    }
    rg_scheme_call call = rg_scheme_call_for(ctx, m, opts, l, pos, q, Tk, M);
    call.k = k, call.k_data = k->data, call.k_bh = (long)Tk * dh;
    if (s->scores) s->scores(&call);
    rg_set_origin(ctx, was);
    rg_tensor *o = m->unfused_attention ? attention_unfused(ctx, &call, k, v)
                                        : rg_attention_core(ctx, call.q_content, k, v, call.scale,
                                                            M, call.terms, call.n_terms);
    return rg_linear(ctx, rg_merge_heads(ctx, o), L->proj_w, L->proj_b); /* (B,T,d) */
}
