/* registry.c: the list of positional schemes, and helpers they share.
 *
 * Adding a scheme: write src/schemes/<name>.c defining one rg_scheme (see
 * scheme.h and docs/adding-a-scheme.md) and add a line X(<name>) to SCHEMES
 * below. Config names, key table, help, parameters, training and decoding
 * all follow from this list. A scheme's id is its index here, so new schemes go at the end
 * (ids are not stored in files: checkpoints store names).
 */
#include "scheme.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* The one list. Each X(name) names the struct `rg_scheme_<name>` defined in
 * src/schemes/<name>.c; the list is expanded twice below (an X-macro), once
 * to declare the structs and once to fill the table, so a scheme is added by
 * one line here. */
#define SCHEMES(X)                                                                                 \
    X(none)                                                                                        \
    X(sinusoidal)                                                                                  \
    X(learned)                                                                                     \
    X(rope)                                                                                        \
    X(alibi)                                                                                       \
    X(t5)                                                                                          \
    X(xl)                                                                                          \
    X(deberta)                                                                                     \
    X(fire)                                                                                        \
    X(cope)

#define DECLARE(name) extern const rg_scheme rg_scheme_##name;
#define ENTRY(name)   &rg_scheme_##name,
SCHEMES(DECLARE)
static const rg_scheme *const REGISTRY[] = {SCHEMES(ENTRY)};
enum { N_SCHEMES = sizeof REGISTRY / sizeof REGISTRY[0] };
_Static_assert(N_SCHEMES <= RG_MAX_SCHEMES, "raise RG_MAX_SCHEMES in schemes.h");

int rg_scheme_count(void) {
    return N_SCHEMES;
}

const rg_scheme *rg_scheme_get(int id) {
    if (id < 0 || id >= N_SCHEMES) rg_die("no positional scheme with id %d", id);
    return REGISTRY[id];
}

const char *rg_scheme_name(int id) {
    return id >= 0 && id < N_SCHEMES ? REGISTRY[id]->name : "?";
}

const char *rg_scheme_summary(int id) {
    return id >= 0 && id < N_SCHEMES ? REGISTRY[id]->summary : "?";
}

int rg_scheme_find(const char *name) {
    for (int i = 0; i < N_SCHEMES; i++)
        if (!strcmp(name, REGISTRY[i]->name)) return i;
    return -1;
}

bool rg_scheme_is_relative(int id) {
    return rg_scheme_get(id)->flags & RG_SCHEME_RELATIVE;
}

bool rg_scheme_is_shift_invariant(int id) {
    unsigned f = rg_scheme_get(id)->flags;
    return (f & RG_SCHEME_RELATIVE) && !(f & RG_SCHEME_SHIFT_VARIANT);
}

bool rg_scheme_reads_positions(int id) {
    return !(rg_scheme_get(id)->flags & RG_SCHEME_NO_POSITIONS);
}

const char *rg_scheme_names_text(char *buf, unsigned long n) {
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < N_SCHEMES && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, "%s%s", i ? ", " : "", REGISTRY[i]->name);
    return buf;
}

/* ---- helpers ---------------------------------------------------------------------- */

rg_tensor *rg_project_heads(rg_ctx *ctx, rg_tensor *table, rg_tensor *W, int H, int dh) {
    rg_tensor *p = rg_linear(ctx, table, W, NULL); /* (rows,d) */
    p = rg_reshape(ctx, p, 3, (int[]){1, table->shape[0], H * dh});
    return rg_split_heads(ctx, p, 0, H, dh); /* (1,H,rows,dh) */
}

rg_term *rg_term_new(rg_scheme_call *call, const char *name, void *data) {
    rg_term *t = rg_arena_calloc(&call->ctx->arena, sizeof *t);
    t->name = name;
    t->B = call->B, t->H = call->H, t->T = call->T, t->Tk = call->Tk, t->diag = call->diag;
    t->data = data;
    if (call->n_terms == RG_MAX_TERMS) rg_die("scheme: more than %d score terms", RG_MAX_TERMS);
    call->terms[call->n_terms++] = t;
    return t;
}

int rg_dense_positions(rg_scheme_call *call, const int **qpos, const int **kpos) {
    const rg_attn_pos *p = call->pos;
    bool shared = p->q_stride == 0 && p->k_stride == 0;
    int Bp = shared ? 1 : call->B, T = call->T, Tk = call->Tk;
    if (shared || (p->q_stride == T && p->k_stride == Tk)) { /* already dense */
        *qpos = p->q, *kpos = p->k;
        return Bp;
    }
    int *q = rg_arena_alloc(&call->ctx->arena, (size_t)Bp * T * sizeof(int) + 1);
    int *k = rg_arena_alloc(&call->ctx->arena, (size_t)Bp * Tk * sizeof(int) + 1);
    for (int b = 0; b < Bp; b++) {
        for (int i = 0; i < T; i++) q[(long)b * T + i] = rg_qpos(p, b, i);
        for (int j = 0; j < Tk; j++) k[(long)b * Tk + j] = rg_kpos(p, b, j);
    }
    *qpos = q, *kpos = k;
    return Bp;
}
