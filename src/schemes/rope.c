/* rope.c: rotary position embedding, RoPE (Su et al. 2021). Queries and keys
 * are rotated before the content score: pair m of each head's features turns
 * by the angle p * rope_base^(-2m/dh) / rope_scale, so q_i . k_j depends on
 * positions only through p_i - p_j. rope_scale > 1 is position interpolation
 * (Chen et al. 2023), and a larger rope_base at evaluation is NTK-aware
 * scaling; both may change at evaluation. The rotation is the op
 * rg_rotate_pairs (ops/position.c). */
#include "scheme.h"

#include <stddef.h>

static const rg_key_info KEYS[] = {
    {.name = "rope_base",
     .group = "model",
     .type = RG_KEY_REAL,
     .kind = RG_V_REAL,
     .offset = offsetof(rg_scheme_opts, rope_base),
     .lo = 1,
     .open = true,
     .def = "10000",
     .flags = RG_KEY_SCHEME | RG_KEY_EVAL,
     .help = "RoPE frequency base; > 1; evaluation may raise it (NTK-aware scaling)"},
    {.name = "rope_scale",
     .group = "model",
     .type = RG_KEY_REAL,
     .kind = RG_V_REAL,
     .offset = offsetof(rg_scheme_opts, rope_scale),
     .lo = 0,
     .open = true,
     .def = "1",
     .flags = RG_KEY_SCHEME | RG_KEY_EVAL,
     .help = "RoPE position interpolation factor (angles divided by it); > 0, 1 = off; "
             "evaluation may change it"},
};

static int validate(rg_scheme_check *chk) {
    int d = chk->mc->d_model, H = chk->mc->n_heads;
    if ((d / H) % 2)
        return chk->fail(chk, "n_heads",
                         "head size d_model/n_heads = %d/%d = %d is odd, but pos = rope rotates "
                         "pairs of each head's features; choose n_heads so that d_model/n_heads "
                         "is even",
                         d, H, d / H);
    return 0;
}

static rg_tensor *rotate(rg_ctx *ctx, const rg_scheme_opts *o, rg_tensor *x, const int *pos,
                         long pos_stride) {
    return rg_rotate_pairs(ctx, x, pos, pos_stride, (real)o->rope_base, (real)o->rope_scale);
}

const rg_scheme rg_scheme_rope = {
    .name = "rope",
    .summary = "rotary embedding: queries and keys rotated by their positions (Su et al. 2021)",
    .flags = RG_SCHEME_RELATIVE | RG_SCHEME_ANY_ORDER,
    .keys = KEYS,
    .n_keys = RG_COUNT(KEYS),
    .validate = validate,
    .rotate = rotate,
};
