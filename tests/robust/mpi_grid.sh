#!/usr/bin/env bash
# mpi_grid.sh: an experiment grid trained three ways gives the same numbers:
# in one process, with jobs = 2 (two child processes), and over 2 MPI ranks
# (mpirun -np 2): every run's train_loss, eval_len, exact_match and token_acc
# in results.h5 are identical (h5diff), and so is table.md but for its wall
# time. Then a distributed experiment is interrupted twice (SIGKILL of rank
# 1, then SIGTERM to mpirun), resumed under mpirun and then alone, and still
# ends with exactly the one-process numbers.
# Usage: tests/robust/mpi_grid.sh   (env: RELGRAD_BIN)
NAME=mpi_grid
source "$(dirname "$0")/lib.sh"
source "$HERE/mpi_lib.sh"

GRID=(tasks=copy,reverse positions=rope,none seeds=1,2,3,4 steps=1600 checkpoint_every=50
      eval_lens=3,5,7 eval_n=20 threads=1)
GROUPS_=()
for t in copy reverse; do for p in rope none; do for s in 1 2 3 4; do GROUPS_+=("/runs/$t/$p/$s"); done; done; done
exper() { "$BIN" experiment "$TINY" "${GRID[@]}" "$@"; }
table_body() { grep -v "min (the runs" "$1"; }

t0=$(now)
expect_exit 0 "one process" exper out_dir=one
T_ONE=$(elapsed "$t0")
t0=$(now)
expect_exit 0 "jobs = 2" exper out_dir=jobs jobs=2
T_JOBS=$(elapsed "$t0")
check "jobs = 2: said so" grep -q "2 runs at once" last.out last.err
t0=$(now)
expect_exit 0 "mpirun -np 2" mpi 2 "$BIN" experiment "$TINY" "${GRID[@]}" out_dir=two
T_TWO=$(elapsed "$t0")
check "2 ranks: said so" grep -q "over 2 MPI ranks" last.out last.err
check "2 ranks: rank 1 trained runs" grep -q "(rank 1)" last.out last.err
check "jobs = 2: same datasets as one process" same_datasets one/results.h5 jobs/results.h5 "${GROUPS_[@]}"
check "2 ranks: same datasets as one process" same_datasets one/results.h5 two/results.h5 "${GROUPS_[@]}"
check "jobs = 2: same table" cmp -s <(table_body one/table.md) <(table_body jobs/table.md)
check "2 ranks: same table" cmp -s <(table_body one/table.md) <(table_body two/table.md)
check "2 ranks: plot drawn" test -s two/plot.png
echo "$NAME: 16 runs: one process ${T_ONE} s, jobs = 2 ${T_JOBS} s, 2 ranks ${T_TWO} s"

# ---- interrupted twice, resumed under mpirun and alone -------------------------------
# mpirun stops the other ranks 1 s after one dies or after its own SIGTERM
# (SIGTERM, then SIGKILL 1 s later: Open MPI's odls_base_sigkill_timeout), and
# the ranks go on training meanwhile: the grid is 16 runs of 1600 steps so
# that neither interruption leaves it finished on a fast machine.
# finished_runs DIR: how many run directories hold their results.h5
finished_runs() { ls "$1"/runs/*/results.h5 2>/dev/null | wc -l; }
# in_progress DIR: is a run half way (100+ steps logged, no results yet)
# that is not one of the runs in $OLD (those the last job had started)?
OLD=" "
in_progress() {
    local log run
    for log in "$1"/runs/*/train_log.csv; do
        run=${log%/train_log.csv}
        [[ -e "$run/results.h5" || "$OLD" == *" ${run##*/} "* ]] && continue
        [[ $(wc -l <"$log" 2>/dev/null || echo 0) -gt 100 ]] && return 0
    done
    return 1
}
# wait_midway DIR N PID: until N runs finished and another is half way
wait_midway() {
    for _ in $(seq 6000); do
        kill -0 "$3" 2>/dev/null || return 1
        [[ $(finished_runs "$1") -ge $2 ]] && in_progress "$1" && return 0
        sleep 0.005
    done
    return 1
}
ASAN_OPTIONS=$MPI_ASAN_OPTIONS mpirun --oversubscribe -np 2 "$BIN" experiment "$TINY" "${GRID[@]}" out_dir=int \
    >int1.out 2>int1.err </dev/null &
job=$!
wait_midway int 2 "$job"
r1=$(rank_pid "$job" 1)
if [[ -n "$r1" ]]; then kill -9 "$r1"; else fail "no rank 1 to kill"; fi
wait "$job"
rc=$?
check "killing rank 1 ends the job (exit $rc)" test "$rc" -ne 0
check "... mpirun names the rank" grep -qiE "rank 1.*(signal 9|killed)" int1.err
n1=$(finished_runs int)
check "... before the grid was done ($n1 runs)" test ! -e int/table.md

OLD=" $(cd int/runs && echo *) "
ASAN_OPTIONS=$MPI_ASAN_OPTIONS mpirun --oversubscribe -np 2 "$BIN" experiment "$TINY" "${GRID[@]}" out_dir=int \
    >int2.out 2>int2.err </dev/null &
job=$!
wait_midway int $((n1 + 1)) "$job"
kill -TERM "$job"
wait "$job"
rc=$?
check "SIGTERM to mpirun ends the job (exit $rc)" test "$rc" -ne 0
n2=$(finished_runs int)
check "... with more runs done ($n1 -> $n2), not all" test "$n2" -gt "$n1" -a ! -e int/table.md
echo "$NAME: interrupted after $n1 and $n2 of 16 runs"

expect_exit 0 "resumed alone" exper out_dir=int
check "resumed: same datasets as one process" same_datasets one/results.h5 int/results.h5 "${GROUPS_[@]}"
check "resumed: same table" cmp -s <(table_body one/table.md) <(table_body int/table.md)

finish "one process, jobs = 2, 2 ranks and an interrupted 2-rank grid agree exactly"
