/* hdf5.c: small helpers over the HDF5 C API shared by the checkpoint, dump
 * and results files: opening and closing files with useful messages,
 * writing and reading datasets and scalar attributes with shape and type
 * checks, and the config as root attributes.
 *
 * Files are opened with the "strong" close degree, so closing a file also
 * closes any dataset or group still open in it; error paths only need to
 * close the file. HDF5's own error printing is turned off (rg_io_quiet):
 * every failure becomes one rg_error message naming the file and object.
 *
 * A damaged file must give an error, never a crash, and HDF5's parser is
 * not hardened against corrupt metadata. So every file is written in the
 * HDF5 1.8 format, whose metadata (superblock, object headers) carries
 * checksums that HDF5 verifies on every read, and nothing is put where
 * checksums are missing: links and attributes stay in their object's
 * header (no "dense" storage in unchecksummed heaps) and strings are
 * fixed-length (variable-length ones live in the unchecksummed global
 * heap). Damaged metadata then fails its checksum; damaged data only
 * changes numbers. Files in the 1.8 format are read by HDF5 >= 1.8 and
 * h5py.
 */
#include "io_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_DIMS      8
#define MAX_ATTR_TEXT (1 << 20) /* longest string attribute we read */

static void turn_off_hdf5_printing(void) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

/* Once per process: HDF5's printing handler is process-wide state. */
void rg_io_quiet(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, turn_off_hdf5_printing);
}

/* ---- files ---------------------------------------------------------------------- */

/* Links and attributes per object kept in the (checksummed) object header. */
#define MAX_COMPACT 65535

/* Access: strong close; when writing, new objects in the 1.8 format. */
static hid_t file_access(bool writing) {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);
    if (writing) H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_V18);
    return fapl;
}

/* Group (or file: the root group) creation: everything compact. */
static void keep_compact(hid_t plist) {
    H5Pset_link_phase_change(plist, MAX_COMPACT, MAX_COMPACT);
    H5Pset_attr_phase_change(plist, MAX_COMPACT, MAX_COMPACT);
}

hid_t rg_io_create(const rg_io_atomic *a, rg_error *err) {
    hid_t fapl = file_access(true), fcpl = H5Pcreate(H5P_FILE_CREATE);
    keep_compact(fcpl);
    hid_t f = H5Fcreate(a->tmp, H5F_ACC_TRUNC, fcpl, fapl);
    H5Pclose(fcpl);
    H5Pclose(fapl);
    if (f < 0)
        rg_io_fail(err,
                   "cannot write %s: HDF5 cannot create %s; check the directory and free "
                   "space",
                   a->path, a->tmp);
    return f;
}

hid_t rg_io_open_rw(const rg_io_atomic *a, rg_error *err) {
    hid_t fapl = file_access(true);
    hid_t f = H5Fopen(a->tmp, H5F_ACC_RDWR, fapl);
    H5Pclose(fapl);
    if (f < 0)
        rg_io_fail(err,
                   "%s is not a readable HDF5 file (truncated or corrupt?); move it aside "
                   "or delete it, then run again",
                   a->path);
    return f;
}

int rg_io_close_written(hid_t f, const rg_io_atomic *a, rg_error *err) {
    herr_t flushed = H5Fflush(f, H5F_SCOPE_LOCAL);
    herr_t closed = H5Fclose(f);
    if (flushed < 0 || closed < 0)
        return rg_io_fail(err, "cannot write %s: HDF5 failed to flush %s (disk full?)", a->path,
                          a->tmp);
    return 0;
}

int rg_io_finish(hid_t f, int rc, rg_io_atomic *a, rg_error *err) {
    if (f < 0)
        rc = 2;
    else if (rc)
        H5Fclose(f);
    else
        rc = rg_io_close_written(f, a, err);
    if (rc) {
        rg_io_atomic_abort(a);
        return rc;
    }
    return rg_io_atomic_commit(a, err);
}

hid_t rg_io_open_read(const char *path, const char *what, rg_error *err) {
    struct stat st;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT)
            rg_io_fail(err, "%s: no such file; check the path of the %s", path, what);
        else
            rg_io_fail(err, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    if (S_ISDIR(st.st_mode)) {
        rg_io_fail(err, "%s is a directory, not a %s; give the path of the .h5 file", path, what);
        return -1;
    }
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        rg_io_fail(err, "cannot read %s: %s; check its permissions", path, strerror(errno));
        return -1;
    }
    close(fd);
    hid_t fapl = file_access(false);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    H5Pclose(fapl);
    if (f < 0)
        rg_io_fail(err,
                   "%s is not a readable HDF5 file (truncated or corrupt?); delete it or "
                   "point to another %s",
                   path, what);
    return f;
}

/* ---- names ------------------------------------------------------------------------ */

const char *rg_io_obj_path(hid_t loc, const char *name, char *buf, size_t n) {
    char base[512] = "";
    if (H5Iget_name(loc, base, sizeof base) < 0) base[0] = '\0';
    bool root = base[0] == '\0' || !strcmp(base, "/");
    snprintf(buf, n, "%s/%s", root ? "" : base, name);
    return buf;
}

const char *rg_io_dims_str(int ndim, const hsize_t *dims, char *buf, size_t n) {
    size_t used = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < ndim && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, "%s%llu", i ? "," : "",
                                 (unsigned long long)dims[i]);
    if (used < n) snprintf(buf + used, n - used, "]");
    return buf;
}

/* ---- writing -------------------------------------------------------------------------- */

int rg_io_write(hid_t loc, const char *name, hid_t ftype, hid_t mtype, int ndim,
                const hsize_t *dims, const void *data, const char *file, rg_error *err) {
    hid_t space = ndim == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(ndim, dims, NULL);
    hid_t dset =
        space < 0 ? -1 : H5Dcreate2(loc, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    bool ok = dset >= 0;
    if (ok && H5Sget_simple_extent_npoints(space) > 0)
        ok = H5Dwrite(dset, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0;
    if (dset >= 0) H5Dclose(dset);
    if (space >= 0) H5Sclose(space);
    if (!ok) {
        char obj[600];
        return rg_io_fail(err, "cannot write %s: HDF5 failed writing dataset %s (disk full?)", file,
                          rg_io_obj_path(loc, name, obj, sizeof obj));
    }
    return 0;
}

int rg_io_write_reals(hid_t loc, const char *name, int ndim, const int *shape, const real *data,
                      bool as_f32, const char *file, rg_error *err) {
    hsize_t dims[MAX_DIMS];
    size_t size = 1;
    for (int i = 0; i < ndim; i++) dims[i] = (hsize_t)shape[i], size *= (size_t)shape[i];
    if (!as_f32 || sizeof(real) == sizeof(float))
        return rg_io_write(loc, name, as_f32 ? H5T_IEEE_F32LE : RG_H5_REAL_FILE, RG_H5_REAL, ndim,
                           dims, data, file, err);
    /* float64 build writing float32: round each value here, as (float)x */
    float *f = malloc((size ? size : 1) * sizeof(float));
    if (!f) return rg_io_fail(err, "cannot write %s: out of memory", file);
    for (size_t i = 0; i < size; i++) f[i] = (float)data[i];
    int rc = rg_io_write(loc, name, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, ndim, dims, f, file, err);
    free(f);
    return rc;
}

/* One scalar attribute of file type ftype from *value (memory type mtype). */
static int write_attr(hid_t loc, const char *name, hid_t ftype, hid_t mtype, const void *value,
                      const char *file, rg_error *err) {
    if (H5Aexists(loc, name) > 0) H5Adelete(loc, name);
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t attr = H5Acreate2(loc, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT);
    bool ok = attr >= 0 && H5Awrite(attr, mtype, value) >= 0;
    if (attr >= 0) H5Aclose(attr);
    H5Sclose(space);
    if (!ok)
        return rg_io_fail(err, "cannot write %s: HDF5 failed writing attribute %s", file, name);
    return 0;
}

int rg_io_attr_int(hid_t loc, const char *name, long long v, const char *file, rg_error *err) {
    int64_t x = (int64_t)v;
    return write_attr(loc, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &x, file, err);
}

int rg_io_attr_double(hid_t loc, const char *name, double v, const char *file, rg_error *err) {
    return write_attr(loc, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &v, file, err);
}

/* Fixed-length UTF-8, null-terminated (h5py reads it as bytes). */
int rg_io_attr_string(hid_t loc, const char *name, const char *v, const char *file, rg_error *err) {
    hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, strlen(v) + 1);
    H5Tset_strpad(type, H5T_STR_NULLTERM);
    H5Tset_cset(type, H5T_CSET_UTF8);
    int rc = write_attr(loc, name, type, type, v, file, err);
    H5Tclose(type);
    return rc;
}

int rg_io_write_config(hid_t loc, const rg_config *cfg, const char *file, rg_error *err) {
    int n = rg_config_key_count();
    for (int k = 0; k < n; k++) {
        const rg_key_info *key = rg_config_key(k);
        char text[4096];
        if (rg_config_get(cfg, key->name, text, sizeof text) != 0)
            return rg_io_fail(err, "cannot write %s: config key %s has no text form", file,
                              key->name);
        int rc = 0;
        switch (key->type) {
        case RG_KEY_INT:
            rc = rg_io_attr_int(loc, key->name, strtoll(text, NULL, 10), file, err);
            break;
        case RG_KEY_REAL:
            rc = rg_io_attr_double(loc, key->name, strtod(text, NULL), file, err);
            break;
        case RG_KEY_STRING:
            rc = rg_io_attr_string(loc, key->name, text, file, err);
            break;
        }
        if (rc) return rc;
    }
    return 0;
}

/* Create one group, every link and attribute kept compact. */
static hid_t create_group(hid_t loc, const char *name) {
    hid_t gcpl = H5Pcreate(H5P_GROUP_CREATE);
    keep_compact(gcpl);
    hid_t g = H5Gcreate2(loc, name, H5P_DEFAULT, gcpl, H5P_DEFAULT);
    H5Pclose(gcpl);
    return g;
}

/* Each missing level of a path "a/b/c" is created by us (HDF5's own
 * intermediate groups would get the default, dense-prone properties). */
hid_t rg_io_group(hid_t loc, const char *name, const char *file, rg_error *err) {
    char prefix[512];
    hid_t g = -1;
    for (const char *s = name;; s++) {
        if (*s != '/' && *s != '\0') continue;
        int len = snprintf(prefix, sizeof prefix, "%.*s", (int)(s - name), name);
        if (len < 0 || (size_t)len >= sizeof prefix) break;
        if (*s == '\0') {
            g = create_group(loc, prefix);
            break;
        }
        if (H5Lexists(loc, prefix, H5P_DEFAULT) <= 0) {
            hid_t level = create_group(loc, prefix);
            if (level < 0) break;
            H5Gclose(level);
        }
    }
    if (g < 0) {
        char obj[600];
        rg_io_fail(err, "cannot write %s: HDF5 failed creating group %s", file,
                   rg_io_obj_path(loc, name, obj, sizeof obj));
    }
    return g;
}

/* ---- reading ----------------------------------------------------------------------------- */

/* A string attribute's value (fixed or variable length) into buf. */
static int read_string_attr(hid_t attr, hid_t type, char *buf, size_t n, bool *fits) {
    *fits = true;
    hid_t mtype = H5Tcopy(H5T_C_S1);
    H5Tset_cset(mtype, H5Tget_cset(type));
    int rc = -1;
    if (H5Tis_variable_str(type) > 0) {
        char *s = NULL;
        H5Tset_size(mtype, H5T_VARIABLE);
        if (H5Aread(attr, mtype, &s) >= 0) {
            rc = 0;
            *fits = strlen(s ? s : "") < n;
            snprintf(buf, n, "%s", s ? s : "");
            H5free_memory(s);
        }
    } else {
        size_t size = H5Tget_size(type);
        char *s = size > 0 && size <= MAX_ATTR_TEXT ? malloc(size + 1) : NULL;
        H5Tset_size(mtype, size + 1); /* room for the terminator */
        H5Tset_strpad(mtype, H5T_STR_NULLTERM);
        if (s && H5Aread(attr, mtype, s) >= 0) {
            s[size] = '\0';
            rc = 0;
            *fits = strlen(s) < n;
            snprintf(buf, n, "%s", s);
        }
        free(s);
    }
    H5Tclose(mtype);
    return rc;
}

int rg_io_attr_text(hid_t loc, const char *name, char *buf, size_t n, const char *path,
                    rg_error *err) {
    char obj[600];
    rg_io_obj_path(loc, name, obj, sizeof obj);
    if (H5Aexists(loc, name) <= 0)
        return rg_io_fail(err,
                          "%s: attribute %s is missing; the file is incomplete or was not "
                          "written by relgrad",
                          path, obj);
    hid_t attr = H5Aopen(loc, name, H5P_DEFAULT);
    hid_t type = attr >= 0 ? H5Aget_type(attr) : -1;
    hid_t space = attr >= 0 ? H5Aget_space(attr) : -1;
    hssize_t count = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;
    H5T_class_t cls = type >= 0 ? H5Tget_class(type) : H5T_NO_CLASS;
    int rc = 0;
    bool fits = true;
    if (attr < 0 || type < 0 || space < 0) {
        rc = rg_io_fail(err, "%s: cannot read attribute %s (corrupt file?); use another file", path,
                        obj);
    } else if (count != 1) {
        rc = rg_io_fail(err, "%s: attribute %s holds %lld values, expected one", path, obj,
                        (long long)count);
    } else if (cls == H5T_INTEGER) {
        long long v;
        if (H5Aread(attr, H5T_NATIVE_LLONG, &v) < 0)
            rc = -1;
        else
            fits = snprintf(buf, n, "%lld", v) < (int)n;
    } else if (cls == H5T_FLOAT) {
        double v;
        if (H5Aread(attr, H5T_NATIVE_DOUBLE, &v) < 0)
            rc = -1;
        else
            fits = snprintf(buf, n, "%.17g", v) < (int)n;
    } else if (cls == H5T_STRING) {
        rc = read_string_attr(attr, type, buf, n, &fits);
    } else {
        rc = rg_io_fail(err,
                        "%s: attribute %s is neither a number nor a string; the file was "
                        "not written by relgrad",
                        path, obj);
    }
    if (rc < 0)
        rc = rg_io_fail(err, "%s: cannot read attribute %s (corrupt file?); use another file", path,
                        obj);
    else if (rc == 0 && !fits)
        rc =
            rg_io_fail(err, "%s: attribute %s is too long (over %zu characters)", path, obj, n - 1);
    if (space >= 0) H5Sclose(space);
    if (type >= 0) H5Tclose(type);
    if (attr >= 0) H5Aclose(attr);
    return rc;
}

int rg_io_check_format(hid_t f, const char *path, const char *expected, rg_error *err) {
    const char *kind = !strcmp(expected, RG_CHECKPOINT_FORMAT) ? "checkpoint" : "gradient dump";
    char text[256];
    if (H5Aexists(f, "format") <= 0)
        return rg_io_fail(err,
                          "%s has no root attribute 'format', so it is not a relgrad %s (format "
                          "'%s'); point to a %s",
                          path, kind, expected, kind);
    if (rg_io_attr_text(f, "format", text, sizeof text, path, err)) return 2;
    if (strcmp(text, expected) != 0)
        return rg_io_fail(err, "%s: format is '%s', expected '%s'; point to a relgrad %s", path,
                          text, expected, kind);
    if (rg_io_attr_text(f, "format_version", text, sizeof text, path, err)) return 2;
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || *end || end == text || v != RG_FORMAT_VERSION)
        return rg_io_fail(err,
                          "%s: format_version is %s, but this relgrad reads version %d; use "
                          "the relgrad version that wrote it, or another file",
                          path, text, RG_FORMAT_VERSION);
    return 0;
}

typedef struct config_reader {
    const char *path;
    const char *const *skip;
    rg_config *cfg;
    rg_error *err;
    int rc;
} config_reader;

static herr_t read_config_attr(hid_t loc, const char *name, const H5A_info_t *info, void *arg) {
    (void)info;
    config_reader *r = arg;
    for (const char *const *s = r->skip; s && *s; s++)
        if (!strcmp(name, *s)) return 0;
    if (rg_config_key_find(name) < 0) {
        r->rc = rg_io_fail(r->err,
                           "%s: attribute '%s' is not a config key this relgrad knows "
                           "(written by another version?); use the matching relgrad build, or "
                           "delete the attribute",
                           r->path, name);
        return 1; /* stop, without raising an HDF5 error */
    }
    char text[4096], where[RG_WHERE_MAX], group[400] = "";
    if ((r->rc = rg_io_attr_text(loc, name, text, sizeof text, r->path, r->err))) return 1;
    /* a group's attributes (a run of a results file) name the group too */
    if (H5Iget_name(loc, group, sizeof group) < 0 || !strcmp(group, "/")) group[0] = '\0';
    /* "<path>[ <group>] attribute <key>": the start of a long path gives
     * way ("..."), so " attribute KEY" always fits */
    char tail[sizeof group + 200];
    int n_tail =
        snprintf(tail, sizeof tail, "%s%s attribute %.100s", group[0] ? " " : "", group, name);
    size_t t = n_tail < 0                          ? 0
               : (size_t)n_tail < sizeof where - 1 ? (size_t)n_tail
                                                   : sizeof where - 1;
    size_t room = sizeof where - 1 - t, len = strlen(r->path), used = 0;
    if (len <= room) {
        memcpy(where, r->path, len), used = len;
    } else if (room > 3) {
        memcpy(where, "...", 3);
        memcpy(where + 3, r->path + len - (room - 3), room - 3), used = room;
    }
    memcpy(where + used, tail, t);
    where[used + t] = '\0';
    if ((r->rc = rg_config_set(r->cfg, name, text, where, r->err))) return 1;
    return 0;
}

int rg_io_read_config(hid_t loc, const char *path, const char *const *skip, rg_config *cfg,
                      rg_error *err) {
    config_reader r = {path, skip, cfg, err, 0};
    hsize_t idx = 0;
    herr_t status = H5Aiterate2(loc, H5_INDEX_NAME, H5_ITER_INC, &idx, read_config_attr, &r);
    if (r.rc) return r.rc;
    if (status < 0)
        return rg_io_fail(err, "%s: cannot read the attributes (corrupt file?); use another file",
                          path);
    return 0;
}

hid_t rg_io_open_group(hid_t loc, const char *name, const char *path, rg_error *err) {
    char obj[600];
    rg_io_obj_path(loc, name, obj, sizeof obj);
    if (H5Lexists(loc, name, H5P_DEFAULT) <= 0) {
        rg_io_fail(err,
                   "%s: group %s is missing; the file is incomplete or not what was "
                   "expected; use another file",
                   path, obj);
        return -1;
    }
    hid_t g = H5Gopen2(loc, name, H5P_DEFAULT);
    if (g < 0)
        rg_io_fail(err, "%s: %s is not a readable group (corrupt file?); use another file", path,
                   obj);
    return g;
}

/* Open dataset `name` and its dims; -1 and err when missing or unreadable. */
static hid_t open_dataset(hid_t loc, const char *name, int *ndim, hsize_t *dims, const char *path,
                          rg_error *err) {
    char obj[600];
    rg_io_obj_path(loc, name, obj, sizeof obj);
    if (H5Lexists(loc, name, H5P_DEFAULT) <= 0) {
        rg_io_fail(err,
                   "%s: dataset %s is missing; the file is incomplete or was written for "
                   "another config; use a file that matches",
                   path, obj);
        return -1;
    }
    hid_t dset = H5Dopen2(loc, name, H5P_DEFAULT);
    hid_t space = dset >= 0 ? H5Dget_space(dset) : -1;
    int nd = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
    bool ok = nd >= 0 && nd <= MAX_DIMS && H5Sget_simple_extent_dims(space, dims, NULL) >= 0;
    if (space >= 0) H5Sclose(space);
    if (!ok) {
        if (dset >= 0) H5Dclose(dset);
        rg_io_fail(err, "%s: %s is not a readable dataset (corrupt file?); use another file", path,
                   obj);
        return -1;
    }
    *ndim = nd;
    return dset;
}

int rg_io_dims(hid_t loc, const char *name, int *ndim, hsize_t *dims, const char *path,
               rg_error *err) {
    hid_t dset = open_dataset(loc, name, ndim, dims, path, err);
    if (dset < 0) return 2;
    H5Dclose(dset);
    return 0;
}

static const char *class_name(H5T_class_t c) {
    return c == H5T_INTEGER ? "integers" : c == H5T_FLOAT ? "floating-point numbers" : "other data";
}

int rg_io_read(hid_t loc, const char *name, H5T_class_t tclass, hid_t mtype, int ndim,
               const hsize_t *dims, void *out, const char *path, rg_error *err) {
    char obj[600], have[160], want[160];
    rg_io_obj_path(loc, name, obj, sizeof obj);
    int nd;
    hsize_t got[MAX_DIMS];
    hid_t dset = open_dataset(loc, name, &nd, got, path, err);
    if (dset < 0) return 2;
    hid_t type = H5Dget_type(dset);
    H5T_class_t cls = type >= 0 ? H5Tget_class(type) : H5T_NO_CLASS;
    if (type >= 0) H5Tclose(type);
    int rc = 0;
    bool same = nd == ndim;
    size_t count = 1;
    for (int i = 0; same && i < nd; i++) same = got[i] == dims[i], count *= (size_t)dims[i];
    if (cls != tclass) {
        rc = rg_io_fail(err, "%s: dataset %s holds %s, expected %s; use a file written by relgrad",
                        path, obj, class_name(cls), class_name(tclass));
    } else if (!same) {
        rc = rg_io_fail(err,
                        "%s: dataset %s has shape %s but the model needs %s; the file was "
                        "written for another config (d_model, n_heads, d_ff, n_symbols, ...); "
                        "build the model from the file's config or use a file that matches",
                        path, obj, rg_io_dims_str(nd, got, have, sizeof have),
                        rg_io_dims_str(ndim, dims, want, sizeof want));
    } else if (count > 0 && H5Dread(dset, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0) {
        rc = rg_io_fail(err,
                        "%s: cannot read dataset %s (truncated or corrupt file?); use "
                        "another file",
                        path, obj);
    }
    H5Dclose(dset);
    return rc;
}
