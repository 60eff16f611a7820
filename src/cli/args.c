/* args.c: reading a run command's line into a config: the file, the
 * key=value overrides (each numbered as it stands on the command line, so
 * options between them do not shift the numbers in messages), the options;
 * refusing the experiment grid's keys in commands that would ignore them;
 * the exit status after results went to stdout. */
#include "args.h"

#include "cli.h"
#include "help.h"
#include "relgrad/train.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

/* "steps=5" with a known key before '=' (not a file name with a '=' in it) */
static bool is_key_value(const char *arg) {
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg || (size_t)(eq - arg) >= 64) return false;
    char key[64];
    memcpy(key, arg, (size_t)(eq - arg));
    key[eq - arg] = '\0';
    return rg_config_key_find(key) >= 0;
}

static int usage_error(const char *cmd, rg_cli_args *a) {
    rg_help_usage(stderr, cmd);
    rg_cli_args_free(a);
    return RG_EXIT_BAD_INPUT;
}

int rg_cli_parse(const char *cmd, int argc, char **argv, unsigned options, rg_cli_args *a) {
    memset(a, 0, sizeof *a);
    a->cmd = cmd;
    a->over = rg_xcalloc((size_t)argc + 1, sizeof *a->over, "arguments");
    a->over_arg = rg_xcalloc((size_t)argc + 1, sizeof *a->over_arg, "arguments");
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        int number = i + 2; /* "relgrad" is 0, the command 1 */
        if (arg[0] == '-' && arg[1] == '-' && arg[2]) {
            const char *name = arg + 2;
            if (!strcmp(name, "dry-run") && (options & RG_OPT_DRY_RUN)) {
                a->dry_run = true;
            } else if (!strcmp(name, "quiet") && (options & RG_OPT_QUIET)) {
                a->quiet = true, a->quiet_arg = number;
            } else if ((!strcmp(name, "out") && (options & RG_OPT_OUT)) ||
                       (!strcmp(name, "checkpoint") && (options & RG_OPT_CHECKPOINT)) ||
                       (!strcmp(name, "from") && (options & RG_OPT_FROM))) {
                if (i + 1 >= argc || !argv[i + 1][0]) {
                    fprintf(stderr, "relgrad %s: argument %d: %s needs a file name after it\n", cmd,
                            number, arg);
                    return usage_error(cmd, a);
                }
                *(name[0] == 'o'   ? &a->out
                  : name[0] == 'c' ? &a->checkpoint
                                   : &a->from) = argv[++i];
            } else {
                fprintf(stderr, "relgrad %s: argument %d: unknown option '%s'; %s takes", cmd,
                        number, arg, cmd);
                static const char *const NAMES[] = {"--dry-run", "--quiet", "--out FILE",
                                                    "--checkpoint FILE", "--from RESULTS"};
                for (int o = 0; o < 5; o++)
                    if (options & (1u << o)) fprintf(stderr, " %s", NAMES[o]);
                fprintf(stderr, " --help\n");
                return usage_error(cmd, a);
            }
        } else if (!a->file && a->n_over == 0 && !is_key_value(arg)) {
            a->file = arg;
        } else {
            a->over_arg[a->n_over] = number;
            a->over[a->n_over++] = (char *)arg;
        }
    }
    return 0;
}

void rg_cli_args_free(rg_cli_args *a) {
    free(a->over), free(a->over_arg);
    a->over = NULL, a->over_arg = NULL;
}

int rg_cli_apply(const rg_cli_args *a, rg_config *c, rg_error *err) {
    for (int i = 0; i < a->n_over; i++)
        if (rg_config_override(c, 1, &a->over[i], a->over_arg[i], err)) return 2;
    if (a->quiet) {
        char where[32];
        snprintf(where, sizeof where, "argument %d", a->quiet_arg);
        if (rg_config_set(c, "quiet", "1", where, err)) return 2;
    }
    return 0;
}

int rg_cli_load(const rg_cli_args *a, rg_config *c, rg_error *err) {
    rg_config_defaults(c);
    if (a->file && rg_config_load(c, a->file, err)) return 2;
    return rg_cli_apply(a, c, err);
}

/* ---- the grid's keys ------------------------------------------------------------------ */

static const char *const GRID_KEYS[] = {"tasks", "positions", "seeds"};
static const char *const RUN_KEYS[] = {"task", "pos", "seed"};

/* Whether key `name` differs from its default in c; its value in `value`. */
static bool changed(const rg_config *c, const rg_config *defaults, const char *name, char *value,
                    size_t n) {
    char def[RG_TEXT_MAX];
    rg_config_get(c, name, value, n);
    rg_config_get(defaults, name, def, sizeof def);
    return strcmp(value, def) != 0;
}

/* Set by the user (a file or an argument), not read from a checkpoint. */
static bool set_by_user(const rg_config *c, const char *name) {
    const char *where = c->where[rg_config_key_find(name)];
    return where[0] && !strstr(where, " attribute ");
}

bool rg_cli_has_grid(const rg_config *c) {
    rg_config *d = rg_xmalloc(sizeof *d, "a config");
    rg_config_defaults(d);
    bool any = false;
    char value[RG_TEXT_MAX];
    for (int i = 0; i < 3; i++) any |= changed(c, d, GRID_KEYS[i], value, sizeof value);
    free(d);
    return any;
}

int rg_cli_refuse_grid_keys(const char *cmd, const char *file, const rg_config *c, rg_error *err) {
    rg_config *d = rg_xmalloc(sizeof *d, "a config");
    rg_config_defaults(d);
    size_t used = 0, n = sizeof err->msg;
    int refused = 0;
    char first[3][128] = {"", "", ""}, names[64] = "";
    for (int i = 0; i < 3; i++) {
        char value[RG_TEXT_MAX], run[RG_TEXT_MAX];
        if (!set_by_user(c, GRID_KEYS[i]) || !changed(c, d, GRID_KEYS[i], value, sizeof value))
            continue;
        rg_config_get(c, RUN_KEYS[i], run, sizeof run);
        used += (size_t)snprintf(err->msg + used, n - used,
                                 "%s%s: key '%s' (%.60s%s): read by `relgrad experiment` only; "
                                 "%s reads %s (here %s)",
                                 used ? "\n" : "", c->where[rg_config_key_find(GRID_KEYS[i])],
                                 GRID_KEYS[i], value, strlen(value) > 60 ? "..." : "", cmd,
                                 RUN_KEYS[i], run);
        if (used >= n) used = n - 1;
        snprintf(first[i], sizeof first[i], "%.*s", (int)strcspn(value, ","), value);
        snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s",
                 refused ? " and " : "", GRID_KEYS[i]);
        refused++;
    }
    free(d);
    if (!refused) return 0;
    char one[400] = "";
    for (int i = 0; i < 3; i++)
        if (first[i][0])
            snprintf(one + strlen(one), sizeof one - strlen(one), " %s=%s", GRID_KEYS[i], first[i]);
    snprintf(err->msg + used, n - used,
             "\nfix: run the grid with `relgrad experiment %.200s` (one run of it: add%s); to "
             "%s one model, remove %s from the config or give %s %s default%s",
             file ? file : "CONFIG", one, strcmp(cmd, "train") ? "use" : "train", names,
             refused > 1 ? "them" : "it", refused > 1 ? "their" : "its", refused > 1 ? "s" : "");
    return 2;
}

/* ---- exit ------------------------------------------------------------------------------ */

int rg_cli_stdout_status(const char *cmd, int rc) {
    errno = 0;
    bool closed = fflush(stdout) == EOF && errno == EPIPE;
    closed |= ferror(stdout) && rg_stop_signal() == SIGPIPE;
    if (!closed || rc != 0) return rc;
    fprintf(stderr,
            "relgrad %s: the output was closed (SIGPIPE) before all results were written; the "
            "files are complete\n",
            cmd);
    return 128 + SIGPIPE;
}
