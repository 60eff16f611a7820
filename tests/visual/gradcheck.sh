#!/usr/bin/env bash
# gradcheck.sh: `relgrad-f64 gradcheck` from the command line (tests/CMakeLists.txt:
# visual.gradcheck). Run with the float64 build (RELGRAD_BIN=relgrad-f64):
#   - the whole model passes for every scheme in the registry (and with memory
#     for a relative one), and every op in `gradcheck list` passes: exit 0 and
#     a worst relative error, read from the output, within docs/gradcheck.md's
#     float64 bound of 1e-6 (compared here, not trusted from the exit code);
#   - a deliberately wrong gradient (--break: one backward sends 1.001 times
#     its gradient) exits 4 with FAIL, for the model and for an op;
#   - bad input exits 2 and says what is wrong.
NAME=gradcheck
source "$(dirname "$0")/../robust/lib.sh"
BOUND=1e-6

"$BIN" gradcheck list >list.txt 2>&1 || fail "gradcheck list exits nonzero"
grep -q "float64" < <("$BIN" gradcheck rotate_pairs) || {
    echo "gradcheck: $BIN is not the float64 build (set RELGRAD_BIN to relgrad-f64)"
    exit 1
}
schemes=$(sed -n 's/^schemes: //p' list.txt | tr -d ',')
ops=$(awk 'NR > 1 && !/^schemes:/ {print $1}' list.txt)
[[ -n $schemes && -n $ops ]] || fail "gradcheck list names no schemes or ops" "$(cat list.txt)"

# within BOUND: exit 0, PASS, and the printed worst error <= BOUND
passes() { # LABEL ARGS...
    local label=$1
    shift
    run out.txt err.txt "$BIN" gradcheck "$@"
    local worst
    worst=$(sed -n 's/^PASS: worst relative error \([^,]*\),.*/\1/p' out.txt)
    if ((RC == 0)) && [[ -n $worst ]] && awk -v w="$worst" -v b="$BOUND" 'BEGIN{exit !(w <= b)}'; then
        pass
    else
        fail "$label: exit $RC, worst '$worst' (bound $BOUND)" "$(tail -3 out.txt)" "$(cat err.txt)"
    fi
}

for s in $schemes; do passes "model pos=$s" model pos="$s" n_layers=1; done
passes "model pos=t5,xl mem_len=4" model pos=t5,xl mem_len=4
passes "model of a CONFIG file" model "$TINY" n_layers=1 T=4
passes "model pos=fire random_positions=30" model pos=fire random_positions=30 n_layers=1
for op in $ops; do passes "op $op" "$op"; done
passes "attention_core at other sizes" attention_core B=1 H=2 T=35 Tk=40 D=3

# a deliberately wrong gradient is caught
run out.txt err.txt "$BIN" gradcheck model pos=rope n_layers=1 --break layernorm
if ((RC == 4)) && grep -q "^FAIL: worst relative error" out.txt; then pass; else fail "model --break layernorm: exit $RC" "$(tail -2 out.txt)" "$(cat err.txt)"; fi
run out.txt err.txt "$BIN" gradcheck attention_core --break attention_core
if ((RC == 4)) && grep -q "^FAIL" out.txt; then pass; else fail "op --break: exit $RC" "$(tail -2 out.txt)"; fi
# its error is the 1e-3 that was put in
worst=$(sed -n 's/^FAIL: worst relative error \([^,]*\),.*/\1/p' out.txt)
if awk -v w="$worst" 'BEGIN{exit !(w > 5e-4 && w < 2e-3)}'; then pass; else fail "--break: worst error $worst, expected ~1e-3"; fi

# bad input
run out.txt err.txt "$BIN" gradcheck model d_model=7
if ((RC == 2)) && grep -q "d_model" err.txt; then pass; else fail "model d_model=7: exit $RC" "$(cat err.txt)"; fi
run out.txt err.txt "$BIN" gradcheck no_such_op
if ((RC == 2)) && grep -q "gradcheck list" err.txt; then pass; else fail "unknown op: exit $RC" "$(cat err.txt)"; fi
run out.txt err.txt "$BIN" gradcheck rotate_pairs D=3
if ((RC == 2)) && grep -q "D must be even" err.txt; then pass; else fail "rotate_pairs D=3: exit $RC" "$(cat err.txt)"; fi
run out.txt err.txt "$BIN" gradcheck model pos=rope --break no_such_node
if ((RC == 2)) && grep -q "no node named" err.txt; then pass; else fail "--break unknown node: exit $RC" "$(cat err.txt)"; fi

echo "gradcheck: $CHECKS checks, $FAILS failed"
((FAILS == 0)) || { echo "gradcheck: FAILED"; exit 1; }
echo "gradcheck: passed"
