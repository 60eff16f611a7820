/* results_merge.c: the runs a results file records (rg_results_list), and
 * merging results files made on several machines into one
 * (rg_results_merge, `relgrad results merge`).
 *
 * A merge copies each run's group whole (H5Ocopy: attributes and datasets
 * as they were written, provenance included) into a new file that replaces
 * `out` atomically. A run that several inputs record must be the same run
 * with the same outcome: the config keys that decide its results
 * (rg_config_differs, RG_SAME_RESULTS) and its losses and accuracies must
 * agree; where they do, the first input's record is kept (wall time and
 * provenance may differ between machines); where they do not, nothing is
 * written and the message names the run, both files and what differs.
 */
#include "io_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- listing -------------------------------------------------------------------------- */

typedef struct name_list {
    rg_run_name *runs;
    int n, cap;
} name_list;

typedef struct lister {
    const char *path;
    name_list *list;
    const char *task, *pos; /* the levels above, while iterating below them */
    rg_error *err;
    int rc;
} lister;

static herr_t bad_level(lister *l, const char *what, const char *name) {
    l->rc = rg_io_fail(l->err,
                       "%s: /runs holds %s '%s' where a run's %s should be; use a results file "
                       "written by relgrad",
                       l->path, strchr(name, '/') ? "a path" : "an entry", name, what);
    return 1;
}

static herr_t seed_entry(hid_t g, const char *name, const H5L_info_t *info, void *arg) {
    (void)g, (void)info;
    lister *l = arg;
    char *end;
    long seed = strtol(name, &end, 10);
    if (*end || end == name || seed < 0 || seed > 2147483647L) return bad_level(l, "seed", name);
    if (strlen(l->task) >= sizeof l->list->runs[0].task ||
        strlen(l->pos) >= sizeof l->list->runs[0].pos)
        return bad_level(l, "task or scheme", name);
    name_list *list = l->list;
    if (list->n == list->cap) {
        list->cap = list->cap ? 2 * list->cap : 16;
        list->runs = rg_xrealloc(list->runs, (size_t)list->cap * sizeof *list->runs, "run names");
    }
    rg_run_name *r = &list->runs[list->n++];
    snprintf(r->task, sizeof r->task, "%s", l->task);
    snprintf(r->pos, sizeof r->pos, "%s", l->pos);
    r->seed = (int)seed;
    return 0;
}

/* Iterate the groups under loc/name, calling fn for each entry. */
static int iterate(hid_t loc, const char *name, H5L_iterate_t fn, lister *l) {
    hid_t g = H5Gopen2(loc, name, H5P_DEFAULT);
    if (g < 0) {
        char obj[600];
        return rg_io_fail(l->err, "%s: %s is not a group; use a results file written by relgrad",
                          l->path, rg_io_obj_path(loc, name, obj, sizeof obj));
    }
    hsize_t idx = 0;
    herr_t status = H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, &idx, fn, l);
    H5Gclose(g);
    if (l->rc) return l->rc;
    if (status < 0)
        return rg_io_fail(l->err, "%s: cannot list /%s (corrupt file?); use another file", l->path,
                          name);
    return 0;
}

static herr_t pos_entry(hid_t g, const char *name, const H5L_info_t *info, void *arg) {
    (void)info;
    lister *l = arg;
    l->pos = name;
    return iterate(g, name, seed_entry, l) ? 1 : 0;
}

static herr_t task_entry(hid_t g, const char *name, const H5L_info_t *info, void *arg) {
    (void)info;
    lister *l = arg;
    l->task = name;
    return iterate(g, name, pos_entry, l) ? 1 : 0;
}

static int compare_names(const void *a, const void *b) {
    const rg_run_name *x = a, *y = b;
    int c = strcmp(x->task, y->task);
    if (!c) c = strcmp(x->pos, y->pos);
    return c ? c : (x->seed > y->seed) - (x->seed < y->seed);
}

/* The runs of an open results file. */
static int list_runs(hid_t f, const char *path, name_list *list, rg_error *err) {
    memset(list, 0, sizeof *list);
    if (H5Lexists(f, "runs", H5P_DEFAULT) <= 0)
        return rg_io_fail(err, "%s: no /runs group: not a results file of relgrad", path);
    lister l = {.path = path, .list = list, .err = err};
    int rc = iterate(f, "runs", task_entry, &l);
    if (rc) {
        free(list->runs);
        list->runs = NULL;
        return rc;
    }
    if (list->n) qsort(list->runs, (size_t)list->n, sizeof *list->runs, compare_names);
    return 0;
}

int rg_results_list(const char *path, rg_run_name **runs, int *n, rg_error *err) {
    rg_io_quiet();
    *runs = NULL, *n = 0;
    hid_t f = rg_io_open_read(path, "results file", err);
    if (f < 0) return 2;
    name_list list;
    int rc = list_runs(f, path, &list, err);
    H5Fclose(f);
    if (!rc) *runs = list.runs, *n = list.n;
    return rc;
}

/* ---- merging --------------------------------------------------------------------------- */

typedef struct merge_run {
    rg_run_name name;
    int input; /* the input whose record is kept */
} merge_run;

static void group_name(const rg_run_name *r, char *buf, size_t n) {
    snprintf(buf, n, "runs/%s/%s/%d", r->task, r->pos, r->seed);
}

static int read_named(hid_t f, const char *path, const rg_run_name *r, rg_run_data *out,
                      rg_error *err) {
    memset(out, 0, sizeof *out);
    rg_config_defaults(&out->cfg);
    rg_run_info_init(&out->info);
    char name[400];
    group_name(r, name, sizeof name);
    hid_t g = H5Gopen2(f, name, H5P_DEFAULT);
    if (g < 0) return rg_io_fail(err, "%s: cannot open /%s (corrupt file?)", path, name);
    int rc = rg_io_read_run(g, path, out, err);
    H5Gclose(g);
    return rc;
}

void rg_run_data_difference(const rg_run_data *a, const rg_run_data *b, const char *fa,
                            const char *fb, char *why, size_t n) {
    why[0] = '\0';
    int k = rg_config_differs(&a->cfg, &b->cfg, RG_SAME_RESULTS);
    if (k >= 0) {
        const char *key = rg_config_key(k)->name;
        char va[RG_TEXT_MAX], vb[RG_TEXT_MAX];
        rg_config_get(&a->cfg, key, va, sizeof va);
        rg_config_get(&b->cfg, key, vb, sizeof vb);
        snprintf(why, n, "%s = %.100s in %.200s, %.100s in %.200s", key, va, fa, vb, fb);
        return;
    }
    if (a->n_steps != b->n_steps || a->n_eval != b->n_eval) {
        snprintf(why, n, "%d steps and %d lengths in %.200s, %d and %d in %.200s", a->n_steps,
                 a->n_eval, fa, b->n_steps, b->n_eval, fb);
        return;
    }
    for (int i = 0; i < a->n_steps; i++)
        if (a->train_loss[i] != b->train_loss[i]) {
            snprintf(why, n, "train_loss at step %d: %.9g in %.200s, %.9g in %.200s", i + 1,
                     a->train_loss[i], fa, b->train_loss[i], fb);
            return;
        }
    for (int i = 0; i < a->n_eval; i++) {
        const char *what = a->eval_len[i] != b->eval_len[i]         ? "eval_len"
                           : a->exact_match[i] != b->exact_match[i] ? "exact_match"
                           : a->token_acc[i] != b->token_acc[i]     ? "token_acc"
                                                                    : NULL;
        if (what) {
            double va = !strcmp(what, "eval_len") ? a->eval_len[i]
                        : what[0] == 'e'          ? a->exact_match[i]
                                                  : a->token_acc[i];
            double vb = !strcmp(what, "eval_len") ? b->eval_len[i]
                        : what[0] == 'e'          ? b->exact_match[i]
                                                  : b->token_acc[i];
            snprintf(why, n, "%s at length %d: %.17g in %.200s, %.17g in %.200s", what,
                     a->eval_len[i], va, fa, vb, fb);
            return;
        }
    }
}

/* Is `a` the same file as `b` (both exist)? */
static bool same_file(const char *a, const char *b) {
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

/* Add input i's runs to the merge, checking duplicates against the record
 * kept. */
static int add_input(hid_t *files, const char *const *inputs, int i, merge_run **runs, int *n,
                     int *cap, rg_error *err) {
    name_list list;
    if (list_runs(files[i], inputs[i], &list, err)) return 2;
    int rc = 0;
    for (int j = 0; j < list.n && !rc; j++) {
        const rg_run_name *r = &list.runs[j];
        int k = 0;
        while (k < *n && compare_names(&(*runs)[k].name, r)) k++;
        if (k == *n) {
            if (*n == *cap) {
                *cap = *cap ? 2 * *cap : 16;
                *runs = rg_xrealloc(*runs, (size_t)*cap * sizeof **runs, "the merged runs");
            }
            (*runs)[(*n)++] = (merge_run){.name = *r, .input = i};
            continue;
        }
        int first = (*runs)[k].input;
        rg_run_data a, b;
        rc = read_named(files[first], inputs[first], r, &a, err);
        if (!rc) rc = read_named(files[i], inputs[i], r, &b, err);
        char why[900];
        if (!rc) {
            rg_run_data_difference(&a, &b, inputs[first], inputs[i], why, sizeof why);
            if (why[0])
                rc = rg_io_fail(err,
                                "run /runs/%s/%s/%d is recorded differently: %s; a merge keeps "
                                "one record per run: leave one of the files out, or train the "
                                "run again with one config",
                                r->task, r->pos, r->seed, why);
        }
        rg_run_data_free(&a), rg_run_data_free(&b);
    }
    free(list.runs);
    return rc;
}

/* Copy every kept run into the new file f. */
static int copy_runs(hid_t f, hid_t *files, const char *const *inputs, const merge_run *runs, int n,
                     const char *out, rg_error *err) {
    for (int k = 0; k < n; k++) {
        char name[400], parent[400];
        group_name(&runs[k].name, name, sizeof name);
        snprintf(parent, sizeof parent, "runs/%s/%s", runs[k].name.task, runs[k].name.pos);
        if (H5Lexists(f, "runs", H5P_DEFAULT) <= 0 || H5Lexists(f, parent, H5P_DEFAULT) <= 0) {
            hid_t g = rg_io_group(f, parent, out, err); /* compact, like relgrad's own groups */
            if (g < 0) return 2;
            H5Gclose(g);
        }
        if (H5Ocopy(files[runs[k].input], name, f, name, H5P_DEFAULT, H5P_DEFAULT) < 0)
            return rg_io_fail(err, "cannot write %s: HDF5 failed copying /%s from %s", out, name,
                              inputs[runs[k].input]);
    }
    return 0;
}

int rg_results_merge(const char *out, const char *const *inputs, int n_inputs, int *n_runs,
                     rg_error *err) {
    rg_io_quiet();
    *n_runs = 0;
    bool out_is_input = false;
    for (int i = 0; i < n_inputs; i++) out_is_input |= same_file(out, inputs[i]);
    if (!out_is_input && access(out, F_OK) == 0)
        return rg_io_fail(err,
                          "%s exists and is not one of the inputs; list it among them to merge "
                          "into it, or name a new file",
                          out);
    hid_t *files = rg_xcalloc((size_t)n_inputs + 1, sizeof *files, "the inputs");
    merge_run *runs = NULL;
    int n = 0, cap = 0, rc = 0, opened = 0;
    for (int i = 0; i < n_inputs && !rc; i++) {
        files[i] = rg_io_open_read(inputs[i], "results file", err);
        if (files[i] < 0) {
            rc = 2;
            break;
        }
        opened = i + 1;
        rc = add_input(files, inputs, i, &runs, &n, &cap, err);
    }
    if (!rc) {
        rg_io_atomic a;
        rc = rg_io_atomic_begin(&a, out, err);
        if (!rc) {
            hid_t f = rg_io_create(&a, err);
            int wrote = f < 0 ? 2 : copy_runs(f, files, inputs, runs, n, out, err);
            rc = rg_io_finish(f, wrote, &a, err);
        }
    }
    for (int i = 0; i < opened; i++) H5Fclose(files[i]);
    free(files), free(runs);
    if (!rc) *n_runs = n;
    return rc;
}
