/* help.c: the program's help, in one place: the overview (`relgrad help`,
 * also the README's usage block), each command's help (`relgrad help CMD`,
 * `relgrad CMD --help`), the keys (`relgrad help keys`, `relgrad help KEY`,
 * from the one key table) and `relgrad list schemes|tasks` (from the
 * registry and the task table).
 *
 * No scheme is named here (a scheme lives in its own file:
 * tests/structure/layers.sh): the examples write {newest} and {first},
 * which are printed as scheme names from the registry (example_schemes). */
#include "help.h"

#include "cli.h"
#include "relgrad/config.h"
#include "relgrad/tensor.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* The schemes examples show, chosen from the registry: `newest` is the
 * relative scheme registered last (relative: it also goes in per-layer
 * lists and with memory), `first` the scheme registered first. */
typedef struct {
    const char *newest, *first;
} example_schemes;

static example_schemes example_schemes_of_registry(void) {
    example_schemes e = {.newest = rg_scheme_name(0), .first = rg_scheme_name(0)};
    for (int id = 0; id < rg_scheme_count(); id++)
        if (rg_scheme_is_relative(id)) e.newest = rg_scheme_name(id);
    return e;
}

static const rg_command_help COMMANDS[] = {
    {"train", "CONFIG [key=value ...]", "train one model, evaluate at eval_lens",
     "usage: relgrad train CONFIG [key=value ...] [--dry-run] [--quiet]\n"
     "       relgrad train --from RESULTS TASK/POS/SEED [key=value ...] [--dry-run] [--quiet]",
     "Trains one model on one task (task, pos, seed) and evaluates it at every\n"
     "length of eval_lens. Writes to out_dir: checkpoint.h5 (every\n"
     "checkpoint_every steps, replaced atomically), train_log.csv (step, loss, lr,\n"
     "grad_norm: one line per step, flushed as written), best.h5 with select =\n"
     "best, and results.h5 at the end (the accuracies, whether the run fitted its\n"
     "training length, the step evaluated, the config, commit, CPU and precision).\n"
     "When out_dir holds a checkpoint of the same run, training resumes from it;\n"
     "a finished run is only evaluated again.\n"
     "\n"
     "With --from, the run TASK/POS/SEED that the results file RESULTS records\n"
     "(`relgrad results list RESULTS` names them) is trained again from its\n"
     "recorded config, in RESULTS's directory/rerun/TASK-POS-SEED unless out_dir\n"
     "is given; key=value changes the config. After the accuracy table, a line\n"
     "says whether the losses and accuracies equal the record, or the first\n"
     "difference.\n"
     "\n"
     "  CONFIG      an INI file of `key = value` lines (see experiments/)\n"
     "  key=value   overrides CONFIG; the last of repeated keys wins\n"
     "  --from RESULTS TASK/POS/SEED  rerun a recorded run instead of CONFIG\n"
     "  --dry-run   print the configuration and what the run would do; write nothing\n"
     "  --quiet     no configuration printout and no progress (as quiet=1)\n"
     "\n"
     "stdout: the accuracy table. stderr: the configuration (each value with the\n"
     "FILE:LINE, argument or default it came from), progress, notes, errors.\n"
     "Ctrl-C, SIGTERM, SIGHUP or a closed output pipe stop it after a checkpoint:\n"
     "run the same command again to resume. The grid keys tasks, positions and\n"
     "seeds are refused: `relgrad experiment` reads them.",
     RG_HELP_KEYS_RUN, NULL,
     "relgrad train experiments/single.ini --dry-run\n"
     "relgrad train experiments/single.ini\n"
     "relgrad train experiments/single.ini pos={newest} steps=500 out_dir=out/{newest}"},
    {"experiment", "CONFIG [key=value ...]", "the grid tasks x positions x seeds",
     "usage: relgrad experiment CONFIG [key=value ...] [--dry-run] [--quiet]",
     "Trains every run of the grid tasks x positions x seeds (these keys replace\n"
     "task, pos and seed), each in out_dir/runs/TASK-POS-SEED/ as `relgrad train`\n"
     "would, then writes out_dir/results.h5 (every run), out_dir/table.md (exact\n"
     "match and token accuracy by task, scheme and length: the mean over seeds\n"
     "with a 95% interval, how many seeds fitted the training length, and the\n"
     "mean beyond it over fitted runs and over all runs), out_dir/plot.png and\n"
     "out_dir/report.html. Every run's config is checked before the first one\n"
     "starts. Run it again to resume: a run that out_dir/results.h5 records is not\n"
     "trained again (also without its run directory, e.g. on another machine with\n"
     "only the results file; `relgrad results merge` joins pieces), and a record\n"
     "made with another config is an error naming the key; an unfinished run\n"
     "resumes from its checkpoint. A positions entry may end in settings of its\n"
     "own, SCHEME:key=value:key=value (a method that needs more than a scheme,\n"
     "e.g. coupled_positions=1); its runs take them, and POS in their names\n"
     "shows them.\n"
     "\n"
     "  CONFIG      an INI file of `key = value` lines (see experiments/)\n"
     "  key=value   overrides CONFIG; the last of repeated keys wins\n"
     "  --dry-run   print the configuration and what each run would do; write nothing\n"
     "  --quiet     no configuration printout and no progress (as quiet=1)\n"
     "\n"
     "stdout: the table. stderr: the configuration, progress, notes, errors.",
     RG_HELP_KEYS_ALL, "task, pos and seed are replaced by tasks, positions and seeds.",
     "relgrad experiment experiments/quick.ini --dry-run\n"
     "relgrad experiment experiments/quick.ini\n"
     "relgrad experiment experiments/quick.ini positions={first},{newest} seeds=1..3 "
     "out_dir=out/{newest}"},
    {"eval", "CHECKPOINT [key=value ...]", "evaluate a checkpoint at eval_lens",
     "usage: relgrad eval CHECKPOINT [key=value ...] [--quiet]",
     "Evaluates a checkpoint's model at every length of eval_lens: exact match\n"
     "(greedy decoding: the whole answer and EOS right) and token accuracy\n"
     "(teacher-forced), on evaluation sets that are the same for every seed. The\n"
     "model, the task and the training keys come from the checkpoint; key=value\n"
     "may change only the keys below. Writes nothing.\n"
     "\n"
     "  CHECKPOINT  a checkpoint.h5 written by train or experiment\n"
     "  --quiet     no configuration printout (as quiet=1)\n"
     "\n"
     "stdout: the accuracy table. stderr: the configuration, errors.",
     RG_HELP_KEYS_EVAL, "Only these keys (the rest is fixed by the checkpoint):",
     "relgrad eval out/single/checkpoint.h5\n"
     "relgrad eval out/single/checkpoint.h5 eval_lens=16..128:16 eval_n=1000"},
    {"dump", "CONFIG --out FILE [...]", "one batch: loss, logits, gradients",
     "usage: relgrad dump CONFIG --out FILE [key=value ...] [--quiet]\n"
     "       relgrad dump --checkpoint CHECKPOINT --out FILE [key=value ...] [--quiet]",
     "Runs one training batch forward and backward and writes FILE (HDF5): the\n"
     "parameters and config, the batch (/batch/tokens, targets, mask, positions,\n"
     "offset), the memory it read, the loss, the logits and every parameter's\n"
     "gradient (docs/format.md), which tools/torch_ref.py recomputes in PyTorch.\n"
     "From CONFIG the model is freshly initialised from seed; from --checkpoint\n"
     "it is the trained model, and key=value may change the batch (batch_size,\n"
     "train_len, seed, random_positions, ...) but not the model. relgrad-f64\n"
     "writes float64 files. With mem_len > 0 and segment_len > 0, one segment\n"
     "fills the memory and the next is dumped.\n"
     "\n"
     "  --out FILE               the file to write (atomically)\n"
     "  --checkpoint CHECKPOINT  dump a trained model instead of a fresh one\n"
     "  --quiet                  no configuration printout (as quiet=1)",
     RG_HELP_KEYS_RUN, NULL,
     "relgrad dump experiments/xcheck.ini --out dump.h5 pos={newest}\n"
     "relgrad-f64 dump --checkpoint out/single/checkpoint.h5 --out trained.h5"},
    {"bench", "CONFIG [key=value ...]", "time training steps, decoding or evaluation",
     "usage: relgrad bench CONFIG [key=value ...] [--quiet]\n"
     "       relgrad bench --decode LEN[,BATCH] CONFIG [key=value ...] [--quiet]\n"
     "       relgrad bench --eval LEN[,BATCH] CONFIG [key=value ...] [--quiet]",
     "Times `steps` full training steps (forward, backward, AdamW) after 3\n"
     "warm-up steps, on batches in which every example has train_len symbols.\n"
     "Writes no files. stdout names the BLAS kernels in use and ends with\n"
     "  bench: ms_per_step=X tokens_per_s=Y peak_rss_mb=Z\n"
     "(tools/bench.sh compares it with PyTorch on the same model).\n"
     "\n"
     "With --decode: greedy decoding through the key/value cache (the path\n"
     "evaluation takes) with the model at its initial weights: BATCH rows\n"
     "(default 1) of a random prompt of LEN/2 symbols, then LEN/2 tokens one at\n"
     "a time. stdout ends with\n"
     "  decode: len=L batch=B ms=X tokens_per_s=Y peak_rss_mb=Z prefill_ms=W\n"
     "(Y counts generated tokens; W is the prompt's part of X). A decoder only.\n"
     "\n"
     "With --eval: an encoder's evaluation (arch = encoder) at LEN symbols: the\n"
     "one pass `relgrad eval` makes over a batch (forward without gradients,\n"
     "argmax of every answer slot), on the first BATCH examples (default 1) of\n"
     "the evaluation set at LEN, model at its initial weights; after one untimed\n"
     "pass, timed at least 3 times and until 1 s has gone by. stdout ends with\n"
     "  eval: len=N batch=B ms=X tokens_per_s=Y peak_rss_mb=Z seq=T runs=R\n"
     "(X the median pass, T the tokens of a row, Y = B*T per X).\n"
     "\n"
     "  --decode LEN[,BATCH]  time a decoder's greedy decoding instead of training\n"
     "  --eval LEN[,BATCH]    time an encoder's evaluation pass instead of training\n"
     "  --quiet               no configuration printout (as quiet=1)",
     RG_HELP_KEYS_RUN, "steps is the number of timed steps.",
     "relgrad bench experiments/bench.ini\n"
     "relgrad bench experiments/bench.ini pos={first} batch_size=64 threads=1\n"
     "relgrad bench --decode 1024,8 experiments/bench.ini\n"
     "relgrad bench --eval 500,8 experiments/bench.ini arch=encoder task=reverse_string "
     "n_symbols=2"},
    {"config", "CONFIG [key=value ...]", "print and check the configuration",
     "usage: relgrad config CONFIG [key=value ...]",
     "Prints every key's value and where it was set (FILE:LINE, argument N or\n"
     "default), checks the whole configuration - every run of the grid when\n"
     "tasks, positions or seeds are set, else the one run of `relgrad train` -\n"
     "and says what that command would do in out_dir (start, resume, or only\n"
     "evaluate). Writes nothing. Exit status 0 when valid, 2 when not.",
     RG_HELP_KEYS_ALL, NULL,
     "relgrad config experiments/quick.ini\n"
     "relgrad config experiments/single.ini d_model=128 n_heads=8"},
    {"list", "schemes | tasks", "the positional schemes or the tasks",
     "usage: relgrad list schemes|tasks",
     "Lists the positional schemes (the values of pos and positions; relative\n"
     "ones may be mixed per layer and used with memory) or the tasks (the values\n"
     "of task and tasks), one line each.",
     RG_HELP_NO_KEYS, NULL, "relgrad list schemes\nrelgrad list tasks"},
    {"gradcheck", "model|OP|list [key=value ...]", "finite-difference gradient check",
     "usage: relgrad gradcheck model [CONFIG] [key=value ...] [--all] [--break OP]\n"
     "       relgrad gradcheck OP [size=N ...] [--all] [--break OP]\n"
     "       relgrad gradcheck list\n"
     "(run it as relgrad-f64, the float64 build, for the 1e-6 bound)",
     "Checks analytic gradients against fourth-order central differences, with\n"
     "the test suite's own checker (docs/gradcheck.md): the whole model of\n"
     "CONFIG (default experiments/gradcheck.ini, a tiny model) with any scheme\n"
     "and sizes, or one op at sizes you choose. Prints a table per input or\n"
     "parameter: its worst relative error, the index, analytic and numeric\n"
     "values. Run it with relgrad-f64: the bound is 1e-6 in float64.\n"
     "\n"
     "  model        the whole model; key=value changes it (pos=, d_model=, mem_len=,\n"
     "               random_positions=); B= and T= set the batch (2 x 5), seed= the init\n"
     "  OP           one op (`list` shows them and their size keys)\n"
     "  --all        print every entry, not just each input's worst\n"
     "  --break OP   make OP's backward send 1.001 times its gradient (to see a failure)\n"
     "\n"
     "exit status: 0 within the bound, 4 above it, 2 bad input.",
     RG_HELP_NO_KEYS, NULL,
     "relgrad-f64 gradcheck model pos={newest}\n"
     "relgrad-f64 gradcheck model pos={newest},{newest},{first} n_layers=3 mem_len=4 "
     "segment_len=5\n"
     "relgrad-f64 gradcheck list\n"
     "relgrad-f64 gradcheck model --break attention_core"},
    {"graph", "CONFIG --out FILE [--grads] [...]", "one training step's tape as DOT/SVG",
     "usage: relgrad graph CONFIG [key=value ...] --out FILE [--grads]",
     "Writes the tape of one training step (forward of one batch, the loss,\n"
     "backward) as a Graphviz DOT file and an SVG beside it (drawn by `dot`): a\n"
     "node per op with its output shape, parameters as nodes, the positional\n"
     "scheme's ops and parameters in colour. The model is freshly initialised\n"
     "from seed; the batch is batch_size examples of train_len symbols, so\n"
     "batch_size=1 train_len=2 n_layers=1 gives a small picture.\n"
     "\n"
     "  --out FILE   the DOT file (FILE.svg beside it)\n"
     "  --grads      label each edge with the norm of the gradient backward sent\n"
     "               along it",
     RG_HELP_KEYS_RUN, NULL,
     "relgrad graph experiments/single.ini batch_size=1 train_len=2 n_layers=1 --out tape.dot\n"
     "relgrad graph experiments/single.ini pos={newest} n_layers=1 --out {newest}.dot --grads"},
    {"attention", "CHECKPOINT [len=N] [example=K]", "attention maps at N and 2N",
     "usage: relgrad attention CHECKPOINT [len=N] [example=K] [--out FILE.h5]",
     "Writes, per layer and head, the attention probabilities of one evaluation\n"
     "example (example K of the evaluation set, through the pass evaluation\n"
     "makes: a decoder's cached decoding, an encoder's one forward) at length N\n"
     "(default: the training length) and at 2N, to FILE.h5, and draws them as a\n"
     "grid of heatmaps in FILE.png, with each head's mean attended distance and\n"
     "entropy, averaged over the queries. The distance is signed, p_i - p_j over\n"
     "every key a query attends to: a decoder's keys are all to the left; an\n"
     "encoder's map is the full T x T matrix (keys before and after the query,\n"
     "PAD keys 0), and its heads also show the share of attention on keys left\n"
     "and right of the query and which way they mostly look (left or right: more\n"
     "than half on that side; else mixed).\n"
     "\n"
     "  len=N        the first length (default: the training length)\n"
     "  example=K    which example of the evaluation set (default 0)\n"
     "  --out FILE   default: attention.h5 beside CHECKPOINT",
     RG_HELP_NO_KEYS, NULL,
     "relgrad attention out/single/checkpoint.h5\n"
     "relgrad attention out/single/checkpoint.h5 len=8 example=3 --out maps.h5"},
    {"results", "list RESULTS | merge OUT IN ...", "list or merge results files",
     "usage: relgrad results list RESULTS\n"
     "       relgrad results merge OUT IN1 [IN2 ...]",
     "list: one line per run that the results file records: its name\n"
     "TASK/POS/SEED (what `relgrad train --from` takes), steps, whether it fitted\n"
     "its training length (exact match there against fit_threshold), the step\n"
     "evaluated, and the git commit, precision and CPU it was trained with.\n"
     "\n"
     "merge: every run of IN1, IN2, ... into OUT (written atomically), e.g. the\n"
     "results of one grid trained in pieces on several machines; an experiment\n"
     "whose out_dir/results.h5 records a run skips it. A run in several inputs\n"
     "must be recorded alike (the config that decides its results, its losses\n"
     "and accuracies): the first input's record is kept; a conflict writes\n"
     "nothing and names the run, the files and the difference. OUT may be one of\n"
     "the inputs; an existing OUT that is not one is refused.",
     RG_HELP_NO_KEYS, NULL,
     "relgrad results list out/quick/results.h5\n"
     "relgrad results merge out/quick/results.h5 out/quick/results.h5 machine2/results.h5"},
    {"help", "[COMMAND | keys | KEY]", "overview, a command's help, the keys",
     "usage: relgrad help [COMMAND | keys | KEY]\n"
     "       relgrad COMMAND --help",
     "Without an argument, the overview of the program. With a command, its\n"
     "usage, arguments, keys and examples. `keys` lists every key with its\n"
     "default, range and meaning; a key's name shows that key.",
     RG_HELP_NO_KEYS, NULL, "relgrad help train\nrelgrad help keys\nrelgrad help eval_lens"},
};
enum { N_COMMANDS = sizeof COMMANDS / sizeof COMMANDS[0] };

const rg_command_help *rg_help_find(const char *name) {
    for (int i = 0; i < N_COMMANDS; i++)
        if (!strcmp(name, COMMANDS[i].name)) return &COMMANDS[i];
    return NULL;
}

void rg_help_overview(FILE *f) {
    fprintf(f,
            "relgrad %s (%s): trains tiny Transformers with positional schemes and\n"
            "measures how far they generalize beyond their training length.\n\n",
            rg_version(), RG_REAL_NAME);
    fprintf(f, "usage: relgrad COMMAND [ARGUMENTS]\n\ncommands:\n");
    for (int i = 0; i < N_COMMANDS; i++)
        fprintf(f, "  %-11s %-27s %s\n", COMMANDS[i].name, COMMANDS[i].args, COMMANDS[i].summary);
    fprintf(f, "\n"
               "CONFIG is an INI file of `key = value` lines (see experiments/); key=value\n"
               "arguments override it. Each run prints its configuration to stderr, every\n"
               "value with the FILE:LINE, argument or default it came from; results go to\n"
               "stdout.\n"
               "  --dry-run     (train, experiment) print the configuration and the plan; write\n"
               "                nothing\n"
               "  --quiet       no configuration printout, no progress (as quiet=1)\n"
               "  --help, -h    after a command: that command's help\n"
               "  --version     version, precision, git commit, BLIS and HDF5 versions\n"
               "\n"
               "Exit status: 0 success; 1 internal error; 2 bad input (a message says what,\n"
               "where and how to fix it); 3 training diverged; 128+N stopped by signal N\n"
               "after saving a checkpoint (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP, 141 closed\n"
               "output pipe): run the same command again to resume.\n"
               "\n"
               "Start with `relgrad train experiments/single.ini --dry-run`; `relgrad help\n"
               "train` explains a command, `relgrad help keys` every key.\n");
}

/* The default of key k as a config holds it ("0.001" for lr's "1e-3"), or
 * "" for an empty one. */
static const char *default_value(int k, char *buf, size_t n) {
    rg_config *d = rg_xmalloc(sizeof *d, "a config");
    rg_config_defaults(d);
    rg_config_get(d, rg_config_key(k)->name, buf, n);
    free(d);
    return buf[0] ? buf : "\"\"";
}

/* "d_model=64 n_heads=4 ..." after `label`, wrapped at 80 columns. */
static void key_line(FILE *f, const char *label, const int *keys, int n) {
    int col = fprintf(f, "  %-12s", label);
    for (int i = 0; i < n; i++) {
        const rg_key_info *key = rg_config_key(keys[i]);
        char item[RG_TEXT_MAX + 64], def[RG_TEXT_MAX];
        int len = snprintf(item, sizeof item, "%s=%s", key->name,
                           default_value(keys[i], def, sizeof def));
        if (col + 1 + len > 80 && col > 15) {
            fprintf(f, "\n%14s", "");
            col = 14;
        }
        col += fprintf(f, "%s%s", col > 14 ? " " : "", item);
    }
    fprintf(f, "\n");
}

static bool key_taken(const rg_key_info *key, rg_help_keys_kind kind) {
    switch (kind) {
    case RG_HELP_KEYS_RUN:
        return !(key->flags & RG_KEY_EXPERIMENT);
    case RG_HELP_KEYS_ALL:
        return true;
    case RG_HELP_KEYS_EVAL:
        return key->flags & RG_KEY_EVAL;
    default:
        return false;
    }
}

/* The keys a command accepts, by group, with their defaults. */
static void command_keys(FILE *f, const rg_command_help *h) {
    static const char *const GROUPS[] = {"model", "task", "train", "experiment"};
    fprintf(f, "\nkeys (key=value, or `key = value` in CONFIG), with their defaults:\n");
    if (h->keys_note) fprintf(f, "  %s\n", h->keys_note);
    int n = rg_config_key_count(), keys[RG_MAX_KEYS];
    for (int g = 0; g < 4; g++) {
        int m = 0;
        for (int k = 0; k < n; k++) {
            const rg_key_info *key = rg_config_key(k);
            if (key_taken(key, h->keys) && rg_config_key_scheme(k) < 0 &&
                !strcmp(key->group, GROUPS[g]))
                keys[m++] = k;
        }
        if (m) key_line(f, GROUPS[g], keys, m);
        if (g == 0) { /* the schemes' own keys, after the model's */
            m = 0;
            for (int k = 0; k < n; k++)
                if (key_taken(rg_config_key(k), h->keys) && rg_config_key_scheme(k) >= 0)
                    keys[m++] = k;
            if (m) key_line(f, "scheme keys", keys, m);
        }
    }
    fprintf(f, "`relgrad help keys` says what each key means and which values it takes.\n");
}

/* One example line (len characters at p) with {newest} and {first} written
 * as the schemes they stand for. */
static void put_example(FILE *f, const char *p, size_t len) {
    const example_schemes e = example_schemes_of_registry();
    const struct {
        const char *mark, *name;
    } marks[] = {{"{newest}", e.newest}, {"{first}", e.first}};
    fputs("  ", f);
    for (size_t i = 0; i < len;) {
        int m = 0;
        while (m < 2 && strncmp(p + i, marks[m].mark, strlen(marks[m].mark))) m++;
        if (m < 2 && i + strlen(marks[m].mark) <= len) {
            fputs(marks[m].name, f);
            i += strlen(marks[m].mark);
        } else {
            fputc(p[i++], f);
        }
    }
    fputc('\n', f);
}

void rg_help_command(FILE *f, const rg_command_help *h) {
    fprintf(f, "%s\n\n%s\n", h->usage, h->text);
    if (h->keys != RG_HELP_NO_KEYS) command_keys(f, h);
    fprintf(f, "\nexamples:\n");
    for (const char *p = h->examples; *p;) {
        size_t len = strcspn(p, "\n");
        put_example(f, p, len);
        p += len + (p[len] == '\n');
    }
}

void rg_help_usage(FILE *f, const char *cmd) {
    const rg_command_help *h = rg_help_find(cmd);
    if (h) fprintf(f, "%s\n", h->usage);
    fprintf(f, "(`relgrad help %s` for more)\n", cmd);
}

/* ---- keys ---------------------------------------------------------------------------- */

/* What values a key takes, from its table entry. */
static const char *range_text(const rg_key_info *key, char *buf, size_t n) {
    const example_schemes e = example_schemes_of_registry();
    switch (key->kind) {
    case RG_V_INT:
        if (key->hi >= INT_MAX)
            snprintf(buf, n, "whole number >= %.0f", key->lo);
        else
            snprintf(buf, n, "whole number %.0f .. %.0f", key->lo, key->hi);
        break;
    case RG_V_REAL:
        if (key->hi > key->lo)
            snprintf(buf, n, "number %g .. %g", key->lo, key->hi);
        else
            snprintf(buf, n, "number %s %g", key->open ? ">" : ">=", key->lo);
        break;
    case RG_V_PATH:
        snprintf(buf, n, "%s", key->lo > 0 ? "path" : "path, or empty");
        break;
    case RG_V_TASK:
        snprintf(buf, n, "a task (`relgrad list tasks`)");
        break;
    case RG_V_POS:
        snprintf(buf, n, "a scheme, or a per-layer list of them (e.g. %s,%s,%s,%s)", e.newest,
                 e.newest, e.newest, e.first);
        break;
    case RG_V_LENGTHS:
        snprintf(buf, n, "lengths n, a..b, a..b:s, each %.0f .. %.0f", key->lo, key->hi);
        break;
    case RG_V_TASK_LIST:
        snprintf(buf, n, "comma list of tasks");
        break;
    case RG_V_POS_LISTS:
        snprintf(buf, n, "comma list of schemes (a per-layer entry: %s+%s+%s)", e.newest, e.newest,
                 e.first);
        break;
    case RG_V_INT_LIST:
        snprintf(buf, n, "whole numbers and ranges a..b");
        break;
    case RG_V_CHOICE: {
        const char *const *names = rg_key_choices(key);
        snprintf(buf, n, "one of:");
        for (int i = 0; names[i]; i++)
            snprintf(buf + strlen(buf), n - strlen(buf), "%s %s", i ? " |" : "", names[i]);
        break;
    }
    }
    return buf;
}

/* `text` wrapped at 80 columns, each line indented by `indent`. */
static void wrapped(FILE *f, const char *text, int indent) {
    const int width = 80 - indent;
    while (*text) {
        int len = (int)strlen(text);
        if (len > width) {
            len = width;
            while (len > 0 && text[len] != ' ') len--;
            if (len == 0) len = width;
        }
        fprintf(f, "%*s%.*s\n", indent, "", len, text);
        text += len;
        while (*text == ' ') text++;
    }
}

static void one_key(FILE *f, int k) {
    const rg_key_info *key = rg_config_key(k);
    char range[160], flags[200] = "";
    int scheme = rg_config_key_scheme(k);
    if (scheme >= 0) snprintf(flags, sizeof flags, "; read with pos = %s", rg_scheme_name(scheme));
    if (key->flags & RG_KEY_EVAL) strcat(flags, "; eval may change it");
    if ((key->flags & RG_KEY_RESUME_FREE) && !(key->flags & RG_KEY_EVAL))
        strcat(flags, "; may change when a run resumes");
    if (key->flags & RG_KEY_EXPERIMENT) strcat(flags, "; experiment only");
    char buf[RG_TEXT_MAX];
    const char *def = default_value(k, buf, sizeof buf);
    fprintf(f, "  %s = %s\n", key->name, buf[0] ? def : "\"\" (empty)");
    char line[400];
    snprintf(line, sizeof line, "%s%s", range_text(key, range, sizeof range), flags);
    wrapped(f, line, 6);
    wrapped(f, key->help, 6);
}

void rg_help_keys(FILE *f, int only) {
    if (only >= 0) {
        fprintf(f, "[%s]\n", rg_config_key(only)->group);
        one_key(f, only);
        return;
    }
    fprintf(f, "Every key, with its default, the values it takes and what it does. In a CONFIG\n"
               "file write `key = value` (the [sections] only group keys); on the command\n"
               "line key=value.\n");
    static const char *const GROUPS[] = {"model", "task", "train", "experiment"};
    int n = rg_config_key_count();
    for (int g = 0; g < 4; g++) {
        fprintf(f, "\n[%s]\n", GROUPS[g]);
        for (int k = 0; k < n; k++)
            if (!strcmp(rg_config_key(k)->group, GROUPS[g])) one_key(f, k);
    }
}

/* ---- the commands help and list ------------------------------------------------------- */

int rg_cmd_help(int argc, char **argv) {
    if (argc == 0) {
        rg_help_overview(stdout);
        return RG_EXIT_OK;
    }
    if (argc > 1) {
        fprintf(stderr, "relgrad help: one topic at a time (got %d)\n", argc);
        rg_help_usage(stderr, "help");
        return RG_EXIT_BAD_INPUT;
    }
    const rg_command_help *h = rg_help_find(argv[0]);
    if (h) {
        rg_help_command(stdout, h);
        return RG_EXIT_OK;
    }
    if (!strcmp(argv[0], "keys")) {
        rg_help_keys(stdout, -1);
        return RG_EXIT_OK;
    }
    int k = rg_config_key_find(argv[0]);
    if (k >= 0) {
        rg_help_keys(stdout, k);
        return RG_EXIT_OK;
    }
    fprintf(stderr, "relgrad help: no command or key '%s'; topics: ", argv[0]);
    for (int i = 0; i < N_COMMANDS; i++) fprintf(stderr, "%s, ", COMMANDS[i].name);
    fprintf(stderr, "keys, or a key's name (`relgrad help keys` lists them)\n");
    return RG_EXIT_BAD_INPUT;
}

int rg_cmd_list(int argc, char **argv) {
    if (argc == 1 && !strcmp(argv[0], "schemes")) {
        for (int id = 0; id < rg_scheme_count(); id++)
            printf("%-12s %-9s %s\n", rg_scheme_name(id),
                   rg_scheme_is_relative(id) ? "relative" : "absolute", rg_scheme_summary(id));
        return RG_EXIT_OK;
    }
    if (argc == 1 && !strcmp(argv[0], "tasks")) {
        /* a line per task (name, n_symbols, y's length), then what the
         * symbols mean and what the task asks, indented */
        for (int t = 0; t < RG_TASK_COUNT; t++) {
            char ns[16];
            int fixed = rg_task_alphabet((rg_task)t);
            snprintf(ns, sizeof ns, fixed ? "%d" : "any", fixed);
            printf("%-28s n_symbols %-4s  |y| = %s\n", rg_task_name((rg_task)t), ns,
                   rg_task_out_len_text((rg_task)t));
            char line[600];
            snprintf(line, sizeof line, "symbols: %s", rg_task_symbols_text((rg_task)t));
            wrapped(stdout, line, 4);
            wrapped(stdout, rg_task_summary((rg_task)t), 4);
        }
        return RG_EXIT_OK;
    }
    if (argc == 0)
        fprintf(stderr, "relgrad list: what to list? schemes or tasks\n");
    else
        fprintf(stderr, "relgrad list: cannot list '%s'%s; write schemes or tasks\n", argv[0],
                argc > 1 ? " (and one thing at a time)" : "");
    rg_help_usage(stderr, "list");
    return RG_EXIT_BAD_INPUT;
}
