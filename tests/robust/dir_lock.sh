#!/usr/bin/env bash
# dir_lock.sh: one owner per run directory (out_dir/.lock, an flock).
#   - While a train runs in out_dir, a second train, an experiment and a
#     2-rank data-parallel train (mpirun) on the same out_dir exit 2 naming
#     the holder's pid, and the first run finishes untouched: its losses equal
#     those of a run nobody disturbed, its checkpoint loads.
#   - A run killed with SIGKILL leaves its lock file behind (naming the dead
#     process) but not the lock: the same command resumes at once and ends
#     with the undisturbed run's losses. The same for an experiment.
# Usage: tests/robust/dir_lock.sh   (env: RELGRAD_BIN)
NAME=dir_lock
source "$(dirname "$0")/lib.sh"
source "$HERE/mpi_lib.sh"

STEPS=1500
train() { "$BIN" train "$TINY" "out_dir=$1" "steps=$STEPS" checkpoint_every=50 "${@:2}"; }

# ---- the undisturbed run ----------------------------------------------------------
expect_exit 0 "reference run" train ref

# ---- a second process on a held directory ----------------------------------------
"$BIN" train "$TINY" out_dir=held "steps=$STEPS" checkpoint_every=50 >held.out 2>held.err </dev/null &
holder=$!
if wait_lines held/train_log.csv 20 "$holder"; then
    # Freeze the holder while the others knock: a stopped process keeps its
    # flock, and on a loaded machine 1500 tiny steps can otherwise end before
    # the third knock (CI saw the 2-rank train get the directory).
    kill -STOP "$holder"
    expect_exit 2 "second train on a held out_dir" train held &&
        expect_stderr "second train" "in use by process $holder" "held/\.lock"
    expect_exit 2 "experiment on a held out_dir" "$BIN" experiment "$TINY" out_dir=held steps=10 &&
        expect_stderr "experiment" "in use by process $holder"
    expect_exit 2 "2-rank train on a held out_dir" mpi 2 "$BIN" train "$TINY" out_dir=held steps=10 &&
        expect_stderr "2-rank train" "in use by process $holder"
    kill -CONT "$holder"
else
    fail "the first run ended or never logged 20 steps" "$(cat held.err)"
fi
wait "$holder"
rc=$?
check "the first run finishes (exit $rc)" test "$rc" -eq 0
check "its log holds steps 1..$STEPS in order" log_consecutive held/train_log.csv "$STEPS"
check "its losses equal the undisturbed run's" cmp -s <(losses ref/train_log.csv) <(losses held/train_log.csv)
check "its checkpoint loads" loadable held/checkpoint.h5

# ---- a killed run's directory resumes ------------------------------------------------
"$BIN" train "$TINY" out_dir=killed "steps=$STEPS" checkpoint_every=50 >killed.out 2>&1 </dev/null &
victim=$!
wait_lines killed/train_log.csv 200 "$victim"
kill -9 "$victim"
wait "$victim" 2>/dev/null
check "the lock file names the killed process" grep -q "^$victim " killed/.lock
expect_exit 0 "resume after SIGKILL (stale lock file)" train killed
# (progress lines come every 75 steps; the checkpoint was at step 150 or later)
check "the second run resumed from the checkpoint" grep -q "step $STEPS/$STEPS" last.out last.err
check "... and did not start over" bash -c "! grep -q 'step 75/$STEPS' last.out"
check "resumed losses equal the undisturbed run's" cmp -s <(losses ref/train_log.csv) <(losses killed/train_log.csv)

# ---- and an experiment's -------------------------------------------------------------
EXPER=("$BIN" experiment "$TINY" out_dir=exp tasks=copy positions=rope,none seeds=1,2 steps=300 checkpoint_every=50)
"${EXPER[@]}" >exp.out 2>&1 </dev/null &
victim=$!
for _ in $(seq 2000); do [[ -s exp/runs/copy-rope-2/train_log.csv ]] && break; sleep 0.005; done
kill -9 "$victim"
wait "$victim" 2>/dev/null
check "the experiment's lock file names the killed process" grep -q "^$victim " exp/.lock
expect_exit 0 "experiment resumes after SIGKILL" "${EXPER[@]}"
check "it wrote table.md" test -s exp/table.md

finish "train, experiment and mpirun on a held out_dir exit 2; killed runs resume"
