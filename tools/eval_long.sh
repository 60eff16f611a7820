#!/usr/bin/env bash
# eval_long.sh: evaluates finished runs of an experiment at lengths beyond
# its grid's eval_lens (Ruoss et al. test up to 500 symbols; the grids here
# stop at 97) and writes one CSV row per run and length.
#
# Usage: tools/eval_long.sh OUT.csv LENS RUN_DIR...
#   OUT.csv  written (replaced) when every run is evaluated
#   LENS     eval_lens for `relgrad eval`, e.g. 100..500:100
#   RUN_DIR  OUT_DIR/runs/TASK-POS-SEED of `relgrad experiment`, holding the
#            run's checkpoint.h5 and train_log.csv (`relgrad train --from
#            RESULTS TASK/POS/SEED out_dir=...` remakes a run that is gone)
# Environment: RELGRAD (default build/relgrad), EVAL_N (default 64, as the
# grids), THREADS (default 1).
#
# Columns: experiment (the directory above runs/), task, pos, seed, step (the
# checkpoint's: the last line of train_log.csv), length, exact_match,
# token_acc. The evaluation sets are the grids' (one per length, the same for
# every run), so rows of two runs at a length compare like for like.
set -euo pipefail
if [ $# -lt 3 ]; then
  sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
bin=${RELGRAD:-build/relgrad}
out=$1 lens=$2
shift 2
tmp="$out.tmp.$$"
trap 'rm -f "$tmp"' EXIT
echo "experiment,task,pos,seed,step,length,exact_match,token_acc" >"$tmp"
n=$#
i=0
for dir in "$@"; do
  i=$((i + 1))
  dir=${dir%/}
  ckpt="$dir/checkpoint.h5"
  if [ ! -f "$ckpt" ]; then
    echo "eval_long.sh: $ckpt: no checkpoint; remake the run with relgrad train --from" >&2
    exit 2
  fi
  name=$(basename "$dir") # TASK-POS-SEED (task names have no '-')
  task=${name%%-*} rest=${name#*-}
  pos=${rest%-*} seed=${rest##*-}
  experiment=$(basename "$(dirname "$(dirname "$dir")")")
  step=$(tail -n 1 "$dir/train_log.csv" | cut -d, -f1)
  echo "eval_long.sh: [$i/$n] $experiment $task $pos seed $seed (step $step)" >&2
  # rows: TASK POS LENGTH EXACT TOKEN [(training length)]
  "$bin" eval "$ckpt" eval_lens="$lens" eval_n="${EVAL_N:-64}" threads="${THREADS:-1}" --quiet |
    awk -v pre="$experiment,$task,$pos,$seed,$step" \
      'NR > 1 && NF >= 5 { print pre "," $3 "," $4 "," $5 }' >>"$tmp"
done
mv "$tmp" "$out"
trap - EXIT
echo "eval_long.sh: wrote $out ($n runs)" >&2
