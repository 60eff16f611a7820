/* config.c: the settings of a run (SPEC section 5): the key table, defaults,
 * parsing one key's text, reading INI files (through inih) and key=value
 * arguments, and validation of ranges and combinations.
 *
 * Every error message has the form
 *     WHERE: key 'KEY': WHAT IS WRONG; HOW TO FIX
 * where WHERE is "file:line", "argument N" (N counts the key=value
 * arguments from 1) or, for a value that was never set, the `where` given to
 * rg_config_validate. Each key remembers where it was last set
 * (rg_config.where), so a combination error found later still points at the
 * line to edit.
 *
 * Decisions worth knowing:
 *   - segment_len > 0 needs mem_len > 0 and mem_len > 0 needs segment_len > 0:
 *     either alone would be silently ignored by the model, so it is an error.
 *   - t5_buckets must be even (SPEC's e = t5_buckets / 2 must be whole).
 *   - `learned` needs every position the model reads: an example of input
 *     length n is read at positions 0 .. rg_task_seq_len(task, n) - 2 (the
 *     last token, EOS, is only a target), for n = train_len and every eval
 *     length.
 *   - Duplicate keys in one file are errors; repeated key=value arguments are
 *     not (the last one wins, so scripts can append overrides).
 *   - Reals are written back by rg_config_get with the fewest of 15, 16 or 17
 *     significant digits that read back to the same double (17 always does).
 */
#include "relgrad/config.h"
#include "relgrad/data.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- names ------------------------------------------------------------------ */

static const char *const POS_NAMES[RG_POS_COUNT] = {"none",  "sinusoidal", "learned", "rope",
                                                    "alibi", "t5",         "xl",      "deberta"};
static const char *const TASK_NAMES[RG_TASK_COUNT] = {"copy", "reverse", "sort", "duplicate"};

#define POS_LIST_TEXT  "none, sinusoidal, learned, rope, alibi, t5, xl, deberta"
#define TASK_LIST_TEXT "copy, reverse, sort, duplicate"

const char *rg_pos_name(rg_pos p) {
    return p >= 0 && p < RG_POS_COUNT ? POS_NAMES[p] : "?";
}
const char *rg_task_name(rg_task t) {
    return t >= 0 && t < RG_TASK_COUNT ? TASK_NAMES[t] : "?";
}

int rg_pos_parse(const char *s) {
    for (int i = 0; i < RG_POS_COUNT; i++)
        if (!strcmp(s, POS_NAMES[i])) return i;
    return -1;
}

int rg_task_parse(const char *s) {
    for (int i = 0; i < RG_TASK_COUNT; i++)
        if (!strcmp(s, TASK_NAMES[i])) return i;
    return -1;
}

bool rg_pos_is_relative(rg_pos p) {
    return p != RG_POS_SINUSOIDAL && p != RG_POS_LEARNED;
}

int rg_task_seq_len(rg_task t, int n) {
    return n + rg_task_out_len(t, n) + 3;
}

/* ---- the key table ---------------------------------------------------------- */

enum {
    K_D_MODEL,
    K_N_HEADS,
    K_N_LAYERS,
    K_D_FF,
    K_POS,
    K_MAX_POSITIONS,
    K_ROPE_BASE,
    K_ROPE_SCALE,
    K_T5_BUCKETS,
    K_T5_MAX_DISTANCE,
    K_DEBERTA_SPAN,
    K_MEM_LEN,
    K_SEGMENT_LEN,
    K_INIT_STD,
    K_TASK,
    K_N_SYMBOLS,
    K_TRAIN_LEN,
    K_EVAL_LENS,
    K_EVAL_N,
    K_STEPS,
    K_BATCH_SIZE,
    K_LR,
    K_WARMUP,
    K_WEIGHT_DECAY,
    K_GRAD_CLIP,
    K_SEED,
    K_THREADS,
    K_OUT_DIR,
    K_CHECKPOINT_EVERY,
    K_EVAL_EVERY,
    K_TASKS,
    K_POSITIONS,
    K_SEEDS,
    K_COUNT
};
_Static_assert(K_COUNT == RG_N_KEYS, "RG_N_KEYS in config.h must match the key table");

/* Longest sequence input length we accept (keeps 3n + 3 far from int overflow)
 * and the largest alphabet. */
#define MAX_LEN         1000000
#define MAX_SYMBOLS     1000000
#define MAX_PARAMS      5e8 /* parameter values: 2 GB in float32, x4 with grads and moments */
#define MAX_ACTIVATIONS 4e9 /* values one training step may keep: 16 GB in float32 */
#define MAX_THREADS     1024

static const rg_key_info KEYS[K_COUNT] = {
    [K_D_MODEL] = {"d_model", "model", RG_KEY_INT,
                   "width of the residual stream; >= 1, divisible by n_heads (even for sinusoidal "
                   "and xl)"},
    [K_N_HEADS] = {"n_heads", "model", RG_KEY_INT,
                   "attention heads; >= 1, divides d_model (head size d_model/n_heads even for "
                   "rope)"},
    [K_N_LAYERS] = {"n_layers", "model", RG_KEY_INT, "Transformer blocks; >= 1"},
    [K_D_FF] = {"d_ff", "model", RG_KEY_INT, "hidden width of the MLP; >= 1"},
    [K_POS] = {"pos", "model", RG_KEY_STRING,
               "positional scheme: " POS_LIST_TEXT " (experiment: replaced by positions)"},
    [K_MAX_POSITIONS] = {"max_positions", "model", RG_KEY_INT,
                         "rows of the learned position table; >= 1, and for pos = learned at least "
                         "the longest sequence read"},
    [K_ROPE_BASE] = {"rope_base", "model", RG_KEY_REAL, "RoPE frequency base; > 1 (10000)"},
    [K_ROPE_SCALE] = {"rope_scale", "model", RG_KEY_REAL,
                      "RoPE position interpolation factor (angles divided by it); > 0 (1 = off)"},
    [K_T5_BUCKETS] = {"t5_buckets", "model", RG_KEY_INT,
                      "T5 relative-position buckets; even, >= 2 (32)"},
    [K_T5_MAX_DISTANCE] = {"t5_max_distance", "model", RG_KEY_INT,
                           "T5 distance from which every offset shares the last bucket; > "
                           "t5_buckets/2 (128)"},
    [K_DEBERTA_SPAN] = {"deberta_span", "model", RG_KEY_INT,
                        "DeBERTa span K: relative distances clamped to [-K, K-1]; >= 1 (16)"},
    [K_MEM_LEN] = {"mem_len", "model", RG_KEY_INT,
                   "Transformer-XL memory length M per layer; >= 0 (0 = no recurrence); > 0 "
                   "needs a relative pos and segment_len > 0"},
    [K_SEGMENT_LEN] = {"segment_len", "model", RG_KEY_INT,
                       "tokens per segment with memory; >= 0 (0 = whole sequence); > 0 needs "
                       "mem_len > 0"},
    [K_INIT_STD] = {"init_std", "model", RG_KEY_REAL,
                    "standard deviation of the normal weight init; > 0 (0.02)"},
    [K_TASK] = {"task", "task", RG_KEY_STRING,
                "synthetic task: " TASK_LIST_TEXT " (experiment: replaced by tasks)"},
    [K_N_SYMBOLS] = {"n_symbols", "task", RG_KEY_INT,
                     "alphabet size; 2 .. 1000000 (vocabulary = n_symbols + 4)"},
    [K_TRAIN_LEN] = {"train_len", "task", RG_KEY_INT,
                     "training input lengths are drawn from 1 .. train_len; 1 .. 1000000"},
    [K_EVAL_LENS] = {"eval_lens", "task", RG_KEY_STRING,
                     "comma list of evaluation input lengths, each 1 .. 1000000, no repeats, at "
                     "most 32"},
    [K_EVAL_N] = {"eval_n", "task", RG_KEY_INT, "examples evaluated per length; >= 1"},
    [K_STEPS] = {"steps", "train", RG_KEY_INT, "optimizer steps (bench: timed steps); >= 1"},
    [K_BATCH_SIZE] = {"batch_size", "train", RG_KEY_INT, "examples per step; >= 1"},
    [K_LR] = {"lr", "train", RG_KEY_REAL, "peak AdamW learning rate; > 0"},
    [K_WARMUP] = {"warmup", "train", RG_KEY_INT,
                  "steps of linear learning-rate warm-up before cosine decay; >= 0"},
    [K_WEIGHT_DECAY] = {"weight_decay", "train", RG_KEY_REAL, "AdamW decoupled weight decay; >= 0"},
    [K_GRAD_CLIP] = {"grad_clip", "train", RG_KEY_REAL,
                     "clip the global gradient norm to this; >= 0 (0 = off)"},
    [K_SEED] = {"seed", "train", RG_KEY_INT,
                "seed of initialisation and training data; 0 .. 2147483647 (experiment: "
                "replaced by seeds)"},
    [K_THREADS] = {"threads", "train", RG_KEY_INT, "worker threads (OpenMP, BLIS); 1 .. 1024"},
    [K_OUT_DIR] = {"out_dir", "train", RG_KEY_STRING,
                   "output directory (checkpoints, logs, results); non-empty, under 512 bytes"},
    [K_CHECKPOINT_EVERY] = {"checkpoint_every", "train", RG_KEY_INT,
                            "write a checkpoint every this many steps (and at the end); >= 1"},
    [K_EVAL_EVERY] = {"eval_every", "train", RG_KEY_INT,
                      "evaluate every this many steps (and at the end); >= 1"},
    [K_TASKS] = {"tasks", "experiment", RG_KEY_STRING,
                 "comma list of tasks for the experiment grid, from " TASK_LIST_TEXT},
    [K_POSITIONS] =
        {"positions", "experiment", RG_KEY_STRING,
         "comma list of positional schemes for the experiment grid, from " POS_LIST_TEXT},
    [K_SEEDS] = {"seeds", "experiment", RG_KEY_STRING,
                 "comma list of seeds for the experiment grid, each 0 .. 2147483647, no repeats"},
};

int rg_config_keys(const rg_key_info **keys) {
    *keys = KEYS;
    return K_COUNT;
}

/* How each key's text is parsed and where the value lives. */
typedef enum { V_INT, V_REAL, V_STRING, V_POS, V_TASK, V_INT_LIST, V_TASK_LIST, V_POS_LIST } kind;

/* Single-key range: for ints and int-list entries [lo, hi]; for reals
 * `lo` with `open` meaning strictly greater (reals have no upper bound). */
typedef struct key_def {
    kind kind;
    size_t offset;       /* of the value (or the list's array) in rg_config */
    size_t count_offset; /* lists: of the entry count                        */
    double lo, hi;
    bool open;
} key_def;

#define AT(field) offsetof(rg_config, field)
#define INT(field, lo, hi)                                                                         \
    { V_INT, AT(field), 0, lo, hi, false }
#define REAL(field, lo, open)                                                                      \
    { V_REAL, AT(field), 0, lo, 0, open }
#define LIST(k, arr, n, lo, hi)                                                                    \
    { k, AT(arr), AT(n), lo, hi, false }

static const key_def DEFS[K_COUNT] = {
    [K_D_MODEL] = INT(d_model, 1, INT_MAX),
    [K_N_HEADS] = INT(n_heads, 1, INT_MAX),
    [K_N_LAYERS] = INT(n_layers, 1, INT_MAX),
    [K_D_FF] = INT(d_ff, 1, INT_MAX),
    [K_POS] = {V_POS, AT(pos), 0, 0, 0, false},
    [K_MAX_POSITIONS] = INT(max_positions, 1, INT_MAX),
    [K_ROPE_BASE] = REAL(rope_base, 1, true),
    [K_ROPE_SCALE] = REAL(rope_scale, 0, true),
    [K_T5_BUCKETS] = INT(t5_buckets, 2, INT_MAX), /* and even: see check_key */
    [K_T5_MAX_DISTANCE] = INT(t5_max_distance, 1, INT_MAX),
    [K_DEBERTA_SPAN] = INT(deberta_span, 1, INT_MAX),
    [K_MEM_LEN] = INT(mem_len, 0, INT_MAX),
    [K_SEGMENT_LEN] = INT(segment_len, 0, INT_MAX),
    [K_INIT_STD] = REAL(init_std, 0, true),
    [K_TASK] = {V_TASK, AT(task), 0, 0, 0, false},
    [K_N_SYMBOLS] = INT(n_symbols, 2, MAX_SYMBOLS),
    [K_TRAIN_LEN] = INT(train_len, 1, MAX_LEN),
    [K_EVAL_LENS] = LIST(V_INT_LIST, eval_lens, n_eval_lens, 1, MAX_LEN),
    [K_EVAL_N] = INT(eval_n, 1, INT_MAX),
    [K_STEPS] = INT(steps, 1, INT_MAX),
    [K_BATCH_SIZE] = INT(batch_size, 1, INT_MAX),
    [K_LR] = REAL(lr, 0, true),
    [K_WARMUP] = INT(warmup, 0, INT_MAX),
    [K_WEIGHT_DECAY] = REAL(weight_decay, 0, false),
    [K_GRAD_CLIP] = REAL(grad_clip, 0, false),
    [K_SEED] = INT(seed, 0, INT_MAX),
    [K_THREADS] = INT(threads, 1, MAX_THREADS),
    [K_OUT_DIR] = {V_STRING, AT(out_dir), 0, 0, 0, false},
    [K_CHECKPOINT_EVERY] = INT(checkpoint_every, 1, INT_MAX),
    [K_EVAL_EVERY] = INT(eval_every, 1, INT_MAX),
    [K_TASKS] = LIST(V_TASK_LIST, tasks, n_tasks, 0, 0),
    [K_POSITIONS] = LIST(V_POS_LIST, positions, n_positions, 0, 0),
    [K_SEEDS] = LIST(V_INT_LIST, seeds, n_seeds, 0, INT_MAX),
};

/* Typed views of one key's storage (pos, task and the name lists are read
 * and written through their own fields instead). */
static int *int_at(rg_config *c, int k) {
    return (int *)((char *)c + DEFS[k].offset);
}
static double *real_at(rg_config *c, int k) {
    return (double *)((char *)c + DEFS[k].offset);
}
static int *count_at(rg_config *c, int k) {
    return (int *)((char *)c + DEFS[k].count_offset);
}
static const void *cfield(const rg_config *c, size_t off) {
    return (const char *)c + off;
}

static int find_key(const char *name) {
    for (int k = 0; k < K_COUNT; k++)
        if (!strcmp(name, KEYS[k].name)) return k;
    return -1;
}

/* ---- defaults ---------------------------------------------------------------- */

void rg_config_defaults(rg_config *c) {
    memset(c, 0, sizeof *c); /* also: every where[] record empty */
    c->d_model = 64, c->n_heads = 4, c->n_layers = 2, c->d_ff = 256;
    c->pos = RG_POS_ROPE, c->max_positions = 256;
    c->rope_base = 10000, c->rope_scale = 1;
    c->t5_buckets = 32, c->t5_max_distance = 128, c->deberta_span = 16;
    c->mem_len = 0, c->segment_len = 0, c->init_std = 0.02;
    c->task = RG_TASK_COPY, c->n_symbols = 16, c->train_len = 16;
    static const int eval_lens[] = {8, 16, 24, 32, 48, 64};
    c->n_eval_lens = (int)(sizeof eval_lens / sizeof eval_lens[0]);
    memcpy(c->eval_lens, eval_lens, sizeof eval_lens);
    c->eval_n = 200;
    c->steps = 2000, c->batch_size = 32, c->lr = 1e-3, c->warmup = 100;
    c->weight_decay = 0.1, c->grad_clip = 1.0, c->seed = 1, c->threads = 2;
    strcpy(c->out_dir, "out");
    c->checkpoint_every = 500, c->eval_every = 500;
    c->tasks[0] = RG_TASK_COPY, c->n_tasks = 1;
    c->positions[0] = RG_POS_ROPE, c->n_positions = 1;
    c->seeds[0] = 1, c->n_seeds = 1;
}

/* ---- messages ------------------------------------------------------------------ */

/* "WHERE: key 'KEY': ..." ; returns 2. */
static int fail_key(rg_error *err, const char *where, int k, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail_key(rg_error *err, const char *where, int k, const char *fmt, ...) {
    char what[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(err->msg, sizeof err->msg, "%.200s: key '%s': %s", where, KEYS[k].name, what);
    return 2;
}

static int fail(rg_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(rg_error *err, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return 2;
}

/* The default value of key k as text, for "e.g. d_model = 64" hints. */
static const char *default_text(int k, char *buf, size_t n) {
    rg_config d;
    rg_config_defaults(&d);
    rg_config_get(&d, KEYS[k].name, buf, n);
    return buf;
}

/* Remember where key k was set. A long path keeps its end ("...dir/x.ini:3"),
 * which holds the file name and line. */
static void set_where(rg_config *c, int k, const char *where) {
    char *dst = c->where[k];
    size_t len = strlen(where);
    if (len < RG_WHERE_MAX) {
        memcpy(dst, where, len + 1);
    } else {
        const char *tail = where + len - (RG_WHERE_MAX - 4);
        memcpy(dst, "...", 3);
        memcpy(dst + 3, tail, RG_WHERE_MAX - 3); /* includes the '\0' */
    }
}

/* Where key k came from, or `fallback` when it still has its default. */
static const char *origin(const rg_config *c, int k, const char *fallback) {
    return c->where[k][0] ? c->where[k] : fallback;
}

/* " (set at quick.ini:3)" or " (default)": for the other key of a pair. */
static const char *origin_note(const rg_config *c, int k, char *buf, size_t n) {
    if (c->where[k][0])
        snprintf(buf, n, " (set at %s)", c->where[k]);
    else
        snprintf(buf, n, " (default)");
    return buf;
}

/* Optimal string alignment distance (edits, with swaps of neighbours counted
 * as one), case-insensitive; for "did you mean" hints. Names longer than 63
 * characters are too far from every key anyway. */
static int edit_distance(const char *a, const char *b) {
    int la = (int)strlen(a), lb = (int)strlen(b);
    if (la > 63 || lb > 63) return 99;
    int d[64][64];
    for (int i = 0; i <= la; i++) d[i][0] = i;
    for (int j = 0; j <= lb; j++) d[0][j] = j;
    for (int i = 1; i <= la; i++)
        for (int j = 1; j <= lb; j++) {
            int ca = tolower((unsigned char)a[i - 1]), cb = tolower((unsigned char)b[j - 1]);
            int best = d[i - 1][j - 1] + (ca != cb);
            if (d[i - 1][j] + 1 < best) best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best) best = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && ca == tolower((unsigned char)b[j - 2]) &&
                cb == tolower((unsigned char)a[i - 2]) && d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    return d[la][lb];
}

/* The closest of n names to s when it is close enough to be a likely typo
 * (1 edit for names up to 4 characters, 2 up to 8, 3 beyond), else NULL. */
static const char *closest(const char *s, const char *const *names, int n) {
    const char *best = NULL;
    int best_d = 99;
    for (int i = 0; i < n; i++) {
        int dist = edit_distance(s, names[i]);
        if (dist < best_d) best_d = dist, best = names[i];
    }
    if (!best) return NULL;
    int len = (int)strlen(best), allowed = len <= 4 ? 1 : len <= 8 ? 2 : 3;
    return best_d <= allowed ? best : NULL;
}

static int fail_unknown_key(rg_error *err, const char *where, const char *name) {
    const char *names[K_COUNT];
    for (int k = 0; k < K_COUNT; k++) names[k] = KEYS[k].name;
    const char *near = closest(name, names, K_COUNT);
    if (near)
        return fail(err, "%.200s: unknown key '%.64s'; did you mean '%s'?", where, name, near);
    char list[600] = "";
    for (int k = 0; k < K_COUNT; k++) {
        strcat(list, KEYS[k].name);
        if (k + 1 < K_COUNT) strcat(list, ", ");
    }
    return fail(err, "%.200s: unknown key '%.64s'; valid keys are %s", where, name, list);
}

/* ---- parsing one value --------------------------------------------------------- */

/* A whole number in int range; on failure writes what is wrong into why. */
static bool parse_int(const char *s, int *out, char *why, size_t n) {
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (end == s || isspace((unsigned char)*s)) {
        snprintf(why, n, "'%.40s' is not a whole number", s);
        return false;
    }
    if (*end) {
        if (*end == '.' || *end == 'e' || *end == 'E')
            snprintf(why, n, "'%.40s' is not a whole number (no fractions or exponents)", s);
        else
            snprintf(why, n, "'%.40s' is not a whole number (unexpected '%.20s' after %.*s)", s,
                     end, (int)(end - s), s);
        return false;
    }
    if (errno == ERANGE || v < INT_MIN || v > INT_MAX) {
        snprintf(why, n, "%.40s is outside the int range %d .. %d", s, INT_MIN, INT_MAX);
        return false;
    }
    *out = (int)v;
    return true;
}

/* A finite real number. */
static bool parse_real(const char *s, double *out, char *why, size_t n) {
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (end == s || isspace((unsigned char)*s)) {
        snprintf(why, n, "'%.40s' is not a number", s);
        return false;
    }
    if (*end) {
        snprintf(why, n, "'%.40s' is not a number (unexpected '%.20s' after %.*s)", s, end,
                 (int)(end - s), s);
        return false;
    }
    if (errno == ERANGE) {
        snprintf(why, n, "%.40s is outside the range of a double (about 1e-308 .. 1e308)", s);
        return false;
    }
    if (!isfinite(v)) {
        snprintf(why, n, "'%.40s' is not a finite number", s);
        return false;
    }
    *out = v;
    return true;
}

/* Copy s without leading and trailing white space into buf (n bytes);
 * false when it does not fit. */
static bool trimmed(const char *s, char *buf, size_t n) {
    while (isspace((unsigned char)*s)) s++;
    size_t len = strlen(s);
    while (len > 0 && isspace((unsigned char)s[len - 1])) len--;
    if (len >= n) return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    return true;
}

/* Parse the comma list `text` of key k into c. */
static int parse_list(rg_config *c, int k, const char *text, const char *where, rg_error *err) {
    const key_def *def = &DEFS[k];
    int count = 0;
    const char *p = text;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char raw[64], item[64];
        if (len >= sizeof raw)
            return fail_key(err, where, k, "entry %d ('%.20s...') is too long", count + 1, p);
        memcpy(raw, p, len);
        raw[len] = '\0';
        trimmed(raw, item, sizeof item);
        if (!item[0])
            return fail_key(err, where, k,
                            "entry %d is empty; write the entries separated by single commas, "
                            "e.g. %s = %s",
                            count + 1, KEYS[k].name, default_text(k, raw, sizeof raw));
        if (count == RG_MAX_LIST)
            return fail_key(err, where, k, "more than %d entries; keep at most %d", RG_MAX_LIST,
                            RG_MAX_LIST);
        char why[160];
        if (def->kind == V_INT_LIST) {
            int v;
            if (!parse_int(item, &v, why, sizeof why))
                return fail_key(err, where, k, "entry %d: %s; write whole numbers, e.g. %s = %s",
                                count + 1, why, KEYS[k].name, default_text(k, raw, sizeof raw));
            ((int *)((char *)c + def->offset))[count] = v;
        } else if (def->kind == V_TASK_LIST) {
            int t = rg_task_parse(item);
            if (t < 0) {
                const char *near = closest(item, TASK_NAMES, RG_TASK_COUNT);
                return fail_key(err, where, k, "entry %d: unknown task '%s'%s%s%s; valid tasks: %s",
                                count + 1, item, near ? " (did you mean '" : "", near ? near : "",
                                near ? "'?)" : "", TASK_LIST_TEXT);
            }
            c->tasks[count] = (rg_task)t;
        } else {
            int t = rg_pos_parse(item);
            if (t < 0) {
                const char *near = closest(item, POS_NAMES, RG_POS_COUNT);
                return fail_key(err, where, k,
                                "entry %d: unknown scheme '%s'%s%s%s; valid schemes: %s", count + 1,
                                item, near ? " (did you mean '" : "", near ? near : "",
                                near ? "'?)" : "", POS_LIST_TEXT);
            }
            c->positions[count] = (rg_pos)t;
        }
        count++;
        if (!comma) break;
        p = comma + 1;
    }
    *count_at(c, k) = count;
    return 0;
}

/* The text of a list entry i of key k (for messages). */
static const char *entry_text(const rg_config *c, int k, int i, char *buf, size_t n) {
    const key_def *def = &DEFS[k];
    if (def->kind == V_INT_LIST)
        snprintf(buf, n, "%d", ((const int *)cfield(c, def->offset))[i]);
    else if (def->kind == V_TASK_LIST)
        snprintf(buf, n, "%s", rg_task_name(c->tasks[i]));
    else
        snprintf(buf, n, "%s", rg_pos_name(c->positions[i]));
    return buf;
}

/* Integer entry i of a list key, or the enum value of a task/pos entry. */
static int entry_value(const rg_config *c, int k, int i) {
    const key_def *def = &DEFS[k];
    if (def->kind == V_INT_LIST) return ((const int *)cfield(c, def->offset))[i];
    if (def->kind == V_TASK_LIST) return (int)c->tasks[i];
    return (int)c->positions[i];
}

/* "must be >= 1", "must be > 0", "must be 2 .. 1000000" */
static const char *range_text(const key_def *def, char *buf, size_t n) {
    if (def->kind == V_REAL)
        snprintf(buf, n, "must be %s %g", def->open ? ">" : ">=", def->lo);
    else if (def->hi >= INT_MAX)
        snprintf(buf, n, "must be >= %.0f", def->lo);
    else
        snprintf(buf, n, "must be %.0f .. %.0f", def->lo, def->hi);
    return buf;
}

/* Check the single-key constraints of key k on the value c holds. */
static int check_key(const rg_config *c, int k, const char *where, rg_error *err) {
    const key_def *def = &DEFS[k];
    const char *name = KEYS[k].name;
    char range[64], eg[64];
    switch (def->kind) {
    case V_INT: {
        int v = *(const int *)cfield(c, def->offset);
        if (v < def->lo || v > def->hi)
            return fail_key(err, where, k, "%d is out of range; %s %s (e.g. %s = %s)", v, name,
                            range_text(def, range, sizeof range), name,
                            default_text(k, eg, sizeof eg));
        if (k == K_T5_BUCKETS && v % 2)
            return fail_key(err, where, k,
                            "%d is odd; t5_buckets must be even (half of the buckets hold exact "
                            "distances), e.g. t5_buckets = %d",
                            v, v + 1);
        return 0;
    }
    case V_REAL: {
        double v = *(const double *)cfield(c, def->offset);
        if (!isfinite(v) || (def->open ? !(v > def->lo) : !(v >= def->lo)))
            return fail_key(err, where, k, "%g is out of range; %s %s (%se.g. %s = %s)", v, name,
                            range_text(def, range, sizeof range),
                            k == K_GRAD_CLIP ? "0 turns clipping off; " : "", name,
                            default_text(k, eg, sizeof eg));
        return 0;
    }
    case V_STRING: {
        size_t len = strnlen(c->out_dir, sizeof c->out_dir);
        if (len == 0)
            return fail_key(err, where, k, "empty directory name; write e.g. out_dir = out");
        if (len >= sizeof c->out_dir)
            return fail_key(err, where, k, "longer than %d bytes; use a shorter path",
                            RG_PATH_MAX - 1);
        return 0;
    }
    case V_POS:
        if (c->pos < 0 || c->pos >= RG_POS_COUNT)
            return fail_key(err, where, k, "invalid scheme %d; valid schemes: %s", (int)c->pos,
                            POS_LIST_TEXT);
        return 0;
    case V_TASK:
        if (c->task < 0 || c->task >= RG_TASK_COUNT)
            return fail_key(err, where, k, "invalid task %d; valid tasks: %s", (int)c->task,
                            TASK_LIST_TEXT);
        return 0;
    case V_INT_LIST:
    case V_TASK_LIST:
    case V_POS_LIST: {
        int n = *(const int *)cfield(c, def->count_offset);
        if (n < 1 || n > RG_MAX_LIST)
            return fail_key(err, where, k, "needs 1 .. %d entries (has %d); e.g. %s = %s",
                            RG_MAX_LIST, n, name, default_text(k, eg, sizeof eg));
        for (int i = 0; i < n; i++) {
            int v = entry_value(c, k, i);
            char a[64];
            if (def->kind == V_INT_LIST && (v < def->lo || v > def->hi))
                return fail_key(err, where, k, "entry %d is %d, out of range; entries %s", i + 1, v,
                                range_text(def, range, sizeof range));
            if (def->kind == V_TASK_LIST && (v < 0 || v >= RG_TASK_COUNT))
                return fail_key(err, where, k, "entry %d: invalid task %d; valid tasks: %s", i + 1,
                                v, TASK_LIST_TEXT);
            if (def->kind == V_POS_LIST && (v < 0 || v >= RG_POS_COUNT))
                return fail_key(err, where, k, "entry %d: invalid scheme %d; valid schemes: %s",
                                i + 1, v, POS_LIST_TEXT);
            for (int j = 0; j < i; j++)
                if (entry_value(c, k, j) == v)
                    return fail_key(err, where, k,
                                    "'%s' is listed twice (entries %d and %d); list each once",
                                    entry_text(c, k, i, a, sizeof a), j + 1, i + 1);
        }
        return 0;
    }
    }
    return 0;
}

int rg_config_set(rg_config *c, const char *key, const char *value, const char *where,
                  rg_error *err) {
    if (!where || !where[0]) where = "config";
    char name[128];
    if (!trimmed(key, name, sizeof name) || !name[0])
        return fail(err,
                    "%.200s: missing key name before '='; write key = value, e.g. d_model = 64",
                    where);
    int k = find_key(name);
    if (k < 0) return fail_unknown_key(err, where, name);

    char text[1024], eg[64], why[200];
    if (!trimmed(value, text, sizeof text))
        return fail_key(err, where, k, "the value is longer than %d characters; shorten it",
                        (int)sizeof text - 1);
    if (!text[0])
        return fail_key(err, where, k, "missing value; write e.g. %s = %s", name,
                        default_text(k, eg, sizeof eg));
    /* An inline comment must start with ';' after white space; '#' only works
     * at the start of a line. Say so when a value looks like "64 # width". */
    const char *hash = strstr(text, " #");
    const char *comment_hint =
        hash ? " (a comment after a value starts with ' ;': '#' only starts a whole-line comment)"
             : "";

    rg_config tmp = *c;
    const key_def *def = &DEFS[k];
    switch (def->kind) {
    case V_INT:
        if (!parse_int(text, int_at(&tmp, k), why, sizeof why))
            return fail_key(err, where, k, "%s; write a whole number, e.g. %s = %s%s", why, name,
                            default_text(k, eg, sizeof eg), comment_hint);
        break;
    case V_REAL:
        if (!parse_real(text, real_at(&tmp, k), why, sizeof why))
            return fail_key(err, where, k, "%s; write a number such as %s = %s%s", why, name,
                            default_text(k, eg, sizeof eg), comment_hint);
        break;
    case V_STRING:
        if (strlen(text) >= sizeof tmp.out_dir)
            return fail_key(err, where, k, "longer than %d bytes; use a shorter path",
                            RG_PATH_MAX - 1);
        strcpy(tmp.out_dir, text);
        break;
    case V_POS: {
        int p = rg_pos_parse(text);
        if (p < 0) {
            const char *near = closest(text, POS_NAMES, RG_POS_COUNT);
            return fail_key(err, where, k, "unknown scheme '%.64s'%s%s%s; valid schemes: %s", text,
                            near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "",
                            POS_LIST_TEXT);
        }
        tmp.pos = (rg_pos)p;
        break;
    }
    case V_TASK: {
        int t = rg_task_parse(text);
        if (t < 0) {
            const char *near = closest(text, TASK_NAMES, RG_TASK_COUNT);
            return fail_key(err, where, k, "unknown task '%.64s'%s%s%s; valid tasks: %s", text,
                            near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "",
                            TASK_LIST_TEXT);
        }
        tmp.task = (rg_task)t;
        break;
    }
    case V_INT_LIST:
    case V_TASK_LIST:
    case V_POS_LIST:
        if (parse_list(&tmp, k, text, where, err)) return 2;
        break;
    }
    if (check_key(&tmp, k, where, err)) return 2;
    *c = tmp;
    set_where(c, k, where);
    return 0;
}

/* Reals: the shortest of %.15g, %.16g, %.17g that reads back exactly. */
static int print_real(double v, char *buf, size_t n) {
    int len = 0;
    for (int digits = 15; digits <= 17; digits++) {
        len = snprintf(buf, n, "%.*g", digits, v);
        if (len >= 0 && (size_t)len < n && strtod(buf, NULL) == v) break;
    }
    return len;
}

/* Returns 0, or -1 when the key is unknown or buf is too small (buf then
 * holds a truncated, '\0'-terminated text). */
int rg_config_get(const rg_config *c, const char *key, char *buf, size_t n) {
    int k = find_key(key);
    if (n == 0) return -1;
    buf[0] = '\0';
    if (k < 0) return -1;
    const key_def *def = &DEFS[k];
    int len = 0;
    switch (def->kind) {
    case V_INT:
        len = snprintf(buf, n, "%d", *(const int *)cfield(c, def->offset));
        break;
    case V_REAL:
        len = print_real(*(const double *)cfield(c, def->offset), buf, n);
        break;
    case V_STRING:
        len = snprintf(buf, n, "%s", c->out_dir);
        break;
    case V_POS:
        len = snprintf(buf, n, "%s", rg_pos_name(c->pos));
        break;
    case V_TASK:
        len = snprintf(buf, n, "%s", rg_task_name(c->task));
        break;
    case V_INT_LIST:
    case V_TASK_LIST:
    case V_POS_LIST: {
        int count = *(const int *)cfield(c, def->count_offset);
        size_t used = 0;
        for (int i = 0; i < count && i < RG_MAX_LIST; i++) {
            char item[32];
            int m = snprintf(buf + used, n - used, "%s%s", i ? "," : "",
                             entry_text(c, k, i, item, sizeof item));
            if (m < 0 || (size_t)m >= n - used) return -1;
            used += (size_t)m;
        }
        len = (int)used;
        break;
    }
    }
    return len >= 0 && (size_t)len < n ? 0 : -1;
}

/* ---- INI files --------------------------------------------------------------------
 *
 * inih (Debian's build, without INI_HANDLER_LINENO) does not tell the handler
 * which line it is on. So we hand inih the file ourselves, one line per call
 * of the reader: inih calls the reader exactly once per line and handles that
 * line (calling the handler for a key = value line) before asking for the
 * next, so the number of reader calls so far is the line number of every
 * handler call. Before passing a line on, the reader
 *   - strips leading white space (and a UTF-8 byte order mark on line 1), so
 *     that inih never takes an indented line for a continuation of the
 *     previous value: every key line is handled on its own line;
 *   - rejects lines inih would reject without telling us why (no '=', a
 *     section without ']') and lines longer than inih's buffer;
 *   - stops the parse (returns NULL) once an error has been recorded, so the
 *     first error is the one reported.
 */

typedef struct ini_state {
    FILE *file;
    const char *path;
    rg_config *cfg;
    rg_error *err;
    bool failed;
    int line;            /* number of the line inih is handling */
    int set_at[K_COUNT]; /* line where each key was set in this file, 0 = not */
    char *buf;           /* getline buffer                                     */
    size_t cap;
} ini_state;

static int fail_line(ini_state *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail_line(ini_state *st, const char *fmt, ...) {
    char what[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(st->err->msg, sizeof st->err->msg, "%.300s:%d: %s", st->path, st->line, what);
    st->failed = true;
    return 0;
}

static char *ini_reader_fn(char *str, int num, void *stream) {
    ini_state *st = stream;
    if (st->failed) return NULL;
    ssize_t got = getline(&st->buf, &st->cap, st->file);
    if (got < 0) return NULL;
    st->line++;
    char *s = st->buf;
    if (st->line == 1 && (unsigned char)s[0] == 0xEF && (unsigned char)s[1] == 0xBB &&
        (unsigned char)s[2] == 0xBF)
        s += 3;
    while (*s == ' ' || *s == '\t') s++;
    size_t body = strlen(s); /* without the line end: */
    while (body > 0 && (s[body - 1] == '\n' || s[body - 1] == '\r')) body--;
    if (body + 3 > (size_t)num) {
        fail_line(st, "line is %zu characters long; lines may hold at most %d; shorten it", body,
                  num - 3);
        return NULL;
    }
    if (body > 0 && s[0] != ';' && s[0] != '#') {
        if (s[0] == '[') {
            if (!memchr(s, ']', body)) {
                fail_line(st, "section header '%.*s' has no closing ']'; write e.g. [model]",
                          (int)(body < 40 ? body : 40), s);
                return NULL;
            }
        } else if (!memchr(s, '=', body) && !memchr(s, ':', body)) {
            /* "d_model 64": when the first word is a key, show the fix. */
            size_t w = strcspn(s, " \t\r\n");
            char first[64] = "";
            if (w < sizeof first) memcpy(first, s, w), first[w] = '\0';
            const char *rest = s + w + strspn(s + w, " \t");
            int restlen = (int)(body - (size_t)(rest - s));
            if (first[0] && find_key(first) >= 0 && restlen > 0)
                fail_line(st, "'%.*s' is not of the form key = value; write %s = %.*s",
                          (int)(body < 60 ? body : 60), s, first, restlen < 60 ? restlen : 60,
                          rest);
            else
                fail_line(st,
                          "'%.*s' is not of the form key = value; write e.g. d_model = 64, or "
                          "start a comment with ';' or '#'",
                          (int)(body < 60 ? body : 60), s);
            return NULL;
        }
    }
    memcpy(str, s, body); /* body + 3 <= num: room for "\n\0" */
    str[body] = '\n';
    str[body + 1] = '\0';
    return str;
}

static int ini_handler_fn(void *user, const char *section, const char *name, const char *value) {
    (void)section; /* sections only group keys */
    ini_state *st = user;
    if (st->failed) return 0;
    if (!name[0])
        return fail_line(st, "missing key name before '='; write key = value, e.g. d_model = 64");
    int k = find_key(name);
    if (k < 0) {
        char where[RG_WHERE_MAX + 16];
        snprintf(where, sizeof where, "%.140s:%d", st->path, st->line);
        fail_unknown_key(st->err, where, name);
        st->failed = true;
        return 0;
    }
    if (st->set_at[k])
        return fail_line(st, "key '%s' is set twice (first at line %d); keep one of the two lines",
                         name, st->set_at[k]);
    char where[RG_PATH_MAX + 16];
    snprintf(where, sizeof where, "%s:%d", st->path, st->line);
    if (rg_config_set(st->cfg, name, value, where, st->err)) {
        st->failed = true;
        return 0;
    }
    st->set_at[k] = st->line;
    return 1;
}

int rg_config_load(rg_config *c, const char *path, rg_error *err) {
    FILE *f = fopen(path, "r");
    if (!f) {
        int e = errno;
        const char *fix = e == ENOENT   ? "check the path (relative paths start from the current "
                                          "directory)"
                          : e == EACCES ? "make the file readable (chmod u+r) or copy it"
                                        : "check the path and the file";
        return fail(err, "%.300s: cannot open the config file: %s; %s", path, strerror(e), fix);
    }
    struct stat sb;
    if (fstat(fileno(f), &sb) == 0 && S_ISDIR(sb.st_mode)) {
        fclose(f);
        return fail(err, "%.300s: is a directory, not a config file; give the path of an INI file",
                    path);
    }
    rg_config tmp = *c;
    ini_state st = {.file = f, .path = path, .cfg = &tmp, .err = err};
    int rc = ini_parse_stream(ini_reader_fn, &st, ini_handler_fn, &st);
    bool read_error = ferror(f) != 0;
    int e = errno;
    free(st.buf);
    fclose(f);
    if (st.failed) return 2;
    if (read_error)
        return fail(err, "%.300s: error reading the config file: %s; check the file", path,
                    strerror(e));
    if (rc == -2) return fail(err, "%.300s: out of memory while parsing", path);
    if (rc != 0) /* inih found a fault our reader did not: say where */
        return fail(err, "%.300s:%d: malformed line; write key = value, [section] or a ';' comment",
                    path, rc);
    *c = tmp;
    return 0;
}

/* ---- arguments ---------------------------------------------------------------- */

int rg_config_override(rg_config *c, int argc, char **argv, rg_error *err) {
    rg_config tmp = *c;
    for (int i = 0; i < argc; i++) {
        char where[32];
        snprintf(where, sizeof where, "argument %d", i + 1);
        const char *arg = argv[i];
        const char *eq = strchr(arg, '=');
        if (!eq) {
            char eg[64];
            int k = find_key(arg);
            if (k >= 0)
                return fail(err, "%s: '%s' has no value; write %s=VALUE, e.g. %s=%s", where, arg,
                            arg, arg, default_text(k, eg, sizeof eg));
            return fail(err, "%s: '%.64s' is not of the form key=value; write e.g. d_model=64",
                        where, arg);
        }
        char key[128];
        size_t klen = (size_t)(eq - arg);
        if (klen >= sizeof key) return fail_unknown_key(err, where, "(a very long name)");
        memcpy(key, arg, klen);
        key[klen] = '\0';
        if (rg_config_set(&tmp, key, eq + 1, where, err)) return 2;
    }
    *c = tmp;
    return 0;
}

/* ---- validation ---------------------------------------------------------------------- */

/* "1, 2, 4, 8" : the divisors of d (or, with even_quotient, those giving an
 * even quotient), at most 24 of them. */
static const char *divisors(int d, bool even_quotient, char *buf, size_t n) {
    size_t used = 0;
    int shown = 0;
    buf[0] = '\0';
    for (int h = 1; h <= d && h <= (1 << 20) && shown < 24; h++) {
        if (d % h || (even_quotient && (d / h) % 2)) continue;
        int m = snprintf(buf + used, n - used, "%s%d", shown ? ", " : "", h);
        if (m < 0 || (size_t)m >= n - used) break;
        used += (size_t)m, shown++;
    }
    return buf;
}

/* Largest input length n whose sequence (read at positions up to
 * rg_task_seq_len - 2) fits max_positions. */
static int longest_fitting(rg_task t, int max_positions) {
    int factor = rg_task_out_len(t, 1) + 1; /* n + out_len(n) = factor * n */
    return (max_positions - 2) / factor;
}

int rg_config_validate(const rg_config *c, const char *where, rg_error *err) {
    if (!where || !where[0]) where = "config";
    for (int k = 0; k < K_COUNT; k++)
        if (check_key(c, k, origin(c, k, where), err)) return 2;

    char list[256], note[RG_WHERE_MAX + 16];
    int d = c->d_model, H = c->n_heads;
    if (d % H)
        return fail_key(err, origin(c, K_N_HEADS, where), K_N_HEADS,
                        "%d does not divide d_model = %d%s; choose n_heads among %s", H, d,
                        origin_note(c, K_D_MODEL, note, sizeof note),
                        divisors(d, false, list, sizeof list));
    if (c->pos == RG_POS_ROPE && (d / H) % 2) {
        divisors(d, true, list, sizeof list);
        return fail_key(err, origin(c, K_N_HEADS, where), K_N_HEADS,
                        "head size d_model/n_heads = %d/%d = %d is odd, but pos = rope rotates "
                        "pairs of each head's dimensions; %s%s",
                        d, H, d / H, list[0] ? "choose n_heads among " : "make d_model even", list);
    }
    if ((c->pos == RG_POS_SINUSOIDAL || c->pos == RG_POS_XL) && d % 2)
        return fail_key(err, origin(c, K_D_MODEL, where), K_D_MODEL,
                        "%d is odd, but pos = %s builds sin/cos pairs over d_model; choose an even "
                        "d_model, e.g. %d",
                        d, rg_pos_name(c->pos), d + 1);
    if (c->mem_len > 0 && !rg_pos_is_relative(c->pos))
        return fail_key(
            err, origin(c, K_MEM_LEN, where), K_MEM_LEN,
            "mem_len = %d needs a relative scheme (none, rope, alibi, t5, xl, deberta), "
            "but pos = %s: absolute positions would restart every segment; set "
            "mem_len = 0 or choose another pos",
            c->mem_len, rg_pos_name(c->pos));
    if (c->segment_len > 0 && c->mem_len == 0)
        return fail_key(err, origin(c, K_SEGMENT_LEN, where), K_SEGMENT_LEN,
                        "segment_len = %d only takes effect with memory, but mem_len = 0%s; set "
                        "mem_len > 0 or segment_len = 0 (whole sequence)",
                        c->segment_len, origin_note(c, K_MEM_LEN, note, sizeof note));
    if (c->mem_len > 0 && c->segment_len == 0)
        return fail_key(err, origin(c, K_MEM_LEN, where), K_MEM_LEN,
                        "mem_len = %d has no effect while segment_len = 0%s: a whole sequence is "
                        "one segment, with nothing before it to remember; set segment_len > 0 "
                        "(e.g. segment_len = 16) or mem_len = 0",
                        c->mem_len, origin_note(c, K_SEGMENT_LEN, note, sizeof note));
    if (c->pos == RG_POS_T5 && c->t5_max_distance <= c->t5_buckets / 2)
        return fail_key(err, origin(c, K_T5_MAX_DISTANCE, where), K_T5_MAX_DISTANCE,
                        "%d must exceed t5_buckets/2 = %d (the exact-distance buckets)%s; set "
                        "t5_max_distance >= %d or fewer t5_buckets",
                        c->t5_max_distance, c->t5_buckets / 2,
                        origin_note(c, K_T5_BUCKETS, note, sizeof note), c->t5_buckets / 2 + 1);
    if (c->pos == RG_POS_LEARNED) {
        /* the longest input length, and whether train_len / eval_lens are too long */
        int fit = longest_fitting(c->task, c->max_positions), worst = c->train_len;
        bool eval_over = false;
        for (int i = 0; i < c->n_eval_lens; i++) {
            if (c->eval_lens[i] > worst) worst = c->eval_lens[i];
            if (c->eval_lens[i] > fit) eval_over = true;
        }
        bool train_over = c->train_len > fit;
        int need = rg_task_seq_len(c->task, worst) - 1; /* positions 0 .. need-1 */
        if (need > c->max_positions)
            return fail_key(err, origin(c, K_MAX_POSITIONS, where), K_MAX_POSITIONS,
                            "%d is too small for pos = learned: %s %d of task %s reads positions "
                            "0 .. %d; set max_positions >= %d, or keep %s at most %d",
                            c->max_positions, worst == c->train_len ? "train_len" : "eval length",
                            worst, rg_task_name(c->task), need - 1, need,
                            train_over && eval_over ? "train_len and eval_lens"
                            : train_over            ? "train_len"
                                                    : "eval_lens",
                            fit);
    }
    /* Sizes that fit in memory: every count below is computed in double, so
     * no int can overflow before the check (d_model = 1e9 would). */
    double dd = d, F = c->d_ff, L = c->n_layers, V = c->n_symbols + 4.0;
    double params = 2 * V * dd + L * (4 * dd * dd + 2 * dd * F + 10 * dd + F) +
                    (c->pos == RG_POS_LEARNED ? (double)c->max_positions * dd : 0) +
                    (c->pos == RG_POS_XL || c->pos == RG_POS_DEBERTA ? L * 2 * dd * dd : 0);
    if (params > MAX_PARAMS) {
        /* blame the key that is furthest out of proportion */
        int key = L * 1e4 > dd && L * 1e4 > F ? K_N_LAYERS : F > 64 * dd ? K_D_FF : K_D_MODEL;
        return fail_key(err, origin(c, key, where), key,
                        "the model would have %.3g parameters (d_model %d, d_ff %d, n_layers %d), "
                        "more than relgrad's limit of %.0f; make d_model, d_ff or n_layers smaller",
                        params, d, c->d_ff, c->n_layers, (double)MAX_PARAMS);
    }
    int longest = c->train_len;
    for (int i = 0; i < c->n_eval_lens; i++)
        if (c->eval_lens[i] > longest) longest = c->eval_lens[i];
    double T = rg_task_seq_len(c->task, longest), B = c->batch_size;
    double activations = B * T * L * (20 * dd + 3 * F) + B * H * T * T * L;
    if (activations > MAX_ACTIVATIONS)
        return fail_key(err, origin(c, K_BATCH_SIZE, where), K_BATCH_SIZE,
                        "a batch of %d sequences of up to %.0f tokens would need about %.3g "
                        "activation values per step, more than relgrad's limit of %.0f; lower "
                        "batch_size, the lengths or the model size",
                        c->batch_size, T, activations, (double)MAX_ACTIVATIONS);
    return 0;
}

int rg_config_from_args(rg_config *c, const char *path, int argc, char **argv, rg_error *err) {
    rg_config_defaults(c);
    if (path && rg_config_load(c, path, err)) return 2;
    if (rg_config_override(c, argc, argv, err)) return 2;
    return rg_config_validate(c, path ? path : "arguments", err);
}
