#!/usr/bin/env bash
# build.sh: configure and build relgrad into build/ (both precisions + tests).
# Usage: tools/build.sh [build-dir] [extra cmake args...]
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}
shift || true
mkdir -p "$dir"
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release "$@" >"$dir/cmake.log" 2>&1 || {
  cat "$dir/cmake.log" >&2
  exit 1
}
# show compiler messages, not the progress lines
set +e
cmake --build "$dir" -j"$(nproc)" 2>&1 | grep -v '^\[.*%\]'
rc=${PIPESTATUS[0]}
set -e
exit "$rc"
