/* model_check.c: the gradient check of the whole model (gradcheck.h:
 * rg_gc_model), shared by tests/test_model.c and `relgrad gradcheck model`.
 *
 * The model's own parameter tensors are the checked inputs. A scheme whose
 * function has kinks (a relu) moves its parameters off them for the pairs
 * this batch actually has (its check_prepare hook), and says which of its
 * parameters have a gradient that is zero by construction (checked to be ~0
 * instead of by differences of rounding noise) or need a finer step
 * (check_rule): src/schemes/scheme.h. The model and the batch are made by
 * the set-up below, which tests/test_model.c uses for its other tests too.
 */
#include "relgrad/gradcheck.h"
#include "schemes/scheme.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    rg_model *m;
    int B, T;
    int *tokens;    /* [B,T] */
    const int *pos; /* [B,T] or NULL: offset + t */
    int offset;
    rg_memory *mem0; /* memory before the checked segment (copied per call) */
} model_arg;

static rg_tensor *f_model(rg_ctx *ctx, rg_tensor **inputs, void *arg) {
    (void)inputs; /* the inputs are the model's own parameter tensors */
    model_arg *a = arg;
    if (!a->mem0)
        return rg_model_forward(ctx, a->m, a->tokens, a->pos, NULL, a->B, a->T, a->offset, NULL);
    rg_memory mem = *a->mem0;
    size_t rows = (size_t)mem.B * mem.cap;
    mem.data = rg_arena_alloc(&ctx->arena, rows * mem.n_layers * mem.d * sizeof(real));
    mem.pos = rg_arena_alloc(&ctx->arena, rows * sizeof(int));
    memcpy(mem.data, a->mem0->data, rows * mem.n_layers * mem.d * sizeof(real));
    memcpy(mem.pos, a->mem0->pos, rows * sizeof(int));
    return rg_model_forward(ctx, a->m, a->tokens, a->pos, NULL, a->B, a->T, a->offset, &mem);
}

/* ---- the set-up shared with the model's tests -------------------------------------------- */

int rg_gc_model_init(rg_model *m, const rg_model_config *mc, uint64_t seed, rg_error *err) {
    if (rg_model_init(m, mc, seed, err)) return 2;
    /* biases, u, v and LayerNorm start at constants; move them too so their
     * checks are not at a special point */
    rg_rng rng;
    rg_rng_seed(&rng, seed + 1);
    for (long i = 0; i < m->n_values; i++) m->values[i] += (real)(0.1 * rg_rng_normal(&rng));
    return 0;
}

void rg_gc_random_tokens(int *tokens, int n, int V, uint64_t seed) {
    rg_rng rng;
    rg_rng_seed(&rng, seed);
    for (int i = 0; i < n; i++) tokens[i] = rg_rng_int(&rng, 0, V - 1);
}

void rg_gc_random_positions(int *pos, int B, int T, int L, uint64_t seed) {
    rg_batch b;
    rg_batch_init(&b);
    rg_rng rng;
    rg_rng_seed(&rng, seed);
    b.B = B, b.T = T;
    b.pos_buf = pos; /* written in place; nothing of b is allocated */
    rg_batch_random_positions(&b, L, &rng);
}

/* ---- the check ---------------------------------------------------------------------------- */

/* Every layer's scheme prepares its parameters for the check (kinks). */
static int prepare_schemes(rg_model *m, const int *qpos, const int *kpos, int B, int T, int Tk,
                           int diag, double h, rg_error *err) {
    rg_rng rng;
    rg_rng_seed(&rng, 99);
    for (int l = 0; l < m->cfg.n_layers; l++) {
        const rg_layer *L = &m->layers[l];
        const rg_scheme *s = rg_scheme_get(L->scheme);
        if (!s->check_prepare) continue;
        rg_scheme_call call = {.m = m,
                               .opts = &m->cfg.opts,
                               .layer = l,
                               .B = B,
                               .H = m->cfg.n_heads,
                               .T = T,
                               .Tk = Tk,
                               .dh = m->dh,
                               .diag = diag,
                               .shared = m->shared[L->scheme],
                               .params = L->sp};
        char why[256];
        if (s->check_prepare(&call, qpos, kpos, B, h, &rng, why, sizeof why)) {
            snprintf(err->msg, sizeof err->msg, "gradcheck: %s", why);
            return 2;
        }
    }
    return 0;
}

/* How the check treats parameter p of m: its scheme's rule for it, or
 * RG_CHECK_DIFF when no scheme owns it or the scheme has no rule. */
static rg_check_rule rule_of(const rg_model *m, const rg_param *p) {
    for (int l = 0; l < m->cfg.n_layers; l++) {
        const rg_scheme *s = rg_scheme_get(m->layers[l].scheme);
        for (int k = 0; s->check_rule && k < RG_SCHEME_PARAMS; k++)
            if (m->layers[l].sp[k] == &p->t) return s->check_rule(k);
    }
    return RG_CHECK_DIFF;
}

void rg_gc_model_report_free(rg_gc_model_report *rep) {
    free(rep->params);
    free(rep->per_param);
    free(rep->left_out);
    memset(rep, 0, sizeof *rep);
}

int rg_gc_model(const rg_model_config *mc, const rg_gc_model_options *opt, rg_gc_model_report *rep,
                rg_error *err) {
    memset(rep, 0, sizeof *rep);
    int B = opt->B > 0 ? opt->B : 2, T = opt->T > 0 ? opt->T : 5, L = opt->random_positions;
    if (L > 0 && mc->mem_len > 0) {
        snprintf(err->msg, sizeof err->msg,
                 "gradcheck: random_positions = %d with mem_len = %d: random positions need "
                 "mem_len = 0",
                 L, mc->mem_len);
        return 2;
    }
    if (L > 0 && L < T) {
        snprintf(err->msg, sizeof err->msg,
                 "gradcheck: random_positions = %d cannot give %d distinct positions (T); raise "
                 "it to at least %d",
                 L, T, T);
        return 2;
    }
    rg_model m;
    if (rg_gc_model_init(&m, mc, opt->seed ? opt->seed : 7, err)) return 2;

    int *tokens = rg_xmalloc((size_t)B * T * sizeof(int), "gradcheck tokens");
    int *pos = rg_xmalloc((size_t)B * T * sizeof(int), "gradcheck positions");
    model_arg a = {.m = &m, .B = B, .T = T, .tokens = tokens};
    rg_gc_random_tokens(tokens, B * T, m.V, 3);
    if (L > 0) rg_gc_random_positions(pos, B, T, L, 17), a.pos = pos;
    rg_memory mem;
    int M = 0;
    if (mc->mem_len) { /* fill the memory with one earlier segment, as dump does */
        rg_memory_init(&mem, &m, B);
        rg_ctx ctx;
        rg_ctx_init(&ctx, 1);
        int *first = rg_xmalloc((size_t)B * T * sizeof(int), "gradcheck tokens");
        rg_gc_random_tokens(first, B * T, m.V, 4);
        rg_set_no_grad(&ctx, true);
        rg_model_forward(&ctx, &m, first, NULL, NULL, B, T, 0, &mem);
        rg_ctx_free(&ctx);
        free(first);
        a.offset = T;
        a.mem0 = &mem;
        M = mem.len;
    }
    /* the checked segment's positions: queries, then memory rows and queries */
    int *qp = rg_xmalloc((size_t)B * T * sizeof(int), "gradcheck positions");
    int *kp = rg_xmalloc((size_t)B * (M + T) * sizeof(int), "gradcheck positions");
    for (int b = 0; b < B; b++) {
        for (int t = 0; t < T; t++) qp[b * T + t] = a.pos ? a.pos[b * T + t] : a.offset + t;
        for (int j = 0; j < M; j++) kp[b * (M + T) + j] = mem.pos[b * mem.cap + j];
        for (int t = 0; t < T; t++) kp[b * (M + T) + M + t] = qp[b * T + t];
    }
    int rc = prepare_schemes(&m, qp, kp, B, T, M + T, M, RG_GC_EPS, err);
    free(qp), free(kp);

    /* Parameters that move a scheme's kinks (FIRE's c and L move every z)
     * would carry pre-activations across them unless the step is small: in
     * float64 the step is 1e-4 (the kinks sit >= 2.4e-3 away); float32's
     * step of 1e-2 cannot avoid them, so there they are left out. */
    rep->n_params = m.n_params;
    rep->params = rg_xcalloc((size_t)m.n_params, sizeof *rep->params, "gradcheck names");
    rep->per_param = rg_xcalloc((size_t)m.n_params, sizeof *rep->per_param, "gradcheck results");
    rep->left_out = rg_xcalloc((size_t)m.n_params, sizeof *rep->left_out, "gradcheck results");
    rg_tensor **inputs = rg_xmalloc((size_t)m.n_params * sizeof *inputs, "gradcheck inputs");
    int *param_of = rg_xmalloc((size_t)m.n_params * sizeof *param_of, "gradcheck inputs");
    int n_inputs = 0;
    bool fine = false;
    for (int i = 0; i < m.n_params; i++) {
        rg_check_rule rule = rule_of(&m, &m.params[i]);
        rep->params[i] = m.params[i];
        rep->params[i].t.data = rep->params[i].t.grad = NULL; /* the model is freed */
        rep->params[i].t.name = rep->params[i].name;
        fine |= rule == RG_CHECK_FINE_STEP;
        rep->left_out[i] = rule == RG_CHECK_ZERO;
        if (!rep->left_out[i] && !(sizeof(real) == 4 && rule == RG_CHECK_FINE_STEP)) {
            param_of[n_inputs] = i;
            inputs[n_inputs++] = &m.params[i].t;
        }
    }
    char pos_text[256];
    snprintf(rep->what, sizeof rep->what, "model %s mem_len=%d%s",
             rg_scheme_list_text(&mc->schemes, ',', pos_text, sizeof pos_text), mc->mem_len,
             L > 0 ? " random positions" : "");
    rep->h = fine && sizeof(real) == 8 ? 1e-4 : RG_GC_EPS;
    rep->tol = opt->tol > 0 ? opt->tol : RG_GC_TOL_MODEL;
    if (rc == 0) {
        rg_gc_input *per = rg_xcalloc((size_t)n_inputs, sizeof *per, "gradcheck results");
        rg_gc_options go = {.h = rep->h,
                            .per_input = per,
                            .observer = opt->observer,
                            .quiet = opt->quiet,
                            .each = opt->each,
                            .each_arg = opt->each_arg};
        bool ok =
            rg_gc_check_opts(rep->what, f_model, &a, inputs, n_inputs, rep->tol, &go, &rep->res);
        for (int k = 0; k < n_inputs; k++) rep->per_param[param_of[k]] = per[k];
        free(per);
        rep->worst_name = rep->params[param_of[rep->res.worst_input]].name;
        rep->worst_index = rep->res.worst_index;
        /* the gradients left out: ~0 next to the largest one (the check left
         * the analytic gradients of the whole model in place) */
        for (int i = 0; i < m.n_params; i++)
            for (long j = 0; j < m.params[i].t.size; j++) {
                double g = fabs((double)m.params[i].t.grad[j]);
                rep->largest = fmax(rep->largest, g);
                if (rep->left_out[i]) rep->left_out_max = fmax(rep->left_out_max, g);
            }
        rep->left_out_ok = rep->left_out_max <= (sizeof(real) == 8 ? 1e-12 : 1e-5) * rep->largest;
        rep->ok = ok && rep->left_out_ok;
    }
    free(inputs), free(param_of), free(tokens), free(pos);
    if (mc->mem_len) rg_memory_free(&mem);
    rg_model_free(&m);
    if (rc) rg_gc_model_report_free(rep);
    return rc;
}
