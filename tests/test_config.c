/* test_config.c: the config layer (src/config.c): defaults, the key table,
 * INI files and key=value arguments, round trips of every key, and a table of
 * bad inputs, each of which must fail with exit class 2 and a message naming
 * where (file:line or argument N), the key, and how to fix it.
 */
#include <criterion/criterion.h>

#include "relgrad/config.h"

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

static void remove_dir(const char *dir) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

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
    {"lr = 1e-3x\n", {0}, {"bad.ini:1:", "'lr'", "not a number", "unexpected 'x'", "lr = 0.001"}},
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
    {"lr = 0\n", {0}, {"bad.ini:1:", "'lr'", "must be > 0", "lr = 0.001"}},
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
    {"t5_buckets = 31\n", {0}, {"bad.ini:1:", "'t5_buckets'", "odd", "must be even"}},
    {"deberta_span = 0\n", {0}, {"bad.ini:1:", "'deberta_span'", "must be >= 1"}},
    {"mem_len = -1\n", {0}, {"bad.ini:1:", "'mem_len'", "must be >= 0"}},
    {"segment_len = -1\n", {0}, {"bad.ini:1:", "'segment_len'", "must be >= 0"}},
    {"checkpoint_every = 0\n", {0}, {"bad.ini:1:", "'checkpoint_every'", "must be >= 1"}},
    {"seed = -1\n", {0}, {"bad.ini:1:", "'seed'", "must be >= 0"}},
    {"train_len = 0\n", {0}, {"bad.ini:1:", "'train_len'", "must be 1 .. 1000000"}},
    /* names and lists */
    {"task = copyy\n",
     {0},
     {"bad.ini:1:", "'task'", "unknown task 'copyy'", "did you mean 'copy'",
      "copy, reverse, sort, duplicate"}},
    {"pos = roper\n",
     {0},
     {"bad.ini:1:", "'pos'", "unknown scheme 'roper'",
      "none, sinusoidal, learned, rope, alibi, t5, xl, deberta"}},
    {"positions = rope, foo\n",
     {0},
     {"bad.ini:1:", "'positions'", "entry 2", "unknown scheme 'foo'"}},
    {"tasks = copy,copy\n",
     {0},
     {"bad.ini:1:", "'tasks'", "'copy' is listed twice", "list each once"}},
    {"eval_lens = 8,,16\n", {0}, {"bad.ini:1:", "'eval_lens'", "entry 2 is empty"}},
    {"eval_lens = 8,16,8\n",
     {0},
     {"bad.ini:1:", "'eval_lens'", "'8' is listed twice", "entries 1 and 3"}},
    {"eval_lens = 8,0\n", {0}, {"bad.ini:1:", "'eval_lens'", "entry 2 is 0", "1 .. 1000000"}},
    {"eval_lens =\n", {0}, {"bad.ini:1:", "'eval_lens'", "missing value", "eval_lens = 8,16,24"}},
    {"eval_lens = 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,"
     "31,32,33\n",
     {0},
     {"bad.ini:1:", "'eval_lens'", "more than 32 entries"}},
    /* combinations, blamed on the line that set the key */
    {"[model]\nd_model = 64\nn_heads = 5\n",
     {0},
     {"bad.ini:3:", "'n_heads'", "5 does not divide d_model = 64",
      "choose n_heads among 1, 2, 4, 8, 16, 32, 64"}},
    {"d_model = 12\nn_heads = 4\npos = rope\n",
     {0},
     {"bad.ini:2:", "'n_heads'", "d_model/n_heads = 12/4 = 3 is odd", "rope",
      "choose n_heads among 1, 2, 3, 6"}},
    {"pos = sinusoidal\nd_model = 63\nn_heads = 1\n",
     {0},
     {"bad.ini:2:", "'d_model'", "63 is odd", "sinusoidal", "even d_model"}},
    {"pos = xl\nd_model = 63\nn_heads = 3\n",
     {0},
     {"bad.ini:2:", "'d_model'", "pos = xl", "even d_model"}},
    {"pos = learned\nmem_len = 8\nsegment_len = 8\n",
     {0},
     {"bad.ini:2:", "'mem_len'", "relative scheme", "pos = learned", "mem_len = 0"}},
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
     {"bad.ini:2:", "'max_positions'", "eval length 64", "max_positions >= 130",
      "eval_lens at most 31"}},
    {"pos = learned\nmax_positions = 20\ntrain_len = 16\neval_lens = 8\ntask = duplicate\n",
     {0},
     {"bad.ini:2:", "'max_positions'", "train_len 16 of task duplicate", "max_positions >= 50"}},
    /* an indented line is its own key, not a continuation of the previous value */
    {"d_model = 64\n    n_heads = 5\n", {0}, {"bad.ini:2:", "'n_heads'", "does not divide"}},
    /* arguments */
    {NULL, {"d_model64"}, {"argument 1", "'d_model64'", "not of the form key=value", "d_model=64"}},
    {NULL, {"steps"}, {"argument 1", "'steps' has no value", "steps=2000"}},
    {NULL, {"lr=0.01", "d_modle=32"}, {"argument 2", "'d_modle'", "did you mean 'd_model'"}},
    {NULL, {"lr="}, {"argument 1", "'lr'", "missing value"}},
    {NULL, {"=5"}, {"argument 1", "missing key name"}},
    {NULL, {"lr=0.01", "steps=1", "threads=-2"}, {"argument 3", "'threads'", "must be 1 .. 1024"}},
    {"d_model = 64\n",
     {"n_heads=5"},
     {"argument 1", "'n_heads'", "5 does not divide d_model = 64"}},
    {"n_heads = 4\n",
     {"d_model=30"},
     {"bad.ini:1:", "'n_heads'", "d_model = 30 (set at argument 1)", "1, 2, 3, 5, 6, 10, 15, 30"}},
    {NULL, {"d_model=30"}, {"arguments: key 'n_heads'", "4 does not divide d_model = 30"}},
    {"pos = learned\n",
     {"max_positions=10"},
     {"argument 1", "'max_positions'", "max_positions >= 130"}},
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
    cr_expect_eq(c.rope_base, 10000);
    cr_expect_eq(c.rope_scale, 1);
    cr_expect_eq(c.t5_buckets, 32);
    cr_expect_eq(c.t5_max_distance, 128);
    cr_expect_eq(c.deberta_span, 16);
    cr_expect_eq(c.mem_len, 0);
    cr_expect_eq(c.segment_len, 0);
    cr_expect_eq(c.init_std, 0.02);
    cr_expect_eq(c.n_symbols, 16);
    /* the small model */
    cr_expect_eq(c.d_model, 64);
    cr_expect_eq(c.n_heads, 4);
    cr_expect_eq(c.pos, RG_POS_ROPE);
    cr_expect_eq(c.task, RG_TASK_COPY);
    cr_expect_eq(c.n_eval_lens, 6);
    cr_expect_eq(c.eval_lens[5], 64);
    cr_expect_str_eq(c.out_dir, "out");
    for (int k = 0; k < RG_N_KEYS; k++) cr_expect_eq(c.where[k][0], '\0');
    /* every scheme and task validates with the defaults */
    for (int p = 0; p < RG_POS_COUNT; p++)
        for (int t = 0; t < RG_TASK_COUNT; t++) {
            c.pos = (rg_pos)p, c.task = (rg_task)t;
            cr_expect_eq(rg_config_validate(&c, "defaults", &err), 0, "%s %s: %s",
                         rg_pos_name(c.pos), rg_task_name(c.task), err.msg);
        }
}

Test(config, key_table) {
    const rg_key_info *keys;
    int n = rg_config_keys(&keys);
    cr_assert_eq(n, RG_N_KEYS);
    static const char *const expected[] = {"d_model",
                                           "n_heads",
                                           "n_layers",
                                           "d_ff",
                                           "pos",
                                           "max_positions",
                                           "rope_base",
                                           "rope_scale",
                                           "t5_buckets",
                                           "t5_max_distance",
                                           "deberta_span",
                                           "mem_len",
                                           "segment_len",
                                           "init_std",
                                           "task",
                                           "n_symbols",
                                           "train_len",
                                           "eval_lens",
                                           "eval_n",
                                           "steps",
                                           "batch_size",
                                           "lr",
                                           "warmup",
                                           "weight_decay",
                                           "grad_clip",
                                           "seed",
                                           "threads",
                                           "out_dir",
                                           "checkpoint_every",
                                           "eval_every",
                                           "tasks",
                                           "positions",
                                           "seeds"};
    cr_assert_eq((int)(sizeof expected / sizeof expected[0]), n);
    rg_config c;
    rg_config_defaults(&c);
    for (int i = 0; i < n; i++) {
        cr_expect_str_eq(keys[i].name, expected[i]);
        cr_expect(!strcmp(keys[i].group, "model") || !strcmp(keys[i].group, "task") ||
                      !strcmp(keys[i].group, "train") || !strcmp(keys[i].group, "experiment"),
                  "%s: group %s", keys[i].name, keys[i].group);
        cr_expect(keys[i].help && strlen(keys[i].help) > 10, "%s: no help", keys[i].name);
        char buf[256];
        cr_expect_eq(rg_config_get(&c, keys[i].name, buf, sizeof buf), 0, "%s", keys[i].name);
        cr_expect_gt(strlen(buf), 0);
    }
    char buf[8];
    cr_expect_eq(rg_config_get(&c, "no_such_key", buf, sizeof buf), -1);
    cr_expect_eq(rg_config_get(&c, "eval_lens", buf, 4), -1); /* "8,16,24,..." does not fit */
    cr_expect_lt(strlen(buf), 4);
}

/* Every key, none at its default. */
static const char EVERY_KEY[] = "; every key of SPEC section 5\n"
                                "[model]\n"
                                "d_model = 48\n"
                                "n_heads = 6\n"
                                "n_layers = 3\n"
                                "d_ff = 100\n"
                                "pos = t5\n"
                                "max_positions = 300\n"
                                "rope_base = 500.5\n"
                                "rope_scale = 2.5\n"
                                "t5_buckets = 16\n"
                                "t5_max_distance = 64\n"
                                "deberta_span = 7\n"
                                "mem_len = 12\n"
                                "segment_len = 10\n"
                                "init_std = 0.1\n"
                                "[task]\n"
                                "task = duplicate\n"
                                "n_symbols = 10\n"
                                "train_len = 12\n"
                                "eval_lens = 4, 12, 20\n"
                                "eval_n = 50\n"
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
                                "[experiment]\n"
                                "tasks = sort,reverse\n"
                                "positions = alibi, xl, deberta\n"
                                "seeds = 3,1,2\n";

Test(config, every_key_round_trips) {
    char dir[64], path[256];
    make_dir(dir, sizeof dir);
    write_file(dir, "every.ini", EVERY_KEY, path, sizeof path);
    rg_config c;
    rg_error err = {{0}};
    cr_assert_eq(rg_config_from_args(&c, path, 0, NULL, &err), 0, "%s", err.msg);
    remove_dir(dir);

    const rg_key_info *keys;
    int n = rg_config_keys(&keys);
    rg_config d;
    rg_config_defaults(&d);
    for (int i = 0; i < n; i++) {
        char line[64];
        snprintf(line, sizeof line, "\n%s = ", keys[i].name);
        cr_expect(strstr(EVERY_KEY, line) != NULL, "the file lacks key %s", keys[i].name);
        char a[256], b[256];
        cr_assert_eq(rg_config_get(&c, keys[i].name, a, sizeof a), 0);
        cr_assert_eq(rg_config_get(&d, keys[i].name, b, sizeof b), 0);
        cr_expect_str_neq(a, b, "key %s is still at its default %s", keys[i].name, b);
        /* text -> set -> text is the identity */
        rg_config e;
        rg_config_defaults(&e);
        cr_assert_eq(rg_config_set(&e, keys[i].name, a, "round trip", &err), 0, "%s = %s: %s",
                     keys[i].name, a, err.msg);
        cr_assert_eq(rg_config_get(&e, keys[i].name, b, sizeof b), 0);
        cr_expect_str_eq(a, b, "key %s", keys[i].name);
        cr_expect_str_eq(e.where[i], "round trip");
        cr_expect(strstr(c.where[i], "every.ini:") != NULL, "where of %s: '%s'", keys[i].name,
                  c.where[i]);
    }
    /* values landed in the right fields */
    cr_expect_eq(c.d_model, 48);
    cr_expect_eq(c.n_heads, 6);
    cr_expect_eq(c.pos, RG_POS_T5);
    cr_expect_eq(c.rope_base, 500.5);
    cr_expect_eq(c.task, RG_TASK_DUPLICATE);
    cr_expect_eq(c.n_eval_lens, 3);
    cr_expect_eq(c.eval_lens[2], 20);
    cr_expect_eq(c.lr, 0.00123456789012345678);
    cr_expect_str_eq(c.out_dir, "runs/every key");
    cr_expect_eq(c.n_tasks, 2);
    cr_expect_eq(c.tasks[0], RG_TASK_SORT);
    cr_expect_eq(c.n_positions, 3);
    cr_expect_eq(c.positions[2], RG_POS_DEBERTA);
    cr_expect_eq(c.n_seeds, 3);
    cr_expect_eq(c.seeds[0], 3);
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
    cr_expect_eq(c.d_model, 128);
    cr_expect_eq(c.lr, 0.03);
    cr_expect_eq(c.steps, 10);   /* from the file */
    cr_expect_eq(c.n_layers, 2); /* default */
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
    cr_expect_eq(c.d_model, 32);
    cr_expect_eq(c.n_heads, 2);
    cr_expect_eq(c.pos, RG_POS_ALIBI);
    cr_expect_eq(c.n_eval_lens, 3);
    cr_expect_eq(c.eval_lens[0], 4);
    cr_expect_eq(c.eval_lens[2], 16);
    cr_expect_str_eq(c.out_dir, "a b");
    cr_expect_eq(c.lr, 2e-3);
    /* line numbers count every line, comments and blanks included */
    const rg_key_info *keys;
    int n = rg_config_keys(&keys);
    for (int k = 0; k < n; k++) {
        char want[300];
        if (!strcmp(keys[k].name, "d_model")) {
            snprintf(want, sizeof want, "%s:5", path);
            cr_expect_str_eq(c.where[k], want);
        }
        if (!strcmp(keys[k].name, "lr")) {
            snprintf(want, sizeof want, "%s:11", path);
            cr_expect_str_eq(c.where[k], want);
        }
    }
    remove_dir(dir);
}

/* Equal in every key's value (the where records may differ). */
static void expect_same_values(const rg_config *a, const rg_config *b) {
    const rg_key_info *keys;
    int n = rg_config_keys(&keys);
    for (int k = 0; k < n; k++) {
        char x[256], y[256];
        rg_config_get(a, keys[k].name, x, sizeof x);
        rg_config_get(b, keys[k].name, y, sizeof y);
        cr_expect_str_eq(x, y, "key %s", keys[k].name);
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
    cr_expect_eq(c.d_model, 64, "the good first line must not be applied alone");
    char *args[] = {"d_model=32", "n_heads=x"};
    cr_assert_eq(rg_config_override(&c, 2, args, &err), 2);
    cr_expect_eq(c.d_model, 64);
    cr_expect_eq(rg_config_set(&c, "d_model", "0", "test", &err), 2);
    cr_expect_eq(c.d_model, 64);
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
    c.n_heads = 5; /* set by code: no where record, so the caller's where is used */
    rg_error err = {{0}};
    cr_assert_eq(rg_config_validate(&c, "quick.ini (task copy, pos rope)", &err), 2);
    cr_expect(strstr(err.msg, "quick.ini (task copy, pos rope): key 'n_heads'") != NULL, "%s",
              err.msg);
    cr_expect(strstr(err.msg, "(default)") != NULL, "%s", err.msg); /* d_model's origin */
    rg_config_defaults(&c);
    c.n_eval_lens = 0;
    cr_assert_eq(rg_config_validate(&c, "x", &err), 2);
    cr_expect(strstr(err.msg, "'eval_lens'") && strstr(err.msg, "1 .. 32 entries"), "%s", err.msg);
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
}

Test(config, names_parse_back) {
    for (int p = 0; p < RG_POS_COUNT; p++) cr_expect_eq(rg_pos_parse(rg_pos_name((rg_pos)p)), p);
    for (int t = 0; t < RG_TASK_COUNT; t++)
        cr_expect_eq(rg_task_parse(rg_task_name((rg_task)t)), t);
    cr_expect_eq(rg_pos_parse("Rope"), -1);
    cr_expect_eq(rg_task_parse(""), -1);
    cr_expect(rg_pos_is_relative(RG_POS_NONE) && rg_pos_is_relative(RG_POS_DEBERTA));
    cr_expect(!rg_pos_is_relative(RG_POS_SINUSOIDAL) && !rg_pos_is_relative(RG_POS_LEARNED));
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
            r.task = c.tasks[t], r.pos = c.positions[p];
            cr_expect_eq(rg_config_validate(&r, path, &err), 0, "%s", err.msg);
        }
}
