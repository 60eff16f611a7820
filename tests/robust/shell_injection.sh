#!/usr/bin/env bash
# shell_injection.sh: no path or config value ever reaches a shell. For
# out_dir values holding quotes, ';', $(...), backticks, spaces and a
# newline, `relgrad experiment` (which also starts the plotter) must either
# finish with its files in exactly that directory or exit 2 with a message,
# and must never run anything else: each value tries to create a file
# PWNED-<n>, and none may appear anywhere under the scratch directory or the
# current directory.
NAME=shell_injection
source "$(dirname "$0")/lib.sh"
t_start=$(now)

values=(
    "q'; touch PWNED-1; echo '"
    'd"; touch PWNED-2; echo "'
    'semi;touch PWNED-3'
    'sub$(touch PWNED-4)'
    'tick`touch PWNED-5`'
    'two words && touch PWNED-6'
    $'new\nline; touch PWNED-7'
    "x';touch PWNED-8;'"
)
for i in "${!values[@]}"; do
    v=${values[$i]}
    out="$WORK/exp/$v"
    "$BIN" experiment "$TINY" out_dir="$out" steps=3 eval_n=2 >"$WORK/out.$i" 2>"$WORK/err.$i" </dev/null
    rc=$?
    if [[ $rc -eq 0 ]]; then
        check "out_dir #$i: results.h5 in that exact directory" test -s "$out/results.h5"
        check "out_dir #$i: plot.png in that exact directory" test -s "$out/plot.png"
        check "out_dir #$i: table.md in that exact directory" test -s "$out/table.md"
    elif [[ $rc -eq 2 ]]; then
        check "out_dir #$i: refused with a message" test -s "$WORK/err.$i"
    else
        fail "out_dir #$i ('$v'): exit $rc (expected 0 or 2)" "$(head -c 400 "$WORK/err.$i")"
    fi
done
# a shell would have run touch in the current directory ($WORK) or the tools'
pwned=$(find "$WORK" "$ROOT" -name 'PWNED-*' 2>/dev/null)
check "no value ran a command (no PWNED-* file)" test -z "$pwned"
[[ -n "$pwned" ]] && echo "$pwned"

finish "${#values[@]} hostile out_dir values; $(elapsed "$t_start") s"
