#!/usr/bin/env bash
# diverge.sh: training that produces NaN or Inf stops with exit 3, names the
# step and the tensor (op, parameter or gradient), and never leaves a
# checkpoint holding a non-finite value.
#   A. lr = 1e4, no warm-up: a few good steps, then the forward pass
#      overflows (NaN loss). checkpoint_every = 1, so the checkpoint must be
#      the step before the divergence, whole, loadable and finite; running
#      the same command again resumes there, diverges at the same step and
#      leaves checkpoint.h5 byte-identical (cmp) and the losses in
#      train_log.csv unchanged.
#   B. lr = 1e39 (a legal value: lr only needs to be > 0): the first AdamW
#      update overflows the parameters to +-Inf. The checkpoint saved after
#      that update must not hold them.
#   C. the same with steps = 1: the only update overflows; the run must not
#      finish with exit 0 and an Inf model.
#   D. init_std = 1e38: the initial parameters already overflow: exit 3 at
#      step 1, no checkpoint, no results.
# Usage: tests/robust/diverge.sh   (env: RELGRAD_BIN)
NAME=diverge
source "$(dirname "$0")/lib.sh"
t_start=$(now)

# nonfinite FILE: count of NaN/Inf values in /params and /optim (h5dump text).
nonfinite() {
    { h5dump -g /params "$1"; h5dump -g /optim "$1"; } 2>/dev/null |
        grep -oiE '(^|[ ,(:])-?(nan|inf)(,|$| )' | wc -l
}
# finite_ckpt WHAT FILE: a checkpoint that exists must hold finite values only
finite_ckpt() {
    [[ -e "$2" ]] || return 0
    local n
    n=$(nonfinite "$2")
    if [[ $n -eq 0 ]]; then pass; else
        fail "$1: checkpoint.h5 (step $(ckpt_step "$2")) holds $n non-finite values" \
            "$(h5dump -g /params "$2" | grep -m 3 -iE 'inf|nan')"
    fi
}
NAMES_TENSOR='(op [0-9]+ \([a-z0-9_]+\)|parameter [a-z0-9_.]+|gradient of [a-z0-9_.]+)'
diverged_at=""

# ---- A: good steps, then NaN ------------------------------------------------------
A=$WORK/a
argsA=(out_dir="$A" lr=1e4 warmup=0 checkpoint_every=1 steps=100)
if expect_exit 3 "A (lr=1e4)" "$BIN" train "$TINY" "${argsA[@]}"; then
    expect_stderr "A" "diverged" "step [0-9]+" "$NAMES_TENSOR"
    diverged_at=$(sed -n 's/.*step \([0-9][0-9]*\):.*/\1/p' last.err | head -n 1)
    good=$((${diverged_at:-1} - 1))
    # (lr = 1e4 gives 4-5 good steps today; at least one is needed for the checks below)
    [[ ${diverged_at:-0} -ge 2 ]] && pass || fail "A: diverged at step '$diverged_at'; expected good steps first"
    [[ "$(ckpt_step "$A/checkpoint.h5")" == "$good" ]] && pass ||
        fail "A: checkpoint at step '$(ckpt_step "$A/checkpoint.h5")', expected the last good step $good"
    check "A: checkpoint loads" loadable "$A/checkpoint.h5"
    finite_ckpt "A" "$A/checkpoint.h5"
    check "A: train_log.csv holds exactly the $good good steps" log_consecutive "$A/train_log.csv" "$good"
    [[ -z "$(find "$A" -name '*.tmp*' -o -name results.h5)" ]] && pass || fail "A: left $(ls "$A")"
    cp "$A/checkpoint.h5" ckA.h5
    cp "$A/train_log.csv" logA.csv
    if expect_exit 3 "A again (resumed)" "$BIN" train "$TINY" "${argsA[@]}"; then
        again=$(sed -n 's/.*step \([0-9][0-9]*\):.*/\1/p' last.err | head -n 1)
        [[ "$again" == "$diverged_at" ]] && pass || fail "A again: diverged at step '$again', first time at $diverged_at"
    fi
    check "A again: checkpoint.h5 byte-identical" cmp -s ckA.h5 "$A/checkpoint.h5"
    # (steps and losses: the lr and grad_norm columns are signals.sh's business)
    check "A again: train_log.csv steps and losses unchanged" \
        cmp -s <(cut -d, -f1,2 logA.csv) <(cut -d, -f1,2 "$A/train_log.csv")
fi

# ---- B: an update that overflows the parameters --------------------------------------
B=$WORK/b
if expect_exit 3 "B (lr=1e39)" "$BIN" train "$TINY" out_dir="$B" lr=1e39 warmup=0 checkpoint_every=1 steps=100; then
    expect_stderr "B" "step [0-9]+" "$NAMES_TENSOR"
fi
finite_ckpt "B (lr=1e39, checkpoint_every=1)" "$B/checkpoint.h5"

# ---- C: the same as the only step -------------------------------------------------------
C=$WORK/c
expect_exit 3 "C (lr=1e39, steps=1): the only update makes every parameter Inf" \
    "$BIN" train "$TINY" out_dir="$C" lr=1e39 warmup=0 steps=1
finite_ckpt "C (lr=1e39, steps=1)" "$C/checkpoint.h5"

# ---- D: non-finite from the start --------------------------------------------------------
D=$WORK/d
if expect_exit 3 "D (init_std=1e38)" "$BIN" train "$TINY" out_dir="$D" init_std=1e38 checkpoint_every=1; then
    expect_stderr "D" "step 1\b" "$NAMES_TENSOR"
fi
[[ ! -e "$D/checkpoint.h5" && ! -e "$D/results.h5" ]] && pass || fail "D: wrote $(ls "$D")"
[[ -z "$(find "$D" -name '*.tmp*')" ]] && pass || fail "D: temporary files left: $(ls "$D")"

finish "A diverged at step ${diverged_at:-?} keeping the step-$((${diverged_at:-1} - 1)) checkpoint; 4 diverging configs; $(elapsed "$t_start") s"
