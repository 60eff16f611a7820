/* cmd_graph.c: `relgrad graph CONFIG [key=value ...] --out FILE [--grads]`:
 * the tape of one training step (forward of one batch, the loss, backward)
 * as a Graphviz DOT file, and an SVG beside it drawn by Graphviz's `dot`
 * (started with an argument vector). The model is freshly initialised from
 * the config's seed; the batch is batch_size examples of train_len symbols
 * (so `batch_size=1 train_len=2 n_layers=1` gives a small picture). With
 * --grads each edge also carries the norm of the gradient backward sent
 * along it. Prints the tape's node count (ctx->n_nodes). The step and the
 * drawing are the inspect layer's (rg_tape_graph_write, rg_draw_svg). */
#include "cli.h"
#include "relgrad/inspect.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    /* key=value arguments are numbered as on the command line */
    rg_config_defaults(cfg);
    int rc = rg_config_load(cfg, config_path, &err);
    for (int i = 0; i < n_over && !rc; i++)
        rc = rg_config_override(cfg, 1, &over[i], over_num[i], &err);
    if (!rc) rc = rg_config_validate(cfg, config_path, &err);
    free(over), free(over_num);
    rg_tape_graph graph; /* the model, one batch, its tape as DOT (inspect.h) */
    if (!rc) rc = rg_tape_graph_write(cfg, grads, out, &graph, &err);
    free(cfg);
    if (rc) {
        fprintf(stderr, "relgrad graph: %s\n", err.msg);
        return RG_EXIT_BAD_INPUT;
    }
    char svg[RG_PATH_MAX + 16], why[RG_PATH_MAX + 300];
    svg_path(out, svg, sizeof svg);
    if (rg_draw_svg(out, svg, why, sizeof why)) {
        fprintf(stderr,
                "relgrad graph: wrote %s, but drawing %s failed: %s; install graphviz "
                "(tools/setup.sh)\n",
                out, svg, why);
        return RG_EXIT_ERROR;
    }
    printf("graph: %ld tape nodes (%d in the picture), loss %.6f -> %s, %s\n", graph.n_nodes,
           graph.n_ops, graph.loss, out, svg);
    return RG_EXIT_OK;
}
