/* test_config.c: the config layer (src/config/): defaults, the key table,
 * INI files and key=value arguments, round trips of every key, and a table of
 * bad inputs, each of which must fail with exit class 2 and a message naming
 * where (file:line or argument N), the key, and how to fix it. Arguments are
 * numbered as on the command line after `relgrad`: with a config file the
 * first key=value is argument 3 (relgrad train CONFIG key=value), without
 * one argument 2.
 */
#include "testing.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- helpers ------------------------------------------------------------------- */

/* A fresh directory for this test's files. */
static void make_dir(char *dir, size_t n) {
    snprintf(dir, n, "/tmp/relgrad_test_config_XXXXXX");
    cr_assert_not_null(mkdtemp(dir), "mkdtemp failed");
}

/* Write text to dir/name; the full path into path. */
static void write_file(const char *dir, const char *name, const char *text, char *path, size_t n) {
    snprintf(path, n, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

#define remove_dir test_remove_dir

static int count_args(char *const *args) {
    int n = 0;
    while (n < 4 && args[n]) n++;
    return n;
}

/* ---- the table of bad inputs ---------------------------------------------------- */

typedef struct bad_case {
    const char *ini;     /* text of bad.ini, or NULL for no file  */
    char *args[4];       /* key=value arguments, NULL-terminated  */
    const char *want[5]; /* substrings the message must contain */
} bad_case;

#define A50 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

static const bad_case BAD[] = {
    /* unknown, duplicate, missing, malformed lines */
    {"d_modle = 64\n", {0}, {"bad.ini:1:", "'d_modle'", "did you mean 'd_model'"}},
    {"[model]\nlearning_rate = 0.1\n",
     {0},
     {"bad.ini:2:", "unknown key 'learning_rate'", "valid keys are", "weight_decay"}},
    {"lr = 1e-3\nsteps = 10\nlr = 2e-3\n",
     {0},
     {"bad.ini:3:", "'lr'", "set twice", "first at line 1", "keep one"}},
    {"d_model =\n", {0}, {"bad.ini:1:", "'d_model'", "missing value", "d_model = 64"}},
    {"[model]\nd_model 64\n", {0}, {"bad.ini:2:", "not of the form key = value", "d_model = 64"}},
    {"hello\n", {0}, {"bad.ini:1:", "'hello'", "not of the form key = value", "comment"}},
    {"[model\nd_model = 64\n", {0}, {"bad.ini:1:", "closing ']'", "[model]"}},
    {" = 5\n", {0}, {"bad.ini:1:", "missing key name", "key = value"}},
    {"out_dir = " A50 A50 A50 A50 A50 "\n", {0}, {"bad.ini:1:", "characters long", "shorten it"}},
    /* wrong types */
    {"d_model = abc\n", {0}, {"bad.ini:1:", "'d_model'", "not a whole number", "d_model = 64"}},
    {"lr = 1e-3x\n", {0}, {"bad.ini:1:", "'lr'", "not a number", "unexpected 'x'", "lr = 1e-3"}},
    {"n_layers = 2 layers\n", {0}, {"bad.ini:1:", "'n_layers'", "unexpected ' layers'"}},
    {"d_model = 64 # width\n", {0}, {"bad.ini:1:", "'d_model'", "not a whole number", "' ;'"}},
    {"\n\nd_model = 99999999999\n", {0}, {"bad.ini:3:", "'d_model'", "int range"}},
    {"d_ff = 1.5\n", {0}, {"bad.ini:1:", "'d_ff'", "no fractions", "d_ff = 256"}},
    {"lr = nan\n", {0}, {"bad.ini:1:", "'lr'", "not a finite number"}},
    {"lr = 1e999\n", {0}, {"bad.ini:1:", "'lr'", "outside the range of a double"}},
    {"seeds = 1,x\n", {0}, {"bad.ini:1:", "'seeds'", "entry 2", "not a whole number"}},
    /* single-key ranges */
    {"d_model = 0\n", {0}, {"bad.ini:1:", "'d_model'", "must be >= 1", "d_model = 64"}},
    {"n_layers = -1\n", {0}, {"bad.ini:1:", "'n_layers'", "must be >= 1"}},
    {"steps = -5\n", {0}, {"bad.ini:1:", "'steps'", "must be >= 1"}},
    {"batch_size = 0\n", {0}, {"bad.ini:1:", "'batch_size'", "must be >= 1"}},
    {"lr = 0\n", {0}, {"bad.ini:1:", "'lr'", "must be > 0", "lr = 1e-3"}},
    {"lr = -1e-3\n", {0}, {"bad.ini:1:", "'lr'", "-0.001 is out of range", "must be > 0"}},
    {"init_std = 0\n", {0}, {"bad.ini:1:", "'init_std'", "must be > 0", "init_std = 0.02"}},
    {"rope_base = 1\n", {0}, {"bad.ini:1:", "'rope_base'", "must be > 1", "rope_base = 10000"}},
    {"rope_scale = 0\n", {0}, {"bad.ini:1:", "'rope_scale'", "must be > 0"}},
    {"warmup = -1\n", {0}, {"bad.ini:1:", "'warmup'", "must be >= 0"}},
    {"grad_clip = -1\n",
     {0},
     {"bad.ini:1:", "'grad_clip'", "must be >= 0", "0 turns clipping off"}},
    {"weight_decay = -0.1\n", {0}, {"bad.ini:1:", "'weight_decay'", "must be >= 0"}},
    {"threads = 0\n", {0}, {"bad.ini:1:", "'threads'", "must be 1 .. 1024"}},
    {"eval_n = 0\n", {0}, {"bad.ini:1:", "'eval_n'", "must be >= 1"}},
    {"n_symbols = 1\n", {0}, {"bad.ini:1:", "'n_symbols'", "must be 2 .. 1000000"}},
    {"t5_buckets = 1\n", {0}, {"bad.ini:1:", "'t5_buckets'", "must be >= 2"}},
    {"pos = t5\nt5_buckets = 31\n",
     {0},
     {"bad.ini:2:", "'t5_buckets'", "31 is odd", "even number"}},
    {"deberta_span = 0\n", {0}, {"bad.ini:1:", "'deberta_span'", "must be >= 1"}},
    {"mem_len = -1\n", {0}, {"bad.ini:1:", "'mem_len'", "must be >= 0"}},
    {"segment_len = -1\n", {0}, {"bad.ini:1:", "'segment_len'", "must be >= 0"}},
    {"checkpoint_every = 0\n", {0}, {"bad.ini:1:", "'checkpoint_every'", "must be >= 1"}},
    {"seed = -1\n", {0}, {"bad.ini:1:", "'seed'", "must be >= 0"}},
    {"train_len = 0\n", {0}, {"bad.ini:1:", "'train_len'", "must be 1 .. 1000000"}},
    /* memory: a training step's batch, and evaluation's RG_EVAL_BATCH rows */
    {"batch_size = 100000\n",
     {0},
     {"bad.ini:1:", "'batch_size'", "activation values per step", "lower batch_size"}},
    {"pos = rope\neval_lens = 3000\n",
     {0},
     {"bad.ini:2:", "'eval_lens'", "evaluation at length 3000", "64 examples at a time",
      "lower the longest eval length, or eval_n"}},
    {"pos = rope\ntrain_len = 1500\nbatch_size = 1\n",
     {0},
     {"'eval_n'", "evaluation at length 1500", "lower train_len, or eval_n"}},
    /* names and lists */
    {"task = copyy\n",
     {0},
     {"bad.ini:1:", "'task'", "unknown task 'copyy'", "did you mean 'copy'",
      "copy, reverse, sort, duplicate"}},
    {"pos = roper\n",
     {0},
     {"bad.ini:1:", "'pos'", "unknown scheme 'roper'",
      "none, sinusoidal, learned, rope, alibi, t5, xl, deberta, fire"}},
    {"positions = rope, foo\n",
     {0},
     {"bad.ini:1:", "'positions'", "entry 2", "unknown scheme 'foo'"}},
    {"tasks = sort:1\n", {0}, {"bad.ini:1:", "'tasks'", "alphabet after ':'", "sort:5"}},
    {"tasks = sort:5, sort:2\n", {0}, {"bad.ini:1:", "'tasks'", "entry 2 repeats entry 1"}},
    {"tasks = copy,copy\n",
     {0},
     {"bad.ini:1:", "'tasks'", "entry 2 repeats entry 1", "list each once"}},
    {"eval_lens = 8,,16\n", {0}, {"bad.ini:1:", "'eval_lens'", "entry 2 is empty"}},
    {"eval_lens = 8,16,8\n",
     {0},
     {"bad.ini:1:", "'eval_lens'", "8 is listed twice", "list each once"}},
    {"eval_lens = 8,0\n",
     {0},
     {"bad.ini:1:", "'eval_lens'", "entry 2 ('0') is outside 1 .. 1000000"}},
    {"eval_lens = 5..8,7\n", {0}, {"bad.ini:1:", "'eval_lens'", "7 is listed twice"}},
    {"eval_lens = 20..10\n", {0}, {"bad.ini:1:", "'eval_lens'", "runs backwards", "10..20"}},
    {"eval_lens = 10..20:0\n", {0}, {"bad.ini:1:", "'eval_lens'", "step 0 must be >= 1"}},
    {"eval_lens = 10..x\n", {0}, {"bad.ini:1:", "'eval_lens'", "entry 1", "not a whole number"}},
    {"seeds = 1..3,2\n", {0}, {"bad.ini:1:", "'seeds'", "2 is listed twice"}},
    {"seeds = 1..100\n", {0}, {"bad.ini:1:", "'seeds'", "100 entries", "at most 64"}},
    {"eval_lens =\n", {0}, {"bad.ini:1:", "'eval_lens'", "missing value", "eval_lens = 8,16,24"}},
    {"pos = rope,learned\n", {0}, {"bad.ini:1:", "'pos'", "relative schemes only", "use it alone"}},
    {"pos = rope,,none\n", {0}, {"bad.ini:1:", "'pos'", "entry 2 is empty"}},
    {"pos = rope,ropee\n",
     {0},
     {"bad.ini:1:", "'pos'", "unknown scheme 'ropee'", "did you mean 'rope'"}},
    {"n_layers = 2\npos = rope,alibi,none\n",
     {0},
     {"bad.ini:2:", "'pos'", "3 entries for 2 layers"}},
    {"positions = rope, rope+alibi, rope + alibi\n",
     {0},
     {"bad.ini:1:", "'positions'", "entry 3 repeats entry 2"}},
    {"n_symbols = 16\ntask = parity\n",
     {0},
     {"bad.ini:1:", "'n_symbols'", "parity has its own alphabet of 2", "n_symbols = 16 (set at",
      "set n_symbols = 2"}},
    /* tasks with their own alphabet, the architecture and the data keys */
    {"task = stack_manipulation\nn_symbols = 6\n",
     {0},
     {"bad.ini:2:", "'n_symbols'", "stack_manipulation has its own alphabet of 5 symbols",
      "2 = POP", "set n_symbols = 5"}},
    {"task = binary_addition\n",
     {"n_symbols=2"},
     {"argument 3", "'n_symbols'", "binary_addition", "n_symbols = 3"}},
    {"tasks = copy, bucket_sort:4\n",
     {0},
     {"bad.ini:1:", "'tasks'", "entry 2: task bucket_sort has its own alphabet of 5 symbols, not 4",
      "bucket_sort:5"}},
    {"arch = encoder\nmem_len = 4\nsegment_len = 4\n",
     {0},
     {"bad.ini:1:", "'arch'", "segment memory, but mem_len = 4 (set at ", "bad.ini:2)",
      "mem_len = 0"}},
    {"arch = encode\n",
     {0},
     {"bad.ini:1:", "'arch'", "unknown value 'encode'", "did you mean 'encoder'",
      "arch = decoder or arch = encoder"}},
    {"length_sampling = both\n",
     {0},
     {"bad.ini:1:", "'length_sampling'", "unknown value 'both'",
      "length_sampling = example or length_sampling = batch"}},
    {"task = copy\ndigits = msb\n",
     {0},
     {"bad.ini:2:", "'digits'", "task addition", "the task is copy", "digits = lsb"}},
    {"random_positions_per = batch\n",
     {0},
     {"bad.ini:1:", "'random_positions_per'", "random_positions = 0 (default)",
      "random_positions = L > 0"}},
    {"train_examples = 100\nlength_sampling = batch\n",
     {0},
     {"bad.ini:2:", "'length_sampling'", "train_examples = 100 (set at ",
      "length_sampling = example or train_examples = 0"}},
    {"train_examples = -1\n", {0}, {"bad.ini:1:", "'train_examples'", "must be 0 .. 100000000"}},
    {"task = duplicate\ntrain_len = 100\ntrain_examples = 100000000\n",
     {0},
     {"bad.ini:3:", "'train_examples'", "tokens", "lower train_examples or train_len"}},
    {"pos = none\nrandom_positions = 100\n",
     {0},
     {"bad.ini:2:", "'random_positions'", "pos = none", "random_positions = 0"}},
    {"random_positions = 50\n",
     {0},
     {"bad.ini:1:", "'random_positions'", "shorter than the longest sequence", "eval length 64",
      ">= 130"}},
    {"random_positions = 200\nmem_len = 4\nsegment_len = 4\n",
     {0},
     {"bad.ini:1:", "'random_positions'", "segment memory", "mem_len = 4 (set at"}},
    {"pos = learned\nmax_positions = 200\nrandom_positions = 300\n",
     {0},
     {"bad.ini:2:", "'max_positions'", "random_positions = 300", "max_positions >= 300"}},
    {"fire_width = 0\n", {0}, {"bad.ini:1:", "'fire_width'", "must be 1 .. 256"}},
    {"fire_L = 0\n", {0}, {"bad.ini:1:", "'fire_L'", "must be > 0"}},
    /* combinations, blamed on the line that set the key */
    {"[model]\nd_model = 64\nn_heads = 5\n",
     {0},
     {"bad.ini:3:", "'n_heads'", "5 does not divide d_model = 64",
      "choose n_heads among 1, 2, 4, 8, 16, 32, 64"}},
    {"d_model = 12\nn_heads = 4\npos = rope\n",
     {0},
     {"bad.ini:2:", "'n_heads'", "d_model/n_heads = 12/4 = 3 is odd", "pos = rope",
      "d_model/n_heads is even"}},
    {"pos = sinusoidal\nd_model = 63\nn_heads = 1\n",
     {0},
     {"bad.ini:2:", "'d_model'", "63 is odd", "sinusoidal", "even d_model"}},
    {"pos = xl\nd_model = 63\nn_heads = 3\n",
     {0},
     {"bad.ini:2:", "'d_model'", "pos = xl", "even d_model"}},
    {"pos = learned\nmem_len = 8\nsegment_len = 8\n",
     {0},
     {"bad.ini:2:", "'mem_len'", "relative schemes", "pos = learned", "mem_len = 0"}},
    {"pos = sinusoidal\nsegment_len = 4\nmem_len = 4\n",
     {0},
     {"bad.ini:3:", "'mem_len'", "pos = sinusoidal"}},
    {"segment_len = 8\n",
     {0},
     {"bad.ini:1:", "'segment_len'", "mem_len = 0 (default)", "mem_len > 0"}},
    {"mem_len = 8\n",
     {0},
     {"bad.ini:1:", "'mem_len'", "no effect while segment_len = 0 (default)", "segment_len > 0"}},
    {"pos = t5\nt5_buckets = 32\nt5_max_distance = 16\n",
     {0},
     {"bad.ini:3:", "'t5_max_distance'", "t5_buckets/2 = 16", "(set at ", "t5_max_distance >= 17"}},
    {"pos = learned\nmax_positions = 64\neval_lens = 8, 64\n",
     {0},
     {"bad.ini:2:", "'max_positions'", "eval length 64 of task copy", "max_positions >= 130"}},
    {"pos = learned\nmax_positions = 20\ntrain_len = 16\neval_lens = 8\ntask = duplicate\n",
     {0},
     {"bad.ini:2:", "'max_positions'", "train_len 16 of task duplicate", "max_positions >= 50"}},
    /* an indented line is its own key, not a continuation of the previous value */
    {"d_model = 64\n    n_heads = 5\n", {0}, {"bad.ini:2:", "'n_heads'", "does not divide"}},
    /* arguments */
    {NULL, {"d_model64"}, {"argument 2", "'d_model64'", "not of the form key=value", "d_model=64"}},
    {NULL, {"steps"}, {"argument 2", "'steps' has no value", "steps=2000"}},
    {NULL, {"lr=0.01", "d_modle=32"}, {"argument 3", "'d_modle'", "did you mean 'd_model'"}},
    {NULL, {"lr="}, {"argument 2", "'lr'", "missing value"}},
    {NULL, {"=5"}, {"argument 2", "missing key name"}},
    {NULL, {"lr=0.01", "steps=1", "threads=-2"}, {"argument 4", "'threads'", "must be 1 .. 1024"}},
    {"d_model = 64\n",
     {"n_heads=5"},
     {"argument 3", "'n_heads'", "5 does not divide d_model = 64"}},
    {"n_heads = 4\n",
     {"d_model=30"},
     {"bad.ini:1:", "'n_heads'", "d_model = 30 (set at argument 3)", "1, 2, 3, 5, 6, 10, 15, 30"}},
    {NULL, {"d_model=30"}, {"arguments: key 'n_heads'", "4 does not divide d_model = 30"}},
    {"pos = learned\n",
     {"max_positions=10"},
     {"argument 3", "'max_positions'", "max_positions >= 130"}},
};

Test(config, bad_inputs) {
    int n_cases = (int)(sizeof BAD / sizeof BAD[0]);
    cr_assert_geq(n_cases, 30);
    char dir[64];
    make_dir(dir, sizeof dir);
    for (int i = 0; i < n_cases; i++) {
        const bad_case *bc = &BAD[i];
        char path[256];
        if (bc->ini) write_file(dir, "bad.ini", bc->ini, path, sizeof path);
        rg_config c;
        rg_error err = {{0}};
        int rc = rg_config_from_args(&c, bc->ini ? path : NULL, count_args(bc->args),
                                     (char **)bc->args, &err);
        cr_expect_eq(rc, 2, "case %d (%s): returned %d, expected 2", i,
                     bc->ini ? bc->ini : bc->args[0], rc);
        for (int w = 0; w < 5 && bc->want[w]; w++)
            cr_expect(strstr(err.msg, bc->want[w]) != NULL, "case %d: message lacks \"%s\":\n  %s",
                      i, bc->want[w], err.msg);
    }
    remove_dir(dir);
}

/* ---- good inputs ------------------------------------------------------------- */

Test(config, defaults_validate) {
    rg_config c;
    rg_config_defaults(&c);
    rg_error err = {{0}};
    cr_assert_eq(rg_config_validate(&c, "defaults", &err), 0, "%s", err.msg);
    /* SPEC's given defaults */
    const rg_model_config *m = &c.model;
    cr_expect_eq(m->opts.rope_base, 10000);
    cr_expect_eq(m->opts.rope_scale, 1);
    cr_expect_eq(m->opts.t5_buckets, 32);
    cr_expect_eq(m->opts.t5_max_distance, 128);
    cr_expect_eq(m->opts.deberta_span, 16);
    cr_expect_eq(m->opts.fire_width, 32);
    cr_expect_eq(m->opts.fire_L, 512);
    cr_expect_eq(m->mem_len, 0);
    cr_expect_eq(m->segment_len, 0);
    cr_expect_eq(m->init_std, 0.02);
    cr_expect_eq(m->n_symbols, 16);
    cr_expect_eq(c.random_positions, 0);
    cr_expect_str_eq(c.init_from, "");
    /* the small model */
    cr_expect_eq(m->d_model, 64);
    cr_expect_eq(m->n_heads, 4);
    cr_expect_eq(m->schemes.n, 1);
    cr_expect_eq(m->schemes.id[0], rg_scheme_find("rope"));
    cr_expect_eq(c.task, RG_TASK_COPY);
    int n, *lens = rg_config_eval_lens(&c, &n);
    cr_expect_eq(n, 6);
    cr_expect_eq(lens[5], 64);
    free(lens);
    cr_expect_str_eq(c.out_dir, "out");
    for (int k = 0; k < rg_config_key_count(); k++) cr_expect_eq(c.where[k][0], '\0');
    /* every scheme and task validates with the defaults (parity reads bits) */
    for (int p = 0; p < rg_scheme_count(); p++)
        for (int t = 0; t < RG_TASK_COUNT; t++) {
            rg_config d;
            rg_config_defaults(&d);
            test_set(&d, "pos", rg_scheme_name(p));
            test_set(&d, "task", rg_task_name((rg_task)t));
            if (t == RG_TASK_PARITY) test_set(&d, "n_symbols", "2");
            cr_expect_eq(rg_config_validate(&d, "defaults", &err), 0, "%s %s: %s",
                         rg_scheme_name(p), rg_task_name((rg_task)t), err.msg);
        }
}

Test(config, key_table) {
    int n = rg_config_key_count();
    /* clang-format off */
    static const char *const expected[] = {
        "d_model",    "n_heads",          "n_layers",        "d_ff",
        "pos",        "mem_len",          "segment_len",     "init_std",
        "arch",       "abacus",           "abacus_max",      "task",
        "n_symbols",  "train_len",
        "eval_lens",  "eval_n",           "fit_threshold",   "random_positions", "random_positions_per",
        "length_sampling", "train_examples", "digits",       "coupled_positions",
        "coupled_max", "coupled_plus",    "coupled_bos",     "index_hints",     "n_hints",         "steps",
        "batch_size",
        "lr",         "warmup",           "weight_decay",    "grad_clip",
        "seed",       "threads",          "out_dir",         "checkpoint_every",
        "eval_every", "init_from",        "quiet",           "select",
        "val_n",      "tasks",
        "positions",  "seeds",            "jobs",            "max_positions",   "rope_base",
        "rope_scale", "alibi_left",       "t5_buckets",      "t5_max_distance", "deberta_span",
        "fire_width", "fire_L",           "cope_npos"};
    /* clang-format on */
    cr_assert_eq((int)(sizeof expected / sizeof expected[0]), n);
    rg_config c;
    rg_config_defaults(&c);
    for (int i = 0; i < n; i++) {
        const rg_key_info *key = rg_config_key(i);
        cr_expect_str_eq(key->name, expected[i]);
        cr_expect_eq(rg_config_key_find(key->name), i);
        cr_expect(!strcmp(key->group, "model") || !strcmp(key->group, "task") ||
                      !strcmp(key->group, "train") || !strcmp(key->group, "experiment"),
                  "%s: group %s", key->name, key->group);
        cr_expect(key->help && strlen(key->help) > 10, "%s: no help", key->name);
        char buf[256];
        cr_expect_eq(rg_config_get(&c, key->name, buf, sizeof buf), 0, "%s", key->name);
        /* the default's text is what the defaults hold (reals in canonical form) */
        rg_config e;
        rg_config_defaults(&e);
        rg_error err;
        cr_expect_eq(rg_config_set(&e, key->name, key->def, "test", &err), 0, "%s", err.msg);
        char again[256];
        rg_config_get(&e, key->name, again, sizeof again);
        cr_expect_str_eq(buf, again, "%s: default text", key->name);
    }
    char buf[8];
    cr_expect_eq(rg_config_get(&c, "no_such_key", buf, sizeof buf), -1);
    cr_expect_eq(rg_config_get(&c, "eval_lens", buf, 4), -1); /* "8,16,24,..." does not fit */
    cr_expect_lt(strlen(buf), 4);
}

/* Every key, none at its default. */
static const char EVERY_KEY[] = "; every key\n"
                                "[model]\n"
                                "d_model = 48\n"
                                "n_heads = 6\n"
                                "n_layers = 3\n"
                                "d_ff = 100\n"
                                "pos = t5,deberta\n"
                                "max_positions = 300\n"
                                "rope_base = 500.5\n"
                                "rope_scale = 2.5\n"
                                "alibi_left = 0.5\n"
                                "t5_buckets = 16\n"
                                "t5_max_distance = 64\n"
                                "deberta_span = 7\n"
                                "fire_width = 12\n"
                                "fire_L = 128.5\n"
                                "cope_npos = 32\n"
                                "mem_len = 12\n"
                                "segment_len = 10\n"
                                "init_std = 0.1\n"
                                "arch = encoder\n"
                                "abacus = 9\n"
                                "abacus_max = 77\n"
                                "[task]\n"
                                "task = duplicate\n"
                                "n_symbols = 10\n"
                                "train_len = 12\n"
                                "eval_lens = 4, 12, 20..30:5\n"
                                "eval_n = 50\n"
                                "fit_threshold = 0.5\n"
                                "random_positions = 400\n"
                                "random_positions_per = batch\n"
                                "length_sampling = batch\n"
                                "train_examples = 1000\n"
                                "digits = msb\n"
                                "coupled_positions = 1\n"
                                "coupled_max = 50\n"
                                "coupled_plus = carry\n"
                                "coupled_bos = end\n"
                                "index_hints = 1\n"
                                "n_hints = 31\n"
                                "[train]\n"
                                "steps = 321\n"
                                "batch_size = 7\n"
                                "lr = 0.00123456789012345678\n"
                                "warmup = 0\n"
                                "weight_decay = 0\n"
                                "grad_clip = 0\n"
                                "seed = 42\n"
                                "threads = 3\n"
                                "out_dir = runs/every key\n"
                                "checkpoint_every = 7\n"
                                "eval_every = 11\n"
                                "init_from = runs/old/checkpoint.h5\n"
                                "quiet = 1\n"
                                "select = best\n"
                                "val_n = 64\n"
                                "[experiment]\n"
                                "tasks = sort:5,reverse,addition:2\n"
                                "positions = alibi, xl+fire, deberta:abacus=3:lr=0.5\n"
                                "seeds = 3,1,2,10..12\n"
                                "jobs = 3\n";

Test(config, every_key_round_trips) {
    char dir[64], path[256];
    make_dir(dir, sizeof dir);
    write_file(dir, "every.ini", EVERY_KEY, path, sizeof path);
    rg_config c;
    rg_error err = {{0}};
    rg_config_defaults(&c);
    /* loaded, not validated: random positions and memory do not combine */
    cr_assert_eq(rg_config_load(&c, path, &err), 0, "%s", err.msg);
    remove_dir(dir);

    int n = rg_config_key_count();
    rg_config d;
    rg_config_defaults(&d);
    for (int i = 0; i < n; i++) {
        const char *name = rg_config_key(i)->name;
        char line[64];
        snprintf(line, sizeof line, "\n%s = ", name);
        cr_expect(strstr(EVERY_KEY, line) != NULL, "the file lacks key %s", name);
        char a[256], b[256];
        cr_assert_eq(rg_config_get(&c, name, a, sizeof a), 0);
        cr_assert_eq(rg_config_get(&d, name, b, sizeof b), 0);
        cr_expect_str_neq(a, b, "key %s is still at its default %s", name, b);
        /* text -> set -> text is the identity */
        rg_config e;
        rg_config_defaults(&e);
        cr_assert_eq(rg_config_set(&e, name, a, "round trip", &err), 0, "%s = %s: %s", name, a,
                     err.msg);
        cr_assert_eq(rg_config_get(&e, name, b, sizeof b), 0);
        cr_expect_str_eq(a, b, "key %s", name);
        cr_expect_str_eq(e.where[i], "round trip");
        cr_expect(strstr(c.where[i], "every.ini:") != NULL, "where of %s: '%s'", name, c.where[i]);
    }
    /* values landed in the right fields */
    cr_expect_eq(c.model.d_model, 48);
    cr_expect_eq(c.model.n_heads, 6);
    cr_expect_eq(c.model.schemes.n, 2);
    cr_expect_eq(c.model.schemes.id[1], rg_scheme_find("deberta"));
    cr_expect_eq(c.model.opts.rope_base, 500.5);
    cr_expect_eq(c.model.opts.fire_L, 128.5);
    cr_expect_eq(c.model.opts.alibi_left, 0.5);
    cr_expect_eq(c.task, RG_TASK_DUPLICATE);
    cr_expect_eq(c.model.arch, RG_ARCH_ENCODER);
    cr_expect_eq(c.random_positions_per, RG_POSITIONS_PER_BATCH);
    cr_expect_eq(c.length_sampling, RG_LENGTHS_PER_BATCH);
    cr_expect_eq(c.train_examples, 1000);
    cr_expect_eq(c.digits, RG_DIGITS_MSB);
    rg_data_spec spec = rg_config_data_spec(&c, true);
    cr_expect(spec.arch == RG_ARCH_ENCODER && spec.task == RG_TASK_DUPLICATE &&
              spec.n_symbols == 10 && spec.digits == RG_DIGITS_MSB &&
              spec.lengths == RG_LENGTHS_PER_BATCH && spec.training);
    cr_expect(spec.n_hints == 31 && spec.coupled_max == 50 && spec.abacus == 9);
    cr_expect_eq(spec.coupled_plus, RG_PLUS_AT_CARRY);
    cr_expect_eq(spec.coupled_bos, RG_BOS_AT_END);
    cr_expect_eq(c.model.abacus_max, 77);
    cr_expect_str_eq(c.position_keys[2], ":abacus=3:lr=0.5");
    cr_expect_str_eq(c.position_keys[0], "");
    spec = rg_config_data_spec(&c, false);
    cr_expect(spec.arch == RG_ARCH_ENCODER && spec.digits == RG_DIGITS_MSB &&
                  spec.lengths == RG_LENGTHS_PER_EXAMPLE && !spec.training,
              "evaluation draws per example");
    int nl, *lens = rg_config_eval_lens(&c, &nl);
    cr_expect_eq(nl, 5);
    cr_expect_eq(lens[2], 20);
    cr_expect_eq(lens[4], 30);
    free(lens);
    cr_expect_eq(c.lr, 0.00123456789012345678);
    cr_expect_str_eq(c.out_dir, "runs/every key");
    cr_expect_str_eq(c.init_from, "runs/old/checkpoint.h5");
    cr_expect_eq(c.select, RG_SELECT_BEST);
    cr_expect_eq(c.val_n, 64);
    cr_expect_eq(c.fit_threshold, 0.5);
    cr_expect_eq(c.n_tasks, 3);
    cr_expect_eq(c.tasks[2], RG_TASK_ADDITION);
    cr_expect_eq(c.task_symbols[0], 5);
    cr_expect_eq(c.task_symbols[1], 0);
    cr_expect_eq(c.task_symbols[2], 2);
    rg_config r;
    rg_config_grid_run(&c, 0, 1, 2, &r); /* sort:5 x xl+fire x seed 2 */
    cr_expect_eq(r.task, RG_TASK_SORT);
    cr_expect_eq(r.model.n_symbols, 5);
    cr_expect_eq(r.model.schemes.id[0], rg_scheme_find("xl"));
    cr_expect_eq(r.seed, 2);
    rg_config_grid_run(&c, 1, 0, 0, &r);
    cr_expect_eq(r.model.n_symbols, 10, "no alphabet of its own: the config's n_symbols");
    cr_expect_eq(c.n_positions, 3);
    cr_expect_eq(c.positions[1].n, 2);
    cr_expect_eq(c.positions[1].id[1], rg_scheme_find("fire"));
    cr_expect_eq(c.n_seeds, 6);
    cr_expect_eq(c.seeds[0], 3);
    cr_expect_eq(c.seeds[5], 12);
}

/* eval_lens has no cap on its number of lengths (the old limit was 32). */
Test(config, eval_lens_ranges) {
    rg_config c;
    rg_config_defaults(&c);
    test_set(&c, "eval_lens", "1..500, 600..1000:100");
    int n, *lens = rg_config_eval_lens(&c, &n);
    cr_assert_eq(n, 505);
    for (int i = 0; i < 500; i++) cr_expect_eq(lens[i], i + 1);
    cr_expect_eq(lens[500], 600);
    cr_expect_eq(lens[504], 1000);
    free(lens);
    cr_expect_eq(rg_config_longest_eval(&c), 1000);
    test_set(&c, "eval_lens", "20..80:5");
    lens = rg_config_eval_lens(&c, &n);
    cr_expect_eq(n, 13);
    cr_expect_eq(lens[12], 80);
    free(lens);
}

Test(config, reals_round_trip_exactly) {
    static const double values[] = {0.1, 1e-3, 1.0 / 3, 2.5e-7, 123456.789, 1e300, 4.9e-300};
    rg_config c;
    rg_error err;
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        rg_config_defaults(&c);
        c.lr = values[i];
        char text[64];
        cr_assert_eq(rg_config_get(&c, "lr", text, sizeof text), 0);
        rg_config e;
        rg_config_defaults(&e);
        cr_assert_eq(rg_config_set(&e, "lr", text, "test", &err), 0, "%s", err.msg);
        cr_expect_eq(e.lr, values[i], "%.17g -> '%s' -> %.17g", values[i], text, e.lr);
    }
    c.lr = 0.1;
    char text[64];
    rg_config_get(&c, "lr", text, sizeof text);
    cr_expect_str_eq(text, "0.1"); /* the shortest exact form, not 0.10000000000000001 */
}

Test(config, overrides_beat_the_file) {
    char dir[64], path[256];
    make_dir(dir, sizeof dir);
    write_file(dir, "base.ini", "d_model = 32\nlr = 0.01\nsteps = 10\n", path, sizeof path);
    char *args[] = {"lr=0.02", "d_model = 128", "lr=0.03"}; /* the last one wins */
    rg_config c;
    rg_error err = {{0}};
    cr_assert_eq(rg_config_from_args(&c, path, 3, args, &err), 0, "%s", err.msg);
    cr_expect_eq(c.model.d_model, 128);
    cr_expect_eq(c.lr, 0.03);
    cr_expect_eq(c.steps, 10);         /* from the file */
    cr_expect_eq(c.model.n_layers, 2); /* default */
    remove_dir(dir);
}

Test(config, comments_sections_and_layout) {
    char dir[64], path[256];
    make_dir(dir, sizeof dir);
    const char *text = "\xEF\xBB\xBF; a byte order mark, then a comment\r\n"
                       "# another comment\r\n"
                       "\r\n"
                       "[model]   ; a section\r\n"
                       "  d_model = 32    ; inline comment\r\n"
                       "\tn_heads=2\r\n"
                       "[anything at all]\r\n"
                       "pos: alibi\r\n"
                       "eval_lens = 4 ,8, 16\r\n"
                       "out_dir = a b\r\n"
                       "lr = 2e-3"; /* no final newline */
    write_file(dir, "ok.ini", text, path, sizeof path);
    rg_config c;
    rg_error err = {{0}};
    cr_assert_eq(rg_config_from_args(&c, path, 0, NULL, &err), 0, "%s", err.msg);
    cr_expect_eq(c.model.d_model, 32);
    cr_expect_eq(c.model.n_heads, 2);
    cr_expect_eq(c.model.schemes.id[0], rg_scheme_find("alibi"));
    int n_lens, *lens = rg_config_eval_lens(&c, &n_lens);
    cr_expect_eq(n_lens, 3);
    cr_expect_eq(lens[0], 4);
    cr_expect_eq(lens[2], 16);
    free(lens);
    cr_expect_str_eq(c.out_dir, "a b");
    cr_expect_eq(c.lr, 2e-3);
    /* line numbers count every line, comments and blanks included */
    char want[300];
    snprintf(want, sizeof want, "%s:5", path);
    cr_expect_str_eq(c.where[rg_config_key_find("d_model")], want);
    snprintf(want, sizeof want, "%s:11", path);
    cr_expect_str_eq(c.where[rg_config_key_find("lr")], want);
    remove_dir(dir);
}

/* Equal in every key's value (the where records may differ). */
static void expect_same_values(const rg_config *a, const rg_config *b) {
    for (int k = 0; k < rg_config_key_count(); k++) {
        const char *name = rg_config_key(k)->name;
        char x[256], y[256];
        rg_config_get(a, name, x, sizeof x);
        rg_config_get(b, name, y, sizeof y);
        cr_expect_str_eq(x, y, "key %s", name);
    }
}

Test(config, empty_file_gives_defaults) {
    char dir[64], path[256];
    make_dir(dir, sizeof dir);
    write_file(dir, "empty.ini", "; only a comment\n[model]\n", path, sizeof path);
    rg_config c, d;
    rg_error err = {{0}};
    cr_assert_eq(rg_config_from_args(&c, path, 0, NULL, &err), 0, "%s", err.msg);
    rg_config_defaults(&d);
    expect_same_values(&c, &d);
    remove_dir(dir);
}

Test(config, failed_load_leaves_config_alone) {
    char dir[64], path[256];
    make_dir(dir, sizeof dir);
    write_file(dir, "half.ini", "d_model = 32\nn_heads = x\n", path, sizeof path);
    rg_config c;
    rg_config_defaults(&c);
    rg_error err = {{0}};
    cr_assert_eq(rg_config_load(&c, path, &err), 2);
    cr_expect_eq(c.model.d_model, 64, "the good first line must not be applied alone");
    char *args[] = {"d_model=32", "n_heads=x"};
    cr_assert_eq(rg_config_override(&c, 2, args, 3, &err), 2);
    cr_expect(strstr(err.msg, "argument 4"), "%s", err.msg);
    cr_expect_eq(c.model.d_model, 64);
    cr_expect_eq(rg_config_set(&c, "d_model", "0", "test", &err), 2);
    cr_expect_eq(c.model.d_model, 64);
    remove_dir(dir);
}

Test(config, missing_file) {
    rg_config c;
    rg_error err = {{0}};
    const char *path = "/nonexistent-relgrad-dir/quick.ini";
    cr_assert_eq(rg_config_from_args(&c, path, 0, NULL, &err), 2);
    cr_expect(strstr(err.msg, path) != NULL, "%s", err.msg);
    cr_expect(strstr(err.msg, "No such file or directory") != NULL, "%s", err.msg);
    cr_expect(strstr(err.msg, "check the path") != NULL, "%s", err.msg);
}

Test(config, directory_instead_of_file) {
    char dir[64];
    make_dir(dir, sizeof dir);
    rg_config c;
    rg_error err = {{0}};
    cr_assert_eq(rg_config_from_args(&c, dir, 0, NULL, &err), 2);
    cr_expect(strstr(err.msg, dir) != NULL, "%s", err.msg);
    cr_expect(strstr(err.msg, "is a directory") != NULL, "%s", err.msg);
    cr_expect(strstr(err.msg, "give the path of an INI file") != NULL, "%s", err.msg);
    remove_dir(dir);
}

Test(config, unreadable_file) {
    char dir[64], path[256];
    make_dir(dir, sizeof dir);
    write_file(dir, "secret.ini", "d_model = 32\n", path, sizeof path);
    rg_config c;
    rg_error err = {{0}};
    if (geteuid() != 0) {
        cr_assert_eq(chmod(path, 0), 0);
        cr_assert_eq(rg_config_from_args(&c, path, 0, NULL, &err), 2);
        cr_expect(strstr(err.msg, "Permission denied") != NULL, "%s", err.msg);
        cr_expect(strstr(err.msg, "chmod") != NULL, "%s", err.msg);
    } else {
        /* root reads anything; check another open failure instead */
        char below[300];
        snprintf(below, sizeof below, "%s/x.ini", path); /* a file used as a directory */
        cr_assert_eq(rg_config_from_args(&c, below, 0, NULL, &err), 2);
        cr_expect(strstr(err.msg, "Not a directory") != NULL, "%s", err.msg);
        cr_expect(strstr(err.msg, below) != NULL, "%s", err.msg);
    }
    remove_dir(dir);
}

Test(config, validate_names_its_where) {
    rg_config c;
    rg_config_defaults(&c);
    c.model.n_heads = 5; /* set by code: no where record, so the caller's where is used */
    rg_error err = {{0}};
    cr_assert_eq(rg_config_validate(&c, "quick.ini (task copy, pos rope)", &err), 2);
    cr_expect(strstr(err.msg, "quick.ini (task copy, pos rope): key 'n_heads'") != NULL, "%s",
              err.msg);
    cr_expect(strstr(err.msg, "(default)") != NULL, "%s", err.msg); /* d_model's origin */
    rg_config_defaults(&c);
    c.n_tasks = 0;
    cr_assert_eq(rg_config_validate(&c, "x", &err), 2);
    cr_expect(strstr(err.msg, "x: key 'tasks'") && strstr(err.msg, "no entries"), "%s", err.msg);
}

Test(config, long_paths_keep_their_tail) {
    char dir[64], sub[400], path[512];
    make_dir(dir, sizeof dir);
    snprintf(sub, sizeof sub, "%s/%s%s%s", dir, A50, A50, A50);
    cr_assert_eq(mkdir(sub, 0700), 0);
    write_file(sub, "deep.ini", "d_model = 64\nn_heads = 5\n", path, sizeof path);
    rg_config c;
    rg_error err = {{0}};
    cr_assert_eq(rg_config_from_args(&c, path, 0, NULL, &err), 2);
    cr_expect(strstr(err.msg, "deep.ini:2: key 'n_heads'") != NULL, "%s", err.msg);
    remove_dir(dir);
}

Test(config, task_seq_len) {
    cr_expect_eq(rg_task_seq_len(RG_TASK_COPY, 5), 13);
    cr_expect_eq(rg_task_seq_len(RG_TASK_REVERSE, 1), 5);
    cr_expect_eq(rg_task_seq_len(RG_TASK_SORT, 16), 35);
    cr_expect_eq(rg_task_seq_len(RG_TASK_DUPLICATE, 5), 18);
    cr_expect_eq(rg_task_seq_len(RG_TASK_PARITY, 5), 9);
    cr_expect_eq(rg_task_seq_len(RG_TASK_ADDITION, 5), 20);
    cr_expect_eq(rg_task_seq_len(RG_TASK_ODDS_FIRST, 5), 13);
    /* the Ruoss tasks: BOS x SEP y EOS with their own input and output lengths */
    cr_expect_eq(rg_task_seq_len(RG_TASK_EVEN_PAIRS, 5), 9);
    cr_expect_eq(rg_task_seq_len(RG_TASK_MODULAR_ARITHMETIC, 5), 9);
    cr_expect_eq(rg_task_seq_len(RG_TASK_MODULAR_ARITHMETIC, 6), 9); /* 5 tokens of input */
    cr_expect_eq(rg_task_seq_len(RG_TASK_STACK_MANIPULATION, 5), 14);
    cr_expect_eq(rg_task_seq_len(RG_TASK_BINARY_ADDITION, 5), 14);
    cr_expect_eq(rg_task_seq_len(RG_TASK_BINARY_MULTIPLICATION, 5), 13);
    cr_expect_eq(rg_task_seq_len(RG_TASK_COMPUTE_SQRT, 5), 11);
    cr_expect_eq(rg_task_seq_len(RG_TASK_COMPUTE_SQRT, 6), 12);
    cr_expect_eq(rg_task_seq_len(RG_TASK_DUPLICATE_STRING, 5), 18);
}

/* The memory bound asks of batch_size only what a training step holds
 * (train_len), and of eval lengths only RG_EVAL_BATCH rows: Ruoss et al.'s
 * encoder (batch 128, train_len 40) evaluates to 497 symbols (it was refused
 * when batch_size times the longest eval length was counted), and a small
 * eval_n reaches further. */
Test(config, memory_bound_by_phase) {
    rg_config c;
    rg_config_defaults(&c);
    test_set(&c, "arch", "encoder");
    test_set(&c, "pos", "rope");
    test_set(&c, "task", "bucket_sort");
    test_set(&c, "d_model", "64");
    test_set(&c, "n_heads", "8");
    test_set(&c, "n_layers", "5");
    test_set(&c, "d_ff", "256");
    test_set(&c, "batch_size", "128");
    test_set(&c, "train_len", "40");
    test_set(&c, "eval_lens", "10, 40, 41..497:8");
    rg_error err = {{0}};
    cr_expect_eq(rg_config_validate(&c, "ruoss", &err), 0, "%s", err.msg);
    test_set(&c, "eval_lens", "1500");
    cr_expect_eq(rg_config_validate(&c, "ruoss", &err), 2, "length 1500 in rows of 64 passed");
    cr_expect(strstr(err.msg, "'eval_lens'") != NULL, "%s", err.msg);
    test_set(&c, "eval_n", "8");
    cr_expect_eq(rg_config_validate(&c, "ruoss", &err), 0, "%s", err.msg);
}

/* A task with its own alphabet sets n_symbols unless the config set it; any
 * other task leaves n_symbols at its default; the experiment grid gives
 * each such task its alphabet. */
Test(config, tasks_set_their_alphabet) {
    rg_config c;
    rg_config_defaults(&c);
    rg_error err = {{0}};
    static const struct {
        const char *task;
        int n_symbols;
    } fixed[] = {{"parity", 2},
                 {"even_pairs", 2},
                 {"modular_arithmetic", 9},
                 {"parity_check", 2},
                 {"cycle_navigation", 5},
                 {"stack_manipulation", 5},
                 {"reverse_string", 2},
                 {"modular_arithmetic_brackets", 11},
                 {"solve_equation", 11},
                 {"duplicate_string", 2},
                 {"missing_duplicate_string", 4},
                 {"binary_addition", 3},
                 {"binary_multiplication", 3},
                 {"compute_sqrt", 2},
                 {"bucket_sort", 5}};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        test_set(&c, "task", fixed[i].task);
        cr_expect_eq(c.model.n_symbols, fixed[i].n_symbols, "%s", fixed[i].task);
        cr_expect_eq(rg_task_alphabet(c.task), fixed[i].n_symbols, "%s", fixed[i].task);
        cr_expect_eq(rg_config_validate(&c, "test", &err), 0, "%s: %s", fixed[i].task, err.msg);
        cr_expect_str_eq(c.where[rg_config_key_find("n_symbols")], "", "still a default");
    }
    test_set(&c, "task", "copy");
    cr_expect_eq(c.model.n_symbols, 16, "back to the default");
    cr_expect_eq(rg_task_alphabet(RG_TASK_ODDS_FIRST), 0);
    /* set by the config first (as a checkpoint's attributes are, in name
     * order): kept, and checked */
    test_set(&c, "n_symbols", "5");
    test_set(&c, "task", "bucket_sort");
    cr_expect_eq(c.model.n_symbols, 5);
    cr_expect_eq(rg_config_validate(&c, "test", &err), 0, "%s", err.msg);
    test_set(&c, "task", "binary_multiplication");
    cr_expect_eq(c.model.n_symbols, 5, "the config's own value is not replaced");
    cr_expect_eq(rg_config_validate(&c, "test", &err), 2);
    cr_expect(strstr(err.msg, "key 'n_symbols'") && strstr(err.msg, "n_symbols = 3"), "%s",
              err.msg);
    /* the experiment grid */
    rg_config_defaults(&c);
    test_set(&c, "n_symbols", "8");
    test_set(&c, "tasks", "copy, stack_manipulation, sort:5, bucket_sort:5");
    rg_config r;
    const int want[] = {8, 5, 5, 5};
    for (int t = 0; t < 4; t++) {
        rg_config_grid_run(&c, t, 0, 0, &r);
        cr_expect_eq(r.model.n_symbols, want[t], "grid task %d", t);
        cr_expect_eq(rg_config_validate(&r, "grid", &err), 0, "task %d: %s", t, err.msg);
    }
    cr_expect_eq(rg_config_validate(&c, "test", &err), 0, "%s", err.msg);
}

/* digits = msb is meant for addition: a grid that holds addition takes it. */
Test(config, digits_with_addition) {
    rg_config c;
    rg_config_defaults(&c);
    rg_error err = {{0}};
    test_set(&c, "digits", "msb");
    test_set(&c, "task", "addition");
    cr_expect_eq(rg_config_validate(&c, "test", &err), 0, "%s", err.msg);
    rg_config_defaults(&c);
    test_set(&c, "digits", "msb");
    test_set(&c, "tasks", "copy, addition");
    rg_config r;
    rg_config_grid_run(&c, 0, 0, 0, &r);
    cr_expect_eq(rg_config_validate(&r, "grid", &err), 0, "%s", err.msg);
    char text[32];
    cr_expect_eq(rg_config_get(&c, "digits", text, sizeof text), 0);
    cr_expect_str_eq(text, "msb");
}

/* The encoder and the data keys validate where they apply. */
Test(config, encoder_and_data_keys) {
    rg_config c;
    rg_error err = {{0}};
    rg_config_defaults(&c);
    cr_expect_eq(c.model.arch, RG_ARCH_DECODER);
    cr_expect_eq(c.length_sampling, RG_LENGTHS_PER_EXAMPLE);
    cr_expect_eq(c.random_positions_per, RG_POSITIONS_PER_SEQUENCE);
    cr_expect_eq(c.train_examples, 0);
    cr_expect_eq(c.digits, RG_DIGITS_LSB);
    test_set(&c, "arch", "encoder");
    test_set(&c, "random_positions", "200");
    test_set(&c, "random_positions_per", "batch");
    test_set(&c, "length_sampling", "batch");
    test_set(&c, "task", "solve_equation");
    cr_expect_eq(rg_config_validate(&c, "test", &err), 0, "%s", err.msg);
    cr_expect_eq(rg_model_config_validate(&c.model, "test", &err), 0, "%s", err.msg);
    test_set(&c, "length_sampling", "example");
    test_set(&c, "train_examples", "5000");
    cr_expect_eq(rg_config_validate(&c, "test", &err), 0, "%s", err.msg);
    /* the model's own check also refuses an encoder with memory */
    rg_model_config mc = c.model;
    mc.mem_len = 4, mc.segment_len = 4;
    cr_expect_eq(rg_model_config_validate(&mc, "model", &err), 2);
    cr_expect(strstr(err.msg, "model: key 'arch'") && strstr(err.msg, "segment memory"), "%s",
              err.msg);
    cr_expect_eq(rg_vocab_size(RG_ARCH_ENCODER, 11, 0), 16);
    cr_expect_eq(rg_vocab_size(RG_ARCH_DECODER, 11, 0), 15);
}

Test(config, names_parse_back) {
    for (int p = 0; p < rg_scheme_count(); p++) cr_expect_eq(rg_scheme_find(rg_scheme_name(p)), p);
    for (int t = 0; t < RG_TASK_COUNT; t++) cr_expect_eq(rg_task_find(rg_task_name((rg_task)t)), t);
    cr_expect_eq(rg_scheme_find("Rope"), -1);
    cr_expect_eq(rg_task_find(""), -1);
    const char *relative[] = {"none", "rope", "alibi", "t5", "xl", "deberta", "fire"};
    for (int i = 0; i < 7; i++)
        cr_expect(rg_scheme_is_relative(rg_scheme_find(relative[i])), "%s", relative[i]);
    cr_expect(!rg_scheme_is_relative(rg_scheme_find("sinusoidal")));
    cr_expect(!rg_scheme_is_relative(rg_scheme_find("learned")));
    /* per-layer lists, written with ',' or '+', back to text */
    rg_scheme_list l;
    char why[200], text[100];
    cr_assert_eq(rg_scheme_list_parse("rope, rope+ none", &l, why, sizeof why), 0, "%s", why);
    cr_expect_eq(l.n, 3);
    cr_expect_str_eq(rg_scheme_list_text(&l, ',', text, sizeof text), "rope,rope,none");
    cr_expect_str_eq(rg_scheme_list_text(&l, '+', text, sizeof text), "rope+rope+none");
}

/* The shipped quick experiment loads, and every run of its grid validates. */
Test(config, quick_experiment_config) {
    char path[600];
    snprintf(path, sizeof path, "%s/experiments/quick.ini", RELGRAD_SOURCE_DIR);
    rg_config c;
    rg_error err = {{0}};
    cr_assert_eq(rg_config_from_args(&c, path, 0, NULL, &err), 0, "%s", err.msg);
    for (int t = 0; t < c.n_tasks; t++)
        for (int p = 0; p < c.n_positions; p++) {
            rg_config r = c;
            r.task = c.tasks[t], r.model.schemes = c.positions[p];
            cr_expect_eq(rg_config_validate(&r, path, &err), 0, "%s", err.msg);
        }
}
