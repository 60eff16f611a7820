#!/usr/bin/env bash
# output.sh: output that fits pipes and logs, and says what happened.
#   - `relgrad train ... 2>&1 | head -1`: the closed pipe stops the run like
#     SIGTERM: exit 141, a loadable checkpoint whose step is the last line of
#     a complete train_log.csv, no results.h5, no temporary file;
#   - a dry run of that out_dir plans to resume at that step and changes
#     nothing; the next run says "resuming from PATH at step S of N";
#   - with --quiet, stdout holds only the accuracy table and stderr no
#     progress and no configuration; the last line of stderr names the
#     files written;
#   - `relgrad train ... | true` (stdout closed before the results): exit
#     141 after a complete run (results.h5 written, the message says so);
#   - running a finished run again says "run already complete: evaluating
#     only" and keeps the recorded training time: results.h5's wall_seconds
#     stays >= the checkpoint's /optim train_seconds (it used to become the
#     evaluation's few milliseconds);
#   - train_log.csv is flushed after every line: when progress reports step
#     150, the log holds 150 steps although no checkpoint was written (stdio
#     buffering alone would hold back about a hundred lines);
#   - SIGHUP stops a run like SIGTERM (exit 129, checkpoint, complete log);
#   - tokens/s counts training steps only: with a checkpoint and an
#     evaluation after every step, the reported rate is more than twice the
#     wall-clock rate (which counts them).
# Usage: tests/robust/output.sh   (env: RELGRAD_BIN)
NAME=output
source "$(dirname "$0")/lib.sh"
t_start=$(now)

attr() { # FILE OBJECT NAME: a numeric attribute
    h5dump -a "$2/$3" "$1" 2>/dev/null | sed -n 's/^ *(0): *\([-0-9.e+]*\) *$/\1/p'
}
row='^[a-z_]+ +[a-z0-9,]+ +[0-9]+ +[0-9.]+ +[0-9.]+( +\(training length\))?$'

# ---- a closed pipe stops a run --------------------------------------------------------------
A=$WORK/a
"$BIN" train "$TINY" out_dir="$A" steps=3000 2>&1 </dev/null | head -n 1 >head.out
rc=${PIPESTATUS[0]}
[[ $rc -eq 141 ]] && pass || fail "train 2>&1 | head -1: exit $rc, expected 141"
ck=$(ckpt_step "$A/checkpoint.h5")
last=$(log_last_step "$A/train_log.csv")
[[ -n "$ck" && "$ck" == "$last" && $ck -lt 3000 ]] && pass ||
    fail "after SIGPIPE: checkpoint step '$ck', last log step '$last'"
check "after SIGPIPE: train_log.csv holds steps 1..$ck" log_consecutive "$A/train_log.csv" "${ck:-0}"
check "after SIGPIPE: the checkpoint loads" loadable "$A/checkpoint.h5"
[[ ! -e "$A/results.h5" && -z "$(find "$A" -name '*.tmp*')" ]] && pass || fail "after SIGPIPE: results.h5 or temporary files in $A"

# ---- the dry run plans the resumption, the run says it ---------------------------------------------
before=$(find "$A" -printf '%p %s %T@\n' | sort)
expect_exit 0 "dry run of a stopped run" "$BIN" train "$TINY" out_dir="$A" steps=3000 --dry-run
grep -q "resume from checkpoint.h5 at step $ck of 3000" last.out && pass || fail "dry run: no 'resume ... at step $ck of 3000'" "$(tail -n 5 last.out)"
[[ "$(find "$A" -printf '%p %s %T@\n' | sort)" == "$before" ]] && pass || fail "the dry run changed $A"

expect_exit 0 "resumed run, --quiet" "$BIN" train "$TINY" out_dir="$A" steps=3000 --quiet checkpoint_every=500
expect_stderr "resumed run" "resuming from $A/checkpoint.h5 at step $ck of 3000"
grep -qE "step [0-9]+/3000|configuration" last.err && fail "--quiet: progress or configuration on stderr" "$(head -n 3 last.err)" || pass
tail -n +2 last.out | grep -vqE "$row" && fail "--quiet: stdout holds more than the table" "$(tail -n +2 last.out | grep -vE "$row" | head -n 3)" || pass
[[ "$(head -n 1 last.out)" == "task "*"exact_match"*"token_acc" && $(wc -l <last.out) -eq 2 ]] && pass ||
    fail "--quiet: stdout is not the table (header and one length)" "$(cat last.out)"
grep -qE "wrote $A/checkpoint.h5, $A/train_log.csv, $A/results.h5" <(tail -n 1 last.err) && pass ||
    fail "the last line does not name the files written" "$(tail -n 1 last.err)"
check "resumed: train_log.csv holds steps 1..3000" log_consecutive "$A/train_log.csv" 3000

# ---- a finished run again: evaluation only, the training time kept ----------------------------
T=$(attr "$A/checkpoint.h5" /optim train_seconds)
W1=$(attr "$A/results.h5" /runs/copy/rope/7 wall_seconds)
awk -v t="$T" -v w="$W1" 'BEGIN { exit !(t > 0 && w >= t) }' && pass ||
    fail "train_seconds '$T' (checkpoint) and wall_seconds '$W1' (results.h5): expected 0 < train_seconds <= wall_seconds"
expect_exit 0 "a finished run again" "$BIN" train "$TINY" out_dir="$A" steps=3000
expect_stderr "a finished run again" "run already complete.*evaluating only" "wrote $A/results.h5"
W2=$(attr "$A/results.h5" /runs/copy/rope/7 wall_seconds)
awk -v t="$T" -v w="$W2" 'BEGIN { exit !(w >= t) }' && pass ||
    fail "evaluating again recorded wall_seconds $W2, less than the training's $T s"
grep -qE "step [0-9]+/" last.out && fail "progress on stdout" || pass
grep -q "^copy " last.out && pass || fail "no accuracy table on stdout after evaluating again"

# ---- stdout closed before the results ---------------------------------------------------------------
B=$WORK/b
"$BIN" train "$TINY" out_dir="$B" steps=40 2>b.err </dev/null | true
rc=${PIPESTATUS[0]}
[[ $rc -eq 141 ]] && pass || fail "train | true: exit $rc, expected 141" "$(tail -n 2 b.err)"
grep -q "output was closed" b.err && [[ -e "$B/results.h5" ]] && pass || fail "train | true: no message or no results.h5" "$(tail -n 2 b.err)"
check "train | true: train_log.csv holds steps 1..40" log_consecutive "$B/train_log.csv" 40

# ---- the log is flushed line by line; SIGHUP ------------------------------------------------------
C=$WORK/c
"$BIN" train "$TINY" out_dir="$C" steps=3000 checkpoint_every=3000 >c.out 2>c.err </dev/null &
pid=$!
for _ in $(seq 3000); do grep -q "step 150/3000" c.err && break; kill -0 $pid 2>/dev/null || break; sleep 0.005; done
lines=$(($(wc -l <"$C/train_log.csv") - 1))
[[ $lines -ge 150 ]] && pass || fail "when progress showed step 150, train_log.csv held $lines steps"
kill -HUP $pid
wait $pid
rc=$?
[[ $rc -eq 129 ]] && pass || fail "SIGHUP: exit $rc, expected 129" "$(tail -n 2 c.err)"
cp c.err last.err
expect_stderr "SIGHUP" "signal 1 \(SIGHUP" "checkpoint saved"
ck=$(ckpt_step "$C/checkpoint.h5")
[[ -n "$ck" && "$ck" == "$(log_last_step "$C/train_log.csv")" ]] && pass || fail "SIGHUP: checkpoint at '$ck', log at $(log_last_step "$C/train_log.csv")"
check "SIGHUP: the checkpoint loads" loadable "$C/checkpoint.h5"

# ---- tokens/s without evaluation and checkpoint time -----------------------------------------------
D=$WORK/d
STEPS=60 BATCH=8
t0=$(now)
expect_exit 0 "a run that checkpoints and evaluates every step" "$BIN" train "$TINY" out_dir="$D" steps=$STEPS \
    batch_size=$BATCH checkpoint_every=1 eval_every=1 eval_n=100
wall=$(elapsed "$t0")
rate=$(grep -o "[0-9.]*k tok/s" last.err | tail -n 1 | sed 's/k tok.s//')
# at most BATCH sequences of 2 * train_len + 1 = 11 tokens per step
awk -v r="$rate" -v w="$wall" -v n=$((STEPS * BATCH * 11)) 'BEGIN { exit !(r * 1000 > 2 * n / w) }' && pass ||
    fail "reported ${rate}k tok/s is not above twice the wall-clock bound $((STEPS * BATCH * 11)) tokens / $wall s"

finish "closed pipes, --quiet, resume and re-evaluation notes, line-flushed log, SIGHUP, tokens/s; $(elapsed "$t_start") s"
