#!/usr/bin/env bash
# run-tests.sh: the README's test command. Installs what is missing, builds
# with -Wall -Wextra -Werror, runs the whole suite (both precisions), then
# builds again with AddressSanitizer + UndefinedBehaviorSanitizer and runs
# the suite there too.   Usage: tools/run-tests.sh [--no-sanitize]
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh

start=$(date +%s)
echo "== build (Release) =="
tools/build.sh build
echo "== tests (Release) =="
(cd build && ctest -j"$(nproc)" --output-on-failure --timeout 900)

if [[ "${1:-}" != "--no-sanitize" ]]; then
  echo "== build (ASan + UBSan) =="
  tools/build.sh build-asan -DCMAKE_BUILD_TYPE=Debug -DRELGRAD_SANITIZE=ON -DCMAKE_C_FLAGS_DEBUG="-O1 -g"
  echo "== tests (ASan + UBSan) =="
  # detect_leaks: the suite must not leak; OpenMP's thread pool is not a leak.
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
     ctest -j"$(nproc)" --output-on-failure --timeout 1800 -LE no_sanitize)
fi
echo "== all tests passed in $(( $(date +%s) - start )) s =="
