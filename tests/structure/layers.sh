#!/usr/bin/env bash
# layers.sh: the source tree keeps the shape docs/architecture.md describes.
#   1. Layers: src/<layer>/ folders, bottom to top
#        core ops schemes data config nn io train check cli
#      and no object file calls a relgrad function defined in a layer above
#      its own (checked on the built library with nm).
#   2. One scheme, one file: each of the names rope, alibi, t5, xl, deberta
#      appears in at most 3 files of src/ and include/ (its scheme file, the
#      registry, include/relgrad/schemes.h).
#   3. No shell: no system() or popen() anywhere in src/.
# Usage: tests/structure/layers.sh LIBRARY.a ...   (ctest passes librelgrad.a
#        and the program's librelgrad_cli_f32.a)
set -euo pipefail
cd "$(dirname "$0")/../.."
(($# > 0)) || { echo "usage: layers.sh LIBRARY.a ..." >&2; exit 2; }
libs=("$@")
mapfile -t layers < <(sed -n 's/^\([a-z_][a-z_]*\).*/\1/p' src/layers.txt)
fail=0

rank_of() { # layer name -> its rank
    local i
    for i in "${!layers[@]}"; do [[ ${layers[$i]} == "$1" ]] && { echo "$i"; return; }; done
    echo "layers.sh: src/$1/ is not a known layer; add it to the list (and to docs/architecture.md)" >&2
    exit 1
}

# every src/*/ folder is a layer
for d in src/*/; do rank_of "$(basename "$d")" >/dev/null; done

# object (basename.c.o) -> layer, and symbol -> the layer defining it
declare -A layer_of_obj def_layer
while IFS= read -r f; do
    layer_of_obj["$(basename "$f").o"]=$(rank_of "$(basename "$(dirname "$f")")")
done < <(find src -name '*.c' ! -path src/cli/main.c)
current=""
while IFS= read -r line; do
    [[ $line =~ ^(.+\.o):$ ]] && { current=${BASH_REMATCH[1]}; continue; }
    [[ $line =~ [[:space:]][TDBR][[:space:]](rg_[A-Za-z0-9_]+)$ ]] || continue
    def_layer[${BASH_REMATCH[1]}]=${layer_of_obj[$current]:-}
done < <(nm "${libs[@]}")
current=""
checked=0
while IFS= read -r line; do
    [[ $line =~ ^(.+\.o):$ ]] && { current=${BASH_REMATCH[1]}; continue; }
    [[ $line =~ [[:space:]]U[[:space:]](rg_[A-Za-z0-9_]+)$ ]] || continue
    sym=${BASH_REMATCH[1]} mine=${layer_of_obj[$current]:-}
    there=${def_layer[$sym]:-}
    [[ -z $mine || -z $there ]] && continue
    checked=$((checked + 1))
    if ((there > mine)); then
        echo "FAIL: $current (layer ${layers[$mine]}) calls $sym from layer ${layers[$there]}, above it"
        fail=1
    fi
done < <(nm "${libs[@]}")
echo "layers: $checked calls between relgrad's objects checked against ${layers[*]}"

for name in rope alibi t5 xl deberta; do
    files=$(grep -rliE "(^|[^a-z0-9])$name([^a-z0-9]|$)" src include | sort)
    n=$(echo "$files" | grep -c . || true)
    if ((n > 3)); then
        echo "FAIL: '$name' appears in $n files of src/ and include/ (at most 3):"
        echo "$files" | sed 's/^/    /'
        fail=1
    else
        echo "scheme name '$name': $n files ($(echo $files))"
    fi
done

if grep -rnE '\b(system|popen)[[:space:]]*\(' src; then
    echo "FAIL: src/ starts a shell (spawn with an argument vector instead)"
    fail=1
fi
exit $fail
