/* dump.c: the gradient dump (SPEC section 4), everything an outside
 * implementation (tools/torch_ref.py) needs to recompute one forward and
 * backward pass and compare:
 *   /               the checkpoint's root attributes, with
 *                   format = "relgrad-dump", format_version = 1
 *   /params/<name>  parameter values   } float64 in the f64 build,
 *   /grads/<name>   their gradients    } float32 in the f32 build
 *   /batch/tokens   int32 [B,T]     /batch/targets int32 [B,T]
 *   /batch/mask     real [B,T]      /batch/offset  int32 scalar
 *   /batch/positions int32 [B,T], the tokens' absolute positions (SPEC section 6)
 *   /batch/abacus_ids int32 [B,T], the abacus ids used (SPEC section 8), only
 *                   for a model with an abacus embedding
 *   /mems/<l>       real [B,len,d], layer l's memory input, only when mems
 *                   holds len > 0 rows (no /mems group otherwise)
 *   /mems/positions int32 [B,len], the positions of those rows
 *   /loss           real scalar     /logits        real [B,T,V]
 * Written atomically like a checkpoint.
 */
#include "io_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Group `name` with one dataset per parameter in the build's precision. */
static int write_set(hid_t f, const char *name, const rg_model *m, bool grads, const char *path,
                     rg_error *err) {
    hid_t g = rg_io_group(f, name, path, err);
    if (g < 0) return 2;
    int rc = 0;
    for (int i = 0; i < m->n_params && rc == 0; i++) {
        const rg_param *p = &m->params[i];
        const real *data = grads ? p->t.grad : p->t.data;
        if (!data) data = (grads ? m->grads : m->values) + p->offset; /* same buffer */
        rc = rg_io_write_reals(g, p->name, p->t.ndim, p->t.shape, data, false, path, err);
    }
    H5Gclose(g);
    return rc;
}

static int write_batch(hid_t f, const rg_dump_batch *b, const char *path, rg_error *err) {
    hid_t g = rg_io_group(f, "batch", path, err);
    if (g < 0) return 2;
    hsize_t bt[2] = {(hsize_t)b->B, (hsize_t)b->T};
    int32_t offset = b->offset;
    int rc = rg_io_write(g, "tokens", H5T_STD_I32LE, H5T_NATIVE_INT, 2, bt, b->tokens, path, err);
    if (!rc)
        rc = rg_io_write(g, "targets", H5T_STD_I32LE, H5T_NATIVE_INT, 2, bt, b->targets, path, err);
    if (!rc) rc = rg_io_write(g, "mask", RG_H5_REAL_FILE, RG_H5_REAL, 2, bt, b->mask, path, err);
    if (!rc)
        rc = rg_io_write(g, "offset", H5T_STD_I32LE, H5T_NATIVE_INT32, 0, NULL, &offset, path, err);
    if (!rc)
        rc = rg_io_write(g, "positions", H5T_STD_I32LE, H5T_NATIVE_INT, 2, bt, b->positions, path,
                         err);
    if (!rc && b->abacus_ids)
        rc = rg_io_write(g, "abacus_ids", H5T_STD_I32LE, H5T_NATIVE_INT, 2, bt, b->abacus_ids, path,
                         err);
    H5Gclose(g);
    return rc;
}

/* /mems/<l> [B, len, d]: the first len of cap rows of each (layer, batch). */
static int write_mems(hid_t f, const rg_memory *mem, const char *path, rg_error *err) {
    hid_t g = rg_io_group(f, "mems", path, err);
    if (g < 0) return 2;
    size_t row = (size_t)mem->len * mem->d;
    real *buf = rg_xmalloc((size_t)mem->B * row * sizeof(real), "a memory dump");
    int rc = 0;
    for (int l = 0; l < mem->n_layers && rc == 0; l++) {
        for (int b = 0; b < mem->B; b++)
            memcpy(buf + b * row, mem->data + ((size_t)l * mem->B + b) * mem->cap * mem->d,
                   row * sizeof(real));
        char name[32];
        snprintf(name, sizeof name, "%d", l);
        rc =
            rg_io_write_reals(g, name, 3, (int[]){mem->B, mem->len, mem->d}, buf, false, path, err);
    }
    free(buf);
    int *pos = rg_xmalloc((size_t)mem->B * mem->len * sizeof(int), "a memory dump");
    for (int b = 0; b < mem->B; b++)
        memcpy(pos + (size_t)b * mem->len, mem->pos + (size_t)b * mem->cap,
               (size_t)mem->len * sizeof(int));
    hsize_t bl[2] = {(hsize_t)mem->B, (hsize_t)mem->len};
    if (!rc) rc = rg_io_write(g, "positions", H5T_STD_I32LE, H5T_NATIVE_INT, 2, bl, pos, path, err);
    free(pos);
    H5Gclose(g);
    return rc;
}

static int write_dump(hid_t f, const char *path, const rg_config *cfg, const rg_model *m,
                      const rg_dump_batch *batch, const rg_memory *mems, real loss,
                      const rg_tensor *logits, rg_error *err) {
    if (rg_io_write_config(f, cfg, path, err) ||
        rg_io_attr_string(f, "format", RG_DUMP_FORMAT, path, err) ||
        rg_io_attr_int(f, "format_version", RG_FORMAT_VERSION, path, err) ||
        write_set(f, "params", m, false, path, err) || write_set(f, "grads", m, true, path, err) ||
        write_batch(f, batch, path, err))
        return 2;
    if (mems && mems->len > 0 && write_mems(f, mems, path, err)) return 2;
    if (rg_io_write(f, "loss", RG_H5_REAL_FILE, RG_H5_REAL, 0, NULL, &loss, path, err)) return 2;
    return rg_io_write_reals(f, "logits", logits->ndim, logits->shape, logits->data, false, path,
                             err);
}

/* The arguments must describe one batch of this model. */
static int check_args(const char *path, const rg_model *m, const rg_dump_batch *b,
                      const rg_memory *mems, const rg_tensor *logits, rg_error *err) {
    if (b->B < 1 || b->T < 1 || !b->tokens || !b->targets || !b->mask || !b->positions)
        return rg_io_fail(err, "cannot write %s: the batch is empty (B %d, T %d)", path, b->B,
                          b->T);
    if (logits->ndim != 3 || logits->shape[0] != b->B || logits->shape[1] != b->T ||
        logits->shape[2] != m->V) {
        char s[64];
        return rg_io_fail(err, "cannot write %s: logits have shape %s, expected [%d,%d,%d]", path,
                          rg_shape_str(logits, s, sizeof s), b->B, b->T, m->V);
    }
    if (mems && mems->len > 0 &&
        (mems->n_layers != m->cfg.n_layers || mems->B != b->B || mems->d != m->cfg.d_model ||
         mems->len > mems->cap || !mems->data))
        return rg_io_fail(err,
                          "cannot write %s: the memory (%d layers, B %d, %d of %d rows, d %d) "
                          "does not fit the model and batch",
                          path, mems->n_layers, mems->B, mems->len, mems->cap, mems->d);
    return 0;
}

int rg_dump_write(const char *path, const rg_config *cfg, const rg_model *m,
                  const rg_dump_batch *batch, const rg_memory *mems, real loss,
                  const rg_tensor *logits, rg_error *err) {
    rg_io_quiet();
    if (check_args(path, m, batch, mems, logits, err)) return 2;
    rg_io_atomic a;
    if (rg_io_atomic_begin(&a, path, err)) return 2;
    hid_t f = rg_io_create(&a, err);
    int rc = f < 0 ? 2 : write_dump(f, path, cfg, m, batch, mems, loss, logits, err);
    return rg_io_finish(f, rc, &a, err);
}
