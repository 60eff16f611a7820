/* config.h: every setting of a run, read from an INI file and key=value
 * overrides (SPEC section 5), with defaults and validation.
 *
 * Keys are flat and unique; INI sections only group them. Every error names
 * where it came from ("quick.ini:12", "argument 3") and the key, says what is
 * wrong and how to fix it; the CLI turns it into exit status 2.
 */
#ifndef RELGRAD_CONFIG_H
#define RELGRAD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    RG_POS_NONE,
    RG_POS_SINUSOIDAL,
    RG_POS_LEARNED,
    RG_POS_ROPE,
    RG_POS_ALIBI,
    RG_POS_T5,
    RG_POS_XL,
    RG_POS_DEBERTA,
    RG_POS_COUNT
} rg_pos;

typedef enum {
    RG_TASK_COPY,
    RG_TASK_REVERSE,
    RG_TASK_SORT,
    RG_TASK_DUPLICATE,
    RG_TASK_COUNT
} rg_task;

#define RG_MAX_LIST  32 /* longest comma list (eval_lens, tasks, positions, seeds) */
#define RG_PATH_MAX  512
#define RG_N_KEYS    33  /* entries of the key table (rg_config_keys)           */
#define RG_WHERE_MAX 160 /* room for one "file:line" / "argument N" record       */

typedef struct rg_config {
    /* model */
    int d_model, n_heads, n_layers, d_ff;
    rg_pos pos;
    int max_positions;
    double rope_base, rope_scale;
    int t5_buckets, t5_max_distance, deberta_span;
    int mem_len, segment_len;
    double init_std;
    /* task */
    rg_task task;
    int n_symbols, train_len;
    int eval_lens[RG_MAX_LIST], n_eval_lens;
    int eval_n;
    /* train */
    int steps, batch_size;
    double lr;
    int warmup;
    double weight_decay, grad_clip;
    int seed, threads;
    char out_dir[RG_PATH_MAX];
    int checkpoint_every, eval_every;
    /* experiment */
    rg_task tasks[RG_MAX_LIST];
    int n_tasks;
    rg_pos positions[RG_MAX_LIST];
    int n_positions;
    int seeds[RG_MAX_LIST], n_seeds;
    /* Where each key was last set, indexed like the key table: "quick.ini:12",
     * "argument 3", or "" for a default. Filled by rg_config_set and used by
     * rg_config_validate to point at the line to fix. Plain data: copying an
     * rg_config copies it. */
    char where[RG_N_KEYS][RG_WHERE_MAX];
} rg_config;

/* An error message buffer: where, key, what is wrong, how to fix. */
typedef struct rg_error {
    char msg[1024];
} rg_error;

const char *rg_pos_name(rg_pos p);   /* "rope" */
const char *rg_task_name(rg_task t); /* "copy" */
/* Parse a name; returns -1 when unknown. */
int rg_pos_parse(const char *s);
int rg_task_parse(const char *s);
/* Relative schemes (segment recurrence allowed): none rope alibi t5 xl deberta. */
bool rg_pos_is_relative(rg_pos p);

/* All defaults (a small model that trains in seconds). */
void rg_config_defaults(rg_config *c);

/* Set one key from its text value. `where` says where it came from
 * ("quick.ini:12" or "argument 3"). Returns 0, or 2 with err filled. */
int rg_config_set(rg_config *c, const char *key, const char *value, const char *where,
                  rg_error *err);

/* Read an INI file into c (on top of what c holds). Returns 0 or 2. Unknown
 * keys, duplicate keys, missing values, malformed values are errors. */
int rg_config_load(rg_config *c, const char *path, rg_error *err);

/* Apply "key=value" arguments. Returns 0 or 2. */
int rg_config_override(rg_config *c, int argc, char **argv, rg_error *err);

/* Check ranges and combinations (d_model % n_heads, rope needs an even head
 * size, mem_len only with relative schemes, learned needs eval lengths within
 * max_positions, ...). `where` names the source for the message. 0 or 2. */
int rg_config_validate(const rg_config *c, const char *where, rg_error *err);

/* Defaults, then file, then overrides, then validation. 0 or 2. */
int rg_config_from_args(rg_config *c, const char *path, int argc, char **argv, rg_error *err);

/* ---- key table: lets the I/O layer write every key as an attribute ------- */

typedef enum { RG_KEY_INT, RG_KEY_REAL, RG_KEY_STRING } rg_key_type;

typedef struct rg_key_info {
    const char *name;  /* "d_model"                       */
    const char *group; /* "model", "task", "train", "experiment" */
    rg_key_type type;  /* how it is stored as an HDF5 attribute (lists are strings) */
    const char *help;  /* one line: meaning and valid range */
} rg_key_info;

/* The table of all keys; returns the count. */
int rg_config_keys(const rg_key_info **keys);
/* The value of `key` as text, in a form rg_config_set accepts back. */
int rg_config_get(const rg_config *c, const char *key, char *buf, size_t n);

/* Length of one example's full sequence (BOS x SEP y EOS) for input length n. */
int rg_task_seq_len(rg_task t, int n);

#endif
