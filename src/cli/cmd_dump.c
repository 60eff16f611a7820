/* cmd_dump.c: `relgrad dump CONFIG --out FILE [key=value ...]` and
 * `relgrad dump --checkpoint CKPT --out FILE [key=value ...]`: one batch,
 * forward and backward, written as SPEC section 4's gradient dump so an
 * outside implementation (tools/torch_ref.py) can recompute everything.
 * From a config the model is freshly initialised (seed); from a checkpoint
 * it is the trained model, with the checkpoint's config (key=value may
 * change the batch: batch_size, train_len, seed, random_positions, ...).
 * With mem_len > 0 and segment_len > 0 it first runs one segment without
 * gradient to fill the memory, then dumps the second segment. The batch and
 * the file are the inspect layer's (rg_dump_step_write); this file reads
 * the command line and loads the model. */
#include "args.h"
#include "cli.h"
#include "help.h"
#include "relgrad/inspect.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    rg_dump_step step; /* the batch, forward, backward, the file (inspect.h) */
    rc = rg_dump_step_write(cfg, &model, out, &step, &err);
    char pos[256];
    if (rc)
        fprintf(stderr, "relgrad dump: %s\n", err.msg);
    else
        fprintf(stderr, "relgrad dump: wrote %s (%s, pos %s, B %d, T %d, offset %d, loss %.6f)\n",
                out, RG_REAL_NAME, rg_scheme_list_text(&cfg->model.schemes, ',', pos, sizeof pos),
                step.B, step.T, step.offset, step.loss);
    rg_model_free(&model);
    free(cfg);
    return rc ? RG_EXIT_BAD_INPUT : RG_EXIT_OK;
}
