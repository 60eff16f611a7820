/* io_internal.h: what the HDF5 files (io_checkpoint.c, io_dump.c,
 * io_results.c) share: replacing a file atomically (io_atomic.c) and small
 * HDF5 helpers for datasets, attributes and the config (io_hdf5.c).
 *
 * Every helper that can fail fills err (naming the file and the object) and
 * returns 2; on success it returns 0. HDF5 ids are hid_t, negative on error.
 */
#ifndef RELGRAD_IO_INTERNAL_H
#define RELGRAD_IO_INTERNAL_H

#include "relgrad/io.h"

#include <hdf5.h>
#include <limits.h>

/* HDF5 memory type of `real` (float, or double in the f64 build). */
#define RG_H5_REAL (sizeof(real) == 8 ? H5T_NATIVE_DOUBLE : H5T_NATIVE_FLOAT)
/* ... and the file type of the same width. */
#define RG_H5_REAL_FILE (sizeof(real) == 8 ? H5T_IEEE_F64LE : H5T_IEEE_F32LE)

/* printf into err->msg; returns 2. */
int rg_io_fail(rg_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Turn off HDF5's own printing of its error stack: every failure is reported
 * through rg_error instead. Called at the top of each public function. */
void rg_io_quiet(void);

/* ---- atomic replacement of a file (io_atomic.c) ----------------------------
 * begin: choose "<path>.tmp.<pid>" and create it empty (so a missing or
 * unwritable directory is reported with its errno); commit: fsync it, rename
 * it over `path` and fsync the directory; abort: remove it. commit removes
 * the temporary file itself when it fails. */
typedef struct rg_io_atomic {
    const char *path;   /* the destination                   */
    char tmp[PATH_MAX]; /* the temporary file next to it     */
    bool created;       /* tmp exists and is ours to remove  */
} rg_io_atomic;

int rg_io_atomic_begin(rg_io_atomic *a, const char *path, rg_error *err);
int rg_io_atomic_commit(rg_io_atomic *a, rg_error *err);
void rg_io_atomic_abort(rg_io_atomic *a);
/* begin, but starting from a byte copy of `path` when it exists (results). */
int rg_io_atomic_begin_copy(rg_io_atomic *a, const char *path, bool *existed, rg_error *err);

/* ---- files (io_hdf5.c) ----------------------------------------------------- */

/* Create (truncate) or open for writing the temporary file; closing the
 * returned file also closes every object still open in it. -1 and err. */
hid_t rg_io_create(const rg_io_atomic *a, rg_error *err);
hid_t rg_io_open_rw(const rg_io_atomic *a, rg_error *err);
/* Flush and close a file being written; 0 or 2. */
int rg_io_close_written(hid_t f, const rg_io_atomic *a, rg_error *err);
/* End an atomic write: f (-1 if it could not be opened) and rc (the status of
 * writing into it). On success close, then rename into place; on any
 * failure close and remove the temporary file. Returns the final status. */
int rg_io_finish(hid_t f, int rc, rg_io_atomic *a, rg_error *err);
/* Open an existing file read-only, with a message saying what to do when it
 * is missing, a directory, unreadable or not HDF5 (`what`: "checkpoint",
 * "results file"). -1 and err. */
hid_t rg_io_open_read(const char *path, const char *what, rg_error *err);

/* ---- writing ---------------------------------------------------------------- */

/* Dataset `name` under loc with ndim dims (0 = scalar), file type ftype,
 * values of memory type mtype. `file` names the destination in messages. */
int rg_io_write(hid_t loc, const char *name, hid_t ftype, hid_t mtype, int ndim,
                const hsize_t *dims, const void *data, const char *file, rg_error *err);
/* A parameter-like array of reals with an int shape; stored as float32 when
 * as_f32 (converted here), else in the build's precision. */
int rg_io_write_reals(hid_t loc, const char *name, int ndim, const int *shape, const real *data,
                      bool as_f32, const char *file, rg_error *err);
/* Scalar attributes. */
int rg_io_attr_int(hid_t loc, const char *name, long long v, const char *file, rg_error *err);
int rg_io_attr_double(hid_t loc, const char *name, double v, const char *file, rg_error *err);
int rg_io_attr_string(hid_t loc, const char *name, const char *v, const char *file, rg_error *err);
/* Every config key as an attribute of loc: INT keys as int64, REAL keys as
 * double, STRING keys (pos, task, out_dir, the comma lists) as scalar
 * fixed-length UTF-8 strings, in the text rg_config_get gives. */
int rg_io_write_config(hid_t loc, const rg_config *cfg, const char *file, rg_error *err);
/* Group `name` under loc, a path like "runs/copy/none/1" whose missing
 * levels are created too. -1 and err. */
hid_t rg_io_group(hid_t loc, const char *name, const char *file, rg_error *err);

/* ---- reading ----------------------------------------------------------------- */

/* Check the root attributes format == expected and format_version == 1. */
int rg_io_check_format(hid_t f, const char *path, const char *expected, rg_error *err);
/* The attributes of loc that are config keys, through rg_config_set (where =
 * "<file> attribute <key>" for a file's root, "<file> /runs/copy/none/1
 * attribute <key>" for a group: show.c tells the two apart by the group).
 * Attributes named in `skip` (NULL-terminated)
 * are ignored; any other unknown name is an error. Keys that are absent keep
 * cfg's values. */
int rg_io_read_config(hid_t loc, const char *path, const char *const *skip, rg_config *cfg,
                      rg_error *err);
/* One attribute as text: integers in decimal, floats with 17 digits,
 * fixed- or variable-length strings as they are. Must hold one value. */
int rg_io_attr_text(hid_t loc, const char *name, char *buf, size_t n, const char *path,
                    rg_error *err);
/* One run group of a results file (results.c) into out (its config on top
 * of what out->cfg holds; arrays malloc'd). 0, or 2 with err. */
int rg_io_read_run(hid_t g, const char *path, rg_run_data *out, rg_error *err);

/* Open group `name` under loc; names it in the error when it is missing. */
hid_t rg_io_open_group(hid_t loc, const char *name, const char *path, rg_error *err);
/* Read dataset `name` under loc into out (memory type mtype), after checking
 * that it exists, holds numbers of the class `tclass` (H5T_FLOAT,
 * H5T_INTEGER) and has exactly the ndim dims (0 = scalar). */
int rg_io_read(hid_t loc, const char *name, H5T_class_t tclass, hid_t mtype, int ndim,
               const hsize_t *dims, void *out, const char *path, rg_error *err);
/* The dims of dataset `name` (up to 8), after checking it exists. */
int rg_io_dims(hid_t loc, const char *name, int *ndim, hsize_t *dims, const char *path,
               rg_error *err);
/* "/params/tok_emb.weight": loc's path joined with name, into buf. */
const char *rg_io_obj_path(hid_t loc, const char *name, char *buf, size_t n);
/* "[3,4]" */
const char *rg_io_dims_str(int ndim, const hsize_t *dims, char *buf, size_t n);

#endif
