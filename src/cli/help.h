/* help.h: every text the program shows about itself - the overview, each
 * command's help, the keys, the lists of schemes and tasks, the version -
 * written once in help.c (and version.c). main.c, `relgrad help`,
 * `relgrad CMD --help` and the README's usage block (tools/update_readme.sh)
 * all print from here. */
#ifndef RELGRAD_CLI_HELP_H
#define RELGRAD_CLI_HELP_H

#include <stdbool.h>
#include <stdio.h>

/* Which keys a command accepts, for its help. */
typedef enum {
    RG_HELP_NO_KEYS,   /* takes no keys                                     */
    RG_HELP_KEYS_RUN,  /* every key but the experiment grid's               */
    RG_HELP_KEYS_ALL,  /* every key                                         */
    RG_HELP_KEYS_EVAL, /* the keys flagged RG_KEY_EVAL                      */
} rg_help_keys_kind;

typedef struct rg_command_help {
    const char *name;    /* "train"                                          */
    const char *args;    /* "CONFIG [key=value ...]", for the overview       */
    const char *summary; /* one line, for the overview                       */
    const char *usage;   /* "usage: relgrad train ...", one or more lines     */
    const char *text;    /* what it does, arguments, options, output          */
    rg_help_keys_kind keys;
    const char *keys_note; /* NULL, or a line printed above its keys           */
    const char *examples;  /* lines "relgrad ..." separated by '\n'            */
} rg_command_help;

/* The help of a command, or NULL. */
const rg_command_help *rg_help_find(const char *name);

/* `relgrad help`: what the program does, the commands, the options, the
 * exit status. */
void rg_help_overview(FILE *f);
/* `relgrad help CMD` / `relgrad CMD --help`. */
void rg_help_command(FILE *f, const rg_command_help *h);
/* `relgrad help keys` (only = NULL) or `relgrad help KEY`: default, range,
 * group and help text of every key (of one key). */
void rg_help_keys(FILE *f, int only);
/* The usage line(s) of a command and a pointer to its full help, after a
 * usage error. */
void rg_help_usage(FILE *f, const char *cmd);

/* `relgrad --version`: version, precision, git commit, BLIS and HDF5. */
void rg_print_version(FILE *f);
/* "0.1.0": the version of this build (CMakeLists.txt's project version). */
const char *rg_version(void);

int rg_cmd_help(int argc, char **argv);
int rg_cmd_list(int argc, char **argv);

#endif
