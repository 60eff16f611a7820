#!/usr/bin/env bash
# bad_files.sh: the program's answer to bad files, bad output directories, a
# config that does not match the checkpoint it would resume, and command line
# misuse: exit 2, a message on stderr that names the file (or key, or says
# how to call the program), and nothing created or changed on disk.
# (Library-level checkpoint loading errors are tests/test_io.c's; config
# file errors are tests/test_config.c's. This is the command line's view.)
# Usage: tests/robust/bad_files.sh   (env: RELGRAD_BIN)
NAME=bad_files
source "$(dirname "$0")/lib.sh"
t_start=$(now)
BAD=0 # bad inputs tried

# bad WHAT PATTERN... -- COMMAND...: exit 2 and stderr matching each PATTERN
bad() {
    local what=$1 pats=()
    shift
    while [[ $1 != -- ]]; do pats+=("$1"); shift; done
    shift
    BAD=$((BAD + 1))
    expect_exit 2 "$what" "$@" && expect_stderr "$what" "${pats[@]}"
}

# snapshot: every path under $WORK (but the logs of the last command) and its
# size and mtime, to show that a failed command created or changed nothing
snapshot() {
    # (not out_dir/.lock, the run directory's lock, which train takes before
    # it reads anything, nor the directories' times, which creating it changes)
    find "$WORK" \( -path "$WORK/last.*" -o -name .lock \) -prune -o -type d -printf '%p\n' \
        -o -printf '%p %s %T@\n' | sort
}
# unchanged WHAT BEFORE: compare a snapshot taken before the command
unchanged() {
    local now_
    now_=$(snapshot)
    if [[ "$now_" == "$2" ]]; then pass; else
        fail "$1: files were created or changed" "$(diff <(echo "$2") <(echo "$now_") | head -n 6)"
    fi
}

# a real checkpoint to damage, and a results file (valid HDF5, wrong format)
expect_exit 0 "making a checkpoint" "$BIN" train "$TINY" out_dir="$WORK/good" steps=20 || finish "no checkpoint"
CK=$WORK/good/checkpoint.h5
size=$(stat -c %s "$CK")

# ---- relgrad eval on bad files ---------------------------------------------------------
head -c $((size / 2)) "$CK" >half.h5
head -c 2048 "$CK" >head2k.h5
head -c $((size - 1)) "$CK" >minus1.h5
head -c 4096 /dev/urandom >garbage.h5
: >empty.h5
mkdir adir.h5
ln -s "$WORK/nowhere.h5" dangling.h5
printf 'd_model = 16\n' >text.h5
{ head -c 512 "$CK"; head -c 4096 /dev/zero; } >zeros.h5 # superblock, then nothing
for f in half.h5 head2k.h5 minus1.h5 garbage.h5 empty.h5 dangling.h5 text.h5 zeros.h5; do
    bad "eval $f" "$WORK/$f" "not a readable HDF5 file|no such file" -- "$BIN" eval "$WORK/$f"
done
bad "eval a directory" "$WORK/adir.h5" "directory" -- "$BIN" eval "$WORK/adir.h5"
bad "eval a missing file" "$WORK/missing.h5" "no such file" -- "$BIN" eval "$WORK/missing.h5"
bad "eval a path through a file" "$CK/x.h5" -- "$BIN" eval "$CK/x.h5"
bad "eval /dev/null" "/dev/null" -- "$BIN" eval /dev/null
bad "eval results.h5" "$WORK/good/results.h5" "format" -- "$BIN" eval "$WORK/good/results.h5"
if "$BIN" dump "$TINY" --out "$WORK/dump.h5" >/dev/null 2>&1; then
    bad "eval a gradient dump" "$WORK/dump.h5" "format" -- "$BIN" eval "$WORK/dump.h5"
fi
bad "eval with a training key" "d_model" "eval may change only" -- "$BIN" eval "$CK" d_model=32
bad "eval with eval_n=0" "eval_n" -- "$BIN" eval "$CK" eval_n=0
check "the damaged copies did not hurt the original" loadable "$CK"

# ---- relgrad train with a bad out_dir ------------------------------------------------------
printf 'precious\n' >afile
before=$(snapshot)
bad "out_dir is a regular file" "$WORK/afile" "not a directory" -- "$BIN" train "$TINY" out_dir="$WORK/afile"
unchanged "out_dir is a regular file" "$before"
# Read-only places: the tests run as root, and chmod does not stop root, so a
# read-only directory is made with a path whose component is a regular file
# (ENOTDIR for everyone) and with pseudo file systems that refuse mkdir even
# to root (/proc: ENOENT; /sys: EPERM or EROFS).
bad "out_dir below a regular file" "$WORK/afile/run" "cannot create" -- "$BIN" train "$TINY" out_dir="$WORK/afile/run"
unchanged "out_dir below a regular file" "$before"
bad "out_dir under /proc" "/proc/relgrad-robust/run" "cannot create" -- "$BIN" train "$TINY" out_dir=/proc/relgrad-robust/run
[[ ! -e /proc/relgrad-robust ]] && pass || fail "out_dir under /proc: created it"
if [[ -d /sys/kernel ]]; then
    bad "out_dir under /sys" "/sys/kernel/relgrad-robust" "cannot create" -- "$BIN" train "$TINY" out_dir=/sys/kernel/relgrad-robust
    [[ ! -e /sys/kernel/relgrad-robust ]] && pass || fail "out_dir under /sys: created it"
fi
ln -s "$WORK/nowhere" dangling_dir
before=$(snapshot)
bad "out_dir is a dangling symlink" "$WORK/dangling_dir" -- "$BIN" train "$TINY" out_dir="$WORK/dangling_dir"
unchanged "out_dir is a dangling symlink" "$before"
bad "out_dir is empty" "out_dir" -- "$BIN" train "$TINY" out_dir=
bad "out_dir longer than 512 bytes" "out_dir" -- "$BIN" train "$TINY" out_dir="$WORK/$(printf 'x%.0s' $(seq 600))"
mkdir -p ckdir/checkpoint.h5
before=$(snapshot)
bad "checkpoint.h5 is a directory" "$WORK/ckdir/checkpoint.h5" "directory" -- "$BIN" train "$TINY" out_dir="$WORK/ckdir"
unchanged "checkpoint.h5 is a directory" "$before"
mkdir -p logdir/train_log.csv
before=$(snapshot)
bad "train_log.csv is a directory" "$WORK/logdir/train_log.csv" -- "$BIN" train "$TINY" out_dir="$WORK/logdir"
unchanged "train_log.csv is a directory" "$before"
mkdir nolog
cp "$CK" nolog/checkpoint.h5
before=$(snapshot)
bad "a checkpoint without its train_log.csv" "$WORK/nolog/train_log.csv" "missing" -- "$BIN" train "$TINY" out_dir="$WORK/nolog" steps=20
unchanged "a checkpoint without its train_log.csv" "$before"
mkdir badck
cp half.h5 badck/checkpoint.h5
cp "$WORK/good/train_log.csv" badck/
before=$(snapshot)
bad "resume from a truncated checkpoint" "$WORK/badck/checkpoint.h5" "not a readable HDF5 file" -- "$BIN" train "$TINY" out_dir="$WORK/badck" steps=20
unchanged "resume from a truncated checkpoint" "$before"

# ---- a model too large to build -----------------------------------------------------------
# d_model is only bounded by INT_MAX, but 3 * d_model (the fused qkv rows) and
# the parameter count must fit: the program must refuse with exit 2 naming
# the key, not overflow (undefined behaviour) or die with an internal error.
bad "a model too large to build (d_model=1000000000)" "d_model" -- \
    timeout -s KILL 60 "$BIN" train "$TINY" out_dir="$WORK/huge" d_model=1000000000 n_heads=1

# ---- config mismatch on resume -----------------------------------------------------------------
# key=value pairs, each different from the run in good/ (steps=20, tiny.ini)
before=$(snapshot)
for kv in d_model=32 n_heads=4 n_layers=2 d_ff=64 pos=alibi task=reverse n_symbols=9 train_len=6 \
    lr=0.002 warmup=3 seed=8 batch_size=4 steps=40 init_std=0.03 weight_decay=0.5 grad_clip=2; do
    key=${kv%%=*}
    args=(steps=20 "$kv")
    [[ $key == steps ]] && args=("$kv")
    bad "resume with $kv" "$CK" "\b$key\b" "cannot resume" -- "$BIN" train "$TINY" out_dir="$WORK/good" "${args[@]}"
done
unchanged "after the mismatched resumes" "$before"
# keys that may differ: evaluation, threads, checkpoint_every
expect_exit 0 "resume with eval_n=7 threads=2 checkpoint_every=3 eval_lens=4,6" \
    "$BIN" train "$TINY" out_dir="$WORK/good" steps=20 eval_n=7 threads=2 checkpoint_every=3 eval_lens=4,6

# ---- command line misuse ---------------------------------------------------------------------------
bad "no arguments" "usage" -- "$BIN"
bad "unknown command" "unknown command 'trian'" "train, experiment" "usage" -- "$BIN" trian "$TINY"
bad "train without a config" "usage: relgrad train" -- "$BIN" train
bad "eval without a checkpoint" "usage: relgrad eval" -- "$BIN" eval
bad "dump without --out" "usage: relgrad dump" -- "$BIN" dump "$TINY"
bad "dump with --out but no file" "usage: relgrad dump" -- "$BIN" dump "$TINY" --out
bad "dump without a config" "usage: relgrad dump" -- "$BIN" dump
bad "experiment without a config" "usage: relgrad experiment" -- "$BIN" experiment
bad "bench without a config" "usage: relgrad bench" -- "$BIN" bench
bad "train with a missing config" "$WORK/missing.ini" -- "$BIN" train "$WORK/missing.ini"
bad "train with a directory as config" "$WORK/adir.h5" "directory" -- "$BIN" train "$WORK/adir.h5"
bad "train with a binary config" "$WORK/garbage.h5" -- "$BIN" train "$WORK/garbage.h5"
bad "train with an argument without '='" "argument 3" "steps=VALUE" -- "$BIN" train "$TINY" steps
bad "train with an unknown key" "argument 3" "stpes" -- "$BIN" train "$TINY" stpes=3
if expect_exit 0 "--help" "$BIN" --help; then
    grep -q "usage" last.out && pass || fail "--help: no usage on stdout"
fi

finish "$BAD bad inputs tried (each must exit 2 with a message naming the file, key or usage); $(elapsed "$t_start") s"
