#!/usr/bin/env bash
# experiment_plan.sh: the plan of an experiment (--dry-run, `relgrad
# config`) sees each run as the experiment trains it: a task with its own
# alphabet (tasks = sort:5) is planned with n_symbols = 5, so after the grid
# has run, the plan finds every run complete (and a plan with another
# alphabet is refused, naming the checkpoint's).
# Usage: tests/robust/experiment_plan.sh   (env: RELGRAD_BIN)
NAME=experiment_plan
source "$(dirname "$0")/lib.sh"
t_start=$(now)

grid=(tasks=copy,sort:5 positions=rope,alibi steps=2 out_dir="$WORK/grid")
expect_exit 0 "an experiment with its own alphabet for sort" "$BIN" experiment "$TINY" "${grid[@]}" --quiet
for cmd in "experiment --dry-run" config; do
    read -ra words <<<"$cmd"
    if expect_exit 0 "relgrad $cmd after the runs" "$BIN" "${words[0]}" "$TINY" "${grid[@]}" "${words[@]:1}"; then
        grep -q "0 to start, 0 to resume, 4 complete" "$WORK/last.out" && pass ||
            fail "relgrad $cmd: the plan does not find the 4 runs complete" "$(grep -A1 '^plan' "$WORK/last.out")"
    fi
done
expect_exit 2 "a plan with another alphabet for sort" "$BIN" experiment "$TINY" tasks=copy,sort:6 \
    positions=rope,alibi steps=2 out_dir="$WORK/grid" --dry-run &&
    expect_stderr "a plan with another alphabet for sort" "n_symbols = 5"

finish "plans of a grid with a task's own alphabet; $(elapsed "$t_start") s"
