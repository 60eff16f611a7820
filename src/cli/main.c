/* main.c: the relgrad program: dispatches to the subcommands in cmd_*.c. */
#include "cli.h"
#include "relgrad/runtime.h"
#include "relgrad/tensor.h"

#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    int (*run)(int, char **);
    const char *args, *what;
} COMMANDS[] = {
    {"train", rg_cmd_train, "CONFIG [key=value ...]", "one run: checkpoints, metrics, final eval"},
    {"eval", rg_cmd_eval, "CHECKPOINT [key=value ...]", "evaluate a checkpoint at eval_lens"},
    {"experiment", rg_cmd_experiment, "CONFIG [key=value ...]", "grid tasks x positions x seeds"},
    {"dump", rg_cmd_dump, "CONFIG --out FILE [key=value ...]",
     "one batch's loss, logits, gradients"},
    {"bench", rg_cmd_bench, "CONFIG [key=value ...]", "timed training steps"},
};
enum { N_COMMANDS = sizeof COMMANDS / sizeof COMMANDS[0] };

static int usage(FILE *f) {
    fprintf(f, "relgrad (%s): length generalization of positional schemes\n\nusage:\n",
            RG_REAL_NAME);
    for (int i = 0; i < N_COMMANDS; i++)
        fprintf(f, "  relgrad %-10s %-34s %s\n", COMMANDS[i].name, COMMANDS[i].args,
                COMMANDS[i].what);
    fprintf(f, "\nCONFIG is an INI file (see experiments/); key=value arguments override it.\n"
               "Exit status: 0 ok, 1 internal error, 2 bad input, 3 training diverged.\n");
    return f == stdout ? RG_EXIT_OK : RG_EXIT_BAD_INPUT;
}

int main(int argc, char **argv) {
    rg_runtime_prepare(argv); /* BLIS kernels, OpenMP waiting (relgrad/runtime.h) */
    if (argc < 2) return usage(stderr);
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help"))
        return usage(stdout);
    for (int i = 0; i < N_COMMANDS; i++)
        if (!strcmp(argv[1], COMMANDS[i].name)) return COMMANDS[i].run(argc - 2, argv + 2);
    fprintf(stderr, "relgrad: unknown command '%s'\n\n", argv[1]);
    return usage(stderr);
}
