/* spawn.h: starting helper programs (Graphviz's dot, the Python drawing
 * tools) with an argument vector, never through a shell, and waiting for
 * them. */
#ifndef RELGRAD_CLI_SPAWN_H
#define RELGRAD_CLI_SPAWN_H

#include <stddef.h>

/* Run argv[0] (searched in PATH when it has no '/') with argv, wait for it.
 * 0 when it exited with status 0; else -1 with what happened in why
 * ("cannot start dot: No such file or directory", "... exited with status 1"). */
int rg_spawn_wait(char *const argv[], char *why, size_t n);

/* "<source dir>/tools/<name>" into buf: the Python tools beside the build. */
const char *rg_tool_path(const char *name, char *buf, size_t n);

#endif
