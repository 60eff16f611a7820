/* cmd_dump.c: `relgrad dump CONFIG --out FILE [key=value ...]` and
 * `relgrad dump --checkpoint CKPT --out FILE [key=value ...]`: one batch,
 * forward and backward, written as SPEC section 4's gradient dump so an
 * outside implementation (tools/torch_ref.py) can recompute everything.
 * From a config the model is freshly initialised (seed); from a checkpoint
 * it is the trained model, with the checkpoint's config (key=value may
 * change the batch: batch_size, train_len, seed, random_positions, ...).
 * With mem_len > 0 and segment_len > 0 it first runs one segment without
 * gradient to fill the memory, then dumps the second segment. */
#include "args.h"
#include "cli.h"
#include "help.h"
#include "relgrad/io.h"
#include "relgrad/nn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Columns [t0, t0+n) of a [B,T] array into out [B,n]. */
static void columns(const void *src, int B, int T, int t0, int n, size_t elem, void *out) {
    for (int b = 0; b < B; b++)
        memcpy((char *)out + (size_t)b * n * elem, (const char *)src + ((size_t)b * T + t0) * elem,
               (size_t)n * elem);
}

/* The config and model: from a config file (fresh init) or a checkpoint. */
static int load(const rg_cli_args *a, rg_config *cfg, rg_model *model, rg_error *err) {
    const char *ckpt = a->checkpoint;
    if (!ckpt) {
        if (rg_cli_load(a, cfg, err) || rg_config_validate(cfg, a->file, err) ||
            rg_cli_refuse_grid_keys("dump", a->file, cfg, err))
            return 2;
        return rg_model_init(model, &cfg->model, (uint64_t)cfg->seed, err);
    }
    rg_config_defaults(cfg);
    if (rg_checkpoint_read_config(ckpt, cfg, err)) return 2;
    rg_model_config trained = cfg->model;
    if (rg_cli_apply(a, cfg, err) || rg_config_validate(cfg, ckpt, err) ||
        rg_cli_refuse_grid_keys("dump", NULL, cfg, err))
        return 2;
    if (memcmp(&trained, &cfg->model, sizeof trained)) {
        snprintf(err->msg, sizeof err->msg,
                 "%s: key=value arguments may change the batch, not the model (model keys are "
                 "fixed by the checkpoint)",
                 ckpt);
        return 2;
    }
    if (rg_model_init(model, &cfg->model, 0, err)) return 2;
    return rg_checkpoint_load(ckpt, model, NULL, NULL, err);
}

int rg_cmd_dump(int argc, char **argv) {
    rg_cli_args a;
    if (rg_cli_parse("dump", argc, argv, RG_OPT_OUT | RG_OPT_CHECKPOINT | RG_OPT_QUIET, &a))
        return RG_EXIT_BAD_INPUT;
    if (!a.out || (!a.file) == (!a.checkpoint)) {
        fprintf(stderr, "relgrad dump: %s\n",
                !a.out                   ? "missing --out FILE"
                : a.file && a.checkpoint ? "give CONFIG or --checkpoint, not both"
                                         : "missing CONFIG (or --checkpoint CHECKPOINT)");
        rg_help_usage(stderr, "dump");
        rg_cli_args_free(&a);
        return RG_EXIT_BAD_INPUT;
    }
    const char *out = a.out;

    rg_config *cfg = rg_xmalloc(sizeof *cfg, "a config");
    rg_error err;
    rg_model model;
    memset(&model, 0, sizeof model);
    int rc = load(&a, cfg, &model, &err);
    rg_cli_args_free(&a);
    if (rc) {
        fprintf(stderr, "relgrad dump: %s\n", err.msg);
        rg_model_free(&model);
        free(cfg);
        return RG_EXIT_BAD_INPUT;
    }
    if (!cfg->quiet) rg_cli_show_config(stderr, "dump", cfg, 0);

    /* one batch of full-length examples */
    rg_rng rng;
    rg_rng_seed(&rng, rg_train_seed(cfg->seed));
    rg_batch batch;
    rg_batch_init(&batch);
    rg_batch_make(&batch, cfg->task, cfg->model.n_symbols, cfg->batch_size, cfg->train_len,
                  cfg->train_len, &rng);
    if (cfg->random_positions > 0) rg_batch_random_positions(&batch, cfg->random_positions, &rng);
    int B = batch.B, T = batch.T, offset = 0, t0 = 0, n = T, S = cfg->model.segment_len;
    bool recurrent = cfg->model.mem_len > 0 && S > 0;
    if (recurrent) {
        if (T <= S) {
            fprintf(stderr,
                    "relgrad dump: with memory, dump needs sequences longer than segment_len = %d "
                    "(these have %d tokens); lower segment_len or raise train_len\n",
                    S, T);
            rg_batch_free(&batch), rg_model_free(&model), free(cfg);
            return RG_EXIT_BAD_INPUT;
        }
        t0 = offset = S;
        n = T - t0 < S ? T - t0 : S;
    }
    int *pos = rg_xmalloc((size_t)B * T * sizeof(int), "positions");
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            pos[(long)b * T + t] = batch.pos ? batch.pos[(long)b * T + t] : t;

    rg_ctx ctx;
    rg_ctx_init(&ctx, cfg->threads);
    rg_memory mem;
    rg_memory_init(&mem, &model, B);
    int *first = rg_xmalloc((size_t)B * T * sizeof(int), "a segment");
    int *first_pos = rg_xmalloc((size_t)B * T * sizeof(int), "a segment");
    int *tok = rg_xmalloc((size_t)B * n * sizeof(int), "a segment");
    int *tgt = rg_xmalloc((size_t)B * n * sizeof(int), "a segment");
    int *seg_pos = rg_xmalloc((size_t)B * n * sizeof(int), "a segment");
    real *mask = rg_xmalloc((size_t)B * n * sizeof(real), "a segment");
    if (recurrent) { /* segment 0, no gradient: fills the memory */
        columns(batch.tokens, B, T, 0, t0, sizeof(int), first);
        columns(pos, B, T, 0, t0, sizeof(int), first_pos);
        bool was = rg_set_no_grad(&ctx, true);
        rg_model_forward(&ctx, &model, first, first_pos, B, t0, 0, &mem);
        rg_set_no_grad(&ctx, was);
    }
    columns(batch.tokens, B, T, t0, n, sizeof(int), tok);
    columns(batch.targets, B, T, t0, n, sizeof(int), tgt);
    columns(batch.mask, B, T, t0, n, sizeof(real), mask);
    columns(pos, B, T, t0, n, sizeof(int), seg_pos);
    /* the memory this segment reads (the forward overwrites it) */
    rg_memory mem_in;
    rg_memory_init(&mem_in, &model, B);
    size_t rows = (size_t)B * (mem.cap > 0 ? mem.cap : 1);
    memcpy(mem_in.data, mem.data, rows * mem.n_layers * mem.d * sizeof(real));
    memcpy(mem_in.pos, mem.pos, rows * sizeof(int));
    mem_in.len = mem.len;

    rg_model_zero_grad(&model);
    rg_tensor *logits =
        rg_model_forward(&ctx, &model, tok, seg_pos, B, n, offset, recurrent ? &mem : NULL);
    rg_tensor *loss = rg_model_loss(&ctx, logits, tgt, mask);
    rg_backward(&ctx, loss);

    rg_dump_batch db = {B, n, offset, tok, tgt, mask, seg_pos};
    rc = rg_dump_write(out, cfg, &model, &db, recurrent ? &mem_in : NULL, loss->data[0], logits,
                       &err);
    char pos_text[256];
    if (rc)
        fprintf(stderr, "relgrad dump: %s\n", err.msg);
    else
        fprintf(stderr, "relgrad dump: wrote %s (%s, pos %s, B %d, T %d, offset %d, loss %.6f)\n",
                out, RG_REAL_NAME,
                rg_pos_list_text(&cfg->model.pos, ',', pos_text, sizeof pos_text), B, n, offset,
                (double)loss->data[0]);
    free(first), free(first_pos), free(tok), free(tgt), free(seg_pos), free(mask), free(pos);
    rg_memory_free(&mem_in);
    rg_memory_free(&mem);
    rg_batch_free(&batch);
    rg_ctx_free(&ctx);
    rg_model_free(&model);
    free(cfg);
    return rc ? RG_EXIT_BAD_INPUT : RG_EXIT_OK;
}
