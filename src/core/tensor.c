/* tensor.c: the per-step arena, the context, tensor allocation, errors and
 * the random number generator. */
#include "relgrad/tape.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RG_ALIGN 64

_Noreturn void rg_die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "relgrad: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

_Noreturn void rg_die_shapes(const char *op, const char *what, const rg_tensor *a,
                             const rg_tensor *b) {
    char sa[64], sb[64];
    rg_die("%s: %s: shapes %s and %s", op, what, rg_shape_str(a, sa, sizeof sa),
           b ? rg_shape_str(b, sb, sizeof sb) : "(none)");
}

/* ---- checked heap allocation ---------------------------------------------- */

void *rg_xmalloc(size_t bytes, const char *what) {
    void *p = malloc(bytes ? bytes : 1);
    if (!p) rg_die("out of memory allocating %s (%zu bytes)", what, bytes);
    return p;
}

void *rg_xcalloc(size_t count, size_t size, const char *what) {
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) rg_die("out of memory allocating %s (%zu x %zu bytes)", what, count, size);
    return p;
}

void *rg_xrealloc(void *p, size_t bytes, const char *what) {
    void *q = realloc(p, bytes ? bytes : 1);
    if (!q) rg_die("out of memory allocating %s (%zu bytes)", what, bytes);
    return q;
}

/* ---- arena ---------------------------------------------------------------- */

static size_t round_up(size_t n) {
    return (n + RG_ALIGN - 1) & ~(size_t)(RG_ALIGN - 1);
}
/* Header padded so the payload stays 64-byte aligned. */
static size_t header_size(void) {
    return round_up(sizeof(rg_arena_block));
}

static rg_arena_block *block_new(rg_arena *a, size_t cap) {
    rg_arena_block *b = aligned_alloc(RG_ALIGN, round_up(header_size() + cap));
    if (!b) rg_die("out of memory allocating a %zu-byte arena block", cap);
    b->next = NULL;
    b->cap = cap;
    b->used = 0;
    a->n_mallocs++;
    return b;
}

void rg_arena_init(rg_arena *a, size_t initial_bytes) {
    memset(a, 0, sizeof *a);
    a->head = block_new(a, round_up(initial_bytes ? initial_bytes : (1u << 20)));
}

void rg_arena_free(rg_arena *a) {
    for (rg_arena_block *b = a->head, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    a->head = NULL;
}

void rg_arena_reset(rg_arena *a) {
    if (a->in_use > a->high_water) a->high_water = a->in_use;
    if (a->head && a->head->next) {
        /* The last step overflowed into several blocks: replace them with one
         * block that holds the whole high-water mark (plus slack). */
        size_t cap = round_up(a->high_water + a->high_water / 8);
        rg_arena_free(a);
        a->head = block_new(a, cap);
    }
    a->head->used = 0;
    a->in_use = 0;
}

void *rg_arena_alloc(rg_arena *a, size_t bytes) {
    bytes = round_up(bytes ? bytes : 1);
    rg_arena_block *b = a->head;
    if (b->used + bytes > b->cap) {
        size_t cap = b->cap * 2 > bytes ? b->cap * 2 : bytes;
        rg_arena_block *nb = block_new(a, cap);
        nb->next = b;
        a->head = b = nb;
    }
    void *p = (char *)b + header_size() + b->used;
    b->used += bytes;
    a->in_use += bytes;
    return p;
}

void *rg_arena_calloc(rg_arena *a, size_t bytes) {
    void *p = rg_arena_alloc(a, bytes);
    memset(p, 0, bytes);
    return p;
}

/* ---- context -------------------------------------------------------------- */

void rg_ctx_init(rg_ctx *ctx, int threads) {
    memset(ctx, 0, sizeof *ctx);
    rg_arena_init(&ctx->arena, 1u << 20);
    ctx->threads = threads < 1 ? 1 : threads;
    ctx->origin = RG_NO_ORIGIN;
}

void rg_ctx_free(rg_ctx *ctx) {
    rg_arena_free(&ctx->arena);
}

void rg_ctx_reset(rg_ctx *ctx) {
    ctx->tape = NULL;
    ctx->n_nodes = 0;
    ctx->origin = RG_NO_ORIGIN;
    rg_arena_reset(&ctx->arena);
}

/* ---- tensors -------------------------------------------------------------- */

long rg_shape_size(int ndim, const int *shape) {
    long n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    return n;
}

rg_tensor *rg_empty(rg_ctx *ctx, int ndim, const int *shape) {
    if (ndim < 1 || ndim > RG_MAX_DIMS)
        rg_die("tensor: %d dimensions (1..%d allowed)", ndim, RG_MAX_DIMS);
    rg_tensor *t = rg_arena_alloc(&ctx->arena, sizeof *t);
    memset(t, 0, sizeof *t);
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) rg_die("tensor: negative dimension %d", shape[i]);
        t->shape[i] = shape[i];
    }
    t->size = rg_shape_size(ndim, shape);
    t->data = rg_arena_alloc(&ctx->arena, (size_t)t->size * sizeof(real));
    return t;
}

rg_tensor *rg_zeros(rg_ctx *ctx, int ndim, const int *shape) {
    rg_tensor *t = rg_empty(ctx, ndim, shape);
    memset(t->data, 0, (size_t)t->size * sizeof(real));
    return t;
}

rg_tensor *rg_new1(rg_ctx *ctx, int d0) {
    return rg_zeros(ctx, 1, (int[]){d0});
}
rg_tensor *rg_new2(rg_ctx *ctx, int d0, int d1) {
    return rg_zeros(ctx, 2, (int[]){d0, d1});
}
rg_tensor *rg_new3(rg_ctx *ctx, int d0, int d1, int d2) {
    return rg_zeros(ctx, 3, (int[]){d0, d1, d2});
}
rg_tensor *rg_new4(rg_ctx *ctx, int d0, int d1, int d2, int d3) {
    return rg_zeros(ctx, 4, (int[]){d0, d1, d2, d3});
}

rg_tensor *rg_tensor_random(rg_rng *rng, int ndim, const int *shape, double std, const char *name) {
    rg_tensor *t = rg_xcalloc(1, sizeof *t, "a tensor");
    long n = rg_shape_size(ndim, shape);
    real *data = rg_xcalloc((size_t)(n ? n : 1), sizeof(real), "a tensor's values");
    real *grad = rg_xcalloc((size_t)(n ? n : 1), sizeof(real), "a tensor's gradient");
    for (long i = 0; rng && i < n; i++) data[i] = (real)(std * rg_rng_normal(rng));
    *t = rg_wrap(data, grad, ndim, shape, name);
    return t;
}

void rg_tensor_free(rg_tensor *t) {
    if (!t) return;
    free(t->data);
    free(t->grad);
    free(t);
}

rg_tensor rg_wrap(real *data, real *grad, int ndim, const int *shape, const char *name) {
    rg_tensor t;
    memset(&t, 0, sizeof t);
    t.data = data;
    t.grad = grad;
    t.ndim = ndim;
    for (int i = 0; i < ndim; i++) t.shape[i] = shape[i];
    t.size = rg_shape_size(ndim, shape);
    t.requires_grad = grad != NULL;
    t.name = name;
    return t;
}

real *rg_grad(rg_ctx *ctx, rg_tensor *t) {
    if (!t->grad) t->grad = rg_arena_calloc(&ctx->arena, (size_t)t->size * sizeof(real));
    return t->grad;
}

real *rg_grad_fresh(rg_ctx *ctx, rg_tensor *t, bool *fresh) {
    *fresh = !t->grad;
    if (!t->grad) t->grad = rg_arena_alloc(&ctx->arena, (size_t)t->size * sizeof(real));
    return t->grad;
}

bool rg_same_shape(const rg_tensor *a, const rg_tensor *b) {
    if (a->ndim != b->ndim) return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return false;
    return true;
}

const char *rg_shape_str(const rg_tensor *t, char *buf, size_t n) {
    size_t k = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < t->ndim && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, i ? ",%d" : "%d", t->shape[i]);
    if (k < n) snprintf(buf + k, n - k, "]");
    return buf;
}

/* ---- rng: xoshiro256** seeded by splitmix64 -------------------------------- */

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void rg_rng_seed(rg_rng *r, uint64_t seed) {
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k) {
    return (x << k) | (x >> (64 - k));
}

uint64_t rg_rng_u64(rg_rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double rg_rng_uniform(rg_rng *r) {
    return (double)(rg_rng_u64(r) >> 11) * 0x1.0p-53;
}

double rg_rng_normal(rg_rng *r) {
    double u1 = rg_rng_uniform(r), u2 = rg_rng_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

int rg_rng_int(rg_rng *r, int lo, int hi) {
    uint64_t span = (uint64_t)(hi - lo) + 1;
    return lo + (int)(rg_rng_u64(r) % span);
}
