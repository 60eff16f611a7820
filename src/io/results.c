/* results.c: an experiment's results file (SPEC section 4), one group per
 * run:
 *   /runs/<task>/<pos>/<seed>   attributes: every config key (as in a
 *                               checkpoint) and wall_seconds (double)
 *       train_loss   float32 [n_steps]
 *       eval_len     int32   [k]
 *       exact_match  float64 [k]
 *       token_acc    float64 [k]
 *   and, when recorded (rg_run_info): fit (int64 0/1), fit_exact_match and
 *   fit_token_acc (double: the accuracies at the training length),
 *   selected_step (int64), val_exact_match (double, select = best only),
 *   git_commit, precision, cpu_model (strings)
 * Writing a run copies the existing file to a temporary file next to it (or
 * starts a new one), replaces or adds the run's group there and renames the
 * copy into place, so an interrupted experiment keeps every finished run.
 * HDF5 does not reclaim the space of a replaced group, so rewriting a run
 * leaves the file somewhat larger; its contents are exact.
 */
#include "io_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "runs/copy/none/3" */
static int run_name(char *buf, size_t n, const char *task, const char *pos, int seed) {
    int len = snprintf(buf, n, "runs/%s/%s/%d", task, pos, seed);
    return len > 0 && (size_t)len < n ? 0 : -1;
}

/* Whether every component of the relative path `name` exists under f. */
static bool path_exists(hid_t f, const char *name) {
    char prefix[512];
    for (const char *s = name;; s++) {
        if (*s != '/' && *s != '\0') continue;
        snprintf(prefix, sizeof prefix, "%.*s", (int)(s - name), name);
        if (H5Lexists(f, prefix, H5P_DEFAULT) <= 0) return false;
        if (*s == '\0') return true;
    }
}

/* The run_info attributes that are recorded (see the top of the file). */
static int write_info(hid_t g, const rg_run_info *info, const char *path, rg_error *err) {
    int rc = 0;
    if (!rc && info->fit >= 0) rc = rg_io_attr_int(g, "fit", info->fit != 0, path, err);
    if (!rc && info->fit >= 0)
        rc = rg_io_attr_double(g, "fit_exact_match", info->fit_exact_match, path, err);
    if (!rc && info->fit >= 0)
        rc = rg_io_attr_double(g, "fit_token_acc", info->fit_token_acc, path, err);
    if (!rc && info->selected_step > 0)
        rc = rg_io_attr_int(g, "selected_step", info->selected_step, path, err);
    if (!rc && isfinite(info->val_exact_match))
        rc = rg_io_attr_double(g, "val_exact_match", info->val_exact_match, path, err);
    if (!rc && info->git_commit[0])
        rc = rg_io_attr_string(g, "git_commit", info->git_commit, path, err);
    if (!rc && info->precision[0])
        rc = rg_io_attr_string(g, "precision", info->precision, path, err);
    if (!rc && info->cpu_model[0])
        rc = rg_io_attr_string(g, "cpu_model", info->cpu_model, path, err);
    return rc;
}

static int write_run(hid_t f, const char *name, const rg_run_result *run, const char *path,
                     rg_error *err) {
    if (path_exists(f, name) && H5Ldelete(f, name, H5P_DEFAULT) < 0)
        return rg_io_fail(err, "cannot write %s: HDF5 failed removing the old /%s", path, name);
    hid_t g = rg_io_group(f, name, path, err);
    if (g < 0) return 2;
    hsize_t steps = (hsize_t)run->n_steps, k = (hsize_t)run->n_eval;
    int rc = rg_io_write(g, "train_loss", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, &steps,
                         run->train_loss, path, err);
    if (!rc)
        rc = rg_io_write(g, "eval_len", H5T_STD_I32LE, H5T_NATIVE_INT, 1, &k, run->eval_len, path,
                         err);
    if (!rc)
        rc = rg_io_write(g, "exact_match", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, &k,
                         run->exact_match, path, err);
    if (!rc)
        rc = rg_io_write(g, "token_acc", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, &k, run->token_acc,
                         path, err);
    if (!rc) rc = rg_io_write_config(g, run->cfg, path, err);
    if (!rc) rc = rg_io_attr_double(g, "wall_seconds", run->wall_seconds, path, err);
    if (!rc) rc = write_info(g, &run->info, path, err);
    H5Gclose(g);
    return rc;
}

int rg_results_write_run(const char *path, const rg_run_result *run, rg_error *err) {
    rg_io_quiet();
    if (run->n_steps < 0 || run->n_eval < 0 || (run->n_steps > 0 && !run->train_loss) ||
        (run->n_eval > 0 && (!run->eval_len || !run->exact_match || !run->token_acc)))
        return rg_io_fail(err,
                          "cannot write %s: the run's results are incomplete (%d steps, %d "
                          "evaluation lengths)",
                          path, run->n_steps, run->n_eval);
    char name[768];
    char pos[512];
    rg_config_run_pos(run->cfg, ',', pos, sizeof pos);
    if (run_name(name, sizeof name, rg_task_name(run->cfg->task), pos, run->cfg->seed))
        return rg_io_fail(err, "cannot write %s: run name too long", path);
    rg_io_atomic a;
    bool existed;
    if (rg_io_atomic_begin_copy(&a, path, &existed, err)) return 2;
    hid_t f = existed ? rg_io_open_rw(&a, err) : rg_io_create(&a, err);
    int rc = f < 0 ? 2 : write_run(f, name, run, path, err);
    return rg_io_finish(f, rc, &a, err);
}

/* ---- reading ------------------------------------------------------------------------ */

void rg_run_data_free(rg_run_data *r) {
    free(r->train_loss);
    free(r->eval_len);
    free(r->exact_match);
    free(r->token_acc);
    r->train_loss = NULL, r->eval_len = NULL, r->exact_match = r->token_acc = NULL;
}

/* A one-dimensional dataset's length. */
static int length_of(hid_t g, const char *name, int *len, const char *path, rg_error *err) {
    int nd;
    hsize_t dims[8];
    if (rg_io_dims(g, name, &nd, dims, path, err)) return 2;
    char obj[600];
    if (nd != 1 || dims[0] > (hsize_t)1 << 30)
        return rg_io_fail(err,
                          "%s: %s should be a one-dimensional array; use a results file "
                          "written by relgrad",
                          path, rg_io_obj_path(g, name, obj, sizeof obj));
    *len = (int)dims[0];
    return 0;
}

/* The attributes of a run group that are not config keys. */
static const char *const RUN_ATTRS[] = {
    "wall_seconds",    "fit",        "fit_exact_match", "fit_token_acc", "selected_step",
    "val_exact_match", "git_commit", "precision",       "cpu_model",     NULL};

/* An optional attribute as text; *present = false (and 0) when absent. */
static int optional_text(hid_t g, const char *name, char *buf, size_t n, bool *present,
                         const char *path, rg_error *err) {
    buf[0] = '\0';
    *present = H5Aexists(g, name) > 0;
    return *present ? rg_io_attr_text(g, name, buf, n, path, err) : 0;
}

/* An optional number attribute: *v keeps its value when absent. */
static int optional_number(hid_t g, const char *name, double *v, const char *path, rg_error *err) {
    char text[64], obj[600];
    bool present;
    if (optional_text(g, name, text, sizeof text, &present, path, err)) return 2;
    if (!present) return 0;
    char *end;
    *v = strtod(text, &end);
    if (end == text || *end)
        return rg_io_fail(err,
                          "%s: attribute %s is '%s', not a number; use a results file "
                          "written by relgrad",
                          path, rg_io_obj_path(g, name, obj, sizeof obj), text);
    return 0;
}

static int read_info(hid_t g, rg_run_info *info, const char *path, rg_error *err) {
    rg_run_info_init(info);
    double fit = -1, step = 0;
    bool present;
    if (optional_number(g, "fit", &fit, path, err) ||
        optional_number(g, "fit_exact_match", &info->fit_exact_match, path, err) ||
        optional_number(g, "fit_token_acc", &info->fit_token_acc, path, err) ||
        optional_number(g, "selected_step", &step, path, err) ||
        optional_number(g, "val_exact_match", &info->val_exact_match, path, err) ||
        optional_text(g, "git_commit", info->git_commit, sizeof info->git_commit, &present, path,
                      err) ||
        optional_text(g, "precision", info->precision, sizeof info->precision, &present, path,
                      err) ||
        optional_text(g, "cpu_model", info->cpu_model, sizeof info->cpu_model, &present, path, err))
        return 2;
    info->fit = fit < 0 ? -1 : fit != 0;
    info->selected_step = (long)step;
    return 0;
}

int rg_io_read_run(hid_t g, const char *path, rg_run_data *out, rg_error *err) {
    if (rg_io_read_config(g, path, RUN_ATTRS, &out->cfg, err)) return 2;
    char text[64];
    if (rg_io_attr_text(g, "wall_seconds", text, sizeof text, path, err)) return 2;
    out->wall_seconds = strtod(text, NULL);
    if (read_info(g, &out->info, path, err)) return 2;
    if (length_of(g, "train_loss", &out->n_steps, path, err) ||
        length_of(g, "eval_len", &out->n_eval, path, err))
        return 2;
    size_t s = (size_t)out->n_steps + 1, k = (size_t)out->n_eval + 1;
    out->train_loss = malloc(s * sizeof(float));
    out->eval_len = malloc(k * sizeof(int));
    out->exact_match = malloc(k * sizeof(double));
    out->token_acc = malloc(k * sizeof(double));
    if (!out->train_loss || !out->eval_len || !out->exact_match || !out->token_acc)
        return rg_io_fail(err, "cannot read %s: out of memory", path);
    hsize_t steps = (hsize_t)out->n_steps, n = (hsize_t)out->n_eval;
    if (rg_io_read(g, "train_loss", H5T_FLOAT, H5T_NATIVE_FLOAT, 1, &steps, out->train_loss, path,
                   err) ||
        rg_io_read(g, "eval_len", H5T_INTEGER, H5T_NATIVE_INT, 1, &n, out->eval_len, path, err) ||
        rg_io_read(g, "exact_match", H5T_FLOAT, H5T_NATIVE_DOUBLE, 1, &n, out->exact_match, path,
                   err) ||
        rg_io_read(g, "token_acc", H5T_FLOAT, H5T_NATIVE_DOUBLE, 1, &n, out->token_acc, path, err))
        return 2;
    return 0;
}

int rg_results_has_run(const char *path, const char *task, const char *pos, int seed, bool *has,
                       rg_error *err) {
    rg_io_quiet();
    *has = false;
    char name[256];
    if (run_name(name, sizeof name, task, pos, seed))
        return rg_io_fail(err, "%s: run name too long", path);
    hid_t f = rg_io_open_read(path, "results file", err);
    if (f < 0) return 2;
    *has = path_exists(f, name);
    H5Fclose(f);
    return 0;
}

int rg_results_read_run(const char *path, const char *task, const char *pos, int seed,
                        rg_run_data *out, rg_error *err) {
    rg_io_quiet();
    memset(out, 0, sizeof *out);
    rg_config_defaults(&out->cfg);
    rg_run_info_init(&out->info);
    char name[768];
    if (run_name(name, sizeof name, task, pos, seed))
        return rg_io_fail(err, "%s: run name too long", path);
    hid_t f = rg_io_open_read(path, "results file", err);
    if (f < 0) return 2;
    int rc = 0;
    if (!path_exists(f, name)) {
        rc = rg_io_fail(err, "%s: there is no run /%s; check the task, pos and seed", path, name);
    } else {
        hid_t g = H5Gopen2(f, name, H5P_DEFAULT);
        if (g < 0)
            rc = rg_io_fail(err, "%s: /%s is not a readable group (corrupt file?)", path, name);
        else
            rc = rg_io_read_run(g, path, out, err), H5Gclose(g);
    }
    H5Fclose(f);
    if (rc) rg_run_data_free(out);
    return rc;
}
