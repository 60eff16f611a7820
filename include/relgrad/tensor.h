/* tensor.h: the real type, tensors, the per-step arena and the context.
 *
 * One source tree builds in two precisions: `real` is float by default and
 * double when RELGRAD_F64 is defined (the float64 build used by gradient
 * checks). Tensors are row-major, contiguous, up to 4 dimensions.
 *
 * Memory has two lifetimes:
 *   - parameters (value, gradient, optimizer state) live as long as the model
 *     and are owned by it (nn.h);
 *   - everything one training step creates (activations, saved values,
 *     activation gradients, tape nodes) comes from the context's arena, which
 *     is reset at the start of every step. After the first step the arena has
 *     grown to fit, so a warm step calls no malloc.
 */
#ifndef RELGRAD_TENSOR_H
#define RELGRAD_TENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef RELGRAD_F64
typedef double real;
#define RG_REAL_NAME "float64"
#else
typedef float real;
#define RG_REAL_NAME "float32"
#endif

#define RG_MAX_DIMS 4

struct rg_rng;

typedef struct rg_tensor {
    real *data; /* [size] values, row-major                          */
    real *grad; /* [size] d loss / d data; NULL until first needed   */
    int ndim;   /* 1..RG_MAX_DIMS (a scalar is shape [1])            */
    int shape[RG_MAX_DIMS];
    long size;          /* product of shape                                  */
    bool requires_grad; /* true for parameters and anything computed from them */
    const char *name;   /* parameter name, or the op that made it            */
} rg_tensor;

/* ---- arena: bump allocation for one step ------------------------------ */

typedef struct rg_arena_block {
    struct rg_arena_block *next;
    size_t cap, used;
    /* 64-byte aligned payload follows */
} rg_arena_block;

typedef struct rg_arena {
    rg_arena_block *head; /* current block (newest first)                   */
    size_t in_use;        /* bytes handed out since the last reset          */
    size_t high_water;    /* most bytes ever handed out between resets      */
    long n_mallocs;       /* blocks ever allocated (a test watches this)    */
} rg_arena;

void rg_arena_init(rg_arena *a, size_t initial_bytes);
void rg_arena_free(rg_arena *a);
/* Forget everything allocated since the last reset. If the step needed more
 * than one block, the blocks are replaced by one block big enough for all of
 * it, so the next step of the same shape allocates nothing. */
void rg_arena_reset(rg_arena *a);
/* 64-byte aligned, uninitialised. Never returns NULL (dies on OOM). */
void *rg_arena_alloc(rg_arena *a, size_t bytes);
void *rg_arena_calloc(rg_arena *a, size_t bytes);

/* ---- context: everything an op needs, passed explicitly ---------------- */

struct rg_node;
struct rg_ctx;

/* Which part of a model is recording: the block (layer) and the positional
 * scheme whose hook is running, -1 for none. Each tape node keeps the origin
 * it was recorded under (tape.h), so tools that draw the tape (relgrad graph)
 * can group nodes by layer and set a scheme's own ops apart. The model sets
 * it (rg_set_origin); ops never read it. */
typedef struct rg_origin {
    int layer, scheme;
} rg_origin;

#define RG_NO_ORIGIN ((rg_origin){-1, -1})

/* An optional watcher of backward: rg_backward_seeded calls fn(arg, ctx,
 * node, false) just before a node's backward function and fn(arg, ctx, node,
 * true) just after it, so a tool can see what the node sent to each input
 * (relgrad graph --grads) or, in a gradient check's own context, perturb it
 * on purpose (relgrad gradcheck --break). Off (fn NULL) everywhere else. */
typedef struct rg_backward_observer {
    void (*fn)(void *arg, struct rg_ctx *ctx, struct rg_node *node, bool after);
    void *arg;
} rg_backward_observer;

typedef struct rg_ctx {
    rg_arena arena;                /* per-step memory                                 */
    struct rg_node *tape;          /* last recorded node; nodes link to their prev    */
    long n_nodes;                  /* nodes recorded since the last reset             */
    bool no_grad;                  /* when true, ops record nothing                   */
    int threads;                   /* threads of every OpenMP loop and BLIS call made
                                      with this context (passed per call: the process's
                                      global OpenMP and BLIS settings are never changed) */
    rg_origin origin;              /* recorded into each node (RG_NO_ORIGIN by default) */
    rg_backward_observer observer; /* usually off                            */
} rg_ctx;

void rg_ctx_init(rg_ctx *ctx, int threads);
void rg_ctx_free(rg_ctx *ctx);
/* Start a new step: empty tape, reset arena. Tensors from the previous step
 * become invalid. */
void rg_ctx_reset(rg_ctx *ctx);

/* ---- tensors ----------------------------------------------------------- */

/* A new arena tensor with uninitialised data (zeroed with rg_zeros). */
rg_tensor *rg_empty(rg_ctx *ctx, int ndim, const int *shape);
rg_tensor *rg_zeros(rg_ctx *ctx, int ndim, const int *shape);
/* Convenience forms: rg_new2(ctx, 3, 4) is a [3,4] tensor. */
rg_tensor *rg_new1(rg_ctx *ctx, int d0);
rg_tensor *rg_new2(rg_ctx *ctx, int d0, int d1);
rg_tensor *rg_new3(rg_ctx *ctx, int d0, int d1, int d2);
rg_tensor *rg_new4(rg_ctx *ctx, int d0, int d1, int d2, int d3);
/* A tensor header over memory someone else owns (parameters). */
rg_tensor rg_wrap(real *data, real *grad, int ndim, const int *shape, const char *name);

/* A tensor that outlives steps (malloc'd header, value and zeroed gradient),
 * its values drawn from N(0, std) with rng (rng NULL: zeros): inputs of
 * gradient checks and tests. Free with rg_tensor_free. */
rg_tensor *rg_tensor_random(struct rg_rng *rng, int ndim, const int *shape, double std,
                            const char *name);
void rg_tensor_free(rg_tensor *t);

/* The tensor's gradient buffer, allocated from the arena and zeroed the first
 * time it is asked for. Backward functions accumulate into it. */
real *rg_grad(rg_ctx *ctx, rg_tensor *t);
/* The same buffer for a backward function that writes every entry of it:
 * when no gradient has reached t yet, a new buffer left uninitialised and
 * *fresh = true, and the caller stores g[j] = v + 0 (exactly what adding v
 * to a zeroed buffer gives, -0 included); else the existing buffer and
 * *fresh = false, and the caller adds. Saves zeroing a buffer that is
 * about to be overwritten. */
real *rg_grad_fresh(rg_ctx *ctx, rg_tensor *t, bool *fresh);

long rg_shape_size(int ndim, const int *shape);
bool rg_same_shape(const rg_tensor *a, const rg_tensor *b);
/* "[2,3,4]" into buf; returns buf. */
const char *rg_shape_str(const rg_tensor *t, char *buf, size_t n);

/* ---- checked heap allocation -------------------------------------------- */

/* malloc / calloc / realloc that never return NULL: on failure they report
 * what was being allocated ("a 4096-position key/value cache") and exit with
 * status 1. Every heap allocation outside the arena goes through these. */
void *rg_xmalloc(size_t bytes, const char *what);
void *rg_xcalloc(size_t count, size_t size, const char *what);
void *rg_xrealloc(void *p, size_t bytes, const char *what);

/* Report a programming error (wrong shapes, bad arguments to an op) and exit
 * with status 1. printf-style. */
_Noreturn void rg_die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Die with "op: shapes [..] and [..] ..." */
_Noreturn void rg_die_shapes(const char *op, const char *what, const rg_tensor *a,
                             const rg_tensor *b);

/* ---- random numbers (explicit state, no globals) ------------------------ */

typedef struct rg_rng {
    uint64_t s[4]; /* xoshiro256** state */
} rg_rng;

void rg_rng_seed(rg_rng *r, uint64_t seed);
uint64_t rg_rng_u64(rg_rng *r);
double rg_rng_uniform(rg_rng *r);          /* [0, 1) */
double rg_rng_normal(rg_rng *r);           /* N(0, 1), Box-Muller */
int rg_rng_int(rg_rng *r, int lo, int hi); /* uniform in [lo, hi] */

#endif
