/* runtime.c: the startup settings of include/relgrad/runtime.h: BLIS's
 * kernel set, and OpenMP's spin count through one re-execution. */
#include "relgrad/runtime.h"

#include <blis.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#else
#define RUNNING_ON_VALGRIND 0
#endif

/* True when this BLIS would run its generic kernels here: asked in a child
 * process, because BLIS fixes its choice for good the first time it is asked. */
static bool blis_would_be_generic(void) {
    pid_t pid = fork();
    if (pid < 0) return false;
    if (pid == 0) _exit(bli_arch_query_id() == BLIS_ARCH_GENERIC ? 1 : 0);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
    }
    return WIFEXITED(status) && WEXITSTATUS(status) == 1;
}

/* BLIS's best kernels for this CPU when BLIS itself does not know it: -1 = none. */
static int blis_kernels_for_cpu(void) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512cd"))
        return BLIS_ARCH_SKX;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return BLIS_ARCH_HASWELL;
    return -1;
}

void rg_runtime_prepare(char **argv) {
    if (!getenv("BLIS_ARCH_TYPE") && blis_would_be_generic()) {
        int arch = blis_kernels_for_cpu();
        if (arch >= 0) {
            char id[16];
            snprintf(id, sizeof id, "%d", arch);
            setenv("BLIS_ARCH_TYPE", id, 1);
            setenv("RELGRAD_BLIS_CHOSEN", "1", 1); /* read by rg_runtime_blas_text */
        }
    }
    if (RUNNING_ON_VALGRIND || getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT")) return;
    setenv("GOMP_SPINCOUNT", RG_SPIN_COUNT, 1);
    execv("/proc/self/exe", argv);
    /* no /proc, or exec refused: go on with libgomp's default waiting */
}

const char *rg_runtime_blas_text(char *buf, unsigned long n) {
    arch_t arch = bli_arch_query_id();
    const char *set = getenv("BLIS_ARCH_TYPE");
    if (getenv("RELGRAD_BLIS_CHOSEN") && set)
        snprintf(buf, n,
                 "BLIS %s, %s kernels (BLIS_ARCH_TYPE=%s, chosen by relgrad: this BLIS "
                 "would run its generic kernels on this CPU)",
                 bli_info_get_version_str(), bli_arch_string(arch), set);
    else if (set)
        snprintf(buf, n, "BLIS %s, %s kernels (BLIS_ARCH_TYPE=%s from the environment)",
                 bli_info_get_version_str(), bli_arch_string(arch), set);
    else
        snprintf(buf, n, "BLIS %s, %s kernels (BLIS's own choice, BLIS_ARCH_TYPE=%d)",
                 bli_info_get_version_str(), bli_arch_string(arch), (int)arch);
    return buf;
}
