/* spawn.c: starting helper programs (Graphviz's dot, the Python drawing
 * tools) with an argument vector, never through a shell, and waiting for
 * them (inspect.h). The experiment layer starts its tools through it too. */
#include "relgrad/inspect.h"

#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

extern char **environ;

int rg_spawn_wait(char *const argv[], char *why, size_t n) {
    fflush(NULL); /* what we printed comes before what the child prints */
    pid_t pid;
    int rc = strchr(argv[0], '/') ? posix_spawn(&pid, argv[0], NULL, NULL, argv, environ)
                                  : posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ);
    if (rc) {
        snprintf(why, n, "cannot start %s: %s", argv[0], strerror(rc));
        return -1;
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) {
            snprintf(why, n, "waiting for %s: %s", argv[0], strerror(errno));
            return -1;
        }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
            snprintf(why, n, "cannot start %s (exit status 127: not installed?)", argv[0]);
        else if (WIFEXITED(status))
            snprintf(why, n, "%s exited with status %d", argv[0], WEXITSTATUS(status));
        else
            snprintf(why, n, "%s was killed by signal %d", argv[0], WTERMSIG(status));
        return -1;
    }
    return 0;
}

const char *rg_tool_path(const char *name, char *buf, size_t n) {
    snprintf(buf, n, "%s/tools/%s", RELGRAD_SOURCE_DIR, name);
    return buf;
}
