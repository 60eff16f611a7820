#!/usr/bin/env bash
# graph.sh: `relgrad graph` draws one training step's tape (tests/CMakeLists.txt:
# visual.graph). For every scheme in the registry, a hybrid and a model with
# segment memory:
#   - the command exits 0 and writes FILE.dot and FILE.svg;
#   - Graphviz's own `dot -Tsvg` accepts the DOT file;
#   - the graph's op nodes, counted by Graphviz (gvpr), equal the tape's node
#     count the command reports (ctx->n_nodes);
#   - with --grads every edge from an op or a parameter carries a gradient norm;
#   - the scheme's own parameters are drawn in its colour, the rest are not.
# Environment: RELGRAD_BIN (float32 build).
NAME=graph
source "$(dirname "$0")/../robust/lib.sh"
for tool in dot gvpr; do
    command -v "$tool" >/dev/null || { echo "graph: '$tool' missing (tools/setup.sh installs graphviz)"; exit 1; }
done

schemes=$("$BIN" gradcheck list | sed -n 's/^schemes: //p' | tr -d ',')
[[ -n $schemes ]] || fail "no scheme list from 'relgrad gradcheck list'"

# op nodes as Graphviz parses them
count_ops() { gvpr 'BEG_G{int n=0} N[substr(name,0,2)=="op"]{n++} END_G{print(n)}' "$1"; }

graph_case() { # LABEL ARGS...
    local label=$1
    shift
    run out.txt err.txt "$BIN" graph "$TINY" n_layers=2 batch_size=2 "$@" --out "$label.dot" --grads
    if ((RC != 0)); then
        fail "$label: relgrad graph exited $RC" "$(cat err.txt)"
        return
    fi
    pass
    check "$label: SVG written" test -s "$label.svg"
    if dot -Tsvg "$label.dot" -o "$label.check.svg" 2>dot.err; then pass; else fail "$label: dot -Tsvg rejects the graph" "$(cat dot.err)"; fi
    local tape ops
    tape=$(sed -n 's/^graph: \([0-9]*\) tape nodes.*/\1/p' out.txt)
    ops=$(count_ops "$label.dot")
    if [[ -n $tape && $tape -gt 0 && $tape == "$ops" ]]; then pass; else fail "$label: graph has $ops op nodes, the tape $tape"; fi
    # every edge from an op or a parameter carries a gradient norm (the loss
    # reaches every node here; a tensor at two inputs of one node, as q and k
    # feeding deberta's term, is measured once); constants take none
    local edges labelled
    edges=$(grep -- '->' "$label.dot" | grep -vc '^ *const')
    labelled=$(grep -- '->' "$label.dot" | grep -v '^ *const' | grep -cE '[|]g[|] |counted with')
    if ((edges > 0 && edges == labelled)); then pass; else fail "$label: $labelled of $edges edges carry a gradient norm"; fi
}

for s in $schemes; do graph_case "$s" pos="$s"; done
graph_case hybrid pos=t5,xl,fire n_layers=3
graph_case memory pos=xl mem_len=4 segment_len=4

# colour: the scheme's parameters in the scheme's fill, the block's in grey
scheme_fill='fillcolor="#f6a94e"'
if grep -q "t5_bias.weight.*$scheme_fill" t5.dot; then pass; else fail "t5: t5_bias.weight is not in the scheme's colour"; fi
if grep -q "attn.r.weight.*$scheme_fill" xl.dot; then pass; else fail "xl: attn.r.weight is not in the scheme's colour"; fi
if grep "qkv.weight" xl.dot | grep -q "$scheme_fill"; then fail "xl: qkv.weight drawn as the scheme's"; else pass; fi
# the scheme's ops: rope's rotations are labelled and coloured as rope's
n_rot=$(grep -c 'rotate_pairs.*(rope).*fillcolor="#fdd9a8"' rope.dot)
if ((n_rot == 4)); then pass; else fail "rope: $n_rot coloured rotate_pairs nodes, expected 4 (q and k in 2 layers)"; fi
# alibi works inside the kernel only: its term is named on the attention node
if grep -q 'attention_core.*score terms: alibi' alibi.dot; then pass; else fail "alibi: attention node does not name its score term"; fi

# bad input
run out.txt err.txt "$BIN" graph "$TINY" --out
((RC == 2)) && pass || fail "graph without a FILE after --out exits $RC, not 2"
run out.txt err.txt "$BIN" graph "$TINY" d_model=7 --out x.dot
if ((RC == 2)) && grep -q "argument 3" err.txt; then pass; else fail "bad key=value: exit $RC" "$(cat err.txt)"; fi

echo "graph: $CHECKS checks, $FAILS failed"
((FAILS == 0)) || { echo "graph: FAILED"; exit 1; }
echo "graph: passed"
