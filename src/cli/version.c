/* version.c: `relgrad --version`: this build's version and precision, the
 * git commit of its sources (captured at build time by
 * cmake/build_info.cmake; "unknown" when built outside a git checkout), the
 * compiler, and the versions of the BLIS and HDF5 libraries it runs with
 * (asked from the libraries themselves, not from their headers). */
#include "help.h"
#include "relgrad/tensor.h"

/* Written by the CMake build; a build without that step (tools/fuzz.sh
 * compiles the sources itself) says "unknown" (tests/robust/cli.sh checks
 * that the real build knows its version and commit). */
#if defined(__has_include) && __has_include("relgrad_build_info.h")
#include "relgrad_build_info.h"
#else
#define RELGRAD_VERSION    "unknown"
#define RELGRAD_GIT_COMMIT "unknown"
#endif

#include <blis.h>
#include <hdf5.h>

const char *rg_version(void) {
    return RELGRAD_VERSION;
}

void rg_print_version(FILE *f) {
    unsigned major = 0, minor = 0, release = 0;
    H5get_libversion(&major, &minor, &release);
    fprintf(f, "relgrad %s (%s)\n", RELGRAD_VERSION, RG_REAL_NAME);
    fprintf(f, "git commit %s\n", RELGRAD_GIT_COMMIT);
    fprintf(f, "built with %s\n",
#ifdef __VERSION__
            "C compiler " __VERSION__
#else
            "an unknown C compiler"
#endif
    );
    fprintf(f, "BLIS %s\n", bli_info_get_version_str());
    fprintf(f, "HDF5 %u.%u.%u\n", major, minor, release);
}
