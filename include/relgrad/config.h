/* config.h: every setting of a run, read from an INI file and key=value
 * overrides (SPEC section 5), with defaults, help text and validation.
 *
 * A run's config (rg_config) holds the model's hyperparameters
 * (rg_model_config, all a model needs to be built) beside the task, training
 * and experiment settings. Keys are flat and unique; INI sections only group
 * them. The key table is one list: the keys below plus each positional
 * scheme's own keys (src/schemes/), so names, defaults, ranges and help text
 * are written once. Every error names where it came from ("quick.ini:12",
 * "argument 3") and the key, says what is wrong and how to fix it; the CLI
 * turns it into exit status 2.
 */
#ifndef RELGRAD_CONFIG_H
#define RELGRAD_CONFIG_H

#include "relgrad/data.h"
#include "relgrad/schemes.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RG_MAX_LIST  64   /* entries of tasks, positions, seeds                  */
#define RG_PATH_MAX  512  /* out_dir, init_from                                   */
#define RG_TEXT_MAX  1024 /* eval_lens as written ("8,16,20..80:5")              */
#define RG_MAX_KEYS  64   /* room in the key table (base keys + schemes' keys)   */
#define RG_WHERE_MAX 160  /* room for one "file:line" / "argument N" record       */
#define RG_MAX_JOBS  64   /* experiment runs trained at once (key jobs)            */
#define RG_ENTRY_MAX 200  /* one positions entry's own settings (":key=value..") */

/* The model's hyperparameters: everything rg_model_init needs. */
typedef struct rg_model_config {
    rg_arch arch; /* decoder (the default) or encoder (SPEC section 7)  */
    int d_model, n_heads, n_layers, d_ff;
    rg_scheme_list schemes; /* scheme per layer (layer l: schemes.id[l % n])  */
    rg_scheme_opts opts;    /* the schemes' own keys                          */
    int mem_len, segment_len;
    double init_std;
    int abacus, abacus_max; /* abacus embeddings: K (0 = off) and the table's rows */
    int n_symbols;          /* a task key, kept here because it sizes the vocabulary */
    int n_hints;            /* index hint tokens (a task key, sizes the vocabulary too) */
} rg_model_config;

/* Which parameters a run's final evaluation reads (key select): those of
 * the last step, or those that scored best on the in-distribution
 * validation set (checked every eval_every steps and at the last). */
typedef enum { RG_SELECT_LAST, RG_SELECT_BEST } rg_select;

/* Evaluation (and validation) runs this many examples of one length at a
 * time, whatever the training batch_size. */
#define RG_EVAL_BATCH 64

typedef struct rg_config {
    rg_model_config model;
    /* task */
    rg_task task;
    int train_len;
    char eval_lens[RG_TEXT_MAX];           /* items n, a..b, a..b:s; see rg_config_eval_lens */
    int eval_n;                            /* examples per length, RG_EVAL_BATCH at a time */
    int random_positions;                  /* L > 0: positions are a random subset of 0..L-1 */
    rg_positions_per random_positions_per; /* one draw per sequence or per batch   */
    rg_length_sampling length_sampling;    /* training lengths per example or batch */
    int train_examples;           /* N > 0: train on a fixed set of N examples (0 = a stream) */
    rg_digit_order digits;        /* addition: least or most significant digit first  */
    int coupled_positions;        /* 1: coupled positions (addition; Cho et al. 2024)  */
    int coupled_max;              /* the largest training position with them           */
    rg_coupled_plus coupled_plus; /* with them: where the SEP between a and b sits */
    rg_coupled_bos coupled_bos;   /* with them: where BOS sits                   */
    int index_hints;              /* 1: index hints (addition; Zhou et al. 2024)       */
    /* train */
    int steps, batch_size;
    double lr;
    int warmup;
    double weight_decay, grad_clip;
    int seed, threads;
    char out_dir[RG_PATH_MAX];
    int checkpoint_every, eval_every;
    char init_from[RG_PATH_MAX]; /* start from this checkpoint's parameters */
    int quiet;                   /* 1: no configuration printout, no progress */
    rg_select select;            /* which parameters the final evaluation reads */
    int val_n;                   /* select = best: validation examples        */
    double fit_threshold;        /* exact match at train_len that counts as fitted */
    /* experiment */
    rg_task tasks[RG_MAX_LIST];
    int task_symbols[RG_MAX_LIST]; /* "sort:5": that task's n_symbols; 0 = n_symbols */
    int n_tasks;
    rg_scheme_list positions[RG_MAX_LIST];
    /* each positions entry's own settings, as written after its schemes:
     * ":key=value:key=value" ("" = none); a run of the grid takes them */
    char position_keys[RG_MAX_LIST][RG_ENTRY_MAX];
    int n_positions;
    int seeds[RG_MAX_LIST], n_seeds;
    int jobs; /* runs trained at once on this machine (separate processes) */
    /* A run of a grid: the settings of its positions entry (":key=value.."),
     * part of its name (rg_config_run_pos); "" otherwise. */
    char entry_keys[RG_ENTRY_MAX];
    /* Where each key was last set, indexed like the key table: "quick.ini:12",
     * "argument 3", or "" for a default. Filled by rg_config_set and used by
     * rg_config_validate to point at the line to fix. Plain data: copying an
     * rg_config copies it. */
    char where[RG_MAX_KEYS][RG_WHERE_MAX];
} rg_config;

/* An error message buffer: where, key, what is wrong, how to fix. */
typedef struct rg_error {
    char msg[1024];
} rg_error;

/* ---- the key table ---------------------------------------------------------- */

typedef enum { RG_KEY_INT, RG_KEY_REAL, RG_KEY_STRING } rg_key_type;

/* How a key's text is parsed. */
typedef enum {
    RG_V_INT,       /* whole number in [lo, hi]                        */
    RG_V_REAL,      /* finite number, > lo (open) or >= lo             */
    RG_V_PATH,      /* text (out_dir, init_from)                       */
    RG_V_TASK,      /* one task name                                   */
    RG_V_POS,       /* a scheme, or a per-layer list of them           */
    RG_V_LENGTHS,   /* eval_lens: n, a..b, a..b:s items                */
    RG_V_TASK_LIST, /* tasks                                           */
    RG_V_POS_LISTS, /* positions: entries, each a scheme or a+b+c list */
    RG_V_INT_LIST,  /* seeds: whole numbers and a..b ranges            */
    RG_V_CHOICE,    /* one name of a fixed list (rg_key_choices), kept as its index */
} rg_value_kind;

enum {
    RG_KEY_SCHEME = 1,      /* a scheme's key: offset is into rg_scheme_opts     */
    RG_KEY_EVAL = 2,        /* `relgrad eval` may change it                      */
    RG_KEY_RESUME_FREE = 4, /* may differ when a run resumes (paths, threads, ...) */
    RG_KEY_EXPERIMENT = 8,  /* read by `experiment` only                          */
};

typedef struct rg_key_info {
    const char *name;    /* "d_model"                                       */
    const char *group;   /* "model", "task", "train", "experiment"          */
    rg_key_type type;    /* how it is stored as an HDF5 attribute           */
    rg_value_kind kind;  /* how its text is parsed                          */
    size_t offset;       /* of its value in rg_config (RG_KEY_SCHEME: in rg_scheme_opts) */
    size_t count_offset; /* lists: of the entry count                       */
    double lo, hi;       /* range of numbers (reals: hi bounds only when hi > lo) */
    bool open;           /* reals: strictly greater than lo                 */
    const char *def;     /* the default, as text                            */
    unsigned flags;      /* RG_KEY_*                                        */
    const char *help;    /* one line: meaning and valid range               */
} rg_key_info;

/* The key table: base keys first, then each scheme's keys in registry order. */
int rg_config_key_count(void);
const rg_key_info *rg_config_key(int i);
int rg_config_key_find(const char *name); /* index, or -1 */
/* The scheme (registry id) whose own key k is, or -1 for a base key. */
int rg_config_key_scheme(int k);
/* The names an RG_V_CHOICE key takes (NULL-terminated; value i is names[i]),
 * or NULL for other keys. */
const char *const *rg_key_choices(const rg_key_info *key);

/* ---- building a config ---------------------------------------------------------- */

/* All defaults (a small model that trains in seconds). */
void rg_config_defaults(rg_config *c);

/* Set one key from its text value. `where` says where it came from
 * ("quick.ini:12" or "argument 3"). Returns 0, or 2 with err filled. */
int rg_config_set(rg_config *c, const char *key, const char *value, const char *where,
                  rg_error *err);

/* Read an INI file into c (on top of what c holds). Returns 0 or 2. Unknown
 * keys, duplicate keys, missing values, malformed values are errors. */
int rg_config_load(rg_config *c, const char *path, rg_error *err);

/* Apply "key=value" arguments. `first_arg` is the number the first of them
 * has on the command line, for messages ("argument 3"). Returns 0 or 2. */
int rg_config_override(rg_config *c, int argc, char **argv, int first_arg, rg_error *err);

/* Check ranges and combinations (d_model % n_heads, each scheme's own rules,
 * memory only with relative schemes, lengths within what positions allow,
 * sizes that fit in memory, ...). `where` names the source of keys that
 * still have their defaults. 0 or 2. */
int rg_config_validate(const rg_config *c, const char *where, rg_error *err);

/* The model's hyperparameters alone: ranges, combinations and each scheme's
 * rules (rg_model_init calls it). `where` names their source. 0 or 2. */
int rg_model_config_validate(const rg_model_config *mc, const char *where, rg_error *err);

/* Defaults, then file, then overrides, then validation. 0 or 2. */
int rg_config_from_args(rg_config *c, const char *path, int argc, char **argv, rg_error *err);

/* The value of `key` as text, in a form rg_config_set accepts back. 0 or -1. */
int rg_config_get(const rg_config *c, const char *key, char *buf, size_t n);

/* ---- comparing ------------------------------------------------------------------- */

/* What two configs must agree on (src/config/compare.c lists the keys):
 * RG_SAME_TRAINING, to resume one's checkpoint with the other (the training
 * trajectory and select = best's choice); RG_SAME_RESULTS, for a results
 * file's record of one to stand for the other (that, plus what the final
 * evaluation reads). */
typedef enum { RG_SAME_TRAINING, RG_SAME_RESULTS } rg_same_what;

/* The index of the first key (table order) whose value differs, or -1. */
int rg_config_differs(const rg_config *a, const rg_config *b, rg_same_what what);

/* ---- derived values -------------------------------------------------------------- */

/* The config of one run of an experiment's grid: task t (with its own
 * alphabet when the tasks list gives one), positions entry p with its own
 * settings (e.g. "rope:coupled_positions=1" sets coupled_positions), seed
 * s; everything else as in base (out_dir too: the caller sets the run's). */
void rg_config_grid_run(const rg_config *base, int t, int p, int s, rg_config *out);

/* A run's name for its scheme column (directories, results groups, tables):
 * its pos list (entries joined by sep: ',' or '+') followed by the
 * settings of its positions entry, "rope:coupled_positions=1". The same
 * for positions entry p of an experiment: rg_config_entry_name. */
const char *rg_config_run_pos(const rg_config *c, char sep, char *buf, size_t n);
const char *rg_config_entry_name(const rg_config *base, int p, char sep, char *buf, size_t n);

/* What the run's batches are made of (rg_batch_draw, rg_train_set_init):
 * arch, task, n_symbols, digits, and for training (training = true) the
 * config's length_sampling; evaluation batches (one length each) always
 * draw per example, so a length's evaluation set is the same whatever
 * length_sampling a run trained with. */
rg_data_spec rg_config_data_spec(const rg_config *c, bool training);

/* The evaluation lengths, expanded: a malloc'd array (free it), count in *n. */
int *rg_config_eval_lens(const rg_config *c, int *n);
/* The longest evaluation length (0 when there is none). */
int rg_config_longest_eval(const rg_config *c);

/* Positional scheme lists: "none", "fire,fire,none" (',' or '+' between
 * entries). Parse returns 0, or -1 with a reason in why. */
int rg_scheme_list_parse(const char *text, rg_scheme_list *out, char *why, size_t n);
/* "fire,fire,none" with sep = ',' (or '+'). */
const char *rg_scheme_list_text(const rg_scheme_list *p, char sep, char *buf, size_t n);
/* The scheme of layer l. */
static inline int rg_scheme_of_layer(const rg_scheme_list *p, int l) {
    return p->id[l % p->n];
}
bool rg_scheme_list_equal(const rg_scheme_list *a, const rg_scheme_list *b);

#endif
