#!/usr/bin/env bash
# xcheck.sh POS MEM: the outside cross-check of one scheme. Writes a float64
# gradient dump with build/relgrad-f64 (experiments/xcheck.ini; MEM > 0 turns
# on segment memory with segment_len 6) and has tools/torch_ref.py, an
# independent PyTorch implementation of SPEC, recompute loss, logits and every
# parameter gradient (relative error bound 1e-6).
set -euo pipefail
cd "$(dirname "$0")/.."
pos=$1 mem=${2:-0}
bin=${RELGRAD_BIN:-build/relgrad-f64}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
seg=0
[[ "$mem" -gt 0 ]] && seg=6
"$bin" dump experiments/xcheck.ini --out "$out/dump.h5" pos="$pos" mem_len="$mem" segment_len="$seg"
/usr/bin/python3 tools/torch_ref.py "$out/dump.h5" --tol 1e-6
