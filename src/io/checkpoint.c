/* checkpoint.c: checkpoints (SPEC section 4).
 *
 * Layout of a checkpoint file:
 *   /                 attributes: every config key (INT keys as int64, REAL
 *                     keys as double, STRING keys - pos, task, out_dir and
 *                     the comma lists - as fixed-length, null-terminated
 *                     UTF-8 strings; see io_hdf5.c for why),
 *                     format = "relgrad-checkpoint", format_version = 1
 *   /params/<name>    float32, the parameter's shape (e.g.
 *                     /params/blocks.0.attn.qkv.weight [3d, d])
 *   /optim            attributes step (int64), train_seconds (double: the
 *                     wall time the run spent reaching step, over all its
 *                     sessions), best_step (int64) and best_val_exact_match
 *                     (double: select = best's best so far; 0 = none yet);
 *                     the last three are absent in older files, read as 0
 *   /optim/m/<name>   float32 AdamW first moment, same shapes
 *   /optim/v/<name>   float32 AdamW second moment
 *   /rng/state        uint64 [4], the xoshiro256** state of the data stream
 *
 * best.h5 (select = best) is the root attributes and /params of a
 * checkpoint plus /select with attributes step (int64) and val_exact_match
 * (double).
 *
 * Saving goes through a temporary file renamed into place (io_atomic.c).
 * rg_checkpoint_save accepts opt = NULL or rng = NULL and then leaves out
 * /optim or /rng; loading with a non-NULL opt or rng then reports them
 * missing. Loading reads everything into scratch buffers first and copies
 * into the model, optimizer and rng only when the whole file checked out,
 * so a failed load leaves them as they were.
 */
#include "io_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Root attributes that are not config keys. */
static const char *const ROOT_SKIP[] = {"format", "format_version", NULL};

/* ---- saving ----------------------------------------------------------------------- */

/* Group `name` under loc with one float32 dataset per parameter, values from
 * the flat array `flat` (laid out like model->values). */
static int write_set(hid_t loc, const char *name, const rg_model *m, const real *flat,
                     const char *path, rg_error *err) {
    hid_t g = rg_io_group(loc, name, path, err);
    if (g < 0) return 2;
    int rc = 0;
    for (int i = 0; i < m->n_params && rc == 0; i++) {
        const rg_param *p = &m->params[i];
        rc =
            rg_io_write_reals(g, p->name, p->t.ndim, p->t.shape, flat + p->offset, true, path, err);
    }
    H5Gclose(g);
    return rc;
}

static int write_checkpoint(hid_t f, const char *path, const rg_config *cfg, const rg_model *m,
                            const rg_adamw *opt, const rg_rng *rng, rg_error *err) {
    if (rg_io_write_config(f, cfg, path, err) ||
        rg_io_attr_string(f, "format", RG_CHECKPOINT_FORMAT, path, err) ||
        rg_io_attr_int(f, "format_version", RG_FORMAT_VERSION, path, err) ||
        write_set(f, "params", m, m->values, path, err))
        return 2;
    if (opt) {
        hid_t g = rg_io_group(f, "optim", path, err);
        if (g < 0) return 2;
        int rc = rg_io_attr_int(g, "step", opt->step, path, err);
        if (!rc) rc = rg_io_attr_double(g, "train_seconds", opt->seconds, path, err);
        if (!rc) rc = rg_io_attr_int(g, "best_step", opt->best_step, path, err);
        if (!rc) rc = rg_io_attr_double(g, "best_val_exact_match", opt->best_score, path, err);
        if (!rc) rc = write_set(g, "m", m, opt->m, path, err);
        if (!rc) rc = write_set(g, "v", m, opt->v, path, err);
        H5Gclose(g);
        if (rc) return rc;
    }
    if (rng) {
        hid_t g = rg_io_group(f, "rng", path, err);
        if (g < 0) return 2;
        hsize_t four = 4;
        int rc =
            rg_io_write(g, "state", H5T_STD_U64LE, H5T_NATIVE_UINT64, 1, &four, rng->s, path, err);
        H5Gclose(g);
        if (rc) return rc;
    }
    return 0;
}

static int write_best(hid_t f, const char *path, const rg_config *cfg, const rg_model *m, long step,
                      double score, rg_error *err) {
    int rc = write_checkpoint(f, path, cfg, m, NULL, NULL, err);
    if (rc) return rc;
    hid_t g = rg_io_group(f, "select", path, err);
    if (g < 0) return 2;
    rc = rg_io_attr_int(g, "step", step, path, err);
    if (!rc) rc = rg_io_attr_double(g, "val_exact_match", score, path, err);
    H5Gclose(g);
    return rc;
}

int rg_best_save(const char *path, const rg_config *cfg, const rg_model *m, long step,
                 double val_exact_match, rg_error *err) {
    rg_io_quiet();
    rg_io_atomic a;
    if (rg_io_atomic_begin(&a, path, err)) return 2;
    hid_t f = rg_io_create(&a, err);
    int rc = f < 0 ? 2 : write_best(f, path, cfg, m, step, val_exact_match, err);
    return rg_io_finish(f, rc, &a, err);
}

int rg_checkpoint_save(const char *path, const rg_config *cfg, const rg_model *m,
                       const rg_adamw *opt, const rg_rng *rng, rg_error *err) {
    rg_io_quiet();
    if (opt && opt->n != m->n_values)
        return rg_io_fail(err,
                          "cannot write %s: the optimizer holds %ld values but the model "
                          "%ld; it belongs to another model",
                          path, opt->n, m->n_values);
    rg_io_atomic a;
    if (rg_io_atomic_begin(&a, path, err)) return 2;
    hid_t f = rg_io_create(&a, err);
    int rc = f < 0 ? 2 : write_checkpoint(f, path, cfg, m, opt, rng, err);
    return rg_io_finish(f, rc, &a, err);
}

/* ---- loading ------------------------------------------------------------------------ */

int rg_checkpoint_read_config(const char *path, rg_config *cfg, rg_error *err) {
    rg_io_quiet();
    hid_t f = rg_io_open_read(path, "checkpoint", err);
    if (f < 0) return 2;
    int rc = rg_io_check_format(f, path, RG_CHECKPOINT_FORMAT, err);
    if (!rc) rc = rg_io_read_config(f, path, ROOT_SKIP, cfg, err);
    H5Fclose(f);
    return rc;
}

/* Every entry of group g must be one of the model's parameters: an extra one
 * means the file was written for another positional scheme or depth. */
static int check_no_extra(hid_t g, rg_model *m, const char *path, rg_error *err) {
    H5G_info_t info;
    if (H5Gget_info(g, &info) < 0)
        return rg_io_fail(err, "%s: cannot list a group (corrupt file?); use another checkpoint",
                          path);
    for (hsize_t i = 0; i < info.nlinks; i++) {
        char name[RG_NAME_MAX * 2], obj[600], pos[200];
        ssize_t len = H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, name, sizeof name,
                                         H5P_DEFAULT);
        if (len < 0)
            return rg_io_fail(err,
                              "%s: cannot list a group (corrupt file?); use another "
                              "checkpoint",
                              path);
        if ((size_t)len >= sizeof name || !rg_model_param(m, name))
            return rg_io_fail(err,
                              "%s: dataset %s is not a parameter of this model (pos = %s, "
                              "n_layers = %d); the checkpoint was written for another config; "
                              "build the model from the checkpoint's config",
                              path, rg_io_obj_path(g, name, obj, sizeof obj),
                              rg_scheme_list_text(&m->cfg.schemes, ',', pos, sizeof pos),
                              m->cfg.n_layers);
    }
    return 0;
}

/* Read group `name` under loc, one dataset per parameter, into the flat
 * array `flat` (laid out like model->values), checking names and shapes. */
static int read_set(hid_t loc, const char *name, rg_model *m, real *flat, const char *path,
                    rg_error *err) {
    hid_t g = rg_io_open_group(loc, name, path, err);
    if (g < 0) return 2;
    int rc = 0;
    for (int i = 0; i < m->n_params && rc == 0; i++) {
        const rg_param *p = &m->params[i];
        hsize_t dims[RG_MAX_DIMS];
        for (int k = 0; k < p->t.ndim; k++) dims[k] = (hsize_t)p->t.shape[k];
        rc = rg_io_read(g, p->name, H5T_FLOAT, RG_H5_REAL, p->t.ndim, dims, flat + p->offset, path,
                        err);
    }
    if (!rc) rc = check_no_extra(g, m, path, err);
    H5Gclose(g);
    return rc;
}

/* The attribute step of g (/optim, or /select of best.h5). */
static int read_step(hid_t g, const char *path, long *step, rg_error *err) {
    char text[64], obj[600];
    if (rg_io_attr_text(g, "step", text, sizeof text, path, err)) return 2;
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || *end || end == text || v < 0)
        return rg_io_fail(err,
                          "%s: attribute %s is %s, expected a whole number >= 0; "
                          "use another checkpoint",
                          path, rg_io_obj_path(g, "step", obj, sizeof obj), text);
    *step = (long)v;
    return 0;
}

/* An optional number attribute of g that must be >= 0 (0 when absent):
 * /optim's train_seconds, best_step and best_val_exact_match. */
static int read_optional(hid_t g, const char *name, const char *path, double *out, rg_error *err) {
    *out = 0;
    if (H5Aexists(g, name) <= 0) return 0;
    char text[64], obj[600];
    if (rg_io_attr_text(g, name, text, sizeof text, path, err)) return 2;
    char *end;
    double v = strtod(text, &end);
    if (*end || end == text || !(v >= 0))
        return rg_io_fail(err, "%s: attribute %s is %s, expected a number >= 0; use another file",
                          path, rg_io_obj_path(g, name, obj, sizeof obj), text);
    *out = v;
    return 0;
}

static int read_seconds(hid_t optim, const char *path, double *seconds, rg_error *err) {
    return read_optional(optim, "train_seconds", path, seconds, err);
}

/* select = best's state in /optim (0, 0 when absent: none yet). */
static int read_best(hid_t optim, const char *path, long *step, double *score, rg_error *err) {
    double s;
    if (read_optional(optim, "best_step", path, &s, err) ||
        read_optional(optim, "best_val_exact_match", path, score, err))
        return 2;
    *step = (long)s;
    return 0;
}

int rg_best_read_step(const char *path, long *step, double *val_exact_match, rg_error *err) {
    rg_io_quiet();
    hid_t f = rg_io_open_read(path, "best-parameters file", err);
    if (f < 0) return 2;
    int rc = rg_io_check_format(f, path, RG_CHECKPOINT_FORMAT, err);
    hid_t g = rc ? -1 : rg_io_open_group(f, "select", path, err);
    if (!rc && g < 0) rc = 2;
    if (!rc) rc = read_step(g, path, step, err);
    double score = 0;
    if (!rc) rc = read_optional(g, "val_exact_match", path, &score, err);
    if (!rc) *val_exact_match = score;
    if (g >= 0) H5Gclose(g);
    H5Fclose(f);
    return rc;
}

int rg_checkpoint_read_step(const char *path, long *step, double *seconds, rg_error *err) {
    rg_io_quiet();
    hid_t f = rg_io_open_read(path, "checkpoint", err);
    if (f < 0) return 2;
    int rc = rg_io_check_format(f, path, RG_CHECKPOINT_FORMAT, err);
    hid_t g = rc ? -1 : rg_io_open_group(f, "optim", path, err);
    if (!rc && g < 0) rc = 2;
    if (!rc) rc = read_step(g, path, step, err);
    if (!rc) rc = read_seconds(g, path, seconds, err);
    if (g >= 0) H5Gclose(g);
    H5Fclose(f);
    return rc;
}

/* The scratch copy of everything a load reads. */
typedef struct loaded {
    real *values, *m, *v;
    long step, best_step;
    double seconds, best_score;
    rg_rng rng;
} loaded;

static int read_checkpoint(hid_t f, const char *path, rg_model *m, bool want_opt, bool want_rng,
                           loaded *out, rg_error *err) {
    if (rg_io_check_format(f, path, RG_CHECKPOINT_FORMAT, err) ||
        read_set(f, "params", m, out->values, path, err))
        return 2;
    if (want_opt) {
        hid_t g = rg_io_open_group(f, "optim", path, err);
        if (g < 0) return 2;
        int rc = read_step(g, path, &out->step, err);
        if (!rc) rc = read_seconds(g, path, &out->seconds, err);
        if (!rc) rc = read_best(g, path, &out->best_step, &out->best_score, err);
        if (!rc) rc = read_set(g, "m", m, out->m, path, err);
        if (!rc) rc = read_set(g, "v", m, out->v, path, err);
        H5Gclose(g);
        if (rc) return rc;
    }
    if (want_rng) {
        hid_t g = rg_io_open_group(f, "rng", path, err);
        if (g < 0) return 2;
        hsize_t four = 4;
        int rc =
            rg_io_read(g, "state", H5T_INTEGER, H5T_NATIVE_UINT64, 1, &four, out->rng.s, path, err);
        H5Gclose(g);
        if (rc) return rc;
    }
    return 0;
}

int rg_checkpoint_load(const char *path, rg_model *m, rg_adamw *opt, rg_rng *rng, rg_error *err) {
    rg_io_quiet();
    if (opt && opt->n != m->n_values)
        return rg_io_fail(err,
                          "cannot load %s: the optimizer holds %ld values but the model %ld; "
                          "it belongs to another model",
                          path, opt->n, m->n_values);
    hid_t f = rg_io_open_read(path, "checkpoint", err);
    if (f < 0) return 2;
    size_t bytes = ((size_t)m->n_values + 1) * sizeof(real);
    loaded in = {
        .values = malloc(bytes), .m = opt ? malloc(bytes) : NULL, .v = opt ? malloc(bytes) : NULL};
    int rc;
    if (!in.values || (opt && (!in.m || !in.v)))
        rc = rg_io_fail(err, "cannot load %s: out of memory", path);
    else
        rc = read_checkpoint(f, path, m, opt != NULL, rng != NULL, &in, err);
    H5Fclose(f);
    if (rc == 0) {
        memcpy(m->values, in.values, (size_t)m->n_values * sizeof(real));
        if (opt) {
            memcpy(opt->m, in.m, (size_t)m->n_values * sizeof(real));
            memcpy(opt->v, in.v, (size_t)m->n_values * sizeof(real));
            opt->step = in.step;
            opt->seconds = in.seconds;
            opt->best_step = in.best_step;
            opt->best_score = in.best_score;
        }
        if (rng) *rng = in.rng;
    }
    free(in.values), free(in.m), free(in.v);
    return rc;
}
