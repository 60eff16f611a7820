/* keys.c: the bottom of the config layer: the key table (base keys here,
 * each scheme's own keys in its file) and lookups in it, where a key's value
 * lives and where it was set, the error messages (rg_fail, rg_fail_key), a
 * value written back as text, one key's own range check, and one run of a
 * grid. It calls nothing in parse.c or validate.c (the files of src/config
 * depend one way: keys.c <- parse.c <- validate.c; tests/structure/layers.sh
 * checks it).
 *
 * Every key's default is written once, as text in the table (parse.c sets
 * it through the same parser as a value from a file); rg_config_get writes a
 * value back in a form that parser accepts, so a config survives a round
 * trip through a checkpoint's attributes exactly. Reals are written with the
 * fewest of 15, 16 or 17 significant digits that read back to the same
 * double (17 always does).
 */
#include "config_internal.h"
#include "schemes/scheme.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define AT(field) offsetof(rg_config, field)
/* a number macro as a string literal, for help texts */
#define RG_STR_(x) #x
#define RG_STR(x)  RG_STR_(x)

static const char *const SELECT_NAMES[] = {"last", "best", NULL}; /* rg_select */

static const rg_key_info BASE_KEYS[] = {
    /* model */
    {.name = "d_model",
     .group = "model",
     .type = RG_KEY_INT,
     .kind = RG_V_INT,
     .offset = AT(model.d_model),
     .lo = 1,
     .hi = INT_MAX,
     .def = "64",
     .help = "width of the residual stream; >= 1, divisible by n_heads"},
    {.name = "n_heads",
     .group = "model",
     .type = RG_KEY_INT,
     .kind = RG_V_INT,
     .offset = AT(model.n_heads),
     .lo = 1,
     .hi = INT_MAX,
     .def = "4",
     .help = "attention heads; >= 1, divides d_model"},
    {.name = "n_layers",
     .group = "model",
     .type = RG_KEY_INT,
     .kind = RG_V_INT,
     .offset = AT(model.n_layers),
     .lo = 1,
     .hi = INT_MAX,
     .def = "2",
     .help = "Transformer blocks; >= 1"},
    {.name = "d_ff",
     .group = "model",
     .type = RG_KEY_INT,
     .kind = RG_V_INT,
     .offset = AT(model.d_ff),
     .lo = 1,
     .hi = INT_MAX,
     .def = "256",
     .help = "hidden width of the MLP; >= 1"},
    {.name = "pos",
     .group = "model",
     .type = RG_KEY_STRING,
     .kind = RG_V_POS,
     .offset = AT(model.schemes),
     .def = RG_DEFAULT_POS,
     .help =
         "positional scheme, or a per-layer list of relative schemes repeating over the layers; "
         "see `relgrad list schemes` (experiment: replaced by positions)"},
    {.name = "mem_len",
     .group = "model",
     .type = RG_KEY_INT,
     .kind = RG_V_INT,
     .offset = AT(model.mem_len),
     .lo = 0,
     .hi = INT_MAX,
     .def = "0",
     .help = "segment memory length M per layer; >= 0 (0 = no recurrence); > 0 needs relative "
             "schemes and segment_len > 0"},
    {.name = "segment_len",
     .group = "model",
     .type = RG_KEY_INT,
     .kind = RG_V_INT,
     .offset = AT(model.segment_len),
     .lo = 0,
     .hi = INT_MAX,
     .def = "0",
     .help = "tokens per segment with memory; >= 0 (0 = whole sequence); > 0 needs mem_len > 0"},
    {.name = "init_std",
     .group = "model",
     .type = RG_KEY_REAL,
     .kind = RG_V_REAL,
     .offset = AT(model.init_std),
     .lo = 0,
     .open = true,
     .def = "0.02",
     .help = "standard deviation of the normal weight init; > 0"},
    {.name = "arch",
     .group = "model",
     .type = RG_KEY_STRING,
     .kind = RG_V_CHOICE,
     .offset = AT(model.arch),
     .def = "decoder",
     .help = "decoder: a causal Transformer reads BOS x SEP y EOS and writes y token by token; "
             "encoder: one bidirectional pass reads BOS x SEP and one ANS token per answer "
             "token and answers at every ANS (Ruoss et al. 2023; vocabulary n_symbols + 5); "
             "the encoder needs mem_len = 0"},
    {.name = "abacus",
     .group = "model",
     .type = RG_KEY_INT,
     .kind = RG_V_INT,
     .offset = AT(model.abacus),
     .lo = 0,
     .hi = RG_MAX_LEN,
     .def = "0",
     .help = "abacus embeddings (McLeish et al. 2024): K > 0 adds abacus_emb.weight[id] to each "
             "token's embedding, id = a digit's 1-based index in its run of digits (0 for other "
             "tokens), every nonzero id shifted in training by one k uniform in 0 .. K per batch; "
             "0 = off"},
    {.name = "abacus_max",
     .group = "model",
     .type = RG_KEY_INT,
     .kind = RG_V_INT,
     .offset = AT(model.abacus_max),
     .lo = 1,
     .hi = RG_MAX_LEN,
     .def = "256",
     .help = "with abacus: rows of abacus_emb.weight; every id read (the longest run of digits, "
             "plus K in training) must be below it; 1 .. 1000000"},
    /* task */
    {.name = "task",
     .group = "task",
     .type = RG_KEY_STRING,
     .kind = RG_V_TASK,
     .offset = AT(task),
     .def = "copy",
     .help = "synthetic task; see `relgrad list tasks` (experiment: replaced by tasks)"},
    {.name = "n_symbols",
     .group = "task",
     .type = RG_KEY_INT,
     .kind = RG_V_INT,
     .offset = AT(model.n_symbols),
     .lo = 2,
     .hi = RG_MAX_SYMBOLS,
     .def = "16",
     .help =
         "alphabet size (the base of addition); 2 .. 1000000 (vocabulary = n_symbols + 4, encoder "
         "+ 5); a task with its own alphabet (parity and most Ruoss et al. tasks, `relgrad list "
         "tasks`) sets it when the config does not, and refuses another value"},
    {.name = "train_len",
     .group = "task",
     .type = RG_KEY_INT,
     .kind = RG_V_INT,
     .offset = AT(train_len),
     .lo = 1,
     .hi = RG_MAX_LEN,
     .def = "16",
     .help = "training lengths are drawn from 1 .. train_len; 1 .. 1000000"},
    {.name = "eval_lens",
     .group = "task",
     .type = RG_KEY_STRING,
     .kind = RG_V_LENGTHS,
     .offset = AT(eval_lens),
     .lo = 1,
     .hi = RG_MAX_LEN,
     .def = "8,16,24,32,48,64",
     .flags = RG_KEY_EVAL | RG_KEY_RESUME_FREE,
     .help = "evaluation lengths: a comma list of lengths n, ranges a..b and stepped ranges a..b:s "
             "(20..80:5), each 1 .. 1000000, none repeated"},
    {.name = "eval_n",
     .group = "task",
     .type = RG_KEY_INT,
     .kind = RG_V_INT,
     .offset = AT(eval_n),
     .lo = 1,
     .hi = INT_MAX,
     .def = "200",
     .flags = RG_KEY_EVAL | RG_KEY_RESUME_FREE,
     .help = "examples evaluated per length (" RG_STR(
         RG_EVAL_BATCH) " at a time, whatever batch_size); >= 1"},
    {.name = "fit_threshold",
     .group = "task",
     .type = RG_KEY_REAL,
     .kind = RG_V_REAL,
     .offset = AT(fit_threshold),
     .lo = 0,
     .hi = 1,
     .def = "0.95",
     .flags = RG_KEY_RESUME_FREE,
     .help = "exact match at the training length from which a run counts as fitted (results "
             "record fit = 0 or 1; tables average extrapolation over fitted runs); 0 .. 1"},
    {.name = "random_positions",
     .group = "task",
     .type = RG_KEY_INT,
     .kind = RG_V_INT,
     .offset = AT(random_positions),
     .lo = 0,
     .hi = 1 << 24,
     .def = "0",
     .help = "randomized positions (Ruoss et al. 2023): L > 0 draws each sequence's positions as a "
             "sorted random subset of 0 .. L-1, in training and evaluation; 0 = off"},
    {.name = "random_positions_per",
     .group = "task",
     .type = RG_KEY_STRING,
     .kind = RG_V_CHOICE,
     .offset = AT(random_positions_per),
     .def = "sequence",
     .help = "with random_positions: sequence = a fresh sorted draw for every sequence; batch = "
             "one draw shared by every sequence of a batch (Ruoss et al.'s code), in training "
             "and evaluation"},
    {.name = "length_sampling",
     .group = "task",
     .type = RG_KEY_STRING,
     .kind = RG_V_CHOICE,
     .offset = AT(length_sampling),
     .def = "example",
     .help = "training lengths: example = each example's n uniform in 1 .. train_len; batch = "
             "one n per batch, uniform in 1 .. train_len, for all its examples (Ruoss et al.'s "
             "code)"},
    {.name = "train_examples",
     .group = "task",
     .type = RG_KEY_INT,
     .kind = RG_V_INT,
     .offset = AT(train_examples),
     .lo = 0,
     .hi = 100000000,
     .def = "0",
     .help = "N > 0: train on a fixed set of N examples, lengths spread evenly over 1 .. "
             "train_len, the same set for every seed, reshuffled every epoch (Kazemnejad et "
             "al. 2023); 0 = a fresh example every time"},
    {.name = "digits",
     .group = "task",
     .type = RG_KEY_STRING,
     .kind = RG_V_CHOICE,
     .offset = AT(digits),
     .def = "lsb",
     .help = "addition's digit order: lsb = a, b and the answer least significant digit "
             "first; msb = most significant first"},
    {.name = "coupled_positions",
     .group = "task",
     .type = RG_KEY_INT,
     .kind = RG_V_INT,
     .offset = AT(coupled_positions),
     .lo = 0,
     .hi = 1,
     .def = "0",
     .help = "position coupling (Cho et al. 2024), addition only: 1 gives the digits of equal "
             "significance in a, b and the answer the same position s + 1 + significance, the "
             "SEPs s and BOS 0, s uniform in 1 .. coupled_max - n - 1 in training and 1 at "
             "evaluation; needs schemes that read positions one at a time; 0 = off"},
    {.name = "coupled_max",
     .group = "task",
     .type = RG_KEY_INT,
     .kind = RG_V_INT,
     .offset = AT(coupled_max),
     .lo = 3,
     .hi = 1 << 24,
     .def = "128",
     .help = "with coupled_positions: the largest position of a training sequence (Cho et al.'s "
             "max_position); >= train_len + 2"},
    {.name = "coupled_plus",
     .group = "task",
     .type = RG_KEY_STRING,
     .kind = RG_V_CHOICE,
     .offset = AT(coupled_plus),
     .def = "start",
     .help = "with coupled_positions: the position of the SEP between a and b; start = s, with "
             "the second SEP (Cho et al.'s code); carry = s + 1 + n, the answer's final carry's, "
             "so every answer token's query finds a key at its own and the next coupled position "
             "(relgrad's variant, docs/format.md)"},
    {.name = "coupled_bos",
     .group = "task",
     .type = RG_KEY_STRING,
     .kind = RG_V_CHOICE,
     .offset = AT(coupled_bos),
     .def = "zero",
     .help = "with coupled_positions: the position of BOS; zero = 0, EOS's (Cho et al.'s code); "
             "end = s + 2 + n, one past the final carry, so EOS's query finds a key at its next "
             "coupled position (relgrad's variant, docs/format.md)"},
    {.name = "index_hints",
     .group = "task",
     .type = RG_KEY_INT,
     .kind = RG_V_INT,
     .offset = AT(index_hints),
     .lo = 0,
     .hi = 1,
     .def = "0",
     .help = "index hints (Zhou et al. 2024), addition only: 1 puts before every digit of a, b "
             "and the answer a hint token naming its significance (hint o + i for significance "
             "i, o uniform in 0 .. n_hints - n - 1 in training, 0 at evaluation); the model "
             "writes the hints of its answer too; 0 = off"},
    {.name = "n_hints",
     .group = "task",
     .type = RG_KEY_INT,
     .kind = RG_V_INT,
     .offset = AT(model.n_hints),
     .lo = 0,
     .hi = RG_MAX_LEN,
     .def = "0",
     .help = "with index_hints: the hint tokens (token ids n_symbols .. n_symbols + n_hints - 1; "
             "the special tokens follow them); at least the longest trained or evaluated length "
             "+ 1; 0 without index_hints"},
    /* train */
    {.name = "steps",
     .group = "train",
     .type = RG_KEY_INT,
     .kind = RG_V_INT,
     .offset = AT(steps),
     .lo = 1,
     .hi = INT_MAX,
     .def = "2000",
     .help = "optimizer steps (bench: timed steps); >= 1"},
    {.name = "batch_size",
     .group = "train",
     .type = RG_KEY_INT,
     .kind = RG_V_INT,
     .offset = AT(batch_size),
     .lo = 1,
     .hi = INT_MAX,
     .def = "32",
     .help =
         "examples per training step (evaluation takes " RG_STR(RG_EVAL_BATCH) " at a time); >= 1"},
    {.name = "lr",
     .group = "train",
     .type = RG_KEY_REAL,
     .kind = RG_V_REAL,
     .offset = AT(lr),
     .lo = 0,
     .open = true,
     .def = "1e-3",
     .help = "peak AdamW learning rate; > 0"},
    {.name = "warmup",
     .group = "train",
     .type = RG_KEY_INT,
     .kind = RG_V_INT,
     .offset = AT(warmup),
     .lo = 0,
     .hi = INT_MAX,
     .def = "100",
     .help = "steps of linear learning-rate warm-up before cosine decay; >= 0"},
    {.name = "weight_decay",
     .group = "train",
     .type = RG_KEY_REAL,
     .kind = RG_V_REAL,
     .offset = AT(weight_decay),
     .lo = 0,
     .def = "0.1",
     .help = "AdamW decoupled weight decay; >= 0"},
    {.name = "grad_clip",
     .group = "train",
     .type = RG_KEY_REAL,
     .kind = RG_V_REAL,
     .offset = AT(grad_clip),
     .lo = 0,
     .def = "1",
     .help = "clip the global gradient norm to this; >= 0 (0 = off)"},
    {.name = "seed",
     .group = "train",
     .type = RG_KEY_INT,
     .kind = RG_V_INT,
     .offset = AT(seed),
     .lo = 0,
     .hi = INT_MAX,
     .def = "1",
     .help = "model seed: initialisation and training data order; 0 .. 2147483647 (experiment: "
             "replaced by seeds)"},
    {.name = "threads",
     .group = "train",
     .type = RG_KEY_INT,
     .kind = RG_V_INT,
     .offset = AT(threads),
     .lo = 1,
     .hi = 1024,
     .def = "2",
     .flags = RG_KEY_EVAL | RG_KEY_RESUME_FREE,
     .help = "worker threads (OpenMP, BLIS); 1 .. 1024"},
    {.name = "out_dir",
     .group = "train",
     .type = RG_KEY_STRING,
     .kind = RG_V_PATH,
     .offset = AT(out_dir),
     .lo = 1,
     .def = "out",
     .flags = RG_KEY_RESUME_FREE,
     .help = "output directory (checkpoints, logs, results); non-empty, under 512 bytes"},
    {.name = "checkpoint_every",
     .group = "train",
     .type = RG_KEY_INT,
     .kind = RG_V_INT,
     .offset = AT(checkpoint_every),
     .lo = 1,
     .hi = INT_MAX,
     .def = "500",
     .flags = RG_KEY_RESUME_FREE,
     .help = "write a checkpoint every this many steps (and at the end); >= 1"},
    {.name = "eval_every",
     .group = "train",
     .type = RG_KEY_INT,
     .kind = RG_V_INT,
     .offset = AT(eval_every),
     .lo = 1,
     .hi = INT_MAX,
     .def = "500",
     .flags = RG_KEY_RESUME_FREE,
     .help = "evaluate at the training length every this many steps; >= 1"},
    {.name = "init_from",
     .group = "train",
     .type = RG_KEY_STRING,
     .kind = RG_V_PATH,
     .offset = AT(init_from),
     .lo = 0,
     .def = "",
     .help =
         "start from this checkpoint's parameters (a fresh optimizer), e.g. to fine-tune at a new "
         "length; empty = a fresh initialisation"},
    {.name = "quiet",
     .group = "train",
     .type = RG_KEY_INT,
     .kind = RG_V_INT,
     .offset = AT(quiet),
     .lo = 0,
     .hi = 1,
     .def = "0",
     .flags = RG_KEY_EVAL | RG_KEY_RESUME_FREE,
     .help = "1 = no configuration printout and no progress on stderr (results, notes and errors "
             "still appear); 0 or 1; the --quiet option sets it"},
    {.name = "select",
     .group = "train",
     .type = RG_KEY_STRING,
     .kind = RG_V_CHOICE,
     .offset = AT(select),
     .def = "last",
     .help = "the parameters the final evaluation reads: last (those of the last step) or best "
             "(the best exact match on val_n in-distribution validation examples, checked "
             "every eval_every steps and at the last; kept in out_dir/best.h5, ties keep the "
             "earlier)"},
    {.name = "val_n",
     .group = "train",
     .type = RG_KEY_INT,
     .kind = RG_V_INT,
     .offset = AT(val_n),
     .lo = 1,
     .hi = INT_MAX,
     .def = "200",
     .help = "select = best: validation examples, lengths 1 .. train_len drawn as training "
             "draws them, the same set at every check and for every seed; >= 1"},
    /* experiment */
    {.name = "tasks",
     .group = "experiment",
     .type = RG_KEY_STRING,
     .kind = RG_V_TASK_LIST,
     .offset = AT(tasks),
     .count_offset = AT(n_tasks),
     .def = "copy",
     .flags = RG_KEY_EXPERIMENT,
     .help = "comma list of tasks for the experiment grid; task:N gives that task its own alphabet "
             "(n_symbols = N), e.g. sort:5, parity:2"},
    {.name = "positions",
     .group = "experiment",
     .type = RG_KEY_STRING,
     .kind = RG_V_POS_LISTS,
     .offset = AT(positions),
     .count_offset = AT(n_positions),
     .def = RG_DEFAULT_POS,
     .flags = RG_KEY_EXPERIMENT,
     .help =
         "comma list of positional schemes for the experiment grid; a per-layer list is one entry "
         "written with '+'; an entry may end in its own settings :key=value:key=value (e.g. "
         "rope:coupled_positions=1), which its runs take and their names show"},
    {.name = "seeds",
     .group = "experiment",
     .type = RG_KEY_STRING,
     .kind = RG_V_INT_LIST,
     .offset = AT(seeds),
     .count_offset = AT(n_seeds),
     .lo = 0,
     .hi = INT_MAX,
     .def = "1",
     .flags = RG_KEY_EXPERIMENT,
     .help = "model seeds for the experiment grid: whole numbers and ranges a..b or a..b:s, each "
             "0 .. 2147483647, none repeated, at most 64"},
    {.name = "jobs",
     .group = "experiment",
     .type = RG_KEY_INT,
     .kind = RG_V_INT,
     .offset = AT(jobs),
     .lo = 1,
     .hi = RG_MAX_JOBS,
     .def = "1",
     .flags = RG_KEY_EXPERIMENT,
     .help = "runs of the experiment trained at once on this machine, each in its own process with "
             "threads / jobs threads (at least 1); 1 .. 64 (under mpirun each rank is one job)"},
};
enum { N_BASE = sizeof BASE_KEYS / sizeof BASE_KEYS[0] };

int rg_config_key_count(void) {
    int n = N_BASE;
    for (int id = 0; id < rg_scheme_count(); id++) n += rg_scheme_get(id)->n_keys;
    if (n > RG_MAX_KEYS) rg_die("config: %d keys, more than RG_MAX_KEYS = %d", n, RG_MAX_KEYS);
    return n;
}

const rg_key_info *rg_config_key(int i) {
    if (i >= 0 && i < N_BASE) return &BASE_KEYS[i];
    i -= N_BASE;
    for (int id = 0; id < rg_scheme_count() && i >= 0; id++) {
        const rg_scheme *s = rg_scheme_get(id);
        if (i < s->n_keys) return &s->keys[i];
        i -= s->n_keys;
    }
    rg_die("config: no key %d", i);
}

int rg_config_key_scheme(int k) {
    int i = k - N_BASE;
    if (k < 0 || i < 0) return -1;
    for (int id = 0; id < rg_scheme_count(); id++) {
        int n = rg_scheme_get(id)->n_keys;
        if (i < n) return id;
        i -= n;
    }
    return -1;
}

/* The names of each RG_V_CHOICE key, in the order of its enum. */
static const char *const ARCH_NAMES[] = {
    [RG_ARCH_DECODER] = "decoder", [RG_ARCH_ENCODER] = "encoder", NULL};
static const char *const PER_NAMES[] = {
    [RG_POSITIONS_PER_SEQUENCE] = "sequence", [RG_POSITIONS_PER_BATCH] = "batch", NULL};
static const char *const LENGTHS_NAMES[] = {
    [RG_LENGTHS_PER_EXAMPLE] = "example", [RG_LENGTHS_PER_BATCH] = "batch", NULL};
static const char *const DIGITS_NAMES[] = {[RG_DIGITS_LSB] = "lsb", [RG_DIGITS_MSB] = "msb", NULL};
static const char *const PLUS_NAMES[] = {
    [RG_PLUS_AT_START] = "start", [RG_PLUS_AT_CARRY] = "carry", NULL};
static const char *const BOS_NAMES[] = {[RG_BOS_AT_ZERO] = "zero", [RG_BOS_AT_END] = "end", NULL};

const char *const *rg_key_choices(const rg_key_info *key) {
    static const struct {
        const char *key;
        const char *const *names;
    } CHOICES[] = {{"arch", ARCH_NAMES},
                   {"random_positions_per", PER_NAMES},
                   {"length_sampling", LENGTHS_NAMES},
                   {"digits", DIGITS_NAMES},
                   {"coupled_plus", PLUS_NAMES},
                   {"coupled_bos", BOS_NAMES},
                   {"select", SELECT_NAMES}};
    if (key->kind != RG_V_CHOICE) return NULL;
    for (size_t i = 0; i < sizeof CHOICES / sizeof CHOICES[0]; i++)
        if (!strcmp(key->name, CHOICES[i].key)) return CHOICES[i].names;
    rg_die("config: key %s has no list of values", key->name);
}

int rg_config_key_find(const char *name) {
    int n = rg_config_key_count();
    for (int k = 0; k < n; k++)
        if (!strcmp(name, rg_config_key(k)->name)) return k;
    return -1;
}

void *rg_key_ptr(rg_config *c, int k) {
    const rg_key_info *key = rg_config_key(k);
    char *base = key->flags & RG_KEY_SCHEME ? (char *)&c->model.opts : (char *)c;
    return base + key->offset;
}

const void *rg_key_cptr(const rg_config *c, int k) {
    return rg_key_ptr((rg_config *)c, k);
}

const char *rg_key_origin(const rg_config *c, int k, const char *fallback) {
    return c && c->where[k][0] ? c->where[k] : fallback;
}

const char *rg_key_origin_note(const rg_config *c, int k, char *buf, size_t n) {
    if (c && c->where[k][0])
        snprintf(buf, n, " (set at %s)", c->where[k]);
    else
        snprintf(buf, n, " (default)");
    return buf;
}

/* ---- messages ------------------------------------------------------------------- */

int rg_fail(rg_error *err, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return 2;
}

int rg_fail_key(rg_error *err, const char *where, int k, const char *fmt, ...) {
    char what[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(err->msg, sizeof err->msg, "%.200s: key '%s': %s", where, rg_config_key(k)->name,
             what);
    return 2;
}

/* ---- values as text -------------------------------------------------------------- */

/* Shortest of %.15g, %.16g, %.17g that reads back to v exactly. */
static int print_real(double v, char *buf, size_t n) {
    int len = 0;
    for (int digits = 15; digits <= 17; digits++) {
        len = snprintf(buf, n, "%.*g", digits, v);
        if (strtod(buf, NULL) == v) break;
    }
    return len;
}

const char *rg_scheme_list_text(const rg_scheme_list *p, char sep, char *buf, size_t n) {
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < p->n && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, "%s%s", i ? (char[]){sep, 0} : "",
                                 rg_scheme_name(p->id[i]));
    return buf;
}

bool rg_scheme_list_equal(const rg_scheme_list *a, const rg_scheme_list *b) {
    if (a->n != b->n) return false;
    for (int i = 0; i < a->n; i++)
        if (a->id[i] != b->id[i]) return false;
    return true;
}

int rg_config_get(const rg_config *c, const char *key, char *buf, size_t n) {
    int k = rg_config_key_find(key);
    if (n == 0) return -1;
    buf[0] = '\0';
    if (k < 0) return -1;
    const rg_key_info *info = rg_config_key(k);
    const void *at = rg_key_cptr(c, k);
    size_t len = 0;
    char item[512];
    switch (info->kind) {
    case RG_V_INT:
        len = (size_t)snprintf(buf, n, "%d", *(const int *)at);
        break;
    case RG_V_REAL:
        len = (size_t)print_real(*(const double *)at, buf, n);
        break;
    case RG_V_PATH:
    case RG_V_LENGTHS:
        len = (size_t)snprintf(buf, n, "%s", (const char *)at);
        break;
    case RG_V_TASK:
        len = (size_t)snprintf(buf, n, "%s", rg_task_name(*(const rg_task *)at));
        break;
    case RG_V_CHOICE: {
        const char *const *names = rg_key_choices(info);
        int v = *(const int *)at, count = 0;
        while (names[count]) count++;
        len = (size_t)snprintf(buf, n, "%s", v >= 0 && v < count ? names[v] : "?");
        break;
    }
    case RG_V_POS:
        len = (size_t)snprintf(buf, n, "%s", rg_scheme_list_text(at, ',', item, sizeof item));
        break;
    case RG_V_TASK_LIST:
    case RG_V_POS_LISTS:
    case RG_V_INT_LIST: {
        int count = *(const int *)((const char *)c + info->count_offset);
        for (int i = 0; i < count && len < n; i++) {
            const char *text = item;
            if (info->kind == RG_V_TASK_LIST && c->task_symbols[i])
                snprintf(item, sizeof item, "%s:%d", rg_task_name(((const rg_task *)at)[i]),
                         c->task_symbols[i]);
            else if (info->kind == RG_V_TASK_LIST)
                text = rg_task_name(((const rg_task *)at)[i]);
            else if (info->kind == RG_V_POS_LISTS)
                rg_config_entry_name(c, i, '+', item, sizeof item);
            else
                snprintf(item, sizeof item, "%d", ((const int *)at)[i]);
            len += (size_t)snprintf(buf + len, n - len, "%s%s", i ? "," : "", text);
        }
        break;
    }
    }
    return len < n ? 0 : -1;
}

/* ---- one key's own checks ---------------------------------------------------------- */

/* "must be >= 1", "must be > 0", "must be 2 .. 1000000" */
static const char *range_text(const rg_key_info *key, char *buf, size_t n) {
    if (key->kind == RG_V_REAL && key->hi > key->lo)
        snprintf(buf, n, "must be %g .. %g", key->lo, key->hi);
    else if (key->kind == RG_V_REAL)
        snprintf(buf, n, "must be %s %g", key->open ? ">" : ">=", key->lo);
    else if (key->hi >= INT_MAX)
        snprintf(buf, n, "must be >= %.0f", key->lo);
    else
        snprintf(buf, n, "must be %.0f .. %.0f", key->lo, key->hi);
    return buf;
}

int rg_config_check_key(const rg_config *c, int k, const char *where, rg_error *err) {
    const rg_key_info *key = rg_config_key(k);
    const void *at = rg_key_cptr(c, k);
    char range[64];
    switch (key->kind) {
    case RG_V_INT: {
        int v = *(const int *)at;
        if (v < key->lo || v > key->hi)
            return rg_fail_key(err, where, k, "%d is out of range; %s %s (e.g. %s = %s)", v,
                               key->name, range_text(key, range, sizeof range), key->name,
                               key->def);
        return 0;
    }
    case RG_V_REAL: {
        double v = *(const double *)at;
        if (!isfinite(v) || (key->open ? !(v > key->lo) : !(v >= key->lo)) ||
            (key->hi > key->lo && v > key->hi))
            return rg_fail_key(err, where, k, "%g is out of range; %s %s (%se.g. %s = %s)", v,
                               key->name, range_text(key, range, sizeof range),
                               !strcmp(key->name, "grad_clip") ? "0 turns clipping off; " : "",
                               key->name, key->def);
        return 0;
    }
    case RG_V_PATH: {
        size_t len = strnlen(at, RG_PATH_MAX);
        if (len == 0 && key->lo > 0)
            return rg_fail_key(err, where, k, "empty path; write e.g. %s = %s", key->name,
                               key->def);
        if (len >= RG_PATH_MAX)
            return rg_fail_key(err, where, k, "longer than %d bytes; use a shorter path",
                               RG_PATH_MAX - 1);
        return 0;
    }
    case RG_V_POS: {
        const rg_scheme_list *p = at;
        if (p->n < 1) return rg_fail_key(err, where, k, "no scheme; e.g. pos = %s", key->def);
        return 0;
    }
    case RG_V_TASK_LIST:
    case RG_V_POS_LISTS: {
        int n = *(const int *)((const char *)c + key->count_offset);
        if (n < 1)
            return rg_fail_key(err, where, k, "no entries; e.g. %s = %s", key->name, key->def);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < i; j++) {
                bool same = key->kind == RG_V_TASK_LIST
                                ? c->tasks[i] == c->tasks[j]
                                : rg_scheme_list_equal(&c->positions[i], &c->positions[j]) &&
                                      !strcmp(c->position_keys[i], c->position_keys[j]);
                if (same)
                    return rg_fail_key(err, where, k, "entry %d repeats entry %d; list each once",
                                       i + 1, j + 1);
            }
        return 0;
    }
    default: /* lengths and seeds are checked as they are parsed */
        return 0;
    }
}

/* ---- names of a grid's runs ------------------------------------------------------------- */

const char *rg_config_run_pos(const rg_config *c, char sep, char *buf, size_t n) {
    char pos[256];
    snprintf(buf, n, "%s%s", rg_scheme_list_text(&c->model.schemes, sep, pos, sizeof pos),
             c->entry_keys);
    return buf;
}

const char *rg_config_entry_name(const rg_config *base, int p, char sep, char *buf, size_t n) {
    char pos[256];
    snprintf(buf, n, "%s%s", rg_scheme_list_text(&base->positions[p], sep, pos, sizeof pos),
             base->position_keys[p]);
    return buf;
}

rg_data_spec rg_config_data_spec(const rg_config *c, bool training) {
    return (rg_data_spec){.arch = c->model.arch,
                          .task = c->task,
                          .n_symbols = c->model.n_symbols,
                          .digits = c->digits,
                          .lengths = training ? c->length_sampling : RG_LENGTHS_PER_EXAMPLE,
                          .n_hints = c->index_hints ? c->model.n_hints : 0,
                          .coupled_max = c->coupled_positions ? c->coupled_max : 0,
                          .coupled_plus = c->coupled_plus,
                          .coupled_bos = c->coupled_bos,
                          .abacus = c->model.abacus,
                          .training = training};
}
