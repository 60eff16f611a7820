/* cli.h: the subcommands of the relgrad program (SPEC section 5). Each
 * takes the arguments after its name and returns the process exit status:
 * 0 success, 1 internal error, 2 bad input, 3 training diverged. */
#ifndef RELGRAD_CLI_H
#define RELGRAD_CLI_H

#include "relgrad/config.h"

enum { RG_EXIT_OK = 0, RG_EXIT_ERROR = 1, RG_EXIT_BAD_INPUT = 2, RG_EXIT_DIVERGED = 3 };

int rg_cmd_config(int argc, char **argv); /* cmd_config.c; help and list: help.h */
int rg_cmd_train(int argc, char **argv);
int rg_cmd_eval(int argc, char **argv);
int rg_cmd_experiment(int argc, char **argv);
int rg_cmd_dump(int argc, char **argv);
int rg_cmd_bench(int argc, char **argv);
int rg_cmd_gradcheck(int argc, char **argv);
int rg_cmd_graph(int argc, char **argv);
int rg_cmd_attention(int argc, char **argv);
int rg_cmd_results(int argc, char **argv); /* cmd_results.c */

/* The exit status for a run's status rc (0, 2, 3, 128+N), after printing
 * err's message as "relgrad CMD: ..." when rc is not 0 (cmd_train.c). */
int rg_report_status(const char *cmd, int rc, const rg_error *err);

#endif
