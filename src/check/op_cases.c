/* op_cases.c: every op of ops.h as a gradient check at sizes the user
 * picks (`relgrad gradcheck OP B=2 T=5 ...`): its inputs, drawn from N(0, 1)
 * with a seed, and the function the checker differentiates. Ops that only
 * move data (reshape, split_heads, merge_heads, concat_time, slice_time) are
 * multiplied by a second random input, so that a wrong index map cannot hide
 * behind equal values. tests/test_gradcheck.c runs these cases at many
 * sizes and variants; this file is the only place an op's check is written. */
#include "relgrad/gradcheck.h"
#include "schemes/scheme.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T_(...)                                                                                    \
    rg_tensor_random(rng, sizeof((int[]){__VA_ARGS__}) / sizeof(int), (int[]){__VA_ARGS__}, 1.0,   \
                     NULL)

/* setup's answer to sizes that do not fit the op: -1, with why */
static int refuse(rg_op_check *st, const char *op, const char *what) {
    snprintf(st->why, sizeof st->why, "gradcheck %s: %s", op, what);
    return -1;
}

/* ---- linear algebra and elementwise ------------------------------------------------- */

static rg_tensor *f_linear(rg_ctx *c, rg_tensor **x, void *a) {
    const rg_op_check *st = a;
    return rg_linear(c, x[0], x[1], st->s.bias ? x[2] : NULL);
}
static int s_linear(rg_op_check *st, rg_rng *rng) {
    rg_tensor **x = st->x;
    const char **nm = st->names;
    const rg_op_sizes *s = &st->s;
    x[0] = s->batched ? T_(s->B, s->N, s->in) : T_(s->N, s->in), x[1] = T_(s->out, s->in);
    nm[0] = "x", nm[1] = "W";
    if (!s->bias) return 2;
    x[2] = T_(s->out), nm[2] = "b";
    return 3;
}

/* a [.., T, D] and b [.., D, Tk], as stored: transposed ([.., D, T], [.., Tk, D])
 * when ta, tb are set */
static rg_tensor *f_matmul(rg_ctx *c, rg_tensor **x, void *a) {
    const rg_op_check *st = a;
    return rg_matmul(c, x[0], x[1], st->s.ta, st->s.tb);
}
static int s_matmul(rg_op_check *st, rg_rng *rng) {
    rg_tensor **x = st->x;
    const char **nm = st->names;
    const rg_op_sizes *s = &st->s;
    int m = s->T, k = s->D, n = s->Tk;
    int ra = s->ta ? k : m, ca = s->ta ? m : k, rb = s->tb ? n : k, cb = s->tb ? k : n;
    if (!s->batched) {
        if (s->bcast) return refuse(st, "matmul", "bcast=1 shares b over a batch: needs batched=1");
        x[0] = T_(ra, ca), x[1] = T_(rb, cb);
    } else {
        x[0] = T_(s->B, s->H, ra, ca), x[1] = T_(s->bcast ? 1 : s->B, s->H, rb, cb);
    }
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
/* one value used three times: the tape must add every contribution */
static rg_tensor *f_reuse(rg_ctx *c, rg_tensor **x, void *a) {
    (void)a;
    return rg_add(c, rg_mul(c, x[0], x[0]), rg_gelu(c, x[0]));
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
/* Rows of x keep a standard deviation of at least 0.1: LayerNorm bends on
 * the scale of sqrt(var + 1e-5), and a row of two close values (std 0.03)
 * puts that bend within a few steps h, where the difference's truncation
 * error (not the backward) reaches 1e-6. Smaller rows are stretched about
 * their mean. */
static int s_layernorm(rg_op_check *st, rg_rng *rng) {
    rg_tensor **x = st->x;
    const char **nm = st->names;
    int C = st->s.C;
    x[0] = T_(st->s.B, st->s.T, C), x[1] = T_(C), x[2] = T_(C);
    for (long r = 0; C > 1 && r < (long)st->s.B * st->s.T; r++) {
        real *row = x[0]->data + r * C;
        double mean = 0, var = 0;
        for (int c = 0; c < C; c++) mean += row[c] / (double)C;
        for (int c = 0; c < C; c++) var += (row[c] - mean) * (row[c] - mean) / C;
        if (var >= 0.01) continue;
        for (int c = 0; c < C; c++) /* alternate signs if the row is flat */
            row[c] =
                (real)(mean + (var > 0 ? (row[c] - mean) * 0.1 / sqrt(var) : (c % 2 ? 0.1 : -0.1)));
    }
    nm[0] = "x", nm[1] = "g", nm[2] = "b";
    return 3;
}

/* The attention mask of the sizes: diag, and with window > 0 a decoder's
 * key window key_lo[i] = max(0, i + diag + 1 - window) (in idx), with
 * key_end per-row key counts key_end[b] = max(1, Tk - 1 - b) (in idx2: every
 * row but those past Tk - 2 has PAD keys, and rows differ). */
static void make_mask(rg_op_check *st) {
    const rg_op_sizes *s = &st->s;
    if (s->window > 0) {
        st->idx = rg_xmalloc((size_t)s->T * sizeof(int), "key windows");
        for (int i = 0; i < s->T; i++) {
            long lo = (long)i + s->diag + 1 - s->window;
            st->idx[i] = lo > 0 ? (int)lo : 0;
        }
    }
    if (s->key_end) {
        st->idx2 = rg_xmalloc((size_t)s->B * sizeof(int), "key counts");
        for (int b = 0; b < s->B; b++) st->idx2[b] = s->Tk - 1 - b > 1 ? s->Tk - 1 - b : 1;
    }
}
static rg_attn_mask mask_of(const rg_op_check *st) {
    return (rg_attn_mask){.diag = st->s.diag,
                          .key_lo = st->s.window > 0 ? st->idx : NULL,
                          .key_end = st->s.key_end ? st->idx2 : NULL};
}

static rg_tensor *f_softmax(rg_ctx *c, rg_tensor **x, void *a) {
    rg_attn_mask mask = mask_of(a);
    return rg_softmax_masked(c, x[0], &mask);
}
static int s_softmax(rg_op_check *st, rg_rng *rng) {
    rg_tensor **x = st->x;
    const char **nm = st->names;
    const rg_op_sizes *s = &st->s;
    x[0] = T_(s->B, s->H, s->T, s->Tk);
    nm[0] = "x";
    make_mask(st);
    return 1;
}

static rg_tensor *f_ce(rg_ctx *c, rg_tensor **x, void *a) {
    const rg_op_check *st = a;
    return rg_cross_entropy(c, x[0], st->idx, st->mask);
}
static int s_ce(rg_op_check *st, rg_rng *rng) {
    rg_tensor **x = st->x;
    const char **nm = st->names;
    const rg_op_sizes *s = &st->s;
    int rows = s->batched ? s->B * s->N : s->N, V = s->V;
    x[0] = s->batched ? rg_tensor_random(rng, 3, (int[]){s->B, s->N, V}, 2.0, NULL)
                      : rg_tensor_random(rng, 2, (int[]){s->N, V}, 2.0, NULL);
    st->idx = rg_xmalloc((size_t)rows * sizeof(int), "targets");
    st->mask = rg_xmalloc((size_t)rows * sizeof(real), "a mask");
    for (int n = 0; n < rows; n++) st->idx[n] = rg_rng_int(rng, 0, V - 1), st->mask[n] = n % 3 != 1;
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
    int N = st->s.N;
    x[0] = T_(st->s.V, st->s.C);
    st->idx = rg_xmalloc((size_t)N * sizeof(int), "indices");
    for (int n = 0; n < N; n++) st->idx[n] = rg_rng_int(rng, 0, st->s.V - 1);
    if (N > 1) st->idx[N - 1] = st->idx[0]; /* a repeated row: its gradients must add */
    nm[0] = "table";
    return 1;
}

static rg_tensor *f_reshape(rg_ctx *c, rg_tensor **x, void *a) {
    const rg_op_check *st = a;
    rg_tensor *y = rg_reshape(c, x[0], 2, (int[]){st->s.T, st->s.B * st->s.C});
    return rg_mul(c, y, x[1]);
}
static int s_reshape(rg_op_check *st, rg_rng *rng) {
    rg_tensor **x = st->x;
    const char **nm = st->names;
    x[0] = T_(st->s.B, st->s.T * st->s.C), x[1] = T_(st->s.T, st->s.B * st->s.C);
    nm[0] = "x", nm[1] = "w";
    return 2;
}

static rg_tensor *f_split(rg_ctx *c, rg_tensor **x, void *a) {
    const rg_op_check *st = a;
    return rg_mul(c, rg_split_heads(c, x[0], st->s.col0, st->s.H, st->s.D), x[1]);
}
static int s_split(rg_op_check *st, rg_rng *rng) {
    rg_tensor **x = st->x;
    const char **nm = st->names;
    rg_op_sizes *s = &st->s;
    int HD = s->H * s->D;
    if (s->cols == 0) s->cols = 3 * HD;
    if (s->col0 < 0) s->col0 = HD;
    if (s->col0 + HD > s->cols)
        return refuse(st, "split_heads",
                      "takes columns col0 .. col0 + H*D - 1: needs "
                      "col0 + H*D <= cols");
    x[0] = T_(s->B, s->T, s->cols), x[1] = T_(s->B, s->H, s->T, s->D);
    nm[0] = "x", nm[1] = "w";
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
    return rg_mul(c, rg_slice_time(c, x[0], st->s.t0, st->s.t0 + st->s.T), x[1]);
}
static int s_slice(rg_op_check *st, rg_rng *rng) {
    rg_tensor **x = st->x;
    const char **nm = st->names;
    rg_op_sizes *s = &st->s;
    if (s->t0 < 0) s->t0 = s->Tk - s->T;
    if (s->t0 < 0 || s->t0 + s->T > s->Tk)
        return refuse(st, "slice_time", "takes rows t0 .. t0 + T - 1 of Tk: needs t0 + T <= Tk");
    x[0] = T_(s->B, s->Tk, s->C), x[1] = T_(s->B, s->T, s->C);
    nm[0] = "x", nm[1] = "w";
    return 2;
}

/* ---- positional pieces ------------------------------------------------------------------ */

static rg_tensor *f_rotate(rg_ctx *c, rg_tensor **x, void *a) {
    const rg_op_check *st = a;
    return rg_rotate_pairs(c, x[0], st->idx, st->s.per_row ? st->s.T : 0, (real)st->s.base,
                           (real)(st->s.scale > 0 ? st->s.scale : 1));
}
static int s_rotate(rg_op_check *st, rg_rng *rng) {
    rg_tensor **x = st->x;
    const char **nm = st->names;
    const rg_op_sizes *s = &st->s;
    if (s->D % 2) return refuse(st, "rotate_pairs", "rotates pairs of features: D must be even");
    x[0] = T_(s->B, s->H, s->T, s->D);
    int rows = s->per_row ? s->B : 1;
    st->idx = rg_xmalloc((size_t)rows * s->T * sizeof(int), "positions");
    for (int b = 0; b < rows; b++) /* per row: from 5b on, gaps of 1 to 10 */
        for (int t = 0, p = 5 * b; t < s->T; t++) {
            st->idx[b * s->T + t] = s->per_row ? p : t;
            if (s->per_row) p += rg_rng_int(rng, 1, 10);
        }
    nm[0] = "x";
    return 1;
}

/* ---- attention ----------------------------------------------------------------------------- */

static real attention_scale(const rg_op_check *st) {
    return (real)(st->s.scale > 0 ? st->s.scale : 1 / sqrt((double)st->s.D));
}
static rg_tensor *f_attention(rg_ctx *c, rg_tensor **x, void *a) {
    const rg_op_check *st = a;
    rg_term *terms[1];
    int n = 0;
    if (st->s.terms) terms[n++] = rg_bias_term(c, x[3], st->s.B, st->s.diag);
    return rg_attention_core(c, x[0], x[1], x[2], attention_scale(st),
                             &(rg_attn_opts){.mask = mask_of(st)}, terms, n);
}
static rg_tensor *f_attention_unfused(rg_ctx *c, rg_tensor **x, void *a) {
    const rg_op_check *st = a;
    rg_tensor *S = rg_scale(c, rg_matmul(c, x[0], x[1], false, true), attention_scale(st));
    if (st->s.terms) {
        rg_term *t = rg_bias_term(c, x[3], st->s.B, st->s.diag);
        S = rg_add(c, S, rg_score_terms(c, &t, 1));
    }
    rg_attn_mask mask = mask_of(st);
    return rg_matmul(c, rg_softmax_masked(c, S, &mask), x[2], false, false);
}
static int s_attention(rg_op_check *st, rg_rng *rng) {
    rg_tensor **x = st->x;
    const char **nm = st->names;
    const rg_op_sizes *s = &st->s;
    if ((long)s->T + s->diag < s->Tk)
        return refuse(st, "attention", "keys past T + diag are never read: needs diag >= Tk - T");
    x[0] = T_(s->B, s->H, s->T, s->D), x[1] = T_(s->B, s->H, s->Tk, s->D),
    x[2] = T_(s->B, s->H, s->Tk, s->D);
    nm[0] = "q", nm[1] = "k", nm[2] = "v";
    make_mask(st);
    if (!s->terms) return 3;
    x[3] = T_(s->per_row ? s->B : 1, s->H, s->T, s->Tk);
    nm[3] = "E (bias term)";
    return 4;
}

static const rg_op_case CASES[] = {
    {.name = "linear",
     .summary = "x [B,N,in] (batched=0: [N,in]), W [out,in], b [out] (bias=0: none) -> [..,out]",
     .setup = s_linear,
     .f = f_linear},
    {.name = "matmul",
     .summary = "a [B,H,T,D] x b [B,H,D,Tk] (batched=0: 2-d; ta, tb: stored transposed; bcast: b "
                "[1,H,..])",
     .setup = s_matmul,
     .f = f_matmul},
    {.name = "add", .summary = "a + b, both [B,T,C]", .setup = s_pair, .f = f_add},
    {.name = "mul", .summary = "a * b, both [B,T,C]", .setup = s_pair, .f = f_mul},
    {.name = "reuse",
     .summary = "x*x + gelu(x), x [B,T,C] used three times (gradients must add)",
     .setup = s_one,
     .f = f_reuse},
    {.name = "scale", .summary = "-1.7 x, x [B,T,C]", .setup = s_one, .f = f_scale},
    {.name = "gelu", .summary = "exact GELU of x [B,T,C] (std 2)", .setup = s_one, .f = f_gelu},
    {.name = "bias_add", .summary = "x [B,T,C] + b [C]", .setup = s_bias_add, .f = f_bias_add},
    {.name = "add_bcast",
     .summary = "x [B,H,T,Tk] + y [H,T,Tk]",
     .setup = s_add_bcast,
     .f = f_add_bcast},
    {.name = "add_head_bias",
     .summary = "x [B,H,T,D] + u [H,D]",
     .setup = s_head_bias,
     .f = f_head_bias},
    {.name = "layernorm",
     .summary = "LayerNorm of x [B,T,C] (rows of std >= 0.1) with g, b [C]",
     .setup = s_layernorm,
     .f = f_layernorm},
    {.name = "softmax_causal",
     .summary = "masked softmax of x [B,H,T,Tk]: diag (default Tk-T), window (key_lo), key_end",
     .setup = s_softmax,
     .f = f_softmax},
    {.name = "cross_entropy",
     .summary = "masked cross-entropy of logits [B,N,V] (batched=0: [N,V]; std 2), random targets",
     .setup = s_ce,
     .f = f_ce},
    {.name = "embedding",
     .summary = "rows of table [V,C] at N random indices (the last repeats the first)",
     .setup = s_embedding,
     .f = f_embedding},
    {.name = "reshape",
     .summary = "x [B,T*C] viewed as [T,B*C], times w",
     .setup = s_reshape,
     .f = f_reshape},
    {.name = "split_heads",
     .summary =
         "columns col0.. of x [B,T,cols] as heads [B,H,T,D], times w (default: the middle third "
         "of 3*H*D)",
     .setup = s_split,
     .f = f_split},
    {.name = "merge_heads",
     .summary = "x [B,H,T,D] -> [B,T,H*D], times w",
     .setup = s_merge,
     .f = f_merge},
    {.name = "concat_time",
     .summary = "a [B,T,C] then b [B,Tk,C] along time, times w",
     .setup = s_concat,
     .f = f_concat},
    {.name = "slice_time",
     .summary = "rows t0..t0+T-1 of x [B,Tk,C] (default the last T), times w",
     .setup = s_slice,
     .f = f_slice},
    {.name = "rotate_pairs",
     .summary =
         "pairs of x [B,H,T,D] rotated by positions 0..T-1 (per_row=1: per row, with gaps), base, "
         "scale",
     .setup = s_rotate,
     .f = f_rotate},
    {.name = "attention_core",
     .summary =
         "fused attention q [B,H,T,D], k, v [B,H,Tk,D], scale; diag, window, key_end; terms=1 adds "
         "a bias E [1,H,T,Tk] (per_row=1: [B,H,T,Tk])",
     .setup = s_attention,
     .f = f_attention},
    {.name = "attention_unfused",
     .summary = "the same from separate ops (matmul, scale, score_terms, softmax)",
     .setup = s_attention,
     .f = f_attention_unfused},
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

/* ---- one check --------------------------------------------------------------------------- */

int rg_gc_op(int i, const rg_op_sizes *s, const rg_gc_options *opt, double tol,
             rg_gc_op_report *rep, rg_error *err) {
    const rg_op_case *c = case_at(i);
    if (!c) rg_die("gradcheck: no op case %d", i);
    memset(rep, 0, sizeof *rep);
    rg_op_check st = {.s = *s, .h = opt && opt->h > 0 ? opt->h : RG_GC_EPS};
    /* diag -1: the queries are the last T of the Tk keys, or with per-row key
     * counts (an encoder) every key is visible */
    st.s.diag = s->diag >= 0 ? s->diag : s->key_end ? s->Tk : s->Tk - s->T;
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
