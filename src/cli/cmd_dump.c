/* cmd_dump.c: `relgrad dump CONFIG --out FILE [key=value ...]`: one batch,
 * forward and backward, written as SPEC section 4's gradient dump so an
 * outside implementation (tools/torch_ref.py) can recompute everything.
 * With mem_len > 0 and segment_len > 0 it first runs one segment without
 * gradient to fill the memory, then dumps the second segment. */
#include "cli.h"
#include "relgrad/data.h"
#include "relgrad/io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage(void) {
    fprintf(stderr, "usage: relgrad dump CONFIG --out FILE [key=value ...]\n");
    return RG_EXIT_BAD_INPUT;
}

/* Columns [t0, t0+n) of a [B,T] array into out [B,n]. */
static void columns(const void *src, int B, int T, int t0, int n, size_t elem, void *out) {
    for (int b = 0; b < B; b++)
        memcpy((char *)out + (size_t)b * n * elem, (const char *)src + ((size_t)b * T + t0) * elem,
               (size_t)n * elem);
}

int rg_cmd_dump(int argc, char **argv) {
    if (argc < 1) return usage();
    const char *config_path = argv[0], *out = NULL;
    char **overrides = calloc((size_t)argc, sizeof *overrides);
    int n_over = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--out")) {
            if (i + 1 >= argc) return free(overrides), usage();
            out = argv[++i];
        } else
            overrides[n_over++] = argv[i];
    }
    if (!out) return free(overrides), usage();

    rg_config cfg;
    rg_error err;
    int rc = rg_config_from_args(&cfg, config_path, n_over, overrides, &err);
    free(overrides);
    if (rc) return fprintf(stderr, "relgrad dump: %s\n", err.msg), RG_EXIT_BAD_INPUT;
    rg_model model;
    if (rg_model_init(&model, &cfg, (uint64_t)cfg.seed, &err))
        return fprintf(stderr, "relgrad dump: %s\n", err.msg), RG_EXIT_BAD_INPUT;

    /* one batch of full-length examples */
    rg_rng rng;
    rg_rng_seed(&rng, rg_train_seed(cfg.seed));
    rg_batch batch;
    rg_batch_init(&batch);
    rg_batch_make(&batch, cfg.task, cfg.n_symbols, cfg.batch_size, cfg.train_len, cfg.train_len,
                  &rng);
    int B = batch.B, T = batch.T, offset = 0, t0 = 0, n = T;
    bool recurrent = cfg.mem_len > 0 && cfg.segment_len > 0;
    if (recurrent) {
        if (T <= cfg.segment_len) {
            fprintf(stderr,
                    "relgrad dump: with memory, dump needs sequences longer than segment_len = %d "
                    "(these have %d tokens); lower segment_len or raise train_len\n",
                    cfg.segment_len, T);
            return RG_EXIT_BAD_INPUT;
        }
        t0 = offset = cfg.segment_len;
        n = T - t0 < cfg.segment_len ? T - t0 : cfg.segment_len;
    }

    rg_ctx ctx;
    rg_ctx_init(&ctx, cfg.threads);
    rg_memory mem;
    rg_memory_init(&mem, &model, B);
    int *first = malloc((size_t)B * T * sizeof(int));
    int *tok = malloc((size_t)B * n * sizeof(int)), *tgt = malloc((size_t)B * n * sizeof(int));
    real *mask = malloc((size_t)B * n * sizeof(real));
    if (recurrent) { /* segment 0, no gradient: fills the memory */
        columns(batch.tokens, B, T, 0, t0, sizeof(int), first);
        bool was = rg_set_no_grad(&ctx, true);
        rg_model_forward(&ctx, &model, first, B, t0, 0, &mem);
        rg_set_no_grad(&ctx, was);
    }
    columns(batch.tokens, B, T, t0, n, sizeof(int), tok);
    columns(batch.targets, B, T, t0, n, sizeof(int), tgt);
    columns(batch.mask, B, T, t0, n, sizeof(real), mask);
    rg_memory mem_in = mem; /* the memory this segment reads (forward overwrites it) */
    size_t mem_bytes =
        (size_t)mem.n_layers * B * (mem.cap > 0 ? mem.cap : 1) * mem.d * sizeof(real);
    mem_in.data = malloc(mem_bytes);
    memcpy(mem_in.data, mem.data, mem_bytes);

    rg_model_zero_grad(&model);
    rg_tensor *logits = rg_model_forward(&ctx, &model, tok, B, n, offset, recurrent ? &mem : NULL);
    rg_tensor *loss = rg_model_loss(&ctx, logits, tgt, mask);
    rg_backward(&ctx, loss);

    rg_dump_batch db = {B, n, offset, tok, tgt, mask};
    rc = rg_dump_write(out, &model, &db, recurrent ? &mem_in : NULL, loss->data[0], logits, &err);
    if (rc)
        fprintf(stderr, "relgrad dump: %s\n", err.msg);
    else
        fprintf(stderr, "relgrad dump: wrote %s (%s, pos %s, B %d, T %d, offset %d, loss %.6f)\n",
                out, RG_REAL_NAME, rg_pos_name(cfg.pos), B, n, offset, (double)loss->data[0]);
    free(first), free(tok), free(tgt), free(mask), free(mem_in.data);
    rg_memory_free(&mem);
    rg_batch_free(&batch);
    rg_ctx_free(&ctx);
    rg_model_free(&model);
    return rc ? RG_EXIT_BAD_INPUT : RG_EXIT_OK;
}
