#!/usr/bin/env bash
# eval_long.sh: tools/eval_long.sh, which evaluates finished runs at longer
# lengths: one CSV row per run and length, named from the run directory, with
# the checkpoint's step and the numbers `relgrad eval` prints; a missing
# checkpoint stops it with exit 2 and leaves no CSV behind.
# Usage: tests/robust/eval_long.sh   (env: RELGRAD_BIN)
NAME=eval_long
source "$(dirname "$0")/lib.sh"
TOOL=$ROOT/tools/eval_long.sh
export RELGRAD=$BIN

for seed in 1 2; do
    expect_exit 0 "train seed $seed" "$BIN" train "$TINY" steps=12 seed=$seed \
        out_dir=exp/runs/copy-rope-$seed --quiet
done
expect_exit 0 "eval_long over both runs" "$TOOL" long.csv 6,9 exp/runs/copy-rope-1 exp/runs/copy-rope-2/
check "header and 4 rows (2 runs x 2 lengths)" test "$(wc -l <long.csv)" -eq 5
check "the header names the columns" \
    test "$(head -n 1 long.csv)" = "experiment,task,pos,seed,step,length,exact_match,token_acc"
check "rows named from the directory, with the checkpoint's step" \
    test "$(cut -d, -f1-6 long.csv | tail -n 4 | tr '\n' ' ')" = \
    "exp,copy,rope,1,12,6 exp,copy,rope,1,12,9 exp,copy,rope,2,12,6 exp,copy,rope,2,12,9 "
# the numbers are relgrad eval's own (same evaluation set: eval_n 64 by default)
expect_exit 0 "relgrad eval of seed 2" "$BIN" eval exp/runs/copy-rope-2/checkpoint.h5 \
    eval_lens=9 eval_n=64 threads=1 --quiet
want=$(awk 'NR > 1 && NF >= 5 { print $4 "," $5 }' last.out)
check "seed 2 at 9 as relgrad eval prints it ($want)" \
    test "$(grep '^exp,copy,rope,2,12,9,' long.csv | cut -d, -f7-8)" = "$want"

# a run without a checkpoint: exit 2, says which, and the old CSV stays
mkdir -p exp/runs/copy-rope-3
cp long.csv before.csv
expect_exit 2 "a run without a checkpoint" "$TOOL" long.csv 6 exp/runs/copy-rope-1 exp/runs/copy-rope-3
expect_stderr "... naming it" "copy-rope-3/checkpoint.h5: no checkpoint" "relgrad train --from"
check "... and long.csv is unchanged" cmp -s long.csv before.csv
check "... with no temporary file left" test -z "$(ls long.csv.tmp.* 2>/dev/null)"
expect_exit 2 "no arguments: usage" "$TOOL"
expect_stderr "... usage" "Usage: tools/eval_long.sh OUT.csv LENS RUN_DIR"

finish "eval_long.sh: rows, names, numbers, a missing checkpoint"
