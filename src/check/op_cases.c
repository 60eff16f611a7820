/* op_cases.c: every op of ops.h as a gradient check at sizes the user
 * picks (`relgrad gradcheck OP B=2 T=5 ...`): its inputs, drawn from N(0, 1)
 * with a seed, and the function the checker differentiates. Ops that only
 * move data (reshape, split_heads, merge_heads, concat_time, slice_time) are
 * multiplied by a second random input, so that a wrong index map cannot hide
 * behind equal values (as in tests/test_gradcheck.c). */
#include "relgrad/gradcheck.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What one check needs besides its input tensors. */
typedef struct {
    rg_gc_sizes s;
    int *idx;   /* token ids, targets, positions: owned */
    int *idx2;  /* a second such array: owned */
    real *mask; /* owned */
    int diag;   /* resolved diag (Tk - T unless given) */
    double h;   /* the op's own step (0: the default) */
} op_state;

typedef struct {
    const char *name, *summary;
    /* fill x[] and names[]; return the input count, or -1 with err */
    int (*setup)(op_state *st, rg_rng *rng, rg_tensor **x, const char **names, rg_error *err);
    rg_gc_fn f;
} op_case;

#define T_(...)                                                                                    \
    rg_gc_tensor(rng, sizeof((int[]){__VA_ARGS__}) / sizeof(int), (int[]){__VA_ARGS__}, 1.0, NULL)

static int too_small(rg_error *err, const char *op, const char *what) {
    snprintf(err->msg, sizeof err->msg, "gradcheck %s: %s", op, what);
    return -1;
}

/* ---- linear algebra and elementwise ------------------------------------------------- */

static rg_tensor *f_linear(rg_ctx *c, rg_tensor **x, void *a) {
    (void)a;
    return rg_linear(c, x[0], x[1], x[2]);
}
static int s_linear(op_state *st, rg_rng *rng, rg_tensor **x, const char **nm, rg_error *err) {
    (void)err;
    x[0] = T_(st->s.N, st->s.in), x[1] = T_(st->s.out, st->s.in), x[2] = T_(st->s.out);
    nm[0] = "x", nm[1] = "W", nm[2] = "b";
    return 3;
}

static rg_tensor *f_matmul(rg_ctx *c, rg_tensor **x, void *a) {
    (void)a;
    return rg_matmul(c, x[0], x[1], false, false);
}
static int s_matmul(op_state *st, rg_rng *rng, rg_tensor **x, const char **nm, rg_error *err) {
    (void)err;
    const rg_gc_sizes *s = &st->s;
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
static int s_pair(op_state *st, rg_rng *rng, rg_tensor **x, const char **nm, rg_error *err) {
    (void)err;
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
static int s_one(op_state *st, rg_rng *rng, rg_tensor **x, const char **nm, rg_error *err) {
    (void)err;
    x[0] = rg_gc_tensor(rng, 3, (int[]){st->s.B, st->s.T, st->s.C}, 2.0, NULL);
    nm[0] = "x";
    return 1;
}

static rg_tensor *f_bias_add(rg_ctx *c, rg_tensor **x, void *a) {
    (void)a;
    return rg_bias_add(c, x[0], x[1]);
}
static int s_bias_add(op_state *st, rg_rng *rng, rg_tensor **x, const char **nm, rg_error *err) {
    (void)err;
    x[0] = T_(st->s.B, st->s.T, st->s.C), x[1] = T_(st->s.C);
    nm[0] = "x", nm[1] = "b";
    return 2;
}

static rg_tensor *f_add_bcast(rg_ctx *c, rg_tensor **x, void *a) {
    (void)a;
    return rg_add_bcast(c, x[0], x[1]);
}
static int s_add_bcast(op_state *st, rg_rng *rng, rg_tensor **x, const char **nm, rg_error *err) {
    (void)err;
    const rg_gc_sizes *s = &st->s;
    x[0] = T_(s->B, s->H, s->T, s->Tk), x[1] = T_(s->H, s->T, s->Tk);
    nm[0] = "x", nm[1] = "y";
    return 2;
}

static rg_tensor *f_head_bias(rg_ctx *c, rg_tensor **x, void *a) {
    (void)a;
    return rg_add_head_bias(c, x[0], x[1]);
}
static int s_head_bias(op_state *st, rg_rng *rng, rg_tensor **x, const char **nm, rg_error *err) {
    (void)err;
    const rg_gc_sizes *s = &st->s;
    x[0] = T_(s->B, s->H, s->T, s->D), x[1] = T_(s->H, s->D);
    nm[0] = "x", nm[1] = "u";
    return 2;
}

/* ---- normalisation, softmax, loss --------------------------------------------------- */

static rg_tensor *f_layernorm(rg_ctx *c, rg_tensor **x, void *a) {
    (void)a;
    return rg_layernorm(c, x[0], x[1], x[2]);
}
static int s_layernorm(op_state *st, rg_rng *rng, rg_tensor **x, const char **nm, rg_error *err) {
    (void)err;
    x[0] = T_(st->s.B, st->s.T, st->s.C), x[1] = T_(st->s.C), x[2] = T_(st->s.C);
    nm[0] = "x", nm[1] = "g", nm[2] = "b";
    return 3;
}

static rg_tensor *f_softmax(rg_ctx *c, rg_tensor **x, void *a) {
    return rg_softmax_masked(c, x[0], &(rg_attn_mask){.diag = ((op_state *)a)->diag});
}
static int s_softmax(op_state *st, rg_rng *rng, rg_tensor **x, const char **nm, rg_error *err) {
    (void)err;
    const rg_gc_sizes *s = &st->s;
    x[0] = T_(s->B, s->H, s->T, s->Tk);
    nm[0] = "x";
    return 1;
}

static rg_tensor *f_ce(rg_ctx *c, rg_tensor **x, void *a) {
    op_state *st = a;
    return rg_cross_entropy(c, x[0], st->idx, st->mask);
}
static int s_ce(op_state *st, rg_rng *rng, rg_tensor **x, const char **nm, rg_error *err) {
    (void)err;
    int N = st->s.N, V = st->s.V;
    x[0] = rg_gc_tensor(rng, 2, (int[]){N, V}, 2.0, NULL);
    st->idx = rg_xmalloc((size_t)N * sizeof(int), "targets");
    st->mask = rg_xmalloc((size_t)N * sizeof(real), "a mask");
    for (int n = 0; n < N; n++) st->idx[n] = rg_rng_int(rng, 0, V - 1), st->mask[n] = n % 3 != 1;
    nm[0] = "logits";
    return 1;
}

/* ---- indexing and shapes ------------------------------------------------------------- */

static rg_tensor *f_embedding(rg_ctx *c, rg_tensor **x, void *a) {
    op_state *st = a;
    return rg_embedding(c, x[0], st->idx, st->s.N);
}
static int s_embedding(op_state *st, rg_rng *rng, rg_tensor **x, const char **nm, rg_error *err) {
    (void)err;
    x[0] = T_(st->s.V, st->s.C);
    st->idx = rg_xmalloc((size_t)st->s.N * sizeof(int), "indices");
    for (int n = 0; n < st->s.N; n++) st->idx[n] = rg_rng_int(rng, 0, st->s.V - 1);
    nm[0] = "table";
    return 1;
}

static rg_tensor *f_reshape(rg_ctx *c, rg_tensor **x, void *a) {
    op_state *st = a;
    rg_tensor *y = rg_reshape(c, x[0], 2, (int[]){st->s.B * st->s.T, st->s.C});
    return rg_mul(c, y, x[1]);
}
static int s_reshape(op_state *st, rg_rng *rng, rg_tensor **x, const char **nm, rg_error *err) {
    (void)err;
    x[0] = T_(st->s.B, st->s.T * st->s.C), x[1] = T_(st->s.B * st->s.T, st->s.C);
    nm[0] = "x", nm[1] = "w";
    return 2;
}

static rg_tensor *f_split(rg_ctx *c, rg_tensor **x, void *a) {
    op_state *st = a;
    int HD = st->s.H * st->s.D;
    return rg_mul(c, rg_split_heads(c, x[0], HD, st->s.H, st->s.D), x[1]);
}
static int s_split(op_state *st, rg_rng *rng, rg_tensor **x, const char **nm, rg_error *err) {
    (void)err;
    const rg_gc_sizes *s = &st->s;
    x[0] = T_(s->B, s->T, 3 * s->H * s->D), x[1] = T_(s->B, s->H, s->T, s->D);
    nm[0] = "x (k columns taken)", nm[1] = "w";
    return 2;
}

static rg_tensor *f_merge(rg_ctx *c, rg_tensor **x, void *a) {
    (void)a;
    return rg_mul(c, rg_merge_heads(c, x[0]), x[1]);
}
static int s_merge(op_state *st, rg_rng *rng, rg_tensor **x, const char **nm, rg_error *err) {
    (void)err;
    const rg_gc_sizes *s = &st->s;
    x[0] = T_(s->B, s->H, s->T, s->D), x[1] = T_(s->B, s->T, s->H * s->D);
    nm[0] = "x", nm[1] = "w";
    return 2;
}

static rg_tensor *f_concat(rg_ctx *c, rg_tensor **x, void *a) {
    (void)a;
    return rg_mul(c, rg_concat_time(c, x[0], x[1]), x[2]);
}
static int s_concat(op_state *st, rg_rng *rng, rg_tensor **x, const char **nm, rg_error *err) {
    (void)err;
    const rg_gc_sizes *s = &st->s;
    x[0] = T_(s->B, s->T, s->C), x[1] = T_(s->B, s->Tk, s->C), x[2] = T_(s->B, s->T + s->Tk, s->C);
    nm[0] = "a", nm[1] = "b", nm[2] = "w";
    return 3;
}

static rg_tensor *f_slice(rg_ctx *c, rg_tensor **x, void *a) {
    op_state *st = a;
    int t0 = st->s.Tk - st->s.T;
    return rg_mul(c, rg_slice_time(c, x[0], t0, st->s.Tk), x[1]);
}
static int s_slice(op_state *st, rg_rng *rng, rg_tensor **x, const char **nm, rg_error *err) {
    const rg_gc_sizes *s = &st->s;
    if (s->Tk < s->T)
        return too_small(err, "slice_time", "takes the last T of Tk rows: needs Tk >= T");
    x[0] = T_(s->B, s->Tk, s->C), x[1] = T_(s->B, s->T, s->C);
    nm[0] = "x", nm[1] = "w";
    return 2;
}

/* ---- positional pieces ------------------------------------------------------------------ */

static rg_tensor *f_rotate(rg_ctx *c, rg_tensor **x, void *a) {
    op_state *st = a;
    return rg_rotate_pairs(c, x[0], st->idx, st->s.T, 10000, 1);
}
static int s_rotate(op_state *st, rg_rng *rng, rg_tensor **x, const char **nm, rg_error *err) {
    const rg_gc_sizes *s = &st->s;
    if (s->D % 2)
        return too_small(err, "rotate_pairs", "rotates pairs of features: D must be even");
    x[0] = T_(s->B, s->H, s->T, s->D);
    st->idx = rg_xmalloc((size_t)s->B * s->T * sizeof(int), "positions");
    for (int b = 0; b < s->B; b++) /* row b at positions b, b+1, ...: rows differ */
        for (int t = 0; t < s->T; t++) st->idx[b * s->T + t] = b + t;
    nm[0] = "x";
    return 1;
}

/* FIRE: queries at diag .. diag+T-1 after diag memory keys, keys 0..Tk-1;
 * width W = C; L_scale 2; relu units placed off their kinks. */
static rg_tensor *f_fire(rg_ctx *c, rg_tensor **x, void *a) {
    op_state *st = a;
    return rg_fire_bias(c, st->idx, st->idx2, 1, st->s.T, st->s.Tk, st->diag, x[0], x[1], x[2],
                        x[3], x[4], x[5], (real)2);
}
static int s_fire(op_state *st, rg_rng *rng, rg_tensor **x, const char **nm, rg_error *err) {
    const rg_gc_sizes *s = &st->s;
    int T = s->T, Tk = s->Tk, W = s->C, diag = st->diag;
    if (diag < 0 || T + diag > Tk)
        return too_small(err, "fire_bias",
                         "queries sit after diag memory keys: needs 0 <= diag and T + diag <= Tk");
    x[0] = T_(1), x[1] = T_(1), x[2] = T_(W, 1), x[3] = T_(W), x[4] = T_(s->H, W), x[5] = T_(s->H);
    x[0]->data[0] = (real)0.1, x[1]->data[0] = (real)2.3; /* c: |c x| away from 0; thr = 4.6 */
    st->idx = rg_xmalloc((size_t)T * sizeof(int), "positions");
    st->idx2 = rg_xmalloc((size_t)Tk * sizeof(int), "positions");
    for (int i = 0; i < T; i++) st->idx[i] = diag + i;
    for (int j = 0; j < Tk; j++) st->idx2[j] = j;
    double cv = x[0]->data[0], thr = fabs(x[1]->data[0] * 2.0);
    double *z = rg_xmalloc((size_t)T * Tk * sizeof(double) + 1, "FIRE's z values");
    int n = 0;
    for (int i = 0; i < T; i++)
        for (int j = 0; j <= i + diag && j < Tk; j++) {
            double pi = st->idx[i], d = pi - st->idx2[j];
            z[n++] = log(fabs(cv * d) + 1) / (log(fabs(cv * fmax(pi, thr)) + 1) + 1e-6);
        }
    int live = rg_gc_place_kinks(z, n, x[2]->data, x[3]->data, W, RG_GC_EPS, rng);
    free(z);
    if (live <= 0)
        return too_small(err, "fire_bias",
                         "too few distinct distances to keep relu off its kinks; raise T");
    /* c and L move every z, so their steps must stay small (float64), or
     * they are left out (float32, whose step cannot avoid the kinks) */
    if (sizeof(real) == 8)
        st->h = 1e-4;
    else
        x[0]->requires_grad = x[1]->requires_grad = false;
    nm[0] = "c", nm[1] = "L", nm[2] = "fc1.weight", nm[3] = "fc1.bias", nm[4] = "fc2.weight",
    nm[5] = "fc2.bias";
    return 6;
}

/* ---- attention ----------------------------------------------------------------------------- */

static rg_tensor *f_attention(rg_ctx *c, rg_tensor **x, void *a) {
    op_state *st = a;
    rg_term *terms[1];
    int n = 0;
    if (st->s.terms) terms[n++] = rg_bias_term(c, x[3], st->s.B, st->diag);
    return rg_attention_core(c, x[0], x[1], x[2], (real)(1 / sqrt((double)st->s.D)),
                             &(rg_attn_opts){.mask = {.diag = st->diag}}, terms, n);
}
static rg_tensor *f_attention_unfused(rg_ctx *c, rg_tensor **x, void *a) {
    op_state *st = a;
    rg_tensor *S =
        rg_scale(c, rg_matmul(c, x[0], x[1], false, true), (real)(1 / sqrt((double)st->s.D)));
    if (st->s.terms) {
        rg_term *t = rg_bias_term(c, x[3], st->s.B, st->diag);
        S = rg_add(c, S, rg_score_terms(c, &t, 1));
    }
    return rg_matmul(c, rg_softmax_masked(c, S, &(rg_attn_mask){.diag = st->diag}), x[2], false,
                     false);
}
static int s_attention(op_state *st, rg_rng *rng, rg_tensor **x, const char **nm, rg_error *err) {
    (void)err;
    const rg_gc_sizes *s = &st->s;
    x[0] = T_(s->B, s->H, s->T, s->D), x[1] = T_(s->B, s->H, s->Tk, s->D),
    x[2] = T_(s->B, s->H, s->Tk, s->D);
    nm[0] = "q", nm[1] = "k", nm[2] = "v";
    if (!s->terms) return 3;
    x[3] = T_(1, s->H, s->T, s->Tk);
    nm[3] = "E (bias term)";
    return 4;
}

static const op_case CASES[] = {
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
    {"fire_bias", "FIRE's bias [1,H,T,Tk], width C, diag memory keys, relu off its kinks", s_fire,
     f_fire},
    {"attention_core",
     "fused attention q [B,H,T,D], k, v [B,H,Tk,D], diag; terms=1 adds a bias E [1,H,T,Tk]",
     s_attention, f_attention},
    {"attention_unfused", "the same from separate ops (matmul, scale, score_terms, softmax)",
     s_attention, f_attention_unfused},
};
enum { N_CASES = sizeof CASES / sizeof CASES[0] };

int rg_gc_op_count(void) {
    return N_CASES;
}
const char *rg_gc_op_name(int i) {
    return i >= 0 && i < N_CASES ? CASES[i].name : "?";
}
const char *rg_gc_op_summary(int i) {
    return i >= 0 && i < N_CASES ? CASES[i].summary : "?";
}
int rg_gc_op_find(const char *name) {
    for (int i = 0; i < N_CASES; i++)
        if (!strcmp(CASES[i].name, name)) return i;
    return -1;
}

/* ---- sizes ------------------------------------------------------------------------------ */

void rg_gc_sizes_defaults(rg_gc_sizes *s) {
    *s = (rg_gc_sizes){.B = 2,
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

int rg_gc_sizes_set(rg_gc_sizes *s, const char *key, const char *value, const char *where,
                    rg_error *err) {
    static const struct {
        const char *name;
        size_t offset;
        int lo, hi;
    } KEYS[] = {
        {"B", offsetof(rg_gc_sizes, B), 1, 64},
        {"H", offsetof(rg_gc_sizes, H), 1, 64},
        {"T", offsetof(rg_gc_sizes, T), 1, 256},
        {"Tk", offsetof(rg_gc_sizes, Tk), 1, 256},
        {"D", offsetof(rg_gc_sizes, D), 1, 256},
        {"C", offsetof(rg_gc_sizes, C), 1, 256},
        {"N", offsetof(rg_gc_sizes, N), 1, 4096},
        {"in", offsetof(rg_gc_sizes, in), 1, 256},
        {"out", offsetof(rg_gc_sizes, out), 1, 256},
        {"V", offsetof(rg_gc_sizes, V), 1, 256},
        {"diag", offsetof(rg_gc_sizes, diag), -1, 256},
        {"terms", offsetof(rg_gc_sizes, terms), 0, 1},
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

int rg_gc_op(int i, const rg_gc_sizes *s, const rg_gc_options *opt, double tol,
             rg_gc_op_report *rep, rg_error *err) {
    if (i < 0 || i >= N_CASES) rg_die("gradcheck: no op case %d", i);
    const op_case *c = &CASES[i];
    memset(rep, 0, sizeof *rep);
    op_state st = {.s = *s, .diag = s->diag >= 0 ? s->diag : s->Tk - s->T};
    if (st.diag < 0) st.diag = 0;
    /* the op's own stream: the seed mixed with its name */
    uint64_t hsh = 1469598103934665603ull ^ s->seed;
    for (const char *p = c->name; *p; p++) hsh = (hsh ^ (unsigned char)*p) * 1099511628211ull;
    rg_rng rng;
    rg_rng_seed(&rng, hsh);
    rg_tensor *x[RG_MAX_INPUTS] = {0};
    const char *names[RG_MAX_INPUTS] = {0};
    int n = c->setup(&st, &rng, x, names, err);
    int rc = 0;
    if (n < 0) {
        rc = 2;
    } else {
        for (int k = 0; k < n; k++) x[k]->name = names[k];
        rg_gc_options o = opt ? *opt : (rg_gc_options){0};
        if (o.h <= 0) o.h = st.h > 0 ? st.h : RG_GC_EPS;
        o.per_input = rep->per_input;
        rep->h = o.h, rep->tol = tol, rep->n_inputs = n;
        rep->ok = rg_gc_check_opts(c->name, c->f, &st, x, n, tol, &o, &rep->res);
        for (int k = 0; k < n; k++) {
            rep->inputs[k] = *x[k];
            rep->inputs[k].data = rep->inputs[k].grad = NULL; /* freed below */
        }
    }
    for (int k = 0; k < RG_MAX_INPUTS; k++) rg_gc_tensor_free(x[k]);
    free(st.idx), free(st.idx2), free(st.mask);
    return rc;
}
