/* params.h: named parameters in one flat buffer.
 *
 * A model declares its parameters twice with the same code: a counting pass
 * adds up their sizes, then, once the flat value and gradient buffers exist,
 * a filling pass points a named tensor header at each one's slice. Each
 * parameter also records whether AdamW decays it and how it starts.
 */
#ifndef RELGRAD_PARAMS_H
#define RELGRAD_PARAMS_H

#include "relgrad/tensor.h"

#define RG_NAME_MAX 64

typedef enum {
    RG_INIT_NORMAL, /* normal(0, init_std)          */
    RG_INIT_ZEROS,
    RG_INIT_ONES,
    RG_INIT_CONST, /* every value = init_value      */
} rg_init_kind;

typedef struct rg_param {
    char name[RG_NAME_MAX]; /* SPEC name, e.g. "blocks.0.attn.qkv.weight"     */
    rg_tensor t;            /* header into the flat buffers                    */
    long offset;            /* where its values start in the flat buffers      */
    bool decay;             /* AdamW weight decay applies (matrices, not
                               biases, LayerNorm, embeddings or tables)        */
    rg_init_kind init;
    double init_value; /* RG_INIT_CONST                                  */
} rg_param;

typedef struct rg_param_builder {
    bool counting;    /* first pass: only count                          */
    int n_params;     /* declared so far                                 */
    long n_values;    /* values declared so far                          */
    rg_param *params; /* filling pass: room for every parameter        */
    real *values, *grads;
} rg_param_builder;

/* Declare a parameter [shape] named `name`. Counting pass: returns NULL.
 * Filling pass: returns its tensor. */
rg_tensor *rg_declare(rg_param_builder *pb, const char *name, int ndim, const int *shape,
                      bool decay, rg_init_kind init, double init_value);

/* The usual kinds, for short declarations. */
#define RG_SHAPE(...)                                                                              \
    (int)(sizeof((int[]){__VA_ARGS__}) / sizeof(int)), (int[]) {                                   \
        __VA_ARGS__                                                                                \
    }

#endif
