/* dump_step.c: one training batch, forward and backward, written as SPEC
 * section 4's gradient dump (inspect.h), so an outside implementation
 * (tools/torch_ref.py) can recompute the loss, the logits and every
 * gradient. With memory (mem_len > 0 and segment_len > 0) the first segment
 * fills it without gradient and the second segment is dumped, with the
 * memory it read. */
#include "relgrad/inspect.h"

#include <stdlib.h>
#include <string.h>

int rg_dump_step_write(const rg_config *cfg, rg_model *model, const char *path, rg_dump_step *out,
                       rg_error *err) {
    memset(out, 0, sizeof *out);
    /* one batch of full-length examples */
    rg_rng rng;
    rg_rng_seed(&rng, rg_train_seed(cfg->seed));
    rg_batch batch;
    rg_batch_init(&batch);
    rg_train_data data; /* full-length examples, as the run's config draws them */
    rg_train_data_init(&data, cfg, cfg->train_len);
    rg_train_data_batch(&data, 0, &batch, &rng);
    int B = batch.B, T = batch.T, offset = 0, t0 = 0, n = T, S = cfg->model.segment_len;
    bool recurrent = cfg->model.mem_len > 0 && S > 0;
    if (recurrent) {
        if (T <= S) {
            snprintf(err->msg, sizeof err->msg,
                     "with memory, dump needs sequences longer than segment_len = %d (these have "
                     "%d tokens); lower segment_len or raise train_len",
                     S, T);
            rg_batch_free(&batch);
            rg_train_data_free(&data);
            return 2;
        }
        t0 = offset = S;
        n = T - t0 < S ? T - t0 : S;
    }
    int *pos = rg_xmalloc((size_t)B * T * sizeof(int), "positions"); // (B,T)
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            pos[(long)b * T + t] = batch.pos ? batch.pos[(long)b * T + t] : t;

    rg_ctx ctx;
    rg_ctx_init(&ctx, cfg->threads);
    rg_memory mem;
    rg_memory_init(&mem, model, B);
    int *first = rg_xmalloc((size_t)B * T * sizeof(int), "a segment");
    int *first_pos = rg_xmalloc((size_t)B * T * sizeof(int), "a segment");
    int *tok = rg_xmalloc((size_t)B * n * sizeof(int), "a segment");     // (B,n)
    int *tgt = rg_xmalloc((size_t)B * n * sizeof(int), "a segment");     // (B,n)
    int *seg_pos = rg_xmalloc((size_t)B * n * sizeof(int), "a segment"); // (B,n)
    int *first_ids = NULL, *seg_ids = NULL; /* abacus ids, with an abacus embedding */
    if (batch.abacus) {
        first_ids = rg_xmalloc((size_t)B * T * sizeof(int), "a segment"); // (B,t0)
        seg_ids = rg_xmalloc((size_t)B * n * sizeof(int), "a segment");   // (B,n)
    }
    real *mask = rg_xmalloc((size_t)B * n * sizeof(real), "a segment"); // (B,n)
    if (recurrent) { /* segment 0, no gradient: fills the memory */
        rg_columns(batch.tokens, B, T, 0, t0, sizeof(int), first);
        rg_columns(pos, B, T, 0, t0, sizeof(int), first_pos);
        rg_columns(batch.abacus, B, T, 0, t0, sizeof(int), first_ids);
        bool was = rg_set_no_grad(&ctx, true);
        rg_model_forward(&ctx, model, first, first_pos, first_ids, B, t0, 0, &mem);
        rg_set_no_grad(&ctx, was);
    }
    rg_columns(batch.tokens, B, T, t0, n, sizeof(int), tok);
    rg_columns(batch.targets, B, T, t0, n, sizeof(int), tgt);
    rg_columns(batch.mask, B, T, t0, n, sizeof(real), mask);
    rg_columns(pos, B, T, t0, n, sizeof(int), seg_pos);
    rg_columns(batch.abacus, B, T, t0, n, sizeof(int), seg_ids);
    /* the memory this segment reads (the forward overwrites it) */
    rg_memory mem_in;
    rg_memory_init(&mem_in, model, B);
    size_t rows = (size_t)B * (mem.cap > 0 ? mem.cap : 1);
    memcpy(mem_in.data, mem.data, rows * mem.n_layers * mem.d * sizeof(real));
    memcpy(mem_in.pos, mem.pos, rows * sizeof(int));
    mem_in.len = mem.len;

    rg_model_zero_grad(model);
    rg_tensor *logits = // (B,n,V)
        rg_model_forward(&ctx, model, tok, seg_pos, seg_ids, B, n, offset, recurrent ? &mem : NULL);
    rg_tensor *loss = rg_model_loss(&ctx, logits, tgt, mask);
    rg_backward(&ctx, loss);

    rg_dump_batch db = {.B = B,
                        .T = n,
                        .offset = offset,
                        .tokens = tok,
                        .targets = tgt,
                        .mask = mask,
                        .positions = seg_pos,
                        .abacus_ids = seg_ids};
    int rc = rg_dump_write(path, cfg, model, &db, recurrent ? &mem_in : NULL, loss->data[0], logits,
                           err);
    *out = (rg_dump_step){.B = B, .T = n, .offset = offset, .loss = loss->data[0]};
    free(first), free(first_pos), free(tok), free(tgt), free(seg_pos), free(mask), free(pos);
    free(first_ids), free(seg_ids);
    rg_memory_free(&mem_in);
    rg_memory_free(&mem);
    rg_batch_free(&batch);
    rg_train_data_free(&data);
    rg_ctx_free(&ctx);
    return rc ? 2 : 0;
}
