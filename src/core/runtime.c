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

/* The kernel set this BLIS would choose by itself here (an arch_t), asked
 * in a child process, because BLIS fixes its choice for good the first time
 * it is asked; -1 when the child could not be run. */
static int blis_own_choice(void) {
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) _exit((int)bli_arch_query_id());
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static bool cpu_has_avx512(void) {
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("avx512cd");
}

/* The kernel set relgrad runs instead of BLIS's own choice `own`, or -1 to
 * keep BLIS's. Two cases:
 * - BLIS does not know the CPU and would run its portable C kernels (BLIS
 *   0.9.0 on AMD Zen 5): skx on an AVX-512 CPU, haswell on AVX2 + FMA.
 * - BLIS chose haswell (AVX2) on a CPU with AVX-512. BLIS 0.9.0 takes skx
 *   only when it can count two 512-bit FMA units, which it reads off the
 *   CPU's brand string; a virtual machine's "Intel(R) Xeon(R) Processor"
 *   names no model, so it settles for haswell. On an Intel Xeon (family 6
 *   model 207) under KVM, BLIS's skx kernels ran a 2-thread sgemm at 1.76x
 *   its haswell kernels' speed (docs/performance.md, "A fourth CPU"). On a
 *   part with one 512-bit FMA unit skx is about as fast as haswell. */
static int blis_kernels_instead_of(int own) {
    __builtin_cpu_init();
    bool avx512 = cpu_has_avx512();
    if (own == BLIS_ARCH_GENERIC) {
        if (avx512) return BLIS_ARCH_SKX;
        if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
            return BLIS_ARCH_HASWELL;
        return -1;
    }
    if (own == BLIS_ARCH_HASWELL && avx512) return BLIS_ARCH_SKX;
    return -1;
}

void rg_runtime_prepare(char **argv) {
    if (!getenv("BLIS_ARCH_TYPE")) {
        int own = blis_own_choice();
        int arch = own >= 0 ? blis_kernels_instead_of(own) : -1;
        if (arch >= 0) {
            char id[16];
            snprintf(id, sizeof id, "%d", arch);
            setenv("BLIS_ARCH_TYPE", id, 1);
            /* read by rg_runtime_blas_text: what BLIS would have run */
            setenv("RELGRAD_BLIS_OWN", bli_arch_string((arch_t)own), 1);
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
    const char *own = getenv("RELGRAD_BLIS_OWN");
    if (own && set)
        snprintf(buf, n,
                 "BLIS %s, %s kernels (BLIS_ARCH_TYPE=%s, chosen by relgrad: this BLIS "
                 "would run its %s kernels on this CPU)",
                 bli_info_get_version_str(), bli_arch_string(arch), set, own);
    else if (set)
        snprintf(buf, n, "BLIS %s, %s kernels (BLIS_ARCH_TYPE=%s from the environment)",
                 bli_info_get_version_str(), bli_arch_string(arch), set);
    else
        snprintf(buf, n, "BLIS %s, %s kernels (BLIS's own choice, BLIS_ARCH_TYPE=%d)",
                 bli_info_get_version_str(), bli_arch_string(arch), (int)arch);
    return buf;
}
