#!/usr/bin/env bash
# eval_memory.sh: peak RSS of `relgrad eval` (no-grad, key/value-cache
# decoding and chunked teacher forcing) at sequence lengths 256, 1024 and
# 4096, for the schemes none, rope, alibi and t5, on the benchmark's large
# model (d_model 256, 8 heads, 4 layers). Memory should grow linearly with
# the length: no T x T buffer is kept. Usage: tools/eval_memory.sh [threads]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${RELGRAD:-build/relgrad}
threads=${1:-2}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
model="d_model=256 n_heads=8 n_layers=4 d_ff=1024 max_positions=8192 batch_size=4 train_len=8"
printf '| pos | length 256 | length 1024 | length 4096 |\n|---|---|---|---|\n'
for pos in none rope alibi t5; do
  # one training step: a checkpoint of this architecture
  $bin train experiments/bench.ini $model pos=$pos steps=1 eval_lens=8 eval_n=1 \
    out_dir="$dir/$pos" threads="$threads" >/dev/null
  row="| $pos |"
  for n in 127 511 2047; do # copy: a sequence of 2n+3 tokens, 2n+2 fed
    kb=$( { /usr/bin/time -f '%M' $bin eval "$dir/$pos/checkpoint.h5" eval_lens=$n eval_n=1 \
            threads="$threads" >/dev/null; } 2>&1 | tail -n 1)
    row="$row $((kb / 1024)) MB |"
  done
  echo "$row"
done
