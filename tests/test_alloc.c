/* test_alloc.c: a warm training step calls no malloc. This executable is
 * linked with -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc (see
 * tests/CMakeLists.txt), so every allocation made by relgrad's own code (a
 * static library) passes through the counters below. */
#include "testing.h"

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

static void train_steps(const char *pos, int mem_len, int random_positions) {
    rg_config c;
    rg_config_defaults(&c);
    test_set(&c, "d_model", "16");
    test_set(&c, "n_heads", "2");
    test_set(&c, "d_ff", "32");
    test_set(&c, "n_layers", "2");
    test_set(&c, "pos", pos);
    test_set(&c, "train_len", "6");
    test_setf(&c, "mem_len", "%d", mem_len);
    test_setf(&c, "segment_len", "%d", mem_len ? 5 : 0);
    rg_error err;
    rg_model m;
    cr_assert_eq(rg_model_init(&m, &c.model, 1, &err), 0, "%s", err.msg);
    rg_adamw opt;
    rg_adamw_init(&opt, &m, 0.1);
    rg_ctx ctx;
    rg_ctx_init(&ctx, 2);
    rg_batch batch;
    rg_batch_init(&batch);
    rg_rng rng;
    rg_rng_seed(&rng, 1);
    long before = 0;
    for (int step = 0; step < 6; step++) {
        if (step == 4) before = n_allocs; /* steps 0 to 3 warm the arena up */
        rg_batch_make(&batch, c.task, c.model.n_symbols, 8, c.train_len, c.train_len, &rng);
        if (random_positions) rg_batch_random_positions(&batch, random_positions, &rng);
        rg_step st = {.lr = 1e-3, .grad_clip = 1.0, .step = step + 1};
        cr_assert_eq(rg_train_step(&ctx, &m, &opt, &batch, &st, &err), 0, "%s", err.msg);
    }
    cr_expect_gt(before, 0, "the counters saw no allocation at all (is --wrap in effect?)");
    cr_expect_eq(n_allocs - before, 0,
                 "%s mem_len=%d random_positions=%d: %ld allocations in two "
                 "warm steps",
                 pos, mem_len, random_positions, n_allocs - before);
    rg_batch_free(&batch);
    rg_ctx_free(&ctx);
    rg_adamw_free(&opt);
    rg_model_free(&m);
}

Test(alloc, warm_step_no_malloc) {
    for (int id = 0; id < rg_scheme_count(); id++) {
        train_steps(rg_scheme_name(id), 0, 0);
        if (rg_scheme_is_relative(id)) train_steps(rg_scheme_name(id), 4, 0);
        if (id > 0) train_steps(rg_scheme_name(id), 0, 60);
    }
    train_steps("t5,deberta", 0, 0);
}
