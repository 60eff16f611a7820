/* test_io.c: the HDF5 files of SPEC section 4.
 *   - checkpoints: round trip of parameters, optimizer state, rng and config
 *     for several schemes; the file layout (names, shapes, types); the
 *     atomic write (no temporary file left, a failed save keeps the old
 *     checkpoint byte for byte); every loading error names the file and
 *     what is wrong, and a failed load changes nothing;
 *   - gradient dumps: every dataset with its shape and the build's dtype;
 *   - results: several runs in one file, rewriting one replaces it.
 * Every test works in its own fresh directory under /tmp.
 */
#include "testing.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Under LeakSanitizer: HDF5 1.10 leaks a little inside the library when an
 * object header fails its checksum (load_corrupted_never_crashes feeds it
 * damaged files on purpose). Those leaks are HDF5's own; ids we forget to
 * close would not show up here anyway (HDF5 frees them at exit). */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) {
    return "leak:libhdf5\n";
}
const char *__lsan_default_options(void);
const char *__lsan_default_options(void) {
    return "print_suppressions=0";
}

/* ---- helpers ---------------------------------------------------------------------- */

typedef struct scratch {
    char dir[256];
} scratch;

static void scratch_init(scratch *s) {
    snprintf(s->dir, sizeof s->dir, "/tmp/relgrad-test-io-XXXXXX");
    cr_assert(mkdtemp(s->dir), "mkdtemp failed");
}

static const char *in_dir(const scratch *s, const char *name, char *buf, size_t n) {
    snprintf(buf, n, "%s/%s", s->dir, name);
    return buf;
}

/* Remove the scratch directory (and everything in it, one level deep plus
 * empty subdirectories). */
static void scratch_free(scratch *s) {
    DIR *d = opendir(s->dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char p[512];
            snprintf(p, sizeof p, "%s/%s", s->dir, e->d_name);
            if (unlink(p) != 0) rmdir(p);
        }
        closedir(d);
    }
    rmdir(s->dir);
}

/* Number of entries in a directory (without . and ..). */
static int count_entries(const char *dir) {
    DIR *d = opendir(dir);
    cr_assert(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

static char *read_bytes(const char *path, long *size) {
    FILE *f = fopen(path, "rb");
    cr_assert(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    *size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)*size + 1);
    cr_assert_eq(fread(buf, 1, (size_t)*size, f), (size_t)*size);
    fclose(f);
    return buf;
}

static bool same_bytes(const char *a, long na, const char *b, long nb) {
    return na == nb && memcmp(a, b, (size_t)na) == 0;
}

/* A small config with non-default values in many keys, so the config round
 * trip means something. */
static rg_config small_config(const char *pos, int d_model, int mem_len) {
    rg_config c;
    rg_config_defaults(&c);
    test_setf(&c, "d_model", "%d", d_model);
    const char *kv[][2] = {{"n_heads", "2"},
                           {"n_layers", "2"},
                           {"d_ff", "24"},
                           {"max_positions", "40"},
                           {"n_symbols", "6"},
                           {"t5_buckets", "8"},
                           {"t5_max_distance", "20"},
                           {"deberta_span", "4"},
                           {"fire_width", "5"},
                           {"train_len", "4"},
                           {"eval_lens", "4,8"},
                           {"rope_scale", "2.5"},
                           {"lr", "3e-4"},
                           {"init_std", "0.1"},
                           {"seed", "7"},
                           {"task", "sort"}};
    for (size_t i = 0; i < sizeof kv / sizeof *kv; i++) test_set(&c, kv[i][0], kv[i][1]);
    test_set(&c, "pos", pos);
    test_setf(&c, "mem_len", "%d", mem_len);
    test_setf(&c, "segment_len", "%d", mem_len ? 4 : 0);
    rg_error e;
    cr_assert_eq(rg_config_set(&c, "out_dir", "runs/ü dir", "test", &e), 0, "%s", e.msg);
    cr_assert_eq(rg_config_set(&c, "tasks", "copy,sort", "test", &e), 0, "%s", e.msg);
    cr_assert_eq(rg_config_set(&c, "positions", "t5,xl,deberta", "test", &e), 0, "%s", e.msg);
    cr_assert_eq(rg_config_set(&c, "seeds", "1,2,3", "test", &e), 0, "%s", e.msg);
    return c;
}

/* A model whose every value (biases and gains too) is random. */
static void make_model(rg_model *m, const rg_config *c, uint64_t seed) {
    rg_error e;
    cr_assert_eq(rg_model_init(m, &c->model, seed, &e), 0, "model init: %s", e.msg);
    rg_rng r;
    rg_rng_seed(&r, seed + 100);
    for (long i = 0; i < m->n_values; i++) m->values[i] += (real)(0.1 * rg_rng_normal(&r));
}

static void make_optimizer(rg_adamw *opt, const rg_model *m, uint64_t seed) {
    rg_adamw_init(opt, m, 0.1);
    rg_rng r;
    rg_rng_seed(&r, seed);
    for (long i = 0; i < opt->n; i++) {
        opt->m[i] = (real)rg_rng_normal(&r);
        opt->v[i] = (real)rg_rng_uniform(&r);
    }
    opt->step = 123;
}

static void save_ok(const char *path, const rg_config *c, const rg_model *m, const rg_adamw *opt,
                    const rg_rng *rng) {
    rg_error e;
    int rc = rg_checkpoint_save(path, c, m, opt, rng, &e);
    cr_assert_eq(rc, 0, "save %s: %s", path, e.msg);
}

/* Save a fresh small checkpoint of `pos` at path. */
static void save_small(const char *path, const char *pos, int d_model) {
    rg_config c = small_config(pos, d_model, 0);
    rg_model m;
    make_model(&m, &c, 1);
    rg_adamw opt;
    make_optimizer(&opt, &m, 2);
    rg_rng rng;
    rg_rng_seed(&rng, 3);
    save_ok(path, &c, &m, &opt, &rng);
    rg_adamw_free(&opt);
    rg_model_free(&m);
}

/* Expect a load of path into a small model of `pos` to fail with status 2
 * and a message holding every one of the NULL-terminated `needles`. */
static void expect_load_error(const char *path, const char *pos, const char *const *needles) {
    rg_config c = small_config(pos, 16, 0);
    rg_model m;
    make_model(&m, &c, 9);
    rg_adamw opt;
    make_optimizer(&opt, &m, 9);
    rg_rng rng;
    rg_rng_seed(&rng, 9);
    rg_error e = {{0}};
    int rc = rg_checkpoint_load(path, &m, &opt, &rng, &e);
    cr_assert_eq(rc, 2, "load of %s should fail with 2, got %d (%s)", path, rc, e.msg);
    for (const char *const *n = needles; *n; n++)
        cr_assert(strstr(e.msg, *n), "message lacks '%s': %s", *n, e.msg);
    rg_adamw_free(&opt);
    rg_model_free(&m);
}

/* The same for rg_checkpoint_read_config. */
static void expect_config_error(const char *path, const char *const *needles) {
    rg_config c;
    rg_config_defaults(&c);
    rg_error e = {{0}};
    int rc = rg_checkpoint_read_config(path, &c, &e);
    cr_assert_eq(rc, 2, "read_config of %s should fail with 2, got %d (%s)", path, rc, e.msg);
    for (const char *const *n = needles; *n; n++)
        cr_assert(strstr(e.msg, *n), "message lacks '%s': %s", *n, e.msg);
}

static void assert_same_config(const rg_config *a, const rg_config *b) {
    for (int k = 0; k < rg_config_key_count(); k++) {
        const char *name = rg_config_key(k)->name;
        char ta[4096], tb[4096];
        cr_assert_eq(rg_config_get(a, name, ta, sizeof ta), 0);
        cr_assert_eq(rg_config_get(b, name, tb, sizeof tb), 0);
        cr_assert_str_eq(ta, tb, "config key %s: '%s' became '%s'", name, ta, tb);
    }
}

/* x stored as float32 and read back into `real`. */
static real through_f32(real x) {
    return (real)(float)x;
}

/* ---- checkpoint round trip --------------------------------------------------------- */

static void roundtrip(const char *pos, int mem_len) {
    scratch s;
    scratch_init(&s);
    char path[512];
    in_dir(&s, "ck.h5", path, sizeof path);

    rg_config c = small_config(pos, 16, mem_len);
    rg_model m;
    make_model(&m, &c, 11);
    rg_adamw opt;
    make_optimizer(&opt, &m, 12);
    rg_rng rng;
    rg_rng_seed(&rng, 13);
    rg_rng_u64(&rng);
    save_ok(path, &c, &m, &opt, &rng);

    /* the file is there and nothing else (no temporary file left) */
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(count_entries(s.dir), 1, "a temporary file was left in %s", s.dir);

    /* build the model the checkpoint describes, then load it */
    rg_config c2;
    rg_config_defaults(&c2);
    rg_error e;
    cr_assert_eq(rg_checkpoint_read_config(path, &c2, &e), 0, "%s", e.msg);
    assert_same_config(&c, &c2);
    cr_assert_eq(rg_config_validate(&c2, path, &e), 0, "%s", e.msg);
    rg_model m2;
    cr_assert_eq(rg_model_init(&m2, &c2.model, 99, &e), 0, "%s", e.msg);
    cr_assert_eq(m2.n_values, m.n_values);
    rg_adamw opt2;
    rg_adamw_init(&opt2, &m2, 0.1);
    rg_rng rng2;
    rg_rng_seed(&rng2, 1);
    cr_assert_eq(rg_checkpoint_load(path, &m2, &opt2, &rng2, &e), 0, "%s", e.msg);

    /* exact in float32; the float32 rounding of each value in float64 */
    for (long i = 0; i < m.n_values; i++) {
        cr_assert_eq(m2.values[i], through_f32(m.values[i]), "value %ld", i);
        cr_assert_eq(opt2.m[i], through_f32(opt.m[i]), "m %ld", i);
        cr_assert_eq(opt2.v[i], through_f32(opt.v[i]), "v %ld", i);
    }
    cr_assert_eq(opt2.step, 123);
    for (int i = 0; i < 4; i++) cr_assert_eq(rng2.s[i], rng.s[i], "rng word %d", i);
    cr_assert_eq(rg_rng_u64(&rng2), rg_rng_u64(&rng), "the data stream continues identically");

    /* loading without optimizer and rng also works */
    rg_model m3;
    cr_assert_eq(rg_model_init(&m3, &c2.model, 5, &e), 0, "%s", e.msg);
    cr_assert_eq(rg_checkpoint_load(path, &m3, NULL, NULL, &e), 0, "%s", e.msg);
    cr_assert_eq(memcmp(m3.values, m2.values, (size_t)m.n_values * sizeof(real)), 0);

    rg_model_free(&m3);
    rg_adamw_free(&opt2);
    rg_model_free(&m2);
    rg_adamw_free(&opt);
    rg_model_free(&m);
    scratch_free(&s);
}

/* The training wall time travels with the optimizer step (/optim attribute
 * train_seconds); rg_checkpoint_read_step reads both without a model; a
 * checkpoint without the attribute (an older file) reads 0. */
Test(io, train_seconds) {
    scratch s;
    scratch_init(&s);
    char path[512];
    in_dir(&s, "ck.h5", path, sizeof path);
    rg_config c = small_config("none", 16, 0);
    rg_model m;
    make_model(&m, &c, 1);
    rg_adamw opt;
    make_optimizer(&opt, &m, 2);
    opt.seconds = 1234.5678;
    save_ok(path, &c, &m, &opt, NULL);
    rg_error e;
    long step = -1;
    double seconds = -1;
    cr_assert_eq(rg_checkpoint_read_step(path, &step, &seconds, &e), 0, "%s", e.msg);
    cr_expect_eq(step, 123);
    cr_expect_eq(seconds, 1234.5678);
    rg_adamw back;
    rg_adamw_init(&back, &m, 0.1);
    cr_assert_eq(rg_checkpoint_load(path, &m, &back, NULL, &e), 0, "%s", e.msg);
    cr_expect_eq(back.seconds, 1234.5678);
    cr_expect_eq(back.step, 123);

    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    cr_assert(f >= 0);
    hid_t g = H5Gopen2(f, "optim", H5P_DEFAULT);
    cr_assert(H5Adelete(g, "train_seconds") >= 0);
    H5Gclose(g), H5Fclose(f);
    cr_assert_eq(rg_checkpoint_read_step(path, &step, &seconds, &e), 0, "%s", e.msg);
    cr_expect_eq(seconds, 0);
    back.seconds = 7;
    cr_assert_eq(rg_checkpoint_load(path, &m, &back, NULL, &e), 0, "%s", e.msg);
    cr_expect_eq(back.seconds, 0, "a file without train_seconds reads 0");

    in_dir(&s, "missing.h5", path, sizeof path);
    cr_expect_eq(rg_checkpoint_read_step(path, &step, &seconds, &e), 2);
    cr_expect(strstr(e.msg, "missing.h5"), "%s", e.msg);
    rg_adamw_free(&back);
    rg_adamw_free(&opt);
    rg_model_free(&m);
    scratch_free(&s);
}

Test(io, roundtrip_t5) {
    roundtrip("t5", 0);
}
Test(io, roundtrip_xl) {
    roundtrip("xl", 0);
}
Test(io, roundtrip_deberta) {
    roundtrip("deberta", 0);
}
Test(io, roundtrip_learned) {
    roundtrip("learned", 0);
}
Test(io, roundtrip_rope_memory) {
    roundtrip("rope", 3);
}

Test(io, overwrite_replaces) {
    scratch s;
    scratch_init(&s);
    char path[512];
    in_dir(&s, "ck.h5", path, sizeof path);
    rg_config c = small_config("alibi", 16, 0);
    rg_model m;
    make_model(&m, &c, 1);
    save_ok(path, &c, &m, NULL, NULL);
    m.values[0] = 0.5f;
    save_ok(path, &c, &m, NULL, NULL);
    cr_assert_eq(count_entries(s.dir), 1);
    rg_model m2;
    make_model(&m2, &c, 2);
    rg_error e;
    cr_assert_eq(rg_checkpoint_load(path, &m2, NULL, NULL, &e), 0, "%s", e.msg);
    cr_assert_eq(m2.values[0], (real)0.5);
    rg_model_free(&m2);
    rg_model_free(&m);
    scratch_free(&s);
}

/* ---- checkpoint layout ------------------------------------------------------------------- */

/* Dataset at `name` exists with these dims and a type equal to `type`. */
static void expect_dataset(hid_t f, const char *name, hid_t type, int ndim, const hsize_t *dims) {
    cr_assert(H5Lexists(f, name, H5P_DEFAULT) > 0, "%s is missing", name);
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    cr_assert(d >= 0, "%s is not a dataset", name);
    hid_t t = H5Dget_type(d), sp = H5Dget_space(d);
    cr_assert(H5Tequal(t, type) > 0, "%s has the wrong type", name);
    hsize_t got[8];
    cr_assert_eq(H5Sget_simple_extent_ndims(sp), ndim, "%s rank", name);
    H5Sget_simple_extent_dims(sp, got, NULL);
    for (int i = 0; i < ndim; i++) cr_assert_eq(got[i], dims[i], "%s dim %d", name, i);
    H5Sclose(sp), H5Tclose(t), H5Dclose(d);
}

static hsize_t n_links(hid_t f, const char *group) {
    H5G_info_t info;
    cr_assert(H5Gget_info_by_name(f, group, &info, H5P_DEFAULT) >= 0, "%s is missing", group);
    return info.nlinks;
}

static H5T_class_t attr_class(hid_t loc, const char *name, size_t *size, bool *vlen) {
    cr_assert(H5Aexists(loc, name) > 0, "attribute %s is missing", name);
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT), t = H5Aget_type(a);
    H5T_class_t c = H5Tget_class(t);
    *size = H5Tget_size(t);
    *vlen = c == H5T_STRING && H5Tis_variable_str(t) > 0;
    H5Tclose(t), H5Aclose(a);
    return c;
}

static void expect_root_attributes(hid_t f, const char *format) {
    for (int k = 0; k < rg_config_key_count(); k++) {
        const rg_key_info *key = rg_config_key(k);
        size_t size;
        bool vlen;
        H5T_class_t c = attr_class(f, key->name, &size, &vlen);
        if (key->type == RG_KEY_INT)
            cr_assert(c == H5T_INTEGER && size == 8, "%s should be int64", key->name);
        else if (key->type == RG_KEY_REAL)
            cr_assert(c == H5T_FLOAT && size == 8, "%s should be a double", key->name);
        else
            cr_assert(c == H5T_STRING && !vlen, "%s should be a fixed string", key->name);
    }
    hid_t a = H5Aopen(f, "format", H5P_DEFAULT), t = H5Aget_type(a);
    cr_assert(H5Tget_class(t) == H5T_STRING && H5Tget_size(t) < 64);
    char s[64] = "";
    cr_assert(H5Aread(a, t, s) >= 0);
    cr_assert_str_eq(s, format);
    H5Tclose(t), H5Aclose(a);
    long long v = 0;
    a = H5Aopen(f, "format_version", H5P_DEFAULT);
    cr_assert(H5Aread(a, H5T_NATIVE_LLONG, &v) >= 0);
    cr_assert_eq(v, 1);
    H5Aclose(a);
}

static void layout(const char *pos, const char *special, int sdim, const hsize_t *sdims) {
    scratch s;
    scratch_init(&s);
    char path[512];
    in_dir(&s, "ck.h5", path, sizeof path);
    rg_config c = small_config(pos, 16, 0);
    rg_model m;
    make_model(&m, &c, 1);
    rg_adamw opt;
    make_optimizer(&opt, &m, 2);
    rg_rng rng;
    rg_rng_seed(&rng, 3);
    save_ok(path, &c, &m, &opt, &rng);

    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert(f >= 0);
    expect_root_attributes(f, RG_CHECKPOINT_FORMAT);
    /* exactly the model's parameters, float32, SPEC shapes */
    cr_assert_eq(n_links(f, "/params"), (hsize_t)m.n_params);
    cr_assert_eq(n_links(f, "/optim/m"), (hsize_t)m.n_params);
    cr_assert_eq(n_links(f, "/optim/v"), (hsize_t)m.n_params);
    for (int i = 0; i < m.n_params; i++) {
        const rg_param *p = &m.params[i];
        hsize_t dims[4];
        for (int k = 0; k < p->t.ndim; k++) dims[k] = (hsize_t)p->t.shape[k];
        char name[128];
        const char *groups[] = {"/params", "/optim/m", "/optim/v"};
        for (int g = 0; g < 3; g++) {
            snprintf(name, sizeof name, "%s/%s", groups[g], p->name);
            expect_dataset(f, name, H5T_IEEE_F32LE, p->t.ndim, dims);
        }
    }
    /* names and shapes straight from SPEC section 2 (d 16, H 2, F 24, V 10) */
    expect_dataset(f, "/params/tok_emb.weight", H5T_IEEE_F32LE, 2, (hsize_t[]){10, 16});
    expect_dataset(f, "/params/lm_head.weight", H5T_IEEE_F32LE, 2, (hsize_t[]){10, 16});
    expect_dataset(f, "/params/ln_f.bias", H5T_IEEE_F32LE, 1, (hsize_t[]){16});
    expect_dataset(f, "/params/blocks.1.attn.qkv.weight", H5T_IEEE_F32LE, 2, (hsize_t[]){48, 16});
    expect_dataset(f, "/params/blocks.0.attn.qkv.bias", H5T_IEEE_F32LE, 1, (hsize_t[]){48});
    expect_dataset(f, "/params/blocks.0.mlp.fc1.weight", H5T_IEEE_F32LE, 2, (hsize_t[]){24, 16});
    expect_dataset(f, "/params/blocks.1.mlp.fc2.weight", H5T_IEEE_F32LE, 2, (hsize_t[]){16, 24});
    expect_dataset(f, special, H5T_IEEE_F32LE, sdim, sdims);
    /* optimizer step and rng state */
    size_t size;
    bool vlen;
    hid_t g = H5Gopen2(f, "/optim", H5P_DEFAULT);
    cr_assert_eq(attr_class(g, "step", &size, &vlen), H5T_INTEGER);
    long long step = 0;
    hid_t a = H5Aopen(g, "step", H5P_DEFAULT);
    H5Aread(a, H5T_NATIVE_LLONG, &step);
    cr_assert_eq(step, 123);
    H5Aclose(a), H5Gclose(g);
    expect_dataset(f, "/rng/state", H5T_STD_U64LE, 1, (hsize_t[]){4});
    H5Fclose(f);
    rg_adamw_free(&opt);
    rg_model_free(&m);
    scratch_free(&s);
}

Test(io, layout_t5) {
    layout("t5", "/params/t5_bias.weight", 2, (hsize_t[]){8, 2});
}
Test(io, layout_xl) {
    layout("xl", "/params/blocks.1.attn.r_w_bias", 2, (hsize_t[]){2, 8});
    layout("xl", "/params/blocks.0.attn.r.weight", 2, (hsize_t[]){16, 16});
}
Test(io, layout_deberta) {
    layout("deberta", "/params/rel_emb.weight", 2, (hsize_t[]){8, 16});
    layout("deberta", "/params/blocks.1.attn.pos_q.weight", 2, (hsize_t[]){16, 16});
}
Test(io, layout_learned) {
    layout("learned", "/params/pos_emb.weight", 2, (hsize_t[]){40, 16});
}

/* ---- loading errors ------------------------------------------------------------------- */

Test(io, load_truncated) {
    scratch s;
    scratch_init(&s);
    char path[512];
    in_dir(&s, "ck.h5", path, sizeof path);
    save_small(path, "t5", 16);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(truncate(path, st.st_size / 2), 0);
    expect_load_error(path, "t5",
                      (const char *[]){path, "not a readable HDF5 file", "truncated", NULL});
    expect_config_error(path, (const char *[]){path, "not a readable HDF5 file", NULL});
    scratch_free(&s);
}

Test(io, load_garbage) {
    scratch s;
    scratch_init(&s);
    char path[512];
    in_dir(&s, "junk.h5", path, sizeof path);
    FILE *f = fopen(path, "wb");
    rg_rng r;
    rg_rng_seed(&r, 5);
    for (int i = 0; i < 4096; i++) fputc((int)(rg_rng_u64(&r) & 255), f);
    fclose(f);
    expect_load_error(path, "t5", (const char *[]){path, "not a readable HDF5 file", NULL});
    /* an empty file too */
    f = fopen(path, "wb");
    fclose(f);
    expect_config_error(path, (const char *[]){path, "not a readable HDF5 file", NULL});
    scratch_free(&s);
}

/* Overwrite bytes of a valid checkpoint in many places: every load either
 * succeeds (only numbers were hit) or fails with 2; none crashes. (With
 * HDF5's default file format this crashed inside libhdf5 within a few
 * hundred trials; see io_hdf5.c for the checksummed layout that fixed it.
 * Run it under the sanitizer build to see memory errors too.) */
Test(io, load_corrupted_never_crashes) {
    scratch s;
    scratch_init(&s);
    char path[512], bad[512];
    in_dir(&s, "ck.h5", path, sizeof path);
    in_dir(&s, "bad.h5", bad, sizeof bad);
    save_small(path, "xl", 16);
    long size;
    char *orig = read_bytes(path, &size);
    rg_config c = small_config("xl", 16, 0);
    rg_model m;
    make_model(&m, &c, 1);
    rg_adamw opt;
    make_optimizer(&opt, &m, 2);
    rg_rng r, rng;
    rg_rng_seed(&r, 77);
    for (int trial = 0; trial < 200; trial++) {
        long at = (long)(rg_rng_u64(&r) % (uint64_t)(trial % 2 ? size : 4096));
        FILE *f = fopen(bad, "wb");
        fwrite(orig, 1, (size_t)size, f);
        fseek(f, at, SEEK_SET);
        for (int k = 0; k < 8; k++) fputc((int)(rg_rng_u64(&r) & 255), f);
        fclose(f);
        rg_error e = {{0}};
        rg_config c2;
        rg_config_defaults(&c2);
        int rc1 = rg_checkpoint_read_config(bad, &c2, &e);
        int rc2 = rg_checkpoint_load(bad, &m, &opt, &rng, &e);
        cr_assert(rc1 == 0 || rc1 == 2, "read_config returned %d", rc1);
        cr_assert(rc2 == 0 || rc2 == 2, "load returned %d", rc2);
        if (rc2) cr_assert(strstr(e.msg, bad), "message does not name the file: %s", e.msg);
    }
    free(orig);
    rg_adamw_free(&opt);
    rg_model_free(&m);
    scratch_free(&s);
}

/* Open a checkpoint for editing. */
static hid_t edit(const char *path) {
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    cr_assert(f >= 0, "cannot open %s", path);
    return f;
}

static void set_int_attr(hid_t loc, const char *name, long long v) {
    if (H5Aexists(loc, name) > 0) H5Adelete(loc, name);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(loc, name, H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    cr_assert(a >= 0 && H5Awrite(a, H5T_NATIVE_LLONG, &v) >= 0);
    H5Aclose(a), H5Sclose(sp);
}

/* A variable-length string attribute (as h5py writes a Python str). */
static void set_vlen_string_attr(hid_t loc, const char *name, const char *v) {
    if (H5Aexists(loc, name) > 0) H5Adelete(loc, name);
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(loc, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    cr_assert(a >= 0 && H5Awrite(a, t, &v) >= 0);
    H5Aclose(a), H5Sclose(sp), H5Tclose(t);
}

/* A fixed-length string attribute without terminator (as h5py writes numpy
 * bytes). */
static void set_fixed_string_attr(hid_t loc, const char *name, const char *v) {
    if (H5Aexists(loc, name) > 0) H5Adelete(loc, name);
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, strlen(v));
    H5Tset_strpad(t, H5T_STR_NULLPAD);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(loc, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    cr_assert(a >= 0 && H5Awrite(a, t, v) >= 0);
    H5Aclose(a), H5Sclose(sp), H5Tclose(t);
}

Test(io, load_wrong_format_version) {
    scratch s;
    scratch_init(&s);
    char path[512];
    in_dir(&s, "ck.h5", path, sizeof path);
    save_small(path, "t5", 16);
    hid_t f = edit(path);
    set_int_attr(f, "format_version", 2);
    H5Fclose(f);
    expect_load_error(path, "t5", (const char *[]){path, "format_version", "2", NULL});
    expect_config_error(path, (const char *[]){path, "format_version", NULL});
    scratch_free(&s);
}

Test(io, load_wrong_format) {
    scratch s;
    scratch_init(&s);
    char path[512];
    in_dir(&s, "ck.h5", path, sizeof path);
    save_small(path, "t5", 16);
    hid_t f = edit(path);
    set_fixed_string_attr(f, "format", RG_DUMP_FORMAT);
    H5Fclose(f);
    expect_load_error(path, "t5",
                      (const char *[]){path, "format", RG_DUMP_FORMAT, RG_CHECKPOINT_FORMAT, NULL});
    f = edit(path);
    H5Adelete(f, "format");
    H5Fclose(f);
    expect_config_error(path, (const char *[]){path, "no root attribute 'format'", NULL});
    scratch_free(&s);
}

Test(io, load_missing_dataset) {
    scratch s;
    scratch_init(&s);
    char path[512];
    in_dir(&s, "ck.h5", path, sizeof path);
    save_small(path, "t5", 16);
    hid_t f = edit(path);
    cr_assert(H5Ldelete(f, "/params/blocks.1.mlp.fc1.bias", H5P_DEFAULT) >= 0);
    H5Fclose(f);
    expect_load_error(path, "t5",
                      (const char *[]){path, "/params/blocks.1.mlp.fc1.bias", "missing", NULL});
    scratch_free(&s);
}

Test(io, load_missing_optimizer_and_rng) {
    scratch s;
    scratch_init(&s);
    char path[512];
    in_dir(&s, "ck.h5", path, sizeof path);
    save_small(path, "deberta", 16);
    hid_t f = edit(path);
    cr_assert(H5Ldelete(f, "/optim/v/rel_emb.weight", H5P_DEFAULT) >= 0);
    H5Fclose(f);
    expect_load_error(path, "deberta",
                      (const char *[]){path, "/optim/v/rel_emb.weight", "missing", NULL});
    f = edit(path);
    cr_assert(H5Ldelete(f, "/optim", H5P_DEFAULT) >= 0);
    cr_assert(H5Ldelete(f, "/rng", H5P_DEFAULT) >= 0);
    H5Fclose(f);
    expect_load_error(path, "deberta", (const char *[]){path, "/optim", "missing", NULL});
    /* parameters alone still load */
    rg_config c = small_config("deberta", 16, 0);
    rg_model m;
    make_model(&m, &c, 1);
    rg_error e;
    cr_assert_eq(rg_checkpoint_load(path, &m, NULL, NULL, &e), 0, "%s", e.msg);
    rg_rng rng;
    cr_assert_eq(rg_checkpoint_load(path, &m, NULL, &rng, &e), 2);
    cr_assert(strstr(e.msg, "/rng") && strstr(e.msg, "missing"), "%s", e.msg);
    rg_model_free(&m);
    scratch_free(&s);
}

Test(io, load_wrong_shape) {
    scratch s;
    scratch_init(&s);
    char path[512];
    in_dir(&s, "ck.h5", path, sizeof path);
    save_small(path, "t5", 32); /* d_model 32, loaded into a d_model 16 model */
    expect_load_error(path, "t5",
                      (const char *[]){path, "/params/tok_emb.weight", "[10,32]", "[10,16]", NULL});
    scratch_free(&s);
}

Test(io, load_other_scheme) {
    scratch s;
    scratch_init(&s);
    char path[512];
    in_dir(&s, "ck.h5", path, sizeof path);
    save_small(path, "xl", 16); /* has attn.r.* that a rope model lacks */
    expect_load_error(path, "rope",
                      (const char *[]){path, "/params/blocks.0.attn.r", "not a parameter", NULL});
    /* and a rope checkpoint lacks what an xl model needs */
    save_small(path, "rope", 16);
    expect_load_error(path, "xl",
                      (const char *[]){path, "/params/blocks.0.attn.r", "missing", NULL});
    scratch_free(&s);
}

Test(io, load_failure_changes_nothing) {
    scratch s;
    scratch_init(&s);
    char path[512];
    in_dir(&s, "ck.h5", path, sizeof path);
    save_small(path, "t5", 16);
    hid_t f = edit(path); /* the last parameter goes missing: everything before it read fine */
    cr_assert(H5Ldelete(f, "/params/blocks.1.mlp.fc2.bias", H5P_DEFAULT) >= 0);
    H5Fclose(f);
    rg_config c = small_config("t5", 16, 0);
    rg_model m;
    make_model(&m, &c, 42);
    rg_adamw opt;
    make_optimizer(&opt, &m, 43);
    rg_rng rng;
    rg_rng_seed(&rng, 44);
    size_t bytes = (size_t)m.n_values * sizeof(real);
    real *before = malloc(bytes), *mb = malloc(bytes);
    memcpy(before, m.values, bytes);
    memcpy(mb, opt.m, bytes);
    rg_rng rng_before = rng;
    rg_error e;
    cr_assert_eq(rg_checkpoint_load(path, &m, &opt, &rng, &e), 2);
    cr_assert_eq(memcmp(before, m.values, bytes), 0, "a failed load changed the model");
    cr_assert_eq(memcmp(mb, opt.m, bytes), 0, "a failed load changed the optimizer");
    cr_assert_eq(opt.step, 123);
    cr_assert_eq(memcmp(&rng, &rng_before, sizeof rng), 0);
    free(before), free(mb);
    rg_adamw_free(&opt);
    rg_model_free(&m);
    scratch_free(&s);
}

Test(io, load_directory_and_missing_file) {
    scratch s;
    scratch_init(&s);
    expect_load_error(s.dir, "t5", (const char *[]){s.dir, "is a directory", NULL});
    expect_config_error(s.dir, (const char *[]){s.dir, "is a directory", NULL});
    char path[512];
    in_dir(&s, "nothing-here.h5", path, sizeof path);
    expect_load_error(path, "t5", (const char *[]){path, "no such file", NULL});
    expect_config_error(path, (const char *[]){path, "no such file", NULL});
    scratch_free(&s);
}

Test(io, config_unknown_key) {
    scratch s;
    scratch_init(&s);
    char path[512];
    in_dir(&s, "ck.h5", path, sizeof path);
    save_small(path, "t5", 16);
    hid_t f = edit(path);
    set_int_attr(f, "d_modle", 16);
    H5Fclose(f);
    expect_config_error(path, (const char *[]){path, "d_modle", "not a config key", NULL});
    scratch_free(&s);
}

Test(io, config_bad_values) {
    scratch s;
    scratch_init(&s);
    char path[512];
    in_dir(&s, "ck.h5", path, sizeof path);
    save_small(path, "t5", 16);
    hid_t f = edit(path);
    set_fixed_string_attr(f, "d_model", "wide");
    H5Fclose(f);
    expect_config_error(path, (const char *[]){path, "attribute d_model", NULL});
    f = edit(path);
    set_int_attr(f, "d_model", 16);
    set_fixed_string_attr(f, "pos", "nope");
    H5Fclose(f);
    expect_config_error(path, (const char *[]){path, "attribute pos", "nope", NULL});
    f = edit(path);
    set_vlen_string_attr(f, "pos", "t5"); /* variable-length strings are read too */
    set_fixed_string_attr(f, "eval_lens", "3,5");
    set_int_attr(f, "n_layers", -3);
    H5Fclose(f);
    expect_config_error(path, (const char *[]){path, "attribute n_layers", NULL});
    f = edit(path);
    set_int_attr(f, "n_layers", 2);
    H5Fclose(f);
    rg_config c;
    rg_config_defaults(&c);
    rg_error e;
    cr_assert_eq(rg_checkpoint_read_config(path, &c, &e), 0, "%s", e.msg);
    cr_assert_eq(c.model.schemes.id[0], rg_scheme_find("t5"));
    cr_assert_eq(c.model.n_layers, 2);
    cr_assert_str_eq(c.eval_lens, "3,5");
    scratch_free(&s);
}

/* ---- failed saves ------------------------------------------------------------------------ */

Test(io, save_into_missing_directory) {
    scratch s;
    scratch_init(&s);
    char path[512], file[512];
    in_dir(&s, "no-such-dir/ck.h5", path, sizeof path);
    rg_config c = small_config("t5", 16, 0);
    rg_model m;
    make_model(&m, &c, 1);
    rg_error e;
    cr_assert_eq(rg_checkpoint_save(path, &c, &m, NULL, NULL, &e), 2);
    cr_assert(strstr(e.msg, "no-such-dir"), "%s", e.msg);
    /* a parent that is a regular file */
    in_dir(&s, "plain", file, sizeof file);
    fclose(fopen(file, "w"));
    in_dir(&s, "plain/ck.h5", path, sizeof path);
    cr_assert_eq(rg_checkpoint_save(path, &c, &m, NULL, NULL, &e), 2);
    cr_assert(strstr(e.msg, "plain"), "%s", e.msg);
    cr_assert_eq(count_entries(s.dir), 1);
    rg_model_free(&m);
    scratch_free(&s);
}

/* A save that fails must leave the old checkpoint byte for byte. The
 * temporary file's name is blocked by a directory, which fails the save
 * even for root. */
Test(io, failed_save_keeps_old_checkpoint) {
    scratch s;
    scratch_init(&s);
    char path[512], tmp[600];
    in_dir(&s, "ck.h5", path, sizeof path);
    save_small(path, "t5", 16);
    long n0;
    char *old = read_bytes(path, &n0);
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    cr_assert_eq(mkdir(tmp, 0755), 0);

    rg_config c = small_config("t5", 16, 0);
    rg_model m;
    make_model(&m, &c, 5);
    rg_error e;
    cr_assert_eq(rg_checkpoint_save(path, &c, &m, NULL, NULL, &e), 2);
    cr_assert(strstr(e.msg, path), "%s", e.msg);
    long n1;
    char *now = read_bytes(path, &n1);
    cr_assert(same_bytes(old, n0, now, n1), "the old checkpoint changed");
    free(now);
    cr_assert_eq(rmdir(tmp), 0, "the blocking directory should be left alone");

    /* not running as root: an unwritable directory fails the same way */
    if (geteuid() != 0) {
        cr_assert_eq(chmod(s.dir, 0555), 0);
        cr_assert_eq(rg_checkpoint_save(path, &c, &m, NULL, NULL, &e), 2);
        chmod(s.dir, 0755);
        now = read_bytes(path, &n1);
        cr_assert(same_bytes(old, n0, now, n1), "the old checkpoint changed");
        free(now);
    }
    cr_assert_eq(count_entries(s.dir), 1, "a temporary file was left behind");
    free(old);
    rg_model_free(&m);
    scratch_free(&s);
}

/* The destination is a directory: the rename fails after the whole file was
 * written; the temporary file must go. */
Test(io, save_onto_directory) {
    scratch s;
    scratch_init(&s);
    char path[512];
    in_dir(&s, "ck.h5", path, sizeof path);
    cr_assert_eq(mkdir(path, 0755), 0);
    rg_config c = small_config("t5", 16, 0);
    rg_model m;
    make_model(&m, &c, 1);
    rg_error e;
    cr_assert_eq(rg_checkpoint_save(path, &c, &m, NULL, NULL, &e), 2);
    cr_assert(strstr(e.msg, path) && strstr(e.msg, "directory"), "%s", e.msg);
    cr_assert_eq(count_entries(s.dir), 1, "a temporary file was left behind");
    rg_model_free(&m);
    scratch_free(&s);
}

/* ---- gradient dumps ------------------------------------------------------------------------- */

static hid_t real_file_type(void) {
    return sizeof(real) == 8 ? H5T_IEEE_F64LE : H5T_IEEE_F32LE;
}

/* Read a whole dataset of reals. */
static real *read_reals(hid_t f, const char *name, size_t n) {
    real *buf = malloc(n * sizeof(real));
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    cr_assert(d >= 0, "%s missing", name);
    cr_assert(H5Dread(d, sizeof(real) == 8 ? H5T_NATIVE_DOUBLE : H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL,
                      H5P_DEFAULT, buf) >= 0);
    H5Dclose(d);
    return buf;
}

static void dump(const char *pos, int mem_len) {
    enum { B = 2, T = 4 };
    scratch s;
    scratch_init(&s);
    char path[512];
    in_dir(&s, "dump.h5", path, sizeof path);
    rg_config c = small_config(pos, 16, mem_len);
    rg_model m;
    make_model(&m, &c, 3);
    int tokens[B * T], targets[B * T], first[B * T], positions[B * T];
    real mask[B * T];
    rg_rng r;
    rg_rng_seed(&r, 4);
    for (int i = 0; i < B * T; i++) {
        tokens[i] = rg_rng_int(&r, 0, m.V - 1), targets[i] = rg_rng_int(&r, 0, m.V - 1);
        first[i] = rg_rng_int(&r, 0, m.V - 1), mask[i] = (real)(i % 3 != 0);
    }
    rg_ctx ctx;
    rg_ctx_init(&ctx, 1);
    rg_memory mem, mem_in;
    rg_memory_init(&mem, &m, B);
    int offset = 0;
    if (mem_len) { /* one segment without gradient fills the memory */
        bool was = rg_set_no_grad(&ctx, true);
        rg_model_forward(&ctx, &m, first, NULL, NULL, B, T, 0, &mem);
        rg_set_no_grad(&ctx, was);
        offset = T;
    }
    mem_in = mem;
    size_t rows = (size_t)B * (mem.cap ? mem.cap : 1),
           mem_bytes = rows * mem.n_layers * mem.d * sizeof(real);
    mem_in.data = malloc(mem_bytes);
    memcpy(mem_in.data, mem.data, mem_bytes);
    mem_in.pos = malloc(rows * sizeof(int));
    memcpy(mem_in.pos, mem.pos, rows * sizeof(int));
    for (int b = 0; b < B; b++) /* explicit positions, continuing the memory's with gaps */
        for (int t = 0; t < T; t++) positions[b * T + t] = offset + 2 * t + b;
    rg_ctx_reset(&ctx);
    rg_model_zero_grad(&m);
    rg_tensor *logits =
        rg_model_forward(&ctx, &m, tokens, positions, NULL, B, T, offset, mem_len ? &mem : NULL);
    rg_tensor *loss = rg_model_loss(&ctx, logits, targets, mask);
    rg_backward(&ctx, loss);
    rg_dump_batch db = {.B = B,
                        .T = T,
                        .offset = offset,
                        .tokens = tokens,
                        .targets = targets,
                        .mask = mask,
                        .positions = positions};
    rg_error e;
    cr_assert_eq(
        rg_dump_write(path, &c, &m, &db, mem_len ? &mem_in : NULL, loss->data[0], logits, &e), 0,
        "%s", e.msg);
    cr_assert_eq(count_entries(s.dir), 1, "a temporary file was left behind");

    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert(f >= 0);
    expect_root_attributes(f, RG_DUMP_FORMAT);
    hid_t rt = real_file_type();
    cr_assert_eq(n_links(f, "/params"), (hsize_t)m.n_params);
    cr_assert_eq(n_links(f, "/grads"), (hsize_t)m.n_params);
    for (int i = 0; i < m.n_params; i++) {
        const rg_param *p = &m.params[i];
        hsize_t dims[4];
        for (int k = 0; k < p->t.ndim; k++) dims[k] = (hsize_t)p->t.shape[k];
        char name[128];
        snprintf(name, sizeof name, "/params/%s", p->name);
        expect_dataset(f, name, rt, p->t.ndim, dims);
        real *v = read_reals(f, name, (size_t)p->t.size);
        cr_assert_eq(memcmp(v, p->t.data, (size_t)p->t.size * sizeof(real)), 0, "%s", name);
        free(v);
        snprintf(name, sizeof name, "/grads/%s", p->name);
        expect_dataset(f, name, rt, p->t.ndim, dims);
        v = read_reals(f, name, (size_t)p->t.size);
        cr_assert_eq(memcmp(v, p->t.grad, (size_t)p->t.size * sizeof(real)), 0, "%s", name);
        free(v);
    }
    expect_dataset(f, "/batch/tokens", H5T_STD_I32LE, 2, (hsize_t[]){B, T});
    expect_dataset(f, "/batch/targets", H5T_STD_I32LE, 2, (hsize_t[]){B, T});
    expect_dataset(f, "/batch/mask", rt, 2, (hsize_t[]){B, T});
    expect_dataset(f, "/batch/offset", H5T_STD_I32LE, 0, NULL);
    expect_dataset(f, "/batch/positions", H5T_STD_I32LE, 2, (hsize_t[]){B, T});
    expect_dataset(f, "/loss", rt, 0, NULL);
    expect_dataset(f, "/logits", rt, 3, (hsize_t[]){B, T, (hsize_t)m.V});
    int got[B * T], off = -1;
    hid_t d = H5Dopen2(f, "/batch/tokens", H5P_DEFAULT);
    H5Dread(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, got);
    H5Dclose(d);
    cr_assert_eq(memcmp(got, tokens, sizeof got), 0);
    d = H5Dopen2(f, "/batch/offset", H5P_DEFAULT);
    H5Dread(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, &off);
    H5Dclose(d);
    cr_assert_eq(off, offset);
    d = H5Dopen2(f, "/batch/positions", H5P_DEFAULT);
    H5Dread(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, got);
    H5Dclose(d);
    cr_assert_eq(memcmp(got, positions, sizeof got), 0);
    real *l = read_reals(f, "/loss", 1);
    cr_assert_eq(l[0], loss->data[0]);
    free(l);
    real *lg = read_reals(f, "/logits", (size_t)logits->size);
    cr_assert_eq(memcmp(lg, logits->data, (size_t)logits->size * sizeof(real)), 0);
    free(lg);
    if (mem_len) {
        cr_assert(mem_in.len > 0);
        cr_assert_eq(n_links(f, "/mems"), (hsize_t)c.model.n_layers + 1); /* + positions */
        int mem_pos[B * 16];
        expect_dataset(f, "/mems/positions", H5T_STD_I32LE, 2, (hsize_t[]){B, (hsize_t)mem_in.len});
        d = H5Dopen2(f, "/mems/positions", H5P_DEFAULT);
        H5Dread(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, mem_pos);
        H5Dclose(d);
        for (int b = 0; b < B; b++)
            for (int j = 0; j < mem_in.len; j++)
                cr_assert_eq(mem_pos[b * mem_in.len + j], offset - mem_in.len + j,
                             "memory row %d of %d: position", j, mem_in.len);
        for (int layer = 0; layer < c.model.n_layers; layer++) {
            char name[32];
            snprintf(name, sizeof name, "/mems/%d", layer);
            hsize_t dims[3] = {B, (hsize_t)mem_in.len, (hsize_t)mem_in.d};
            expect_dataset(f, name, rt, 3, dims);
            real *v = read_reals(f, name, (size_t)B * mem_in.len * mem_in.d);
            for (int b = 0; b < B; b++) /* the first len of cap rows of (layer, b) */
                cr_assert_eq(memcmp(v + (size_t)b * mem_in.len * mem_in.d,
                                    mem_in.data + ((size_t)layer * B + b) * mem_in.cap * mem_in.d,
                                    (size_t)mem_in.len * mem_in.d * sizeof(real)),
                             0, "%s batch %d", name, b);
            free(v);
        }
    } else {
        cr_assert(H5Lexists(f, "/mems", H5P_DEFAULT) <= 0, "no memory, no /mems");
    }
    H5Fclose(f);
    free(mem_in.data), free(mem_in.pos);
    rg_memory_free(&mem);
    rg_ctx_free(&ctx);
    rg_model_free(&m);
    scratch_free(&s);
}

Test(io, dump_xl_memory) {
    dump("xl", 3);
}
Test(io, dump_t5_memory) {
    dump("t5", 6);
}
Test(io, dump_learned) {
    dump("learned", 0);
}
Test(io, dump_deberta) {
    dump("deberta", 0);
}
Test(io, dump_fire_memory) {
    dump("fire", 3);
}

/* ---- results ----------------------------------------------------------------------------- */

typedef struct run_fixture {
    rg_config cfg;
    float loss[8];
    int len[3];
    double em[3], acc[3];
} run_fixture;

static rg_run_result fixture(run_fixture *fx, rg_task task, const char *pos, int seed, int n_steps,
                             float base) {
    fx->cfg = small_config(pos, 16, 0);
    fx->cfg.task = task, fx->cfg.seed = seed;
    for (int i = 0; i < 8; i++) fx->loss[i] = base - 0.25f * (float)i;
    for (int k = 0; k < 3; k++)
        fx->len[k] = 4 * (k + 1), fx->em[k] = base / (k + 2), fx->acc[k] = 1.0 / (k + 1);
    rg_run_info info = {.fit = seed % 2,
                        .fit_exact_match = base / 7,
                        .fit_token_acc = base / 9,
                        .selected_step = n_steps - 1,
                        .val_exact_match = base / 11,
                        .git_commit = "0123456789ab+changes",
                        .precision = "float32",
                        .cpu_model = "A CPU @ 1.00GHz"};
    return (rg_run_result){.cfg = &fx->cfg,
                           .train_loss = fx->loss,
                           .n_steps = n_steps,
                           .eval_len = fx->len,
                           .exact_match = fx->em,
                           .token_acc = fx->acc,
                           .n_eval = 3,
                           .wall_seconds = base * 10,
                           .info = info};
}

static void expect_same_info(const rg_run_info *got, const rg_run_info *want) {
    cr_assert_eq(got->fit, want->fit);
    if (want->fit >= 0) {
        cr_assert_eq(got->fit_exact_match, want->fit_exact_match);
        cr_assert_eq(got->fit_token_acc, want->fit_token_acc);
    }
    cr_assert_eq(got->selected_step, want->selected_step);
    cr_assert(got->val_exact_match == want->val_exact_match ||
                  (isnan(got->val_exact_match) && isnan(want->val_exact_match)),
              "val_exact_match %g, expected %g", got->val_exact_match, want->val_exact_match);
    cr_assert_str_eq(got->git_commit, want->git_commit);
    cr_assert_str_eq(got->precision, want->precision);
    cr_assert_str_eq(got->cpu_model, want->cpu_model);
}

static void expect_run(const char *path, const rg_run_result *want) {
    rg_run_data got;
    rg_error e;
    char pos[128];
    rg_scheme_list_text(&want->cfg->model.schemes, ',', pos, sizeof pos);
    int rc =
        rg_results_read_run(path, rg_task_name(want->cfg->task), pos, want->cfg->seed, &got, &e);
    cr_assert_eq(rc, 0, "%s", e.msg);
    cr_assert_eq(got.n_steps, want->n_steps);
    cr_assert_eq(got.n_eval, want->n_eval);
    for (int i = 0; i < got.n_steps; i++) cr_assert_eq(got.train_loss[i], want->train_loss[i]);
    for (int k = 0; k < got.n_eval; k++) {
        cr_assert_eq(got.eval_len[k], want->eval_len[k]);
        cr_assert_eq(got.exact_match[k], want->exact_match[k]);
        cr_assert_eq(got.token_acc[k], want->token_acc[k]);
    }
    cr_assert_eq(got.wall_seconds, want->wall_seconds);
    expect_same_info(&got.info, &want->info);
    assert_same_config(&got.cfg, want->cfg);
    rg_run_data_free(&got);
}

Test(io, results_runs) {
    scratch s;
    scratch_init(&s);
    char path[512];
    in_dir(&s, "results.h5", path, sizeof path);
    run_fixture fa, fb, fc;
    rg_run_result a = fixture(&fa, RG_TASK_COPY, "t5", 1, 5, 2.0f);
    rg_run_result b = fixture(&fb, RG_TASK_SORT, "xl", 2, 8, 3.0f);
    rg_error e;
    cr_assert_eq(rg_results_write_run(path, &a, &e), 0, "%s", e.msg);
    cr_assert_eq(rg_results_write_run(path, &b, &e), 0, "%s", e.msg);
    expect_run(path, &a);
    expect_run(path, &b);

    /* layout: /runs/{task}/{pos}/{seed} with SPEC's datasets */
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert(f >= 0);
    expect_dataset(f, "/runs/copy/t5/1/train_loss", H5T_IEEE_F32LE, 1, (hsize_t[]){5});
    expect_dataset(f, "/runs/copy/t5/1/eval_len", H5T_STD_I32LE, 1, (hsize_t[]){3});
    expect_dataset(f, "/runs/copy/t5/1/exact_match", H5T_IEEE_F64LE, 1, (hsize_t[]){3});
    expect_dataset(f, "/runs/sort/xl/2/token_acc", H5T_IEEE_F64LE, 1, (hsize_t[]){3});
    hid_t g = H5Gopen2(f, "/runs/sort/xl/2", H5P_DEFAULT);
    size_t size;
    bool vlen;
    cr_assert_eq(attr_class(g, "wall_seconds", &size, &vlen), H5T_FLOAT);
    cr_assert_eq(attr_class(g, "train_len", &size, &vlen), H5T_INTEGER);
    cr_assert_eq(attr_class(g, "pos", &size, &vlen), H5T_STRING);
    cr_assert_eq(attr_class(g, "fit", &size, &vlen), H5T_INTEGER);
    cr_assert_eq(attr_class(g, "fit_exact_match", &size, &vlen), H5T_FLOAT);
    cr_assert_eq(attr_class(g, "selected_step", &size, &vlen), H5T_INTEGER);
    cr_assert_eq(attr_class(g, "val_exact_match", &size, &vlen), H5T_FLOAT);
    cr_assert_eq(attr_class(g, "git_commit", &size, &vlen), H5T_STRING);
    cr_assert_eq(attr_class(g, "cpu_model", &size, &vlen), H5T_STRING);
    cr_assert_eq(attr_class(g, "precision", &size, &vlen), H5T_STRING);
    H5Gclose(g);
    H5Fclose(f);

    /* rewriting a run replaces it (fewer steps, other numbers); the other stays */
    rg_run_result a2 = fixture(&fc, RG_TASK_COPY, "t5", 1, 3, 5.0f);
    cr_assert_eq(rg_results_write_run(path, &a2, &e), 0, "%s", e.msg);
    expect_run(path, &a2);
    expect_run(path, &b);
    cr_assert_eq(count_entries(s.dir), 1, "a temporary file was left behind");

    /* a run that is not there */
    rg_run_data d;
    cr_assert_eq(rg_results_read_run(path, "copy", "rope", 1, &d, &e), 2);
    cr_assert(strstr(e.msg, path) && strstr(e.msg, "/runs/copy/rope/1"), "%s", e.msg);
    scratch_free(&s);
}

Test(io, results_errors) {
    scratch s;
    scratch_init(&s);
    char path[512];
    run_fixture fa;
    rg_run_result a = fixture(&fa, RG_TASK_COPY, "t5", 1, 5, 2.0f);
    rg_error e;
    in_dir(&s, "missing/results.h5", path, sizeof path);
    cr_assert_eq(rg_results_write_run(path, &a, &e), 2);
    cr_assert(strstr(e.msg, "missing"), "%s", e.msg);
    /* an existing file that is not HDF5 is reported and left alone */
    in_dir(&s, "results.h5", path, sizeof path);
    FILE *f = fopen(path, "w");
    fputs("not hdf5\n", f);
    fclose(f);
    cr_assert_eq(rg_results_write_run(path, &a, &e), 2);
    cr_assert(strstr(e.msg, path) && strstr(e.msg, "not a readable HDF5 file"), "%s", e.msg);
    long n;
    char *text = read_bytes(path, &n);
    cr_assert(same_bytes(text, n, "not hdf5\n", 9));
    free(text);
    cr_assert_eq(count_entries(s.dir), 1, "a temporary file was left behind");
    scratch_free(&s);
}

/* What a run did not record (a file older than fit, selection and
 * provenance, or select = last's validation score) is left out of the
 * group and reads back as rg_run_info_init's "not recorded". */
Test(io, results_info_absent) {
    scratch s;
    scratch_init(&s);
    char path[512];
    in_dir(&s, "results.h5", path, sizeof path);
    run_fixture fa;
    rg_run_result a = fixture(&fa, RG_TASK_COPY, "rope", 3, 5, 2.0f);
    rg_run_info_init(&a.info);
    rg_error e;
    cr_assert_eq(rg_results_write_run(path, &a, &e), 0, "%s", e.msg);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert(f >= 0);
    hid_t g = H5Gopen2(f, "/runs/copy/rope/3", H5P_DEFAULT);
    const char *absent[] = {"fit",           "fit_exact_match", "fit_token_acc",
                            "selected_step", "val_exact_match", "git_commit",
                            "precision",     "cpu_model"};
    for (size_t i = 0; i < sizeof absent / sizeof *absent; i++)
        cr_expect_eq(H5Aexists(g, absent[i]), 0, "%s was written", absent[i]);
    H5Gclose(g), H5Fclose(f);
    expect_run(path, &a); /* reads back as "not recorded" */
    scratch_free(&s);
}

/* rg_run_info_provenance: this build's commit (as --version says it),
 * precision and the CPU: its model name, family and model. */
Test(io, run_info_provenance) {
    rg_run_info info;
    rg_run_info_init(&info);
    cr_expect_eq(info.fit, -1);
    cr_expect(isnan(info.val_exact_match));
    rg_run_info_provenance(&info);
    cr_expect_str_eq(info.precision, RG_REAL_NAME);
    cr_expect(info.git_commit[0], "no commit");
    /* the first processor's lines, read here with sscanf */
    char name[256] = "", family[32] = "", model[32] = "", line[512];
    FILE *f = fopen("/proc/cpuinfo", "r");
    while (f && fgets(line, sizeof line, f) && line[0] != '\n') {
        if (!name[0]) sscanf(line, "model name : %255[^\n]", name);
        sscanf(line, "cpu family : %31s", family);
        if (!strncmp(line, "model\t", 6)) sscanf(line, "model : %31s", model);
    }
    if (f) fclose(f);
    char want[400] = "unknown";
    if (name[0] && family[0] && model[0])
        snprintf(want, sizeof want, "%s (family %s, model %s)", name, family, model);
    else if (name[0])
        snprintf(want, sizeof want, "%s", name);
    cr_expect_str_eq(info.cpu_model, want);
}

/* select = best's state: best_step and best_val_exact_match travel in
 * /optim (0 when absent: an older file); best.h5 holds the parameters with
 * /select's step and score, and reads back as a checkpoint's parameters. */
Test(io, best_state_and_file) {
    scratch s;
    scratch_init(&s);
    char path[512], best[512];
    in_dir(&s, "ck.h5", path, sizeof path);
    in_dir(&s, "best.h5", best, sizeof best);
    rg_config c = small_config("alibi", 16, 0);
    rg_model m;
    make_model(&m, &c, 1);
    rg_adamw opt;
    make_optimizer(&opt, &m, 2);
    opt.best_step = 40, opt.best_score = 0.625;
    save_ok(path, &c, &m, &opt, NULL);
    rg_adamw back;
    rg_adamw_init(&back, &m, 0.1);
    rg_error e;
    cr_assert_eq(rg_checkpoint_load(path, &m, &back, NULL, &e), 0, "%s", e.msg);
    cr_expect_eq(back.best_step, 40);
    cr_expect_eq(back.best_score, 0.625);
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t g = H5Gopen2(f, "optim", H5P_DEFAULT);
    cr_assert(H5Adelete(g, "best_step") >= 0 && H5Adelete(g, "best_val_exact_match") >= 0);
    H5Gclose(g), H5Fclose(f);
    cr_assert_eq(rg_checkpoint_load(path, &m, &back, NULL, &e), 0, "%s", e.msg);
    cr_expect_eq(back.best_step, 0, "a file without best_step reads 0 (none yet)");
    cr_expect_eq(back.best_score, 0);

    cr_assert_eq(rg_best_save(best, &c, &m, 70, 0.875, &e), 0, "%s", e.msg);
    cr_assert_eq(count_entries(s.dir), 2, "a temporary file was left behind");
    long step = 0;
    double score = 0;
    cr_assert_eq(rg_best_read_step(best, &step, &score, &e), 0, "%s", e.msg);
    cr_expect_eq(step, 70);
    cr_expect_eq(score, 0.875);
    rg_config c2;
    rg_config_defaults(&c2);
    cr_assert_eq(rg_checkpoint_read_config(best, &c2, &e), 0, "%s", e.msg);
    assert_same_config(&c, &c2);
    rg_model m2;
    make_model(&m2, &c, 5);
    cr_assert_eq(rg_checkpoint_load(best, &m2, NULL, NULL, &e), 0, "%s", e.msg);
    for (long i = 0; i < m.n_values; i++)
        cr_assert_eq(m2.values[i], through_f32(m.values[i]), "value %ld", i);
    /* a checkpoint is not a best.h5 */
    cr_expect_eq(rg_best_read_step(path, &step, &score, &e), 2);
    cr_expect(strstr(e.msg, "/select") && strstr(e.msg, "ck.h5"), "%s", e.msg);
    rg_model_free(&m2);
    rg_adamw_free(&back);
    rg_adamw_free(&opt);
    rg_model_free(&m);
    scratch_free(&s);
}

/* rg_results_list and rg_results_has_run name what a file records. */
Test(io, results_list) {
    scratch s;
    scratch_init(&s);
    char path[512];
    in_dir(&s, "results.h5", path, sizeof path);
    run_fixture fa, fb, fc;
    rg_run_result a = fixture(&fa, RG_TASK_SORT, "xl", 2, 5, 2.0f);
    rg_run_result b = fixture(&fb, RG_TASK_COPY, "t5", 10, 5, 2.0f);
    rg_run_result c = fixture(&fc, RG_TASK_COPY, "t5", 9, 5, 2.0f);
    rg_error e;
    cr_assert_eq(rg_results_write_run(path, &a, &e), 0, "%s", e.msg);
    cr_assert_eq(rg_results_write_run(path, &b, &e), 0, "%s", e.msg);
    cr_assert_eq(rg_results_write_run(path, &c, &e), 0, "%s", e.msg);
    rg_run_name *runs;
    int n;
    cr_assert_eq(rg_results_list(path, &runs, &n, &e), 0, "%s", e.msg);
    cr_assert_eq(n, 3);
    cr_expect(!strcmp(runs[0].task, "copy") && !strcmp(runs[0].pos, "t5") && runs[0].seed == 9);
    cr_expect(runs[1].seed == 10, "seeds in numeric order");
    cr_expect(!strcmp(runs[2].task, "sort") && !strcmp(runs[2].pos, "xl") && runs[2].seed == 2);
    free(runs);
    bool has;
    cr_assert_eq(rg_results_has_run(path, "copy", "t5", 9, &has, &e), 0, "%s", e.msg);
    cr_expect(has);
    cr_assert_eq(rg_results_has_run(path, "copy", "t5", 8, &has, &e), 0, "%s", e.msg);
    cr_expect(!has);
    cr_assert_eq(rg_results_has_run(path, "copy", "alibi", 9, &has, &e), 0, "%s", e.msg);
    cr_expect(!has);
    in_dir(&s, "missing.h5", path, sizeof path);
    cr_expect_eq(rg_results_list(path, &runs, &n, &e), 2);
    cr_expect(strstr(e.msg, "missing.h5"), "%s", e.msg);
    scratch_free(&s);
}

/* Merging results made on several machines: the union of the runs, a run
 * recorded alike by two files kept once (from the first), one recorded
 * differently refused (naming the run, the files and the difference) with
 * nothing written; merging into an input replaces it; an existing output
 * that is not an input is refused. */
Test(io, results_merge) {
    scratch s;
    scratch_init(&s);
    char p1[512], p2[512], p3[512], out[512];
    in_dir(&s, "one.h5", p1, sizeof p1);
    in_dir(&s, "two.h5", p2, sizeof p2);
    in_dir(&s, "three.h5", p3, sizeof p3);
    in_dir(&s, "merged.h5", out, sizeof out);
    run_fixture f1, f2, f3, f4;
    rg_run_result a = fixture(&f1, RG_TASK_COPY, "t5", 1, 5, 2.0f);
    rg_run_result b = fixture(&f2, RG_TASK_COPY, "t5", 2, 5, 2.5f);
    rg_run_result a_again = fixture(&f3, RG_TASK_COPY, "t5", 1, 5, 2.0f);
    snprintf(a_again.info.cpu_model, sizeof a_again.info.cpu_model, "another machine's CPU");
    a_again.wall_seconds = 99; /* provenance and time may differ */
    f3.cfg.threads = 7, snprintf(f3.cfg.out_dir, sizeof f3.cfg.out_dir, "elsewhere");
    rg_error e;
    cr_assert_eq(rg_results_write_run(p1, &a, &e), 0, "%s", e.msg);
    cr_assert_eq(rg_results_write_run(p2, &b, &e), 0, "%s", e.msg);
    cr_assert_eq(rg_results_write_run(p2, &a_again, &e), 0, "%s", e.msg);
    const char *inputs[] = {p1, p2, p3};
    int n;
    cr_assert_eq(rg_results_merge(out, inputs, 2, &n, &e), 0, "%s", e.msg);
    cr_expect_eq(n, 2);
    expect_run(out, &a); /* the first input's record, its CPU and time */
    expect_run(out, &b);

    /* a conflicting record: exact match differs */
    rg_run_result a_other = fixture(&f4, RG_TASK_COPY, "t5", 1, 5, 2.0f);
    f4.em[1] = 0.125;
    cr_assert_eq(rg_results_write_run(p3, &a_other, &e), 0, "%s", e.msg);
    char other[512];
    in_dir(&s, "other.h5", other, sizeof other);
    cr_assert_eq(rg_results_merge(other, inputs, 3, &n, &e), 2);
    cr_expect(strstr(e.msg, "/runs/copy/t5/1") && strstr(e.msg, "exact_match at length 8") &&
                  strstr(e.msg, "one.h5") && strstr(e.msg, "three.h5"),
              "%s", e.msg);
    cr_expect_neq(access(other, F_OK), 0, "nothing written");
    /* a conflicting config: eval_n differs */
    f4.em[1] = f1.em[1];
    f4.cfg.eval_n = 7;
    cr_assert_eq(rg_results_write_run(p3, &a_other, &e), 0, "%s", e.msg);
    cr_assert_eq(rg_results_merge(other, inputs, 3, &n, &e), 2);
    cr_expect(strstr(e.msg, "eval_n = 200 in") && strstr(e.msg, ", 7 in") &&
                  strstr(e.msg, "three.h5"),
              "%s", e.msg);

    /* into one of the inputs */
    cr_assert_eq(rg_results_merge(p1, (const char *[]){p1, p2}, 2, &n, &e), 0, "%s", e.msg);
    expect_run(p1, &b);
    /* an output that exists but is not an input */
    cr_assert_eq(rg_results_merge(out, (const char *[]){p2}, 1, &n, &e), 2);
    cr_expect(strstr(e.msg, "merged.h5 exists and is not one of the inputs"), "%s", e.msg);
    cr_expect_eq(count_entries(s.dir), 4, "a temporary file was left behind");
    scratch_free(&s);
}
