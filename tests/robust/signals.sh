#!/usr/bin/env bash
# signals.sh: SIGINT and SIGTERM stop a run cleanly. For each signal, sent at
# a random point of training (twice: once early, once later):
#   - exit status 128 + signal (130 for SIGINT, 143 for SIGTERM; checked
#     together with the message, since a shell reports a process killed by
#     the signal with the same number),
#   - stderr names the signal and the step and says how to resume,
#   - checkpoint.h5 loads and its step equals the last step of
#     train_log.csv and the step in the message; no temporary file is left,
#   - running the same command again resumes from that step and finishes
#     with `steps` consecutive log lines (each still with its lr and
#     grad_norm) and the same losses as an uninterrupted run.
# And a signal during the final evaluation (after the last checkpoint) must
# end the program within 3 s.
# Usage: tests/robust/signals.sh   (env: RELGRAD_BIN)
NAME=signals
source "$(dirname "$0")/lib.sh"

STEPS=600
RANDOM=$(( $(date +%s) % 32768 ))
t_start=$(now)

# checkpoint_every may differ between a run and its resumption: the reference
# and the resumed runs save rarely (faster), the stopped ones every 5 steps
# (so most signals arrive during a checkpoint write).
expect_exit 0 "uninterrupted run" "$BIN" train "$TINY" out_dir="$WORK/ref" steps=$STEPS checkpoint_every=$STEPS
cut -d, -f1,2 "$WORK/ref/train_log.csv" >ref.loss

stops=0
for sig in INT TERM; do
    code=$((128 + $(kill -l $sig)))
    for when in early late; do
        D=$WORK/$sig-$when
        if [[ $when == early ]]; then target=$((1 + RANDOM % 50)); else target=$((100 + RANDOM % 300)); fi
        "$BIN" train "$TINY" out_dir="$D" steps=$STEPS >run.out 2>run.err </dev/null &
        pid=$!
        if ! wait_lines "$D/train_log.csv" $((target + 1)) $pid; then
            wait $pid
            fail "SIG$sig ($when): the run ended (exit $?) before step $target" "$(head -c 600 run.err)"
            continue
        fi
        kill -s $sig $pid
        wait $pid
        rc=$?
        what="SIG$sig at step >= $target"
        if [[ $rc -ne $code ]]; then
            fail "$what: exit $rc, expected $code" "stderr: $(head -c 600 run.err)"
            continue
        fi
        pass
        stops=$((stops + 1))
        cp run.err "$WORK/last.err"
        expect_stderr "$what" "signal $(kill -l $sig)" "at step [0-9]+" "checkpoint saved" \
            "(run|same command).*(again|resume)" "$D/checkpoint.h5"
        # the stop message's step (not that of a progress line such as "eval at step 400")
        msg_step=$(sed -n 's/.*stopped by signal .* at step \([0-9][0-9]*\).*/\1/p' run.err | head -n 1)
        ck=$(ckpt_step "$D/checkpoint.h5")
        last=$(log_last_step "$D/train_log.csv")
        if [[ -n "$ck" && "$ck" == "$last" && "$ck" == "$msg_step" ]]; then pass; else
            fail "$what: checkpoint step '$ck', last log step '$last', message step '$msg_step' differ"
        fi
        check "$what: train_log.csv holds steps 1..$ck" log_consecutive "$D/train_log.csv" "${ck:-0}"
        check "$what: checkpoint loads" loadable "$D/checkpoint.h5"
        left=$(find "$D" -name '*.tmp*')
        [[ -z "$left" ]] && pass || fail "$what: temporary files left: $left"
        [[ ! -e "$D/results.h5" ]] && pass || fail "$what: results.h5 written for an unfinished run"
        # resume to the end
        expect_exit 0 "$what: resumed run" "$BIN" train "$TINY" out_dir="$D" steps=$STEPS checkpoint_every=100 || continue
        first=$(sed -n 's/.*step \([0-9][0-9]*\)\/.*/\1/p' "$WORK/last.err" | head -n 1) # progress: stderr
        if [[ ${ck:-0} -ge $((STEPS / 20)) ]]; then
            [[ -n "$first" && $first -gt $ck ]] && pass ||
                fail "$what: the second run did not resume from step $ck (first progress line: '$first')"
        fi
        check "$what: resumed train_log.csv has $STEPS consecutive steps" log_consecutive "$D/train_log.csv" $STEPS
        # every line keeps its lr and grad_norm (resuming must not blank those
        # of the steps before the stop)
        blank=$(awk -F, 'NR > 1 && ($3 == "" || $4 == "") { n++ } END { print n + 0 }' "$D/train_log.csv")
        [[ $blank -eq 0 ]] && pass ||
            fail "$what: after resuming, $blank lines of train_log.csv have lost lr and grad_norm" \
                "$(sed -n '2p;3p' "$D/train_log.csv")"
        [[ "$(ckpt_step "$D/checkpoint.h5")" == "$STEPS" ]] && pass || fail "$what: final checkpoint not at step $STEPS"
        cut -d, -f1,2 "$D/train_log.csv" >run.loss
        if cmp -s ref.loss run.loss; then pass; else
            fail "$what: losses differ from the uninterrupted run" \
                "first differing step: $(paste -d' ' ref.loss run.loss | awk '$1 != $2 { print NR - 1 ": " $1 " vs " $2; exit }')"
        fi
    done
done

# ---- a stop signal during the final evaluation ------------------------------------------
# Training is done (the step-5 checkpoint is final); an evaluation of 100000
# examples per length follows (tens of seconds). SIGTERM (a service manager,
# `timeout`) or SIGINT (Ctrl-C) must still end the program promptly, not be
# swallowed by the handler that only the training loop looks at.
for sig in TERM INT; do
    E=$WORK/eval-$sig
    "$BIN" train "$TINY" out_dir="$E" steps=5 eval_n=100000 eval_lens=5,20 >run.out 2>run.err </dev/null &
    pid=$!
    for _ in $(seq 400); do [[ -e "$E/checkpoint.h5" ]] && break; sleep 0.01; done
    sleep 0.3
    kill -s $sig $pid 2>/dev/null
    stopped=no
    for _ in $(seq 60); do kill -0 $pid 2>/dev/null || { stopped=yes; break; }; sleep 0.05; done
    if [[ $stopped == no ]]; then
        kill -KILL $pid 2>/dev/null
        wait $pid 2>/dev/null
        fail "SIG$sig during the final evaluation: still running 3 s later (killed it)"
    else
        wait $pid
        rc=$?
        [[ $rc -eq $((128 + $(kill -l $sig))) || $rc -eq 0 ]] && pass ||
            fail "SIG$sig during the final evaluation: exit $rc" "$(head -c 400 run.err)"
    fi
    check "SIG$sig during the final evaluation: checkpoint loads" loadable "$E/checkpoint.h5"
done

finish "$stops of 4 stops (SIGINT, SIGTERM) saved a checkpoint and resumed to step $STEPS; $(elapsed "$t_start") s"
