#!/usr/bin/env bash
# mpi_data_parallel.sh: data-parallel training under mpirun.
#   - float64 (relgrad-f64): with the same global batch, the losses of 50
#     steps on 2 ranks and on 3 ranks (rows 2,3,3 of a batch of 8) equal one
#     process's to 1e-10, with clipping active every step (grad_clip 0.05,
#     so the clip must use the global norm) and examples of unequal length
#     (so each rank's loss must be scaled by the global mask count). A
#     control proves the comparison can see such small differences: lr
#     changed by 1e-6 of itself must move the losses by more than 1e-10.
#   - a batch smaller than the number of ranks is refused (exit 2).
#   - float32: one rank killed with SIGKILL ends the job with mpirun's
#     message naming the rank; the checkpoint loads; the run resumes under
#     mpirun and ends with exactly the losses of an uninterrupted 2-rank run.
# Usage: tests/robust/mpi_data_parallel.sh   (env: RELGRAD_BIN, RELGRAD_F64_BIN)
NAME=mpi_data_parallel
source "$(dirname "$0")/lib.sh"
source "$HERE/mpi_lib.sh"
F64=${RELGRAD_F64_BIN:-$ROOT/build/relgrad-f64}

# ---- float64: 1 process vs 2 and 3 ranks ---------------------------------------------
DP=(steps=50 grad_clip=0.05 eval_n=1 checkpoint_every=1000)
expect_exit 0 "f64, one process" "$F64" train "$TINY" out_dir=one "${DP[@]}"
expect_exit 0 "f64, 2 ranks" mpi 2 "$F64" train "$TINY" out_dir=two "${DP[@]}"
check "2 ranks: said so" grep -q "data-parallel over 2 ranks" last.out last.err
expect_exit 0 "f64, 3 ranks" mpi 3 "$F64" train "$TINY" out_dir=three "${DP[@]}"
expect_exit 0 "f64, one process, lr x (1 + 1e-6)" "$F64" train "$TINY" out_dir=nudged "${DP[@]}" lr=1.000001e-3

# max_diff A B: the largest |loss difference| over the steps of two logs
max_diff() {
    paste -d, <(losses "$1") <(losses "$2") |
        awk -F, '{ d = $1 - $2; if (d < 0) d = -d; if (d > m) m = d } END { printf "%.3g\n", m + 0 }'
}
within() { awk -v d="$1" -v t="$2" 'BEGIN { exit !(d <= t) }'; }
check "one process logged 50 float64 losses (17 digits)" \
    test "$(losses one/train_log.csv | awk 'length($0) >= 16' | wc -l)" -eq 50
check "the gradient was clipped (norm above grad_clip)" \
    awk -F, 'NR > 1 && $4 > 0.05 { n++ } END { exit !(n >= 45) }' one/train_log.csv
for ranks in two three; do
    check "$ranks ranks: log holds 50 steps" log_consecutive "$ranks/train_log.csv" 50
    d=$(max_diff one/train_log.csv "$ranks/train_log.csv")
    echo "$NAME: float64 losses, one process vs $ranks ranks: max |difference| $d"
    check "$ranks ranks: losses equal one process's to 1e-10 (max diff $d)" within "$d" 1e-10
done
d=$(max_diff one/train_log.csv nudged/train_log.csv)
check "control: lr x (1 + 1e-6) moves the losses by more than 1e-10 ($d)" bash -c "! awk -v d=$d 'BEGIN { exit !(d <= 1e-10) }'"

expect_exit 2 "batch_size 2 on 3 ranks" mpi 3 "$BIN" train "$TINY" out_dir=small batch_size=2 steps=5 &&
    expect_stderr "batch_size 2 on 3 ranks" "batch_size = 2 cannot be split over 3 ranks"

# ---- a killed rank ---------------------------------------------------------------------
STEPS=1500
KR=(steps=$STEPS checkpoint_every=50 eval_n=20)
expect_exit 0 "uninterrupted 2-rank run" mpi 2 "$BIN" train "$TINY" out_dir=ref "${KR[@]}"
ASAN_OPTIONS=$MPI_ASAN_OPTIONS mpirun --oversubscribe -np 2 "$BIN" train "$TINY" out_dir=killed "${KR[@]}" \
    >killed.out 2>killed.err </dev/null &
job=$!
wait_lines killed/train_log.csv 300 "$job"
r1=$(rank_pid "$job" 1)
if [[ -n "$r1" ]]; then kill -9 "$r1"; else fail "no rank 1 to kill"; fi
t0=$(now)
wait "$job"
rc=$?
echo "$NAME: after SIGKILL of rank 1 the job ended in $(elapsed "$t0") s (exit $rc)"
check "a killed rank ends the job (exit $rc)" test "$rc" -ne 0
check "... with a message naming the rank and the signal" grep -qiE "rank 1 .*(signal 9|killed)" killed.err
step=$(ckpt_step killed/checkpoint.h5)
check "the checkpoint loads (step $step)" loadable killed/checkpoint.h5
check "the log holds the checkpoint's steps" test "$(log_last_step killed/train_log.csv)" -ge "${step:-999999}"
expect_exit 0 "resume under mpirun" mpi 2 "$BIN" train "$TINY" out_dir=killed "${KR[@]}"
check "resumed: log holds steps 1..$STEPS" log_consecutive killed/train_log.csv "$STEPS"
check "resumed: losses equal the uninterrupted 2-rank run's" cmp -s <(losses ref/train_log.csv) <(losses killed/train_log.csv)
check "resumed: same final parameters" h5diff -q ref/checkpoint.h5 killed/checkpoint.h5 /params /params

finish "float64 losses of 2 and 3 ranks equal one process's to 1e-10; a killed rank ends the job, its run resumes exactly"
