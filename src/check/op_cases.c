/* op_cases.c: every op of ops.h as a gradient check at sizes the user
 * picks (`relgrad gradcheck OP B=2 T=5 ...`): its inputs, drawn from N(0, 1)
 * with a seed, and the function the checker differentiates. Ops that only
 * move data (reshape, split_heads, merge_heads, concat_time, slice_time) are
 * multiplied by a second random input, so that a wrong index map cannot hide
 * behind equal values (as in tests/test_gradcheck.c). */
#include "relgrad/gradcheck.h"
#include "schemes/scheme.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T_(...)                                                                                    \
    rg_tensor_random(rng, sizeof((int[]){__VA_ARGS__}) / sizeof(int), (int[]){__VA_ARGS__}, 1.0,   \
                     NULL)

static int too_small(rg_op_check *st, const char *op, const char *what) {
    snprintf(st->why, sizeof st->why, "gradcheck %s: %s", op, what);
    return -1;
}

/* ---- linear algebra and elementwise ------------------------------------------------- */

static rg_tensor *f_linear(rg_ctx *c, rg_tensor **x, void *a) {
    (void)a;
    return rg_linear(c, x[0], x[1], x[2]);
}
static int s_linear(rg_op_check *st, rg_rng *rng) {
    rg_tensor **x = st->x;
    const char **nm = st->names;
    x[0] = T_(st->s.N, st->s.in), x[1] = T_(st->s.out, st->s.in), x[2] = T_(st->s.out);
    nm[0] = "x", nm[1] = "W", nm[2] = "b";
    return 3;
}

static rg_tensor *f_matmul(rg_ctx *c, rg_tensor **x, void *a) {
    (void)a;
    return rg_matmul(c, x[0], x[1], false, false);
}
static int s_matmul(rg_op_check *st, rg_rng *rng) {
    rg_tensor **x = st->x;
    const char **nm = st->names;
    const rg_op_sizes *s = &st->s;
    x[0] = T_(s->B, s->H, s->T, s->D), x[1] = T_(s->B, s->H, s->D, s->Tk);
    nm[0] = "a", nm[1] = "b";
    return 2;
}

static rg_tensor *f_add(rg_ctx *c, rg_tensor **x, void *a) {
    (void)a;
    return rg_add(c, x[0], x[1]);
}
static rg_tensor *f_mul(rg_ctx *c, rg_tensor **x, void *a) {
    (void)a;
    return rg_mul(c, x[0], x[1]);
}
static int s_pair(rg_op_check *st, rg_rng *rng) {
    rg_tensor **x = st->x;
    const char **nm = st->names;
    x[0] = T_(st->s.B, st->s.T, st->s.C), x[1] = T_(st->s.B, st->s.T, st->s.C);
    nm[0] = "a", nm[1] = "b";
    return 2;
}

static rg_tensor *f_scale(rg_ctx *c, rg_tensor **x, void *a) {
    (void)a;
    return rg_scale(c, x[0], (real)-1.7);
}
static rg_tensor *f_gelu(rg_ctx *c, rg_tensor **x, void *a) {
    (void)a;
    return rg_gelu(c, x[0]);
}
static int s_one(rg_op_check *st, rg_rng *rng) {
    rg_tensor **x = st->x;
    const char **nm = st->names;
    x[0] = rg_tensor_random(rng, 3, (int[]){st->s.B, st->s.T, st->s.C}, 2.0, NULL);
    nm[0] = "x";
    return 1;
}

static rg_tensor *f_bias_add(rg_ctx *c, rg_tensor **x, void *a) {
    (void)a;
    return rg_bias_add(c, x[0], x[1]);
}
static int s_bias_add(rg_op_check *st, rg_rng *rng) {
    rg_tensor **x = st->x;
    const char **nm = st->names;
    x[0] = T_(st->s.B, st->s.T, st->s.C), x[1] = T_(st->s.C);
    nm[0] = "x", nm[1] = "b";
    return 2;
}

static rg_tensor *f_add_bcast(rg_ctx *c, rg_tensor **x, void *a) {
    (void)a;
    return rg_add_bcast(c, x[0], x[1]);
}
static int s_add_bcast(rg_op_check *st, rg_rng *rng) {
    rg_tensor **x = st->x;
    const char **nm = st->names;
    const rg_op_sizes *s = &st->s;
    x[0] = T_(s->B, s->H, s->T, s->Tk), x[1] = T_(s->H, s->T, s->Tk);
    nm[0] = "x", nm[1] = "y";
    return 2;
}

static rg_tensor *f_head_bias(rg_ctx *c, rg_tensor **x, void *a) {
    (void)a;
    return rg_add_head_bias(c, x[0], x[1]);
}
static int s_head_bias(rg_op_check *st, rg_rng *rng) {
    rg_tensor **x = st->x;
    const char **nm = st->names;
    const rg_op_sizes *s = &st->s;
    x[0] = T_(s->B, s->H, s->T, s->D), x[1] = T_(s->H, s->D);
    nm[0] = "x", nm[1] = "u";
    return 2;
}

/* ---- normalisation, softmax, loss --------------------------------------------------- */

static rg_tensor *f_layernorm(rg_ctx *c, rg_tensor **x, void *a) {
    (void)a;
    return rg_layernorm(c, x[0], x[1], x[2]);
}
static int s_layernorm(rg_op_check *st, rg_rng *rng) {
    rg_tensor **x = st->x;
    const char **nm = st->names;
    x[0] = T_(st->s.B, st->s.T, st->s.C), x[1] = T_(st->s.C), x[2] = T_(st->s.C);
    nm[0] = "x", nm[1] = "g", nm[2] = "b";
    return 3;
}

static rg_tensor *f_softmax(rg_ctx *c, rg_tensor **x, void *a) {
    return rg_softmax_masked(c, x[0], &(rg_attn_mask){.diag = ((const rg_op_check *)a)->s.diag});
}
static int s_softmax(rg_op_check *st, rg_rng *rng) {
    rg_tensor **x = st->x;
    const char **nm = st->names;
    const rg_op_sizes *s = &st->s;
    x[0] = T_(s->B, s->H, s->T, s->Tk);
    nm[0] = "x";
    return 1;
}

static rg_tensor *f_ce(rg_ctx *c, rg_tensor **x, void *a) {
    const rg_op_check *st = a;
    return rg_cross_entropy(c, x[0], st->idx, st->mask);
}
static int s_ce(rg_op_check *st, rg_rng *rng) {
    rg_tensor **x = st->x;
    const char **nm = st->names;
    int N = st->s.N, V = st->s.V;
    x[0] = rg_tensor_random(rng, 2, (int[]){N, V}, 2.0, NULL);
    st->idx = rg_xmalloc((size_t)N * sizeof(int), "targets");
    st->mask = rg_xmalloc((size_t)N * sizeof(real), "a mask");
    for (int n = 0; n < N; n++) st->idx[n] = rg_rng_int(rng, 0, V - 1), st->mask[n] = n % 3 != 1;
    nm[0] = "logits";
    return 1;
}

/* ---- indexing and shapes ------------------------------------------------------------- */

static rg_tensor *f_embedding(rg_ctx *c, rg_tensor **x, void *a) {
    const rg_op_check *st = a;
    return rg_embedding(c, x[0], st->idx, st->s.N);
}
static int s_embedding(rg_op_check *st, rg_rng *rng) {
    rg_tensor **x = st->x;
    const char **nm = st->names;
    x[0] = T_(st->s.V, st->s.C);
    st->idx = rg_xmalloc((size_t)st->s.N * sizeof(int), "indices");
    for (int n = 0; n < st->s.N; n++) st->idx[n] = rg_rng_int(rng, 0, st->s.V - 1);
    nm[0] = "table";
    return 1;
}

static rg_tensor *f_reshape(rg_ctx *c, rg_tensor **x, void *a) {
    const rg_op_check *st = a;
    rg_tensor *y = rg_reshape(c, x[0], 2, (int[]){st->s.B * st->s.T, st->s.C});
    return rg_mul(c, y, x[1]);
}
static int s_reshape(rg_op_check *st, rg_rng *rng) {
    rg_tensor **x = st->x;
    const char **nm = st->names;
    x[0] = T_(st->s.B, st->s.T * st->s.C), x[1] = T_(st->s.B * st->s.T, st->s.C);
    nm[0] = "x", nm[1] = "w";
    return 2;
}

static rg_tensor *f_split(rg_ctx *c, rg_tensor **x, void *a) {
    const rg_op_check *st = a;
    int HD = st->s.H * st->s.D;
    return rg_mul(c, rg_split_heads(c, x[0], HD, st->s.H, st->s.D), x[1]);
}
static int s_split(rg_op_check *st, rg_rng *rng) {
    rg_tensor **x = st->x;
    const char **nm = st->names;
    const rg_op_sizes *s = &st->s;
    x[0] = T_(s->B, s->T, 3 * s->H * s->D), x[1] = T_(s->B, s->H, s->T, s->D);
    nm[0] = "x (k columns taken)", nm[1] = "w";
    return 2;
}

static rg_tensor *f_merge(rg_ctx *c, rg_tensor **x, void *a) {
    (void)a;
    return rg_mul(c, rg_merge_heads(c, x[0]), x[1]);
}
static int s_merge(rg_op_check *st, rg_rng *rng) {
    rg_tensor **x = st->x;
    const char **nm = st->names;
    const rg_op_sizes *s = &st->s;
    x[0] = T_(s->B, s->H, s->T, s->D), x[1] = T_(s->B, s->T, s->H * s->D);
    nm[0] = "x", nm[1] = "w";
    return 2;
}

static rg_tensor *f_concat(rg_ctx *c, rg_tensor **x, void *a) {
    (void)a;
    return rg_mul(c, rg_concat_time(c, x[0], x[1]), x[2]);
}
static int s_concat(rg_op_check *st, rg_rng *rng) {
    rg_tensor **x = st->x;
    const char **nm = st->names;
    const rg_op_sizes *s = &st->s;
    x[0] = T_(s->B, s->T, s->C), x[1] = T_(s->B, s->Tk, s->C), x[2] = T_(s->B, s->T + s->Tk, s->C);
    nm[0] = "a", nm[1] = "b", nm[2] = "w";
    return 3;
}

static rg_tensor *f_slice(rg_ctx *c, rg_tensor **x, void *a) {
    const rg_op_check *st = a;
    int t0 = st->s.Tk - st->s.T;
    return rg_mul(c, rg_slice_time(c, x[0], t0, st->s.Tk), x[1]);
}
static int s_slice(rg_op_check *st, rg_rng *rng) {
    rg_tensor **x = st->x;
    const char **nm = st->names;
    const rg_op_sizes *s = &st->s;
    if (s->Tk < s->T)
        return too_small(st, "slice_time", "takes the last T of Tk rows: needs Tk >= T");
    x[0] = T_(s->B, s->Tk, s->C), x[1] = T_(s->B, s->T, s->C);
    nm[0] = "x", nm[1] = "w";
    return 2;
}

/* ---- positional pieces ------------------------------------------------------------------ */

static rg_tensor *f_rotate(rg_ctx *c, rg_tensor **x, void *a) {
    const rg_op_check *st = a;
    return rg_rotate_pairs(c, x[0], st->idx, st->s.T, 10000, 1);
}
static int s_rotate(rg_op_check *st, rg_rng *rng) {
    rg_tensor **x = st->x;
    const char **nm = st->names;
    const rg_op_sizes *s = &st->s;
    if (s->D % 2) return too_small(st, "rotate_pairs", "rotates pairs of features: D must be even");
    x[0] = T_(s->B, s->H, s->T, s->D);
    st->idx = rg_xmalloc((size_t)s->B * s->T * sizeof(int), "positions");
    for (int b = 0; b < s->B; b++) /* row b at positions b, b+1, ...: rows differ */
        for (int t = 0; t < s->T; t++) st->idx[b * s->T + t] = b + t;
    nm[0] = "x";
    return 1;
}

/* ---- attention ----------------------------------------------------------------------------- */

static rg_tensor *f_attention(rg_ctx *c, rg_tensor **x, void *a) {
    const rg_op_check *st = a;
    rg_term *terms[1];
    int n = 0;
    if (st->s.terms) terms[n++] = rg_bias_term(c, x[3], st->s.B, st->s.diag);
    return rg_attention_core(c, x[0], x[1], x[2], (real)(1 / sqrt((double)st->s.D)),
                             &(rg_attn_opts){.mask = {.diag = st->s.diag}}, terms, n);
}
static rg_tensor *f_attention_unfused(rg_ctx *c, rg_tensor **x, void *a) {
    const rg_op_check *st = a;
    rg_tensor *S =
        rg_scale(c, rg_matmul(c, x[0], x[1], false, true), (real)(1 / sqrt((double)st->s.D)));
    if (st->s.terms) {
        rg_term *t = rg_bias_term(c, x[3], st->s.B, st->s.diag);
        S = rg_add(c, S, rg_score_terms(c, &t, 1));
    }
    return rg_matmul(c, rg_softmax_masked(c, S, &(rg_attn_mask){.diag = st->s.diag}), x[2], false,
                     false);
}
static int s_attention(rg_op_check *st, rg_rng *rng) {
    rg_tensor **x = st->x;
    const char **nm = st->names;
    const rg_op_sizes *s = &st->s;
    x[0] = T_(s->B, s->H, s->T, s->D), x[1] = T_(s->B, s->H, s->Tk, s->D),
    x[2] = T_(s->B, s->H, s->Tk, s->D);
    nm[0] = "q", nm[1] = "k", nm[2] = "v";
    if (!s->terms) return 3;
    x[3] = T_(1, s->H, s->T, s->Tk);
    nm[3] = "E (bias term)";
    return 4;
}

static const rg_op_case CASES[] = {
    {"linear", "x [N,in], W [out,in], b [out] -> [N,out]", s_linear, f_linear},
    {"matmul", "a [B,H,T,D] x b [B,H,D,Tk] -> [B,H,T,Tk]", s_matmul, f_matmul},
    {"add", "a + b, both [B,T,C]", s_pair, f_add},
    {"mul", "a * b, both [B,T,C]", s_pair, f_mul},
    {"scale", "-1.7 x, x [B,T,C]", s_one, f_scale},
    {"gelu", "exact GELU of x [B,T,C] (std 2)", s_one, f_gelu},
    {"bias_add", "x [B,T,C] + b [C]", s_bias_add, f_bias_add},
    {"add_bcast", "x [B,H,T,Tk] + y [H,T,Tk]", s_add_bcast, f_add_bcast},
    {"add_head_bias", "x [B,H,T,D] + u [H,D]", s_head_bias, f_head_bias},
    {"layernorm", "LayerNorm of x [B,T,C] with g, b [C]", s_layernorm, f_layernorm},
    {"softmax_causal", "causal softmax of x [B,H,T,Tk], diag (default Tk-T)", s_softmax, f_softmax},
    {"cross_entropy", "masked cross-entropy of logits [N,V] (std 2)", s_ce, f_ce},
    {"embedding", "rows of table [V,C] at N random indices", s_embedding, f_embedding},
    {"reshape", "x [B,T*C] viewed as [B*T,C], times w", s_reshape, f_reshape},
    {"split_heads", "the middle third of x [B,T,3*H*D] as heads [B,H,T,D], times w", s_split,
     f_split},
    {"merge_heads", "x [B,H,T,D] -> [B,T,H*D], times w", s_merge, f_merge},
    {"concat_time", "a [B,T,C] then b [B,Tk,C] along time, times w", s_concat, f_concat},
    {"slice_time", "the last T of x [B,Tk,C]'s rows, times w", s_slice, f_slice},
    {"rotate_pairs", "pairs of x [B,H,T,D] rotated by positions b+t (base 10000)", s_rotate,
     f_rotate},
    {"attention_core",
     "fused attention q [B,H,T,D], k, v [B,H,Tk,D], diag; terms=1 adds a bias E [1,H,T,Tk]",
     s_attention, f_attention},
    {"attention_unfused", "the same from separate ops (matmul, scale, score_terms, softmax)",
     s_attention, f_attention_unfused},
};
enum { N_CASES = sizeof CASES / sizeof CASES[0] };

/* Case i: the ops' own above, then each scheme's own ops in registry order. */
static const rg_op_case *case_at(int i) {
    if (i < 0) return NULL;
    if (i < N_CASES) return &CASES[i];
    i -= N_CASES;
    for (int id = 0; id < rg_scheme_count(); id++) {
        const rg_scheme *sc = rg_scheme_get(id);
        if (i < sc->n_op_cases) return &sc->op_cases[i];
        i -= sc->n_op_cases;
    }
    return NULL;
}

int rg_gc_op_count(void) {
    int n = N_CASES;
    for (int id = 0; id < rg_scheme_count(); id++) n += rg_scheme_get(id)->n_op_cases;
    return n;
}
const char *rg_gc_op_name(int i) {
    const rg_op_case *c = case_at(i);
    return c ? c->name : "?";
}
const char *rg_gc_op_summary(int i) {
    const rg_op_case *c = case_at(i);
    return c ? c->summary : "?";
}
int rg_gc_op_find(const char *name) {
    for (int i = 0; i < rg_gc_op_count(); i++)
        if (!strcmp(case_at(i)->name, name)) return i;
    return -1;
}

/* ---- sizes ------------------------------------------------------------------------------ */

void rg_op_sizes_defaults(rg_op_sizes *s) {
    *s = (rg_op_sizes){.B = 2,
                       .H = 3,
                       .T = 5,
                       .Tk = 7,
                       .D = 4,
                       .C = 5,
                       .N = 6,
                       .in = 3,
                       .out = 4,
                       .V = 5,
                       .diag = -1,
                       .terms = 1,
                       .seed = 1};
}

int rg_op_sizes_set(rg_op_sizes *s, const char *key, const char *value, const char *where,
                    rg_error *err) {
    static const struct {
        const char *name;
        size_t offset;
        int lo, hi;
    } KEYS[] = {
        {"B", offsetof(rg_op_sizes, B), 1, 64},
        {"H", offsetof(rg_op_sizes, H), 1, 64},
        {"T", offsetof(rg_op_sizes, T), 1, 256},
        {"Tk", offsetof(rg_op_sizes, Tk), 1, 256},
        {"D", offsetof(rg_op_sizes, D), 1, 256},
        {"C", offsetof(rg_op_sizes, C), 1, 256},
        {"N", offsetof(rg_op_sizes, N), 1, 4096},
        {"in", offsetof(rg_op_sizes, in), 1, 256},
        {"out", offsetof(rg_op_sizes, out), 1, 256},
        {"V", offsetof(rg_op_sizes, V), 1, 256},
        {"diag", offsetof(rg_op_sizes, diag), -1, 256},
        {"terms", offsetof(rg_op_sizes, terms), 0, 1},
    };
    if (!strcmp(key, "seed")) {
        char *end;
        unsigned long long v = strtoull(value, &end, 10);
        if (!*value || *end) {
            snprintf(err->msg, sizeof err->msg,
                     "%s: key 'seed': '%s' is not a whole number >= 0; write e.g. seed=3", where,
                     value);
            return 2;
        }
        s->seed = v;
        return 0;
    }
    for (size_t k = 0; k < sizeof KEYS / sizeof *KEYS; k++) {
        if (strcmp(key, KEYS[k].name)) continue;
        char *end;
        long v = strtol(value, &end, 10);
        if (!*value || *end || v < KEYS[k].lo || v > KEYS[k].hi) {
            snprintf(err->msg, sizeof err->msg,
                     "%s: key '%s': '%s' is not a whole number in %d..%d; write e.g. %s=%d", where,
                     key, value, KEYS[k].lo, KEYS[k].hi, key, KEYS[k].lo > 1 ? KEYS[k].lo : 2);
            return 2;
        }
        *(int *)((char *)s + KEYS[k].offset) = (int)v;
        return 0;
    }
    snprintf(err->msg, sizeof err->msg,
             "%s: key '%s' is not a size of an op check; use B, H, T, Tk, D, C, N, in, out, V, "
             "diag, terms or seed",
             where, key);
    return 2;
}

/* ---- one check --------------------------------------------------------------------------- */

int rg_gc_op(int i, const rg_op_sizes *s, const rg_gc_options *opt, double tol,
             rg_gc_op_report *rep, rg_error *err) {
    const rg_op_case *c = case_at(i);
    if (!c) rg_die("gradcheck: no op case %d", i);
    memset(rep, 0, sizeof *rep);
    rg_op_check st = {.s = *s, .h = opt && opt->h > 0 ? opt->h : RG_GC_EPS};
    st.s.diag = s->diag >= 0 ? s->diag : s->Tk - s->T;
    if (st.s.diag < 0) st.s.diag = 0;
    /* the op's own stream: the seed mixed with its name */
    uint64_t hsh = 1469598103934665603ull ^ s->seed;
    for (const char *p = c->name; *p; p++) hsh = (hsh ^ (unsigned char)*p) * 1099511628211ull;
    rg_rng rng;
    rg_rng_seed(&rng, hsh);
    int n = c->setup(&st, &rng);
    int rc = 0;
    if (n < 0) {
        snprintf(err->msg, sizeof err->msg, "%s", st.why);
        rc = 2;
    } else {
        for (int k = 0; k < n; k++) st.x[k]->name = st.names[k];
        rg_gc_options o = opt ? *opt : (rg_gc_options){0};
        if (o.h <= 0) o.h = st.h;
        o.per_input = rep->per_input;
        rep->h = o.h, rep->tol = tol, rep->n_inputs = n;
        rep->ok = rg_gc_check_opts(c->name, c->f, &st, st.x, n, tol, &o, &rep->res);
        for (int k = 0; k < n; k++) {
            rep->inputs[k] = *st.x[k];
            rep->inputs[k].data = rep->inputs[k].grad = NULL; /* freed below */
        }
    }
    for (int k = 0; k < RG_MAX_INPUTS; k++) rg_tensor_free(st.x[k]);
    free(st.idx), free(st.idx2), free(st.mask);
    return rc;
}
