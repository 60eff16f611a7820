/* block.c: the one Transformer block (SPEC section 1): the attention
 * sublayer, with the layer's positional scheme plugged in through its hooks
 * (src/schemes/scheme.h), and the MLP sublayer. Training (with or without
 * segment memory), teacher-forced evaluation and cached greedy decoding all
 * run this code; they differ only in where the keys before the current rows
 * come from (rg_fwd) and in the mask. A copy of the probabilities, for
 * relgrad attention, goes where the cache or the forward says (rg_fwd).
 *
 * Notation: queries i = 0..T-1 are the current rows; keys j = 0..Tk-1 are
 * the memory's or cache's rows first, then the current ones; the rows whose
 * keys and values this call computes are the last Tr of them (Tr = M + T
 * with memory, T otherwise).
 */
#include "nn_internal.h"

#include <math.h>

/* The reference path: the same attention from separate ops (tests compare
 * the fused kernel with it). */
static rg_tensor *attention_unfused(rg_ctx *ctx, const rg_scheme_call *call, rg_tensor *k,
                                    rg_tensor *v, const rg_attn_mask *mask) {
    rg_tensor *S = rg_matmul(ctx, call->q_content, k, false, true); /* (B,H,T,Tk) */
    S = rg_scale(ctx, S, call->scale);
    if (call->n_terms) S = rg_add(ctx, S, rg_score_terms(ctx, call->terms, call->n_terms));
    rg_tensor *P = rg_softmax_masked(ctx, S, mask);
    return rg_matmul(ctx, P, v, false, false); /* (B,H,T,dh) */
}

/* The scheme's position tables for this call: made through ops (training),
 * or kept by the cache. */
static void scheme_tables(const rg_scheme *s, const rg_fwd *f, int l, rg_scheme_call *call,
                          rg_tensor **out) {
    if (f->kv) {
        rg_kv_tables(f->kv, l, s, call, out);
        return;
    }
    int lo = call->pos->min_dist, hi = call->pos->max_dist;
    s->tables(call, &lo, &hi, out);
    call->tables = out, call->table_lo = lo;
}

/* h + Attn(LN1(rows)): rows (B,Tr,d) are the layer's inputs whose keys and
 * values this call makes (memory rows, then h's), h (B,T,d) the current ones. */
static rg_tensor *attention_sublayer(rg_ctx *ctx, rg_model *m, int l, rg_tensor *h, rg_tensor *rows,
                                     const rg_fwd *f) {
    rg_layer *L = &m->layers[l];
    const rg_scheme *s = rg_scheme_get(L->scheme);
    const rg_attn_pos *pos = f->pos;
    int d = m->cfg.d_model, H = m->cfg.n_heads, dh = m->dh;
    int B = h->shape[0], T = h->shape[1], Tr = rows->shape[1], Tk = f->M + f->p0 + T;
    rg_tensor *a = rg_layernorm(ctx, rows, L->ln1_w, L->ln1_b); /* (B,Tr,d)   */
    rg_tensor *qkv = rg_linear(ctx, a, L->qkv_w, L->qkv_b);     /* (B,Tr,3d)  */
    rg_tensor *q_rows = Tr > T ? rg_slice_time(ctx, qkv, Tr - T, Tr) : qkv;
    rg_tensor *q = rg_split_heads(ctx, q_rows, 0, H, dh);  /* (B,H,T,dh)  */
    rg_tensor *k = rg_split_heads(ctx, qkv, d, H, dh);     /* (B,H,Tr,dh) */
    rg_tensor *v = rg_split_heads(ctx, qkv, 2 * d, H, dh); /* (B,H,Tr,dh) */
    /* the scheme's hooks record under its origin (relgrad graph colours them) */
    rg_origin was = rg_set_origin(ctx, (rg_origin){l, L->scheme});
    if (s->rotate) { /* each by its absolute position; k's rows are the last Tr keys */
        q = s->rotate(ctx, f->opts, q, pos->q, pos->q_stride);
        k = s->rotate(ctx, f->opts, k, pos->k + (Tk - Tr), pos->k_stride);
    }
    rg_tensor *K = k, *V = v; /* the keys and values attended over: (B,H,Kc,dh) */
    rg_attn_opts opts = {.mask = f->mask};
    if (f->kv) {
        rg_kv_append(ctx, f->kv, l, k, v, f->p0, &K, &V, &opts);
    } else if (f->probs) { /* layer l's [B,H,T,Tk] block (no memory: Tk = T) */
        opts.probs = f->probs + (long)l * B * H * T * Tk;
        opts.probs_bh = (long)T * Tk, opts.probs_ld = Tk;
    }
    rg_scheme_call call = {
        .ctx = ctx,
        .m = m,
        .opts = f->opts,
        .layer = l,
        .pos = pos,
        .B = B,
        .H = H,
        .T = T,
        .Tk = Tk,
        .dh = dh,
        .diag = f->mask.diag,
        .q = q,
        .k = K,
        .shared = m->shared[L->scheme],
        .params = L->sp,
        .memo = &f->memo[L->scheme],
        .q_content = q,
        .scale = (real)(1 / sqrt((double)dh)),
    };
    rg_tensor *tables[RG_MAX_TABLES];
    if (s->tables) scheme_tables(s, f, l, &call, tables);
    if (s->scores) s->scores(&call);
    rg_set_origin(ctx, was);
    rg_tensor *o;
    if (m->unfused_attention) {
        if (f->kv || f->probs)
            rg_die("attention: the unfused reference runs without a key/value cache or a "
                   "probability output");
        o = attention_unfused(ctx, &call, K, V, &f->mask);
    } else {
        o = rg_attention_core(ctx, call.q_content, K, V, call.scale, &opts, call.terms,
                              call.n_terms); /* (B,H,T,dh) */
    }
    return rg_add(ctx, h, rg_linear(ctx, rg_merge_heads(ctx, o), L->proj_w, L->proj_b));
}

/* h + fc2(GELU(fc1(LN2(h)))). h (B,T,d). */
static rg_tensor *mlp_sublayer(rg_ctx *ctx, rg_layer *L, rg_tensor *h) {
    rg_tensor *z = rg_layernorm(ctx, h, L->ln2_w, L->ln2_b);
    z = rg_linear(ctx, rg_gelu(ctx, rg_linear(ctx, z, L->fc1_w, L->fc1_b)), L->fc2_w, L->fc2_b);
    return rg_add(ctx, h, z);
}

rg_tensor *rg_block(rg_ctx *ctx, rg_model *m, int l, rg_tensor *h, const rg_fwd *f) {
    rg_origin was = rg_set_origin(ctx, (rg_origin){l, -1}); /* block l's ops */
    rg_tensor *rows = h;
    if (f->mem && f->mem->cap > 0) {
        if (f->M > 0) rows = rg_concat_time(ctx, rg_memory_rows(ctx, f->mem, l), h); /* (B,M+T,d) */
        rg_memory_keep(f->mem, l, rows);
    }
    h = attention_sublayer(ctx, m, l, h, rows, f); /* h' = h + attn */
    h = mlp_sublayer(ctx, &m->layers[l], h);       /* (B,T,d)       */
    rg_set_origin(ctx, was);
    return h;
}
