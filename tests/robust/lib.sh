# shellcheck shell=bash
# lib.sh: shared helpers of the robustness tests (tests/robust/*.sh). Sourced,
# not run. Each script sets NAME before sourcing it.
#
# Environment: RELGRAD_BIN (default build/relgrad), TMPDIR (scratch space;
# every test works in its own mktemp directory, removed on exit unless
# RELGRAD_KEEP=1).
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BIN=${RELGRAD_BIN:-$ROOT/build/relgrad}
TINY=$HERE/tiny.ini
export OMP_NUM_THREADS=1 # threads = 1 in tiny.ini; keep OpenMP/BLIS pools small too

if [[ ! -x "$BIN" ]]; then
    echo "$NAME: relgrad binary '$BIN' not found; build first (tools/build.sh) or set RELGRAD_BIN" >&2
    echo "$NAME: FAILED (no binary)"
    exit 1
fi
for tool in h5dump cmp; do
    command -v "$tool" >/dev/null || {
        echo "$NAME: '$tool' is missing (tools/setup.sh installs hdf5-tools)" >&2
        echo "$NAME: FAILED (missing $tool)"
        exit 1
    }
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/relgrad-$NAME.XXXXXX")
cleanup() { [[ "${RELGRAD_KEEP:-0}" == 1 ]] && echo "$NAME: kept $WORK" || rm -rf "$WORK"; }
trap cleanup EXIT
cd "$WORK" || exit 1

CHECKS=0
FAILS=0

pass() { CHECKS=$((CHECKS + 1)); }
# fail WHAT [DETAIL...]: record a failed check and say why.
fail() {
    CHECKS=$((CHECKS + 1))
    FAILS=$((FAILS + 1))
    echo "FAIL: $1" >&2
    shift
    local line
    for line in "$@"; do echo "      $line" >&2; done
}
# check WHAT COMMAND...: pass when COMMAND succeeds.
check() {
    local what=$1
    shift
    if "$@"; then pass; else fail "$what" "command: $*"; fi
}

# run OUT ERR COMMAND...: run with stdout/stderr to files; sets RC.
run() {
    local out=$1 err=$2
    shift 2
    "$@" >"$out" 2>"$err" </dev/null
    RC=$?
}

# expect_exit CODE WHAT COMMAND...: run COMMAND (stdout -> $WORK/last.out,
# stderr -> $WORK/last.err), check its exit status. Returns 0 when it matched.
expect_exit() {
    local code=$1 what=$2
    shift 2
    run "$WORK/last.out" "$WORK/last.err" "$@"
    if [[ $RC -eq $code ]]; then
        pass
        return 0
    fi
    fail "$what: exit $RC, expected $code" "command: $*" "stderr: $(head -c 600 "$WORK/last.err")"
    return 1
}

# expect_stderr WHAT PATTERN...: every (extended, case-insensitive) regex
# must match the stderr of the last expect_exit.
expect_stderr() {
    local what=$1
    shift
    local p
    for p in "$@"; do
        if grep -qiE -- "$p" "$WORK/last.err"; then pass; else
            fail "$what: stderr does not match /$p/" "stderr: $(head -c 600 "$WORK/last.err")"
        fi
    done
}

# ckpt_step FILE: the /optim/step attribute of a checkpoint (empty on error).
ckpt_step() {
    h5dump -a /optim/step "$1" 2>/dev/null | sed -n 's/^ *(0): *\([0-9][0-9]*\) *$/\1/p'
}

# log_last_step FILE: the step number on the last line of a train_log.csv.
log_last_step() { tail -n 1 "$1" | cut -d, -f1; }

# loadable CHECKPOINT: relgrad eval reads the whole file and evaluates it.
loadable() { "$BIN" eval "$1" eval_n=1 >/dev/null 2>"$WORK/loadable.err" </dev/null; }

# log_consecutive FILE STEPS: header, then exactly lines 1..STEPS in order.
log_consecutive() {
    awk -F, -v n="$2" 'NR == 1 { ok = ($0 == "step,loss,lr,grad_norm"); next }
                       $1 != NR - 1 || $2 == "" { ok = 0 }
                       END { exit !(ok && NR - 1 == n) }' "$1"
}

# finish: print the summary line and exit with the verdict.
finish() {
    local summary=$1
    if [[ $FAILS -eq 0 ]]; then
        echo "$NAME: $summary; $CHECKS checks passed"
        exit 0
    fi
    echo "$NAME: $summary; FAILED $FAILS of $CHECKS checks"
    exit 1
}

# wait_lines FILE N PID: until FILE has N lines (or PID has exited: 1).
wait_lines() {
    local n
    for _ in $(seq 3000); do
        kill -0 "$3" 2>/dev/null || return 1
        n=$(wc -l 2>/dev/null <"$1" || echo 0)
        [[ $n -ge $2 ]] && return 0
        sleep 0.005
    done
    return 1
}

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
