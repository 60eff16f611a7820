#!/usr/bin/env bash
# readme.sh: the documents say what the repository holds.
#   - README.md's usage block (between <!-- begin: relgrad help --> and
#     <!-- end: relgrad help -->) is exactly `relgrad help` (fix:
#     tools/update_readme.sh);
#   - every relative link in README.md and docs/*.md points at a file or
#     directory of the repository (a user's clone has nothing else: no
#     ../shared/);
#   - include/relgrad/relgrad.h includes every public header, as it says.
# Usage: tests/robust/readme.sh   (env: RELGRAD_BIN)
NAME=readme
source "$(dirname "$0")/lib.sh"

expect_exit 0 "relgrad help" "$BIN" help
awk '/^<!-- begin: relgrad help -->$/ { on = 1; next } /^<!-- end: relgrad help -->$/ { on = 0 } on' \
    "$ROOT/README.md" | sed '1{/^```$/d}; ${/^```$/d}' >block.txt
if [[ ! -s block.txt ]]; then
    fail "README.md has no usage block between <!-- begin: relgrad help --> and <!-- end: relgrad help -->"
elif cmp -s block.txt last.out; then pass; else
    fail "README.md's usage block differs from \`relgrad help\`; run tools/update_readme.sh" \
        "$(diff block.txt last.out | head -n 8)"
fi

links=0
for doc in "$ROOT/README.md" "$ROOT"/docs/*.md; do
    # [text](target): targets without a scheme, anchors stripped
    while IFS= read -r target; do
        target=${target%%#*}
        [[ -z $target || $target =~ ^[a-z]+: ]] && continue
        links=$((links + 1))
        if [[ -e "$(dirname "$doc")/$target" ]]; then pass; else
            fail "${doc#"$ROOT"/}: link to '$target', which the repository does not hold"
        fi
    done < <(grep -oE '\]\([^) ]+\)' "$doc" | sed 's/^](//; s/)$//')
done

for h in "$ROOT"/include/relgrad/*.h; do
    base=$(basename "$h")
    [[ $base == relgrad.h ]] && continue
    grep -q "#include \"relgrad/$base\"" "$ROOT/include/relgrad/relgrad.h" && pass ||
        fail "include/relgrad/relgrad.h does not include $base"
done

finish "usage block, $links relative links, relgrad.h"
