# shellcheck shell=bash
# mpi_lib.sh: what the MPI tests (tests/robust/mpi_*.sh, dir_lock.sh) share
# on top of lib.sh. Sourced after lib.sh.
#
# mpirun in CI and in this container: CI runs as root, which Open MPI
# refuses unless told (OMPI_ALLOW_RUN_AS_ROOT*), and 2 ranks on a machine
# whose cores other jobs share need --oversubscribe (no slot check; Open MPI
# then also yields the CPU while a rank waits). Nothing else is needed here:
# the shared-memory and TCP transports work as installed.

command -v mpirun >/dev/null || {
    echo "$NAME: mpirun is missing; tools/setup.sh installs openmpi-bin" >&2
    echo "$NAME: FAILED (no mpirun)"
    exit 1
}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# Open MPI's own allocations are still live at exit (some in components it
# has unloaded, which no suppression can name): under AddressSanitizer the
# ranks check memory errors but not leaks. Processes started without mpirun
# never initialise MPI and keep the leak check.
MPI_ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0

# mpi N COMMAND...: COMMAND as N ranks.
mpi() {
    local n=$1
    shift
    ASAN_OPTIONS=$MPI_ASAN_OPTIONS mpirun --oversubscribe -np "$n" "$@"
}

# rank_pid MPIRUN_PID RANK: the pid of that rank (a child of mpirun), or "".
rank_pid() {
    local p
    for p in $(pgrep -P "$1"); do
        if tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$2"; then
            echo "$p"
            return
        fi
    done
}

# losses FILE: the loss column of a train_log.csv.
losses() { tail -n +2 "$1" | cut -d, -f2; }

# same_datasets A.h5 B.h5 GROUP...: every run group's train_loss,
# exact_match and token_acc identical (h5diff compares values exactly).
same_datasets() {
    local a=$1 b=$2 g d
    shift 2
    for g in "$@"; do
        for d in train_loss eval_len exact_match token_acc; do
            h5diff "$a" "$b" "$g/$d" "$g/$d" >/dev/null 2>&1 || {
                echo "      $g/$d differs: $(h5diff "$a" "$b" "$g/$d" "$g/$d" 2>&1 | head -3)" >&2
                return 1
            }
        done
    done
}
