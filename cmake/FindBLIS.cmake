# FindBLIS.cmake: BLIS, the library behind relgrad's matrix products, as the
# imported target BLIS::BLIS (library and include directory). Debian's
# OpenMP build (libblis4-openmp, libblis-openmp-dev) installs its header
# under a multiarch directory; the library is the alternatives-managed
# libblis.so. Used by relgrad's own build and, installed beside
# relgradConfig.cmake, by programs that find_package(relgrad).
# Sets BLIS_FOUND, BLIS_INCLUDE_DIR, BLIS_LIBRARY.
find_path(BLIS_INCLUDE_DIR blis.h
  PATHS /usr/include/x86_64-linux-gnu/blis-openmp /usr/include/blis /usr/include
  NO_DEFAULT_PATH)
find_library(BLIS_LIBRARY NAMES blis
  PATHS /usr/lib/x86_64-linux-gnu/blis-openmp /usr/lib/x86_64-linux-gnu)
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(BLIS
  REQUIRED_VARS BLIS_LIBRARY BLIS_INCLUDE_DIR
  FAIL_MESSAGE "BLIS not found: run tools/setup.sh (installs libblis-dev libblis4-openmp)")
if(BLIS_FOUND AND NOT TARGET BLIS::BLIS)
  add_library(BLIS::BLIS UNKNOWN IMPORTED)
  # an imported target's include directory is a system one for its users:
  # blis.h itself does not build warning-free under -Wextra
  set_target_properties(BLIS::BLIS PROPERTIES
    IMPORTED_LOCATION "${BLIS_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${BLIS_INCLUDE_DIR}")
endif()
