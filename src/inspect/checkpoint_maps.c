/* checkpoint_maps.c: attention maps of a checkpoint, as `relgrad attention`
 * and the experiment report make them: one evaluation example at a length
 * and at twice it, written to HDF5 and drawn by tools/attention_maps.py
 * (inspect.h). */
#include "relgrad/inspect.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Per layer a line of each head's statistics; an encoder's heads also say
 * which way they look. */
static void print_map(FILE *out, const rg_attention_map *a, int train_len) {
    bool enc = a->arch == RG_ARCH_ENCODER;
    fprintf(out,
            "length %d%s (example %d, %d tokens%s): mean attended distance / entropy (nats)%s\n",
            a->len, a->len == train_len ? " (training length)" : "", a->example, a->T,
            enc ? ", encoder: both ways" : "",
            enc ? " / share of attention on keys left and right of the query: mostly left, "
                  "right or mixed"
                : "");
    for (int l = 0; l < a->L; l++) {
        fprintf(out, "  layer %d:", l);
        for (int h = 0; h < a->H; h++) {
            int lh = l * a->H + h;
            if (enc)
                fprintf(out, "  h%d %+.2f / %.2f / L %.2f R %.2f %s", h, a->mean_distance[lh],
                        a->entropy[lh], a->left_share[lh], a->right_share[lh],
                        rg_attention_direction(a->left_share[lh], a->right_share[lh]));
            else
                fprintf(out, "  h%d %.2f / %.2f", h, a->mean_distance[lh], a->entropy[lh]);
        }
        fprintf(out, "\n");
    }
}

int rg_attention_of_checkpoint(const char *ckpt, int len, int example, const char *h5, FILE *out,
                               rg_error *err) {
    rg_config *cfg = rg_xmalloc(sizeof *cfg, "a config");
    rg_model model;
    memset(&model, 0, sizeof model);
    rg_config_defaults(cfg);
    int rc = rg_checkpoint_read_config(ckpt, cfg, err);
    if (!rc) {
        /* the two lengths as evaluation lengths: validation then checks that
         * the model can read their positions (e.g. learned's table) */
        char lens[64];
        int n = len > 0 ? len : cfg->train_len;
        snprintf(lens, sizeof lens, "%d,%d", n, 2 * n);
        len = n;
        rc = rg_config_set(cfg, "eval_lens", lens, "relgrad attention (len and 2 len)", err);
    }
    if (!rc) rc = rg_config_validate(cfg, ckpt, err);
    if (!rc) rc = rg_model_init(&model, &cfg->model, 0, err);
    if (!rc) rc = rg_checkpoint_load(ckpt, &model, NULL, NULL, err);
    rg_attention_map maps[2];
    memset(maps, 0, sizeof maps);
    if (!rc) {
        rg_ctx ctx;
        rg_ctx_init(&ctx, cfg->threads);
        for (int i = 0; i < 2 && !rc; i++)
            rc = rg_attention_map_compute(&ctx, &model, cfg, (i + 1) * len, example, &maps[i], err);
        rg_ctx_free(&ctx);
    }
    if (!rc) rc = rg_attention_maps_write(h5, cfg, ckpt, maps, 2, err);
    for (int i = 0; i < 2 && !rc && out; i++) print_map(out, &maps[i], cfg->train_len);
    for (int i = 0; i < 2; i++) rg_attention_map_free(&maps[i]);
    rg_model_free(&model);
    free(cfg);
    return rc;
}

int rg_draw_attention(const char *h5, const char *png, const char *title, char *why, size_t n) {
    char script[RG_PATH_MAX + 64];
    rg_tool_path("attention_maps.py", script, sizeof script);
    char *args[] = {"/usr/bin/python3",       script,        (char *)h5, (char *)png,
                    title ? "--title" : NULL, (char *)title, NULL};
    return rg_spawn_wait(args, why, n);
}
