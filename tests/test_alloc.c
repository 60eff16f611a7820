/* test_alloc.c: a warm training step calls no malloc. This executable is
 * linked with -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc (see
 * tests/CMakeLists.txt), so every allocation made by relgrad's own code (a
 * static library) passes through the counters below. */
#include "relgrad/data.h"
#include "relgrad/optim.h"

#include <criterion/criterion.h>
#include <stddef.h>

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
static long n_allocs;
void *__wrap_malloc(size_t n) {
    return n_allocs++, __real_malloc(n);
}
void *__wrap_calloc(size_t n, size_t m) {
    return n_allocs++, __real_calloc(n, m);
}
void *__wrap_realloc(void *p, size_t n) {
    return n_allocs++, __real_realloc(p, n);
}

static void train_steps(rg_pos pos, int mem_len) {
    rg_config c;
    rg_config_defaults(&c);
    c.d_model = 16, c.n_heads = 2, c.n_layers = 2, c.d_ff = 32, c.pos = pos, c.train_len = 6;
    c.mem_len = mem_len, c.segment_len = mem_len ? 5 : 0;
    c.n_eval_lens = 1, c.eval_lens[0] = 6;
    rg_error err;
    rg_model m;
    cr_assert_eq(rg_model_init(&m, &c, 1, &err), 0, "%s", err.msg);
    rg_adamw opt;
    rg_adamw_init(&opt, &m, 0.1);
    rg_ctx ctx;
    rg_ctx_init(&ctx, 2);
    rg_batch batch;
    rg_batch_init(&batch);
    rg_rng rng;
    rg_rng_seed(&rng, 1);
    long before = 0;
    for (int step = 0; step < 4; step++) {
        if (step == 2) before = n_allocs; /* steps 0 and 1 warm the arena up */
        rg_batch_make(&batch, c.task, c.n_symbols, 8, c.train_len, c.train_len, &rng);
        rg_ctx_reset(&ctx);
        rg_tensor *logits = rg_model_forward_seq(&ctx, &m, batch.tokens, batch.B, batch.T);
        rg_tensor *loss = rg_model_loss(&ctx, logits, batch.targets, batch.mask);
        rg_model_zero_grad(&m);
        rg_backward(&ctx, loss);
        rg_clip_grad_norm(&m, 1.0);
        rg_adamw_step(&opt, &m, 1e-3);
    }
    cr_expect_gt(before, 0, "the counters saw no allocation at all (is --wrap in effect?)");
    cr_expect_eq(n_allocs - before, 0, "%s mem_len=%d: %ld allocations in two warm steps",
                 rg_pos_name(pos), mem_len, n_allocs - before);
    rg_batch_free(&batch);
    rg_ctx_free(&ctx);
    rg_adamw_free(&opt);
    rg_model_free(&m);
}

Test(alloc, warm_step_no_malloc) {
    for (int p = 0; p < RG_POS_COUNT; p++) train_steps((rg_pos)p, 0);
    train_steps(RG_POS_XL, 4);
    train_steps(RG_POS_DEBERTA, 4);
}
