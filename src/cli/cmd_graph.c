/* cmd_graph.c: `relgrad graph CONFIG [key=value ...] --out FILE [--grads]`:
 * the tape of one training step (forward of one batch, the loss, backward)
 * as a Graphviz DOT file, and an SVG beside it drawn by Graphviz's `dot`
 * (started with an argument vector). The model is freshly initialised from
 * the config's seed; the batch is batch_size examples of train_len symbols
 * (so `batch_size=1 train_len=2 n_layers=1` gives a small picture). With
 * --grads each edge also carries the norm of the gradient backward sent
 * along it. Prints the tape's node count (ctx->n_nodes). */
#include "cli.h"
#include "relgrad/train.h"
#include "spawn.h"
#include "tape_dot.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int usage(void) {
    fprintf(stderr, "usage: relgrad graph CONFIG [key=value ...] --out FILE [--grads]\n"
                    "  writes FILE (Graphviz DOT) and FILE's .svg beside it (drawn by dot);\n"
                    "  --grads labels each edge with the norm of the gradient sent along it\n");
    return RG_EXIT_BAD_INPUT;
}

/* FILE.dot -> FILE.svg; any other name gets .svg appended. */
static void svg_path(const char *dot, char *buf, size_t n) {
    size_t len = strlen(dot);
    if (len > 4 && !strcmp(dot + len - 4, ".dot"))
        snprintf(buf, n, "%.*s.svg", (int)(len - 4), dot);
    else
        snprintf(buf, n, "%s.svg", dot);
}

/* Write the DOT through a temporary file renamed into place. */
static int write_dot(const char *path, const rg_tape_view *v, const rg_model *m, bool grads,
                     const char *title, char *why, size_t n) {
    char tmp[RG_PATH_MAX + 64];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f) {
        snprintf(why, n, "cannot write %s: %s; check that its directory exists", path,
                 strerror(errno));
        return -1;
    }
    rg_tape_write_dot(f, v, m, grads, title);
    if (ferror(f) | fclose(f) || rename(tmp, path)) {
        snprintf(why, n, "cannot write %s: %s", path, strerror(errno));
        remove(tmp);
        return -1;
    }
    return 0;
}

/* dot -Tsvg -o SVG.tmp DOT, then rename. */
static int draw_svg(const char *dot, const char *svg, char *why, size_t n) {
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

int rg_cmd_graph(int argc, char **argv) {
    const char *config_path = NULL, *out = NULL;
    bool grads = false;
    char **over = rg_xcalloc((size_t)argc + 1, sizeof *over, "arguments");
    int *over_num = rg_xcalloc((size_t)argc + 1, sizeof *over_num, "arguments");
    int n_over = 0;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--out")) {
            if (i + 1 >= argc) return free(over), free(over_num), usage();
            out = argv[++i];
        } else if (!strcmp(argv[i], "--grads")) {
            grads = true;
        } else if (!strncmp(argv[i], "--", 2)) {
            fprintf(stderr, "relgrad graph: argument %d: unknown option '%s'\n", i + 2, argv[i]);
            return free(over), free(over_num), usage();
        } else if (!config_path && !strchr(argv[i], '=')) {
            config_path = argv[i];
        } else {
            over_num[n_over] = i + 2; /* "relgrad graph" is 0 and 1 */
            over[n_over++] = argv[i];
        }
    }
    if (!out || !config_path) return free(over), free(over_num), usage();
    rg_config *cfg = rg_xmalloc(sizeof *cfg, "a config");
    rg_error err;
    rg_model model;
    memset(&model, 0, sizeof model);
    /* key=value arguments are numbered as on the command line */
    int rc = 0;
    rg_config_defaults(cfg);
    rc = rg_config_load(cfg, config_path, &err);
    for (int i = 0; i < n_over && !rc; i++)
        rc = rg_config_override(cfg, 1, &over[i], over_num[i], &err);
    if (!rc) rc = rg_config_validate(cfg, config_path, &err);
    if (!rc) rc = rg_model_init(&model, &cfg->model, (uint64_t)cfg->seed, &err);
    free(over), free(over_num);
    if (rc) {
        fprintf(stderr, "relgrad graph: %s\n", err.msg);
        rg_model_free(&model);
        free(cfg);
        return RG_EXIT_BAD_INPUT;
    }

    /* one batch of full-length examples, one training step's tape */
    rg_rng rng;
    rg_rng_seed(&rng, rg_train_seed(cfg->seed));
    rg_batch batch;
    rg_batch_init(&batch);
    rg_batch_make(&batch, cfg->task, cfg->model.n_symbols, cfg->batch_size, cfg->train_len,
                  cfg->train_len, &rng);
    if (cfg->random_positions > 0) rg_batch_random_positions(&batch, cfg->random_positions, &rng);
    rg_ctx ctx;
    rg_ctx_init(&ctx, cfg->threads);
    rg_tensor *logits =
        rg_model_forward_seq(&ctx, &model, batch.tokens, batch.pos, batch.B, batch.T);
    rg_tensor *loss = rg_model_loss(&ctx, logits, batch.targets, batch.mask);
    rg_tape_view view;
    rg_tape_view_init(&view, &ctx);
    ctx.observer = rg_tape_view_observer(&view);
    rg_model_zero_grad(&model);
    rg_backward(&ctx, loss);
    ctx.observer = (rg_backward_observer){0};

    char pos[256], title[600], svg[RG_PATH_MAX + 16], why[RG_PATH_MAX + 300];
    snprintf(title, sizeof title,
             "one training step of relgrad (%s): pos %s, task %s, B %d, T %d, d_model %d, "
             "n_heads %d, n_layers %d; %ld tape nodes\ncoloured: the positional scheme's ops "
             "and parameters%s",
             RG_REAL_NAME, rg_pos_list_text(&cfg->model.pos, ',', pos, sizeof pos),
             rg_task_name(cfg->task), batch.B, batch.T, cfg->model.d_model, cfg->model.n_heads,
             cfg->model.n_layers, ctx.n_nodes,
             grads ? "\nedge labels: norm of the gradient backward sent along the edge" : "");
    svg_path(out, svg, sizeof svg);
    rc = RG_EXIT_OK;
    if (write_dot(out, &view, &model, grads, title, why, sizeof why)) {
        fprintf(stderr, "relgrad graph: %s\n", why);
        rc = RG_EXIT_BAD_INPUT;
    } else if (draw_svg(out, svg, why, sizeof why)) {
        fprintf(stderr,
                "relgrad graph: wrote %s, but drawing %s failed: %s; install graphviz "
                "(tools/setup.sh)\n",
                out, svg, why);
        rc = RG_EXIT_ERROR;
    } else {
        printf("graph: %ld tape nodes (%d in the picture), loss %.6f -> %s, %s\n", ctx.n_nodes,
               view.n, (double)loss->data[0], out, svg);
    }
    rg_tape_view_free(&view);
    rg_ctx_free(&ctx);
    rg_batch_free(&batch);
    rg_model_free(&model);
    free(cfg);
    return rc;
}
