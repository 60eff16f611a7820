/* runtime.h: what the relgrad program settles about its own process at
 * startup: how OpenMP threads wait, and which of BLIS's kernels run.
 *
 * Both are environment variables that OpenMP (libgomp) and BLIS read once,
 * so the program sets them for itself before either reads them, and only
 * when the user has not set them (a user's setting always wins):
 *
 *   GOMP_SPINCOUNT   how long a thread that waits at an OpenMP barrier spins
 *                    before it sleeps. libgomp's default (300000 spins, more
 *                    than a scheduler time slice here) makes a 2-thread run
 *                    that shares its cores with another job collapse: the
 *                    waiting thread holds its core while the thread it waits
 *                    for is descheduled. libgomp reads the variable when it
 *                    is loaded, before main, so rg_runtime_prepare sets it
 *                    and re-executes the program once (execv of
 *                    /proc/self/exe with the same arguments and the same
 *                    process id). Not under valgrind, which would not follow
 *                    the exec (and runs threads one at a time anyway).
 *   BLIS_ARCH_TYPE   which of BLIS's kernel sets runs. A BLIS that does not
 *                    know the CPU (BLIS 0.9.0 on AMD Zen 5, say) falls back to
 *                    its portable C kernels, several times slower than its
 *                    AVX-512 or AVX2 ones on the same CPU. rg_runtime_prepare
 *                    asks BLIS (in a forked child, so this process's BLIS is
 *                    still unset) what it would choose, and when that is the
 *                    generic set on a CPU that has AVX-512 (or AVX2 + FMA),
 *                    selects BLIS's skx (or haswell) kernels instead. A BLIS
 *                    that picks haswell on an AVX-512 CPU it cannot name (an
 *                    Intel Xeon under KVM, say: 1.76x slower sgemm there)
 *                    gets skx too.
 *
 * Library users (tests, programs linking librelgrad) get neither unless
 * their main calls rg_runtime_prepare first. docs/performance.md has the
 * measurements behind both choices.
 */
#ifndef RELGRAD_RUNTIME_H
#define RELGRAD_RUNTIME_H

/* Spins (libgomp's unit: iterations of its wait loop) before a waiting
 * OpenMP thread sleeps. */
#define RG_SPIN_COUNT "1000"

/* Settle both (above); may re-execute the program with argv. Call first
 * thing in main, before any thread or BLIS call exists. */
void rg_runtime_prepare(char **argv);

/* What BLIS runs, for reports: "BLIS 0.9.0, skx kernels (BLIS_ARCH_TYPE=0,
 * chosen by relgrad: ...)". Initializes BLIS. */
const char *rg_runtime_blas_text(char *buf, unsigned long n);

#endif
