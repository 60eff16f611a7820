/* tape_graph.c: the tape of one training step as a file (inspect.h): a
 * fresh model, one batch forward, the loss, backward under the edge
 * observer of tape_dot.c, the DOT written through a temporary file; and the
 * SVG drawn from it by Graphviz's dot. */
#include "relgrad/inspect.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Write the DOT through a temporary file renamed into place. */
static int write_dot(const char *path, const rg_tape_view *v, const rg_model *m, bool grads,
                     const char *title, rg_error *err) {
    char tmp[RG_PATH_MAX + 64];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f) {
        snprintf(err->msg, sizeof err->msg, "cannot write %s: %s; check that its directory exists",
                 path, strerror(errno));
        return 2;
    }
    rg_tape_write_dot(f, v, m, grads, title);
    if (ferror(f) | fclose(f) || rename(tmp, path)) {
        snprintf(err->msg, sizeof err->msg, "cannot write %s: %s", path, strerror(errno));
        remove(tmp);
        return 2;
    }
    return 0;
}

int rg_tape_graph_write(const rg_config *cfg, bool with_grads, const char *path, rg_tape_graph *out,
                        rg_error *err) {
    memset(out, 0, sizeof *out);
    rg_model model;
    memset(&model, 0, sizeof model);
    if (rg_model_init(&model, &cfg->model, (uint64_t)cfg->seed, err)) {
        rg_model_free(&model);
        return 2;
    }
    /* one batch of full-length examples, one training step's tape */
    rg_rng rng;
    rg_rng_seed(&rng, rg_train_seed(cfg->seed));
    rg_batch batch;
    rg_batch_init(&batch);
    rg_train_data data; /* full-length examples, as the run's config draws them */
    rg_train_data_init(&data, cfg, cfg->train_len);
    rg_train_data_batch(&data, 0, &batch, &rng);
    rg_ctx ctx;
    rg_ctx_init(&ctx, cfg->threads);
    rg_tensor *logits =
        rg_model_forward_seq(&ctx, &model, batch.tokens, batch.pos, batch.abacus, batch.B,
                             batch.T); // (B,T,V)
    rg_tensor *loss = rg_model_loss(&ctx, logits, batch.targets, batch.mask);
    rg_tape_view view;
    rg_tape_view_init(&view, &ctx);
    ctx.observer = rg_tape_view_observer(&view);
    rg_model_zero_grad(&model);
    rg_backward(&ctx, loss);
    ctx.observer = (rg_backward_observer){0};

    char pos[256], title[600];
    snprintf(title, sizeof title,
             "one training step of relgrad (%s): pos %s, task %s, B %d, T %d, d_model %d, "
             "n_heads %d, n_layers %d; %ld tape nodes\ncoloured: the positional scheme's ops "
             "and parameters%s",
             RG_REAL_NAME, rg_scheme_list_text(&cfg->model.schemes, ',', pos, sizeof pos),
             rg_task_name(cfg->task), batch.B, batch.T, cfg->model.d_model, cfg->model.n_heads,
             cfg->model.n_layers, ctx.n_nodes,
             with_grads ? "\nedge labels: norm of the gradient backward sent along the edge" : "");
    int rc = write_dot(path, &view, &model, with_grads, title, err);
    *out = (rg_tape_graph){.n_nodes = ctx.n_nodes, .n_ops = view.n, .loss = loss->data[0]};
    rg_tape_view_free(&view);
    rg_ctx_free(&ctx);
    rg_batch_free(&batch);
    rg_train_data_free(&data);
    rg_model_free(&model);
    return rc;
}

int rg_draw_svg(const char *dot, const char *svg, char *why, size_t n) {
    char tmp[RG_PATH_MAX + 64];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", svg, (long)getpid());
    char *args[] = {"dot", "-Tsvg", "-o", tmp, (char *)dot, NULL};
    if (rg_spawn_wait(args, why, n)) {
        remove(tmp);
        return -1;
    }
    if (rename(tmp, svg)) {
        snprintf(why, n, "cannot write %s: %s", svg, strerror(errno));
        remove(tmp);
        return -1;
    }
    return 0;
}
