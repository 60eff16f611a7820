#!/usr/bin/env bash
# xcheck.sh POS MEM [key=value ...]: the outside cross-check of one config.
# Writes a gradient dump with build/relgrad-f64 (experiments/xcheck.ini; MEM > 0
# turns on segment memory with segment_len 6; further key=value arguments go
# to `relgrad dump` after those, so they win: random_positions=64,
# pos=rope,alibi, fire_L=4, ...) and has tools/torch_ref.py, PyTorch through
# tools/relgrad.py, recompute loss, logits and every parameter gradient.
# --train N (anywhere after MEM): train the model N steps first (lr 0.03,
# float64) and dump the trained one (`dump --checkpoint`): for parameters
# that start at zero (CoPE's pos_emb), whose paths a fresh model leaves
# unused.
# Bound: relative error 1e-11 for a float64 dump (torch_ref's default), 1e-4
# for a float32 one (RELGRAD_BIN=build/relgrad); XCHECK_TOL overrides both.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ $# -lt 1 ]]; then
  echo "usage: tools/xcheck.sh POS [MEM] [key=value ...]" >&2
  exit 2
fi
pos=$1 mem=${2:-0}
shift $(($# >= 2 ? 2 : 1))
train=0 args=()
while [[ $# -gt 0 ]]; do
  if [[ "$1" == --train ]]; then
    train=$2
    shift 2
  else
    args+=("$1")
    shift
  fi
done
set -- "${args[@]+"${args[@]}"}"
bin=${RELGRAD_BIN:-build/relgrad-f64}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
seg=0
[[ "$mem" -gt 0 ]] && seg=6
if [[ "$train" -gt 0 ]]; then
  "$bin" train experiments/xcheck.ini pos="$pos" mem_len="$mem" segment_len="$seg" "$@" \
    steps="$train" warmup=5 lr=0.03 eval_n=4 checkpoint_every="$train" out_dir="$out/train" --quiet >/dev/null
  "$bin" dump --checkpoint "$out/train/checkpoint.h5" --out "$out/dump.h5" --quiet
else
  "$bin" dump experiments/xcheck.ini --out "$out/dump.h5" pos="$pos" mem_len="$mem" segment_len="$seg" "$@"
fi
tol=()
[[ -n "${XCHECK_TOL:-}" ]] && tol=(--tol "$XCHECK_TOL")
/usr/bin/python3 tools/torch_ref.py "$out/dump.h5" "${tol[@]}"
