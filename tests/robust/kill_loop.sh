#!/usr/bin/env bash
# kill_loop.sh: crash safety. Trains tests/robust/tiny.ini with steps = 2000
# (a checkpoint every 5 steps, so most of the wall time is spent writing
# checkpoints) and kills it with SIGKILL 26 times:
#   - 4 at random 5-50 ms after the start (start-up, loading the checkpoint,
#     trimming the log),
#   - 18 at a random point of the training still to do: a random step, plus
#     a random delay of up to two checkpoint cycles,
#   - when strace is usable, 4 at chosen system calls: inside HDF5's writes
#     of the temporary checkpoint (2), at its fsync, and just before its
#     rename.
# After every kill, out_dir/checkpoint.h5 (once there is one) must load
# (`relgrad eval`), its step must never go back, train_log.csv must hold
# at least the checkpoint's steps, and out_dir must hold nothing but
# checkpoint.h5, train_log.csv and temporary files named
# checkpoint.h5.tmp.<pid of a killed run> (never *.h5 names a tool could take
# for a checkpoint). Then a run finishes: it must resume (continue from the
# checkpoint's step) and end with exactly `steps` consecutive log lines.
#
# Resume equality: an uninterrupted run of the same config must give
# byte-identical loss columns in train_log.csv and identical /params, /optim
# and /rng (h5diff). A difference is a determinism bug: the first differing
# step is printed.
#
# Separately (strace): a kill while a resumed run rewrites train_log.csv
# (restore_log in src/train/train.c) must leave a run that still resumes.
#
# Usage: tests/robust/kill_loop.sh   (env: RELGRAD_BIN, KILL_SEED, KILLS)
NAME=kill_loop
source "$(dirname "$0")/lib.sh"

N_RANDOM=${KILLS:-22}
SEED=${KILL_SEED:-$(( $(date +%s) % 32768 ))}
RANDOM=$SEED
t_start=$(now)
echo "$NAME: $BIN, seed $SEED (rerun with KILL_SEED=$SEED)"

have_strace=0
if command -v strace >/dev/null && strace -o /dev/null true 2>/dev/null; then have_strace=1; fi

train() { "$BIN" train "$TINY" "out_dir=$1" "steps=$STEPS" "${@:2}"; }

STEPS=2000 # tiny.ini's 400 leave too little room for 26 kills when fsync is fast

# ---- the reference: one uninterrupted run ---------------------------------------
REF=$WORK/ref
ref_t=$(now)
expect_exit 0 "uninterrupted run" train "$REF"
T_REF=$(elapsed "$ref_t")
cp last.out ref.out
echo "$NAME: steps = $STEPS; uninterrupted run: ${T_REF} s"
# two checkpoint cycles (10 steps) of wall time: the jitter of progress-based kills
JITTER=$(awk -v t="$T_REF" -v n="$STEPS" 'BEGIN { printf "%.4f", 10 * t / n }')

# ---- the killed run ----------------------------------------------------------------
K=$WORK/killed
kills=0 in_write=0 prev_step=0 had_ckpt=0 finished_early=0
declare -A killed_pids=()

# after_kill PID HOW: check out_dir after a SIGKILL of PID.
after_kill() {
    local pid=$1 how=$2 f base
    killed_pids[$pid]=1
    kills=$((kills + 1))
    # nothing but the run's files and temporaries of killed runs
    [[ -d "$K" ]] || return 0 # killed before it made out_dir
    for f in "$K"/* "$K"/.[!.]*; do
        [[ -e "$f" ]] || continue
        base=${f##*/}
        case "$base" in
        checkpoint.h5 | train_log.csv | results.h5 | .lock) ;; # .lock: the run's flock
        checkpoint.h5.tmp.* | results.h5.tmp.*)
            local tpid=${base#*.h5.tmp.}
            if [[ -z "${killed_pids[$tpid]:-}" ]]; then
                fail "kill $kills ($how): temporary file $base is not from a killed run"
            fi
            [[ "$tpid" == "$pid" && $base == checkpoint.* ]] && in_write=$((in_write + 1))
            ;;
        *) fail "kill $kills ($how): unexpected file in out_dir: $base" ;;
        esac
    done
    [[ -z "$(find "$K" -name '*.h5' ! -name checkpoint.h5 ! -name results.h5)" ]] ||
        fail "kill $kills ($how): a stray *.h5 file could be taken for a checkpoint" "$(ls "$K")"
    if [[ ! -e "$K/checkpoint.h5" ]]; then
        if [[ $had_ckpt -eq 1 ]]; then fail "kill $kills ($how): checkpoint.h5 disappeared"; fi
        return
    fi
    had_ckpt=1
    [[ "${KILL_VERBOSE:-0}" == 1 ]] && echo "kill $kills ($how): checkpoint at step $(ckpt_step "$K/checkpoint.h5")"
    if loadable "$K/checkpoint.h5"; then pass; else
        cp "$K/checkpoint.h5" "${TMPDIR:-/tmp}/relgrad-kill_loop-bad-checkpoint.h5"
        fail "kill $kills ($how): checkpoint.h5 does not load (copy: ${TMPDIR:-/tmp}/relgrad-kill_loop-bad-checkpoint.h5)" \
            "$(head -c 600 "$WORK/loadable.err")"
        return
    fi
    local step
    step=$(ckpt_step "$K/checkpoint.h5")
    if [[ -z "$step" || $step -lt $prev_step ]]; then
        fail "kill $kills ($how): checkpoint step '$step' after step $prev_step"
    else pass; fi
    if [[ -n "$step" && ($((step % 5)) -ne 0 && $step -ne $STEPS) ]]; then
        fail "kill $kills ($how): checkpoint at step $step, not a multiple of checkpoint_every = 5"
    fi
    # the log reaches the disk before the checkpoint that needs it
    if awk -F, -v n="${step:-0}" 'NR > 1 && NR - 1 <= n && $1 == NR - 1 { c++ } END { exit c != n }' \
        "$K/train_log.csv" 2>/dev/null; then pass; else
        fail "kill $kills ($how): train_log.csv lacks steps 1..$step of the checkpoint"
    fi
    prev_step=${step:-0}
}

# one random kill; returns 1 when the run ended by itself first.
# random_kill time SECONDS: SIGKILL that long after the start.
# random_kill step N JITTER: SIGKILL JITTER seconds after train_log.csv
#   reaches step N (the log is flushed at each checkpoint, so this lands
#   anywhere in the next checkpoint cycle). Kills by progress rather than by
#   wall time: checkpoint writes (fsync) dominate the run time and their
#   speed varies too much between machines and moments for a time-based kill
#   to reliably land before the run ends.
random_kill() {
    local how=$1 pid rc what
    # "$BIN" itself in the background (not a function: that would be a subshell)
    "$BIN" train "$TINY" "out_dir=$K" "steps=$STEPS" >kill.out 2>kill.err </dev/null &
    pid=$!
    if [[ $how == time ]]; then
        sleep "$2"
        what="SIGKILL ${2} s after start"
    else
        wait_lines "$K/train_log.csv" $(($2 + 1)) "$pid"
        sleep "$3"
        what="SIGKILL ${3} s after step $2"
    fi
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null # (no "Killed" job message)
    rc=$?
    if [[ $rc -eq 137 ]]; then
        after_kill "$pid" "$what"
        return 0
    fi
    if [[ $rc -eq 0 ]]; then
        finished_early=1
        return 1
    fi
    fail "run before kill $((kills + 1)) failed by itself: exit $rc" "$(head -c 800 kill.err)"
    return 1
}

# one kill injected by strace at the WHEN-th call of SYSCALL (optionally
# only calls on PATH)
injected_kill() {
    local syscall=$1 when=$2 path=${3:-} rc
    local filter=()
    [[ -n "$path" ]] && filter=(-P "$path")
    {
        strace -f -qq -o "$WORK/strace.log" "${filter[@]}" -e trace="$syscall" \
            -e inject="$syscall":signal=KILL:when="$when" \
            "$BIN" train "$TINY" "out_dir=$K" "steps=$STEPS" >kill.out 2>kill.err </dev/null
    } 2>/dev/null
    rc=$?
    local pid
    pid=$(awk '/killed by SIGKILL/ { print $1; exit }' "$WORK/strace.log")
    if [[ $rc -eq 137 && -n "$pid" ]]; then
        after_kill "$pid" "strace: SIGKILL entering $syscall #$when"
        return 0
    fi
    [[ $rc -eq 0 ]] && { finished_early=1; return 1; }
    fail "run with a kill at $syscall #$when: exit $rc" "$(head -c 800 kill.err)"
    return 1
}

i=0
while [[ $i -lt $N_RANDOM && $finished_early -eq 0 && $FAILS -eq 0 ]]; do
    if [[ $i -lt 4 ]]; then # start-up, loading the checkpoint, restoring the log
        random_kill time "$(awk -v r="$RANDOM" 'BEGIN { printf "%.3f", 0.005 + r / 32768 * 0.045 }')" || break
    else # somewhere in the next stretch of training, leaving room for the kills to come
        left=$((N_RANDOM - i + 4))
        span=$(((STEPS - prev_step) / (left + 1)))
        target=$((prev_step + 1 + RANDOM % (span > 1 ? span : 1)))
        random_kill step "$target" "$(awk -v r="$RANDOM" -v j="$JITTER" 'BEGIN { printf "%.4f", r / 32768 * j }')" || break
    fi
    i=$((i + 1))
    # interleave the strace kills with the random ones
    if [[ $have_strace -eq 1 && $FAILS -eq 0 ]]; then
        case $i in
        5) injected_kill pwrite64 $((1 + RANDOM % 60)) ;;  # inside HDF5 writing the temp file
        10) injected_kill fsync $((2 + 3 * (RANDOM % 3))) ;; # fsync of the temp file
        15) injected_kill rename 2 ;;                      # complete temp file, not renamed
        20) injected_kill pwrite64 $((60 + RANDOM % 200)) ;;
        esac
    fi
done
random_kills=$i
[[ $finished_early -eq 1 ]] && echo "$NAME: the run finished before kill $((kills + 1))"
if [[ $kills -ge 20 ]]; then pass; else fail "only $kills kills happened (need at least 20)"; fi

# ---- let it finish -------------------------------------------------------------------
# finished_checks: the run that ends the loop resumed and completed.
finished_checks() {
    final_step=$(ckpt_step "$K/checkpoint.h5")
    [[ "$final_step" == "$STEPS" ]] && pass || fail "final checkpoint at step '$final_step', expected $STEPS"
    check "final train_log.csv has exactly $STEPS consecutive steps" log_consecutive "$K/train_log.csv" "$STEPS"
    # resumed: its first progress line is past the checkpoint it started from
    local first every=$((STEPS / 20))
    first=$(sed -n 's/.*step \([0-9][0-9]*\)\/.*/\1/p' final.err | head -n 1) # progress: stderr
    if [[ $before -ge $every && $before -lt $STEPS ]]; then
        if [[ -n "$first" && $first -gt $before ]]; then pass; else
            fail "final run did not resume from step $before (first progress line: step '$first')"
        fi
    fi
}

# equality_checks: killed-and-resumed == uninterrupted, sets `identical`.
equality_checks() {
    identical=yes
    cut -d, -f1,2 "$REF/train_log.csv" >ref.loss
    cut -d, -f1,2 "$K/train_log.csv" >killed.loss
    if cmp -s ref.loss killed.loss; then pass; else
        identical=no
        fail "resume equality: train_log.csv loss columns differ" "first differing step (step,loss): $(
            paste -d' ' ref.loss killed.loss |
                awk '$1 != $2 { print NR - 1 ": uninterrupted " $1 "  killed+resumed " $2; exit }')"
    fi
    if command -v h5diff >/dev/null; then
        local obj
        # /optim's attribute train_seconds (wall time) differs by nature; its
        # step is checked above
        for obj in /params /optim /rng; do
            if h5diff -q --exclude-attribute /optim "$REF/checkpoint.h5" "$K/checkpoint.h5" "$obj" "$obj" >/dev/null 2>&1; then pass; else
                identical=no
                fail "resume equality: final checkpoints differ in $obj" \
                    "$(h5diff -r --exclude-attribute /optim "$REF/checkpoint.h5" "$K/checkpoint.h5" "$obj" "$obj" 2>&1 | head -n 8)"
            fi
        done
    fi
    # the final evaluation table (rows: task pos length exact_match token_acc)
    local row='^[a-z]+ +[a-z0-9]+ +[0-9]+ +[0-9.]+ +[0-9.]+'
    grep -E "$row" ref.out >ref.eval
    grep -E "$row" final.out >final.eval
    if [[ -s ref.eval ]] && cmp -s ref.eval final.eval; then pass; else
        identical=no
        fail "resume equality: final evaluation differs" "uninterrupted: $(cat ref.eval)" "resumed: $(cat final.eval)"
    fi
}

before=$prev_step
identical="not checked"
if expect_exit 0 "final (resumed) run" train "$K"; then
    cp last.out final.out
    cp last.err final.err
    finished_checks
    equality_checks
else
    # e.g. a kill landed while a resumed run rewrote train_log.csv (see the
    # strace check below): nothing left to compare
    echo "$NAME: the killed run cannot finish; resume equality not checked"
    final_step=$(ckpt_step "$K/checkpoint.h5")
fi
stale=$(find "$K" -name '*.h5.tmp.*' | wc -l)

# ---- a kill while a resumed run rewrites train_log.csv -----------------------------
# restore_log (src/train/train.c) trims the log to the checkpoint's steps when a run
# resumes. A kill at that moment must not cost the run.
log_rewrite=skipped
if [[ $have_strace -eq 1 ]]; then
    L=$WORK/logkill
    "$BIN" train "$TINY" "out_dir=$L" "steps=$STEPS" >l1.out 2>l1.err </dev/null &
    lpid=$!
    # let it write a few checkpoints, then stop it abruptly
    for _ in $(seq 100); do [[ -e "$L/checkpoint.h5" ]] && break; sleep 0.02; done
    sleep 0.2
    kill -KILL $lpid 2>/dev/null
    wait $lpid 2>/dev/null
    lstep=$(ckpt_step "$L/checkpoint.h5")
    # resume, killed at its first write to train_log.csv (the rewrite)
    {
        strace -f -qq -o "$WORK/strace2.log" -P "$L/train_log.csv" -e trace=write \
            -e inject=write:signal=KILL:when=1 \
            "$BIN" train "$TINY" "out_dir=$L" "steps=$STEPS" >l2.out 2>l2.err </dev/null
    } 2>/dev/null
    lines=$(awk -F, 'NR > 1 && $1 == NR - 1 { n = $1 } END { print n + 0 }' "$L/train_log.csv")
    expect_exit 0 "resume after a kill during the train_log.csv rewrite (checkpoint at step $lstep, log left with $lines steps)" \
        train "$L" && log_rewrite=ok || log_rewrite=FAILED
    [[ $log_rewrite == ok ]] && check "log after the rewrite kill has $STEPS consecutive steps" \
        log_consecutive "$L/train_log.csv" "$STEPS"
fi

echo "$NAME: $random_kills random kills + $((kills - random_kills)) strace kills;" \
    "$in_write left a temporary checkpoint (killed inside a checkpoint write);" \
    "$stale stale *.h5.tmp.* files remain after the finished run;" \
    "kill during log rewrite on resume: $log_rewrite; $(elapsed "$t_start") s"
finish "$kills kills survived, resumed to step ${final_step:-?}, losses identical: $identical"
