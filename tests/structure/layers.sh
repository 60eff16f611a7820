#!/usr/bin/env bash
# layers.sh: the source tree keeps the shape docs/architecture.md describes.
#   1. Layers: the folders of src/ are the layers of src/layers.txt (bottom
#      to top: core ops schemes data config nn io train check inspect
#      experiment cli), and no object file calls a relgrad function defined
#      in a layer above its own (checked on the built libraries with nm).
#      Where src/layers.txt lists a layer's files in order (config: keys.c
#      parse.c validate.c), each of them calls none listed after it.
#   2. One scheme, one file: every scheme of src/schemes/registry.c's
#      SCHEMES list is named (tests/structure/scheme_names.py says what
#      counts) only in its own file src/schemes/<name>.c, in registry.c and
#      in at most one public header of include/relgrad/. The rule is first
#      tried on a small made-up tree, so a checker that finds nothing fails.
#   3. No shell: no system() or popen() anywhere in src/.
# Usage: tests/structure/layers.sh LIBRARY.a ...   (ctest passes librelgrad.a
#        and the program's librelgrad_cli_f32.a)
set -euo pipefail
cd "$(dirname "$0")/../.."
(($# > 0)) || { echo "usage: layers.sh LIBRARY.a ..." >&2; exit 2; }
libs=("$@")
fail=0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# ---- 1. layers ---------------------------------------------------------------------------
mapfile -t layers < <(sed -n 's/^\([a-z_][a-z_]*\).*/\1/p' src/layers.txt)
((${#layers[@]} >= 2)) || { echo "FAIL: src/layers.txt names ${#layers[@]} layers"; exit 1; }

rank_of() { # layer name -> its rank
    local i
    for i in "${!layers[@]}"; do [[ ${layers[$i]} == "$1" ]] && { echo "$i"; return; }; done
    echo "layers.sh: src/$1/ is not a layer of src/layers.txt; add it there (and to docs/architecture.md)" >&2
    exit 1
}

# every src/*/ folder is a layer
for d in src/*/; do rank_of "$(basename "$d")" >/dev/null; done

# object (basename.c.o) -> layer, and symbol -> the object and the layer defining it
nm "${libs[@]}" >"$work/nm.txt"
declare -A layer_of_obj def_layer def_obj
while IFS= read -r f; do
    layer_of_obj["$(basename "$f").o"]=$(rank_of "$(basename "$(dirname "$f")")")
done < <(find src -name '*.c' ! -path src/cli/main.c)
current=""
while IFS= read -r line; do
    [[ $line =~ ^(.+\.o):$ ]] && { current=${BASH_REMATCH[1]}; continue; }
    [[ $line =~ [[:space:]][TDBR][[:space:]](rg_[A-Za-z0-9_]+)$ ]] || continue
    def_layer[${BASH_REMATCH[1]}]=${layer_of_obj[$current]:-}
    def_obj[${BASH_REMATCH[1]}]=$current
done <"$work/nm.txt"

# the files a layer orders: object -> its place in that order
declare -A place_of_obj
while read -r layer files; do
    [[ -z $files ]] && continue
    i=0
    for f in $files; do
        [[ -f src/$layer/$f ]] || { echo "FAIL: src/layers.txt orders src/$layer/$f, which does not exist"; fail=1; }
        place_of_obj["$f.o"]=$i
        i=$((i + 1))
    done
done < <(grep -E '^[a-z_]+' src/layers.txt)

current=""
checked=0
ordered=0
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
    obj=${def_obj[$sym]}
    if [[ -n ${place_of_obj[$current]:-} && -n ${place_of_obj[$obj]:-} ]]; then
        ordered=$((ordered + 1))
        if ((place_of_obj[$obj] > place_of_obj[$current])); then
            echo "FAIL: $current calls $sym of $obj, which src/layers.txt orders after it"
            fail=1
        fi
    fi
done <"$work/nm.txt"
((checked > 100)) || { echo "FAIL: only $checked calls between objects found in ${libs[*]}"; fail=1; }
echo "layers: $checked calls between relgrad's objects checked against ${layers[*]};" \
    "$ordered between ordered files"

# ---- 2. one scheme, one file -------------------------------------------------------------
# the rule on a made-up tree: prose and comments do not count, identifiers and values do
mkdir -p "$work/tree/src/schemes" "$work/tree/src/cli" "$work/tree/include/relgrad"
printf '#define SCHEMES(X) \\\n    X(none) \\\n    X(fire)\n' >"$work/tree/src/schemes/registry.c"
printf '/* pos = fire */\nconst char *a = "trains none (MPI)", *b = "(none)";\n' >"$work/tree/src/cli/prose.c"
printf 'const char *c = "pos=fire steps=5";\n' >"$work/tree/src/cli/value.c"
printf 'int RG_NONE_MAX;\n' >"$work/tree/src/cli/ident.c"
printf 'const char *d = "a,none";\n' >"$work/tree/include/relgrad/list.h"
expected=$'none include/relgrad/list.h src/cli/ident.c src/schemes/registry.c\nfire src/cli/value.c src/schemes/registry.c'
got=$(tests/structure/scheme_names.py "$work/tree")
if [[ $got == "$expected" ]]; then
    echo "scheme names: the rule finds what it should on a made-up tree"
else
    echo "FAIL: tests/structure/scheme_names.py on a made-up tree printed"
    echo "$got" | sed 's/^/    /'
    echo "  instead of"
    echo "$expected" | sed 's/^/    /'
    fail=1
fi

n_schemes=0
while read -r name files; do
    n_schemes=$((n_schemes + 1))
    bad=() headers=()
    for f in $files; do
        case $f in
        "src/schemes/$name.c" | src/schemes/registry.c) ;;
        include/relgrad/*.h) headers+=("$f") ;;
        *) bad+=("$f") ;;
        esac
    done
    ((${#headers[@]} > 1)) && bad+=("${headers[@]}")
    [[ -f src/schemes/$name.c ]] || bad+=("(src/schemes/$name.c is missing)")
    if ((${#bad[@]})); then
        echo "FAIL: scheme '$name' is named outside its file, registry.c and one public header:"
        printf '    %s\n' "${bad[@]}"
        fail=1
    else
        echo "scheme '$name': named in $files"
    fi
done < <(tests/structure/scheme_names.py)
((n_schemes >= 2)) || { echo "FAIL: $n_schemes schemes read from src/schemes/registry.c"; fail=1; }

# ---- 3. no shell -------------------------------------------------------------------------
if grep -rnE '\b(system|popen)[[:space:]]*\(' src; then
    echo "FAIL: src/ starts a shell (spawn with an argument vector instead)"
    fail=1
fi
exit $fail
