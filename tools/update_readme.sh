#!/usr/bin/env bash
# update_readme.sh: rewrite the README's usage block - the lines between
#   <!-- begin: relgrad help -->  and  <!-- end: relgrad help -->
# - with the output of `relgrad help` in a code block, so the README shows
# exactly what the program says (src/cli/help.c). tests/robust/readme.sh
# fails when they differ; run this after changing the help text.
# Usage: tools/update_readme.sh [RELGRAD_BINARY]   (default build/relgrad)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build/relgrad}
[[ -x $bin ]] || { echo "update_readme.sh: $bin not found; build first (tools/build.sh)" >&2; exit 1; }
help=$("$bin" help)
grep -q '^<!-- begin: relgrad help -->$' README.md && grep -q '^<!-- end: relgrad help -->$' README.md || {
    echo "update_readme.sh: README.md lacks the '<!-- begin: relgrad help -->' / '<!-- end: relgrad help -->' lines" >&2
    exit 1
}
tmp=$(mktemp README.md.XXXXXX)
awk -v help="$help" '
    /^<!-- begin: relgrad help -->$/ { print; print "```"; print help; print "```"; skip = 1; next }
    /^<!-- end: relgrad help -->$/ { skip = 0 }
    !skip { print }' README.md >"$tmp"
mv "$tmp" README.md
echo "update_readme.sh: README.md's usage block = \`$bin help\`"
