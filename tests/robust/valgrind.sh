#!/usr/bin/env bash
# valgrind.sh: memcheck over the program's main paths and error paths (tiny
# config, threads = 1):
#   train, stopped by SIGTERM (exit 143) -> train resumed to the end ->
#   eval -> dump, and the error paths: eval of a truncated checkpoint, resume
#   with a mismatched key, a diverging run (exit 3), train and experiment
#   into unusable out_dirs, an experiment whose plot fails, eval of a
#   directory. (About 3 s per run.)
# Every run must keep its expected exit status: memcheck turns any invalid
# read or write, use of uninitialised memory, bad free, or definitely /
# indirectly lost block into exit 99. ("Possibly lost" and still-reachable
# blocks are not counted: OpenMP's and BLIS's thread pools and HDF5's
# library state hold memory until exit by design.)
# Usage: tests/robust/valgrind.sh   (env: RELGRAD_BIN; exits 77 = skipped
# when valgrind is not installed)
NAME=valgrind
source "$(dirname "$0")/lib.sh"
t_start=$(now)

if ! command -v valgrind >/dev/null; then
    echo "$NAME: SKIPPED: valgrind is not installed (apt-get install valgrind)"
    exit 77
fi
VG=(valgrind -q --leak-check=full --show-leak-kinds=definite,indirect
    --errors-for-leak-kinds=definite,indirect --error-exitcode=99 --num-callers=30)
runs=0

# vg CODE WHAT ARGS...: relgrad ARGS under memcheck must exit CODE; memcheck's
# report (if any) is shown in full.
vg() {
    local code=$1 what=$2
    shift 2
    runs=$((runs + 1))
    "${VG[@]}" --log-file="$WORK/vg.$runs.log" "$BIN" "$@" >"$WORK/vg.out" 2>"$WORK/vg.err" </dev/null
    local rc=$?
    if [[ $rc -eq $code && ! -s "$WORK/vg.$runs.log" ]]; then pass; return 0; fi
    fail "$what: exit $rc (expected $code$([[ $rc -eq 99 ]] && echo '; 99 = memcheck errors'))" \
        "command: relgrad $*" "relgrad stderr: $(head -c 400 "$WORK/vg.err")" \
        "memcheck:" "$(cat "$WORK/vg.$runs.log")"
    return 1
}

R=$WORK/run
# 1. train, stopped by SIGTERM once a few checkpoints are written
runs=$((runs + 1))
"${VG[@]}" --log-file="$WORK/vg.$runs.log" "$BIN" train "$TINY" out_dir="$R" steps=40 eval_n=2 \
    >"$WORK/vg.out" 2>"$WORK/vg.err" </dev/null &
pid=$!
if wait_lines "$R/train_log.csv" 11 $pid; then kill -TERM $pid; fi
wait $pid
rc=$?
if [[ $rc -eq 143 && ! -s "$WORK/vg.$runs.log" ]]; then pass; else
    fail "train stopped by SIGTERM: exit $rc (expected 143)" "relgrad stderr: $(head -c 400 "$WORK/vg.err")" \
        "memcheck:" "$(cat "$WORK/vg.$runs.log")"
fi
# 2. resume to the end, 3. eval, 4. dump
vg 0 "train resumed" train "$TINY" out_dir="$R" steps=40 eval_n=2
check "resumed run finished" log_consecutive "$R/train_log.csv" 40
vg 0 "eval" eval "$R/checkpoint.h5" eval_n=5
vg 0 "dump" dump "$TINY" --out "$WORK/dump.h5"
# error paths
head -c 20000 "$R/checkpoint.h5" >"$WORK/half.h5"
vg 2 "eval of a truncated checkpoint" eval "$WORK/half.h5"
vg 2 "resume with d_model=32" train "$TINY" out_dir="$R" steps=40 d_model=32
vg 3 "diverging run (lr=1e4)" train "$TINY" out_dir="$WORK/div" lr=1e4 warmup=0 checkpoint_every=1 steps=50
# the failure paths of experiment, train and eval: every message is filled in
touch "$WORK/a-file"
vg 2 "train into an out_dir under a file" train "$TINY" out_dir="$WORK/a-file/run" steps=5
vg 2 "experiment into an out_dir that is a file" experiment "$TINY" out_dir="$WORK/a-file" steps=5
mkdir -p "$WORK/exp/plot.png" # the plot cannot be written: the spawned plotter fails
vg 1 "experiment whose plot fails" experiment "$TINY" out_dir="$WORK/exp" steps=4 eval_n=2 \
    positions=alibi,fire
check "a failed plot still leaves results.h5 and table.md" test -s "$WORK/exp/results.h5" -a -s "$WORK/exp/table.md"
vg 2 "eval of a directory" eval "$WORK/exp"

finish "$runs relgrad runs under memcheck (train, SIGTERM, resume, eval, dump, 7 error paths); $(elapsed "$t_start") s"
