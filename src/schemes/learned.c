/* learned.c: a learned absolute position embedding, one row of
 * pos_emb.weight [max_positions, d] per position, added to the token
 * embeddings (as in GPT-2). Positions at or past max_positions have no row:
 * the config refuses runs that would read one. */
#include "scheme.h"

#include <stddef.h>

enum { POS_EMB }; /* its one shared parameter */

static const rg_key_info KEYS[] = {
    {.name = "max_positions",
     .group = "model",
     .type = RG_KEY_INT,
     .kind = RG_V_INT,
     .offset = offsetof(rg_scheme_opts, max_positions),
     .lo = 1,
     .hi = 1 << 24,
     .def = "256",
     .flags = RG_KEY_SCHEME,
     .help = "rows of the learned position table (pos = learned); at least the number of "
             "positions read (the longest sequence, or random_positions)"},
};

static int validate(rg_scheme_check *chk) {
    int have = chk->mc->opts.max_positions, need = chk->positions_read;
    if (need > have)
        return chk->fail(chk, "max_positions",
                         "%d is too small for pos = learned: %s reads positions 0 .. %d; set "
                         "max_positions >= %d, or read fewer positions",
                         have, chk->positions_why, need - 1, need);
    return 0;
}

static void declare_shared(rg_param_builder *pb, const rg_model_config *mc, rg_tensor **slot) {
    slot[POS_EMB] = rg_declare(pb, "pos_emb.weight", RG_SHAPE(mc->opts.max_positions, mc->d_model),
                               false, RG_INIT_NORMAL, 0);
}

static rg_tensor *embed(rg_ctx *ctx, const rg_model_config *mc, rg_tensor *const *shared,
                        const int *pos, long pos_stride, int B, int T) {
    int rows = pos_stride ? B : 1, n = rows * T;
    int *idx = rg_arena_alloc(&ctx->arena, (size_t)n * sizeof(int));
    for (int b = 0; b < rows; b++)
        for (int t = 0; t < T; t++) {
            int p = pos[b * pos_stride + t];
            if (p < 0 || p >= mc->opts.max_positions)
                rg_die("pos = learned: position %d has no row (max_positions = %d); raise "
                       "max_positions or read fewer positions",
                       p, mc->opts.max_positions);
            idx[b * T + t] = p;
        }
    return rg_reshape(ctx, rg_embedding(ctx, shared[POS_EMB], idx, n), 3,
                      (int[]){rows, T, mc->d_model});
}

const rg_scheme rg_scheme_learned = {
    .name = "learned",
    .summary = "a learned absolute embedding per position, added to the tokens (GPT-2)",
    .flags = RG_SCHEME_ANY_ORDER,
    .keys = KEYS,
    .n_keys = RG_COUNT(KEYS),
    .validate = validate,
    .declare_shared = declare_shared,
    .embed = embed,
};
