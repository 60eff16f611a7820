/* main.c: the relgrad program: dispatches to the subcommands in cmd_*.c.
 * Every text about the program (overview, each command's help, keys,
 * version) is in help.c and version.c. */
#include "cli.h"
#include "help.h"
#include "relgrad/runtime.h"

#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    int (*run)(int, char **);
} COMMANDS[] = {
    {"train", rg_cmd_train},         {"experiment", rg_cmd_experiment},
    {"eval", rg_cmd_eval},           {"dump", rg_cmd_dump},
    {"bench", rg_cmd_bench},         {"config", rg_cmd_config},
    {"list", rg_cmd_list},           {"help", rg_cmd_help},
    {"gradcheck", rg_cmd_gradcheck}, {"graph", rg_cmd_graph},
    {"attention", rg_cmd_attention}, {"results", rg_cmd_results},
};
enum { N_COMMANDS = sizeof COMMANDS / sizeof COMMANDS[0] };

static bool is_help(const char *arg) {
    return !strcmp(arg, "--help") || !strcmp(arg, "-h");
}

/* `relgrad help`: the overview, after checking that every command has its
 * help written (a command added without it fails here, and so does the
 * test that compares this text with the README). */
static int overview(void) {
    for (int i = 0; i < N_COMMANDS; i++)
        if (!rg_help_find(COMMANDS[i].name)) {
            fprintf(stderr, "relgrad: internal error: command '%s' has no help in src/cli/help.c\n",
                    COMMANDS[i].name);
            return RG_EXIT_ERROR;
        }
    rg_help_overview(stdout);
    return RG_EXIT_OK;
}

int main(int argc, char **argv) {
    rg_runtime_prepare(argv); /* BLIS kernels, OpenMP waiting (relgrad/runtime.h) */
    if (argc < 2) {
        rg_help_overview(stderr);
        return RG_EXIT_BAD_INPUT;
    }
    const char *cmd = argv[1];
    if (is_help(cmd) || (!strcmp(cmd, "help") && argc == 2)) return overview();
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
        rg_print_version(stdout);
        return RG_EXIT_OK;
    }
    for (int i = 0; i < N_COMMANDS; i++) {
        if (strcmp(cmd, COMMANDS[i].name)) continue;
        for (int a = 2; a < argc; a++)
            if (is_help(argv[a])) {
                const rg_command_help *h = rg_help_find(cmd);
                if (!h) {
                    fprintf(stderr, "relgrad %s: no help written for this command\n", cmd);
                    return RG_EXIT_ERROR;
                }
                rg_help_command(stdout, h);
                return RG_EXIT_OK;
            }
        return COMMANDS[i].run(argc - 2, argv + 2);
    }
    fprintf(stderr, "relgrad: unknown command '%s'; the commands are", cmd);
    for (int i = 0; i < N_COMMANDS; i++) fprintf(stderr, "%s %s", i ? "," : "", COMMANDS[i].name);
    fprintf(stderr, "\nusage: relgrad COMMAND [ARGUMENTS]   (`relgrad help` explains them)\n");
    return RG_EXIT_BAD_INPUT;
}
