#!/usr/bin/env bash
# install.sh: `cmake --install` makes a library another C program can use.
# Installs BUILD_DIR into a temporary prefix, then checks that
#   - it holds librelgrad.a, librelgrad_f64.a, the public headers of
#     include/relgrad/ (every one, nothing else), relgrad.pc,
#     relgrad-f64.pc and lib/cmake/relgrad/ (config, version, targets);
#   - each public header compiles on its own against the installed copy,
#     C11 with -Wall -Wextra -Werror, in both precisions;
#   - docs/example_mlp.c builds against the installed copy with
#     find_package(relgrad) in a small CMake project (tests/install/project)
#     and with `pkg-config --cflags --libs relgrad` (and relgrad-f64), and each
#     binary prints what the in-tree example_mlp (example_mlp_f64) prints.
# Usage: tests/install/install.sh BUILD_DIR   (env: CC, the build's compiler)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$(cd "${1:?usage: install.sh BUILD_DIR}" && pwd)
CC=${CC:-cc}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
P=$WORK/prefix
fail=0
pass() { echo "ok: $1"; }
bad() { echo "FAIL: $1"; [[ -n ${2:-} ]] && echo "$2" | sed 's/^/    /'; fail=1; }

cmake --install "$BUILD" --prefix "$P" >"$WORK/install.log" 2>&1 ||
    { bad "cmake --install $BUILD --prefix $P" "$(tail -n 20 "$WORK/install.log")"; exit 1; }

# ---- what is installed ---------------------------------------------------------------------------
libdir=$(dirname "$(find "$P" -name librelgrad.a | head -n 1)")
for f in "$libdir/librelgrad.a" "$libdir/librelgrad_f64.a" "$libdir/pkgconfig/relgrad.pc" \
    "$libdir/pkgconfig/relgrad-f64.pc" "$libdir/cmake/relgrad/relgradConfig.cmake" \
    "$libdir/cmake/relgrad/relgradConfigVersion.cmake" "$libdir/cmake/relgrad/relgradTargets.cmake"; do
    [[ -f $f ]] && pass "installed ${f#"$P"/}" || bad "not installed: ${f#"$P"/}"
done
want=$(cd "$ROOT/include/relgrad" && ls *.h)
got=$(cd "$P/include/relgrad" 2>/dev/null && ls)
[[ $want == "$got" ]] && pass "include/relgrad: the $(echo "$want" | wc -l) public headers" ||
    bad "include/relgrad holds other files than the public headers" "$(diff <(echo "$want") <(echo "$got"))"
grep -lE '#include "(\.\./)*src/|#include "[a-z_]+/[a-z_]+_internal\.h"' "$P"/include/relgrad/*.h &&
    bad "a public header includes a file of src/" || pass "no public header includes src/"

# ---- each header on its own ---------------------------------------------------------------------
alone=0
for h in "$P"/include/relgrad/*.h; do
    for def in "" -DRELGRAD_F64; do
        printf '#include "relgrad/%s"\nint main(void) { return 0; }\n' "$(basename "$h")" >"$WORK/one.c"
        if "$CC" -std=c11 -Wall -Wextra -Werror $def -I"$P/include" -c "$WORK/one.c" -o "$WORK/one.o" \
            2>"$WORK/cc.err"; then :; else
            bad "relgrad/$(basename "$h") ${def:-(float32)} does not compile alone" "$(head -n 5 "$WORK/cc.err")"
            continue
        fi
        alone=$((alone + 1))
    done
done
((alone > 0)) && pass "$alone compilations of one installed header alone (C11, both precisions)"

# ---- the example, built two ways -----------------------------------------------------------------
"$BUILD/example_mlp" >"$WORK/expected_f32.txt"
"$BUILD/example_mlp_f64" >"$WORK/expected_f64.txt"
[[ -s $WORK/expected_f32.txt && -s $WORK/expected_f64.txt ]] || bad "the in-tree examples print nothing"
same() { # NAME BINARY PRECISION
    if "$2" >"$WORK/got.txt" 2>"$WORK/got.err" && cmp -s "$WORK/got.txt" "$WORK/expected_$3.txt"; then
        pass "$1 runs and prints what the in-tree example prints"
    else
        bad "$1 prints other output" "$(diff "$WORK/expected_$3.txt" "$WORK/got.txt"; head -n 5 "$WORK/got.err")"
    fi
}

# find_package(relgrad)
if CC=$CC cmake -S "$ROOT/tests/install/project" -B "$WORK/project" -DCMAKE_PREFIX_PATH="$P" \
    -DEXAMPLE="$ROOT/docs/example_mlp.c" >"$WORK/project.log" 2>&1 &&
    cmake --build "$WORK/project" >>"$WORK/project.log" 2>&1; then
    same "find_package(relgrad): relgrad::relgrad" "$WORK/project/example_mlp" f32
    same "find_package(relgrad): relgrad::relgrad_f64" "$WORK/project/example_mlp_f64" f64
else
    bad "a CMake project with find_package(relgrad) does not build" "$(tail -n 20 "$WORK/project.log")"
fi

# pkg-config
export PKG_CONFIG_PATH=$libdir/pkgconfig
for pc in relgrad relgrad-f64; do
    prec=f32
    [[ $pc == relgrad-f64 ]] && prec=f64
    if flags=$(pkg-config --cflags --libs "$pc" 2>"$WORK/pc.err") &&
        "$CC" "$ROOT/docs/example_mlp.c" $flags -o "$WORK/example_$pc" 2>"$WORK/cc.err"; then
        same "cc example_mlp.c \$(pkg-config --cflags --libs $pc)" "$WORK/example_$pc" $prec
    else
        bad "cc example_mlp.c \$(pkg-config --cflags --libs $pc) fails" "$(cat "$WORK/pc.err" "$WORK/cc.err" | head -n 10)"
    fi
done

exit $fail
