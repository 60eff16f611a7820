#!/usr/bin/env bash
# results.sh: results files as the record of what was run (docs/format.md):
#   - `relgrad results list` names every run with its fit, selected step and
#     provenance;
#   - `relgrad train --from RESULTS TASK/POS/SEED` trains a recorded run
#     again from its recorded config (a short run: tiny model, threads = 1)
#     and gets exactly the recorded train_loss, exact_match and token_acc;
#     a changed key is reported as a difference;
#   - `relgrad results merge` combines files made in pieces, keeps a run
#     recorded alike once, and refuses one recorded differently;
#   - bad arguments are exit 2 with what is wrong.
# Usage: tests/robust/results.sh   (env: RELGRAD_BIN)
NAME=results
source "$(dirname "$0")/lib.sh"
source "$HERE/mpi_lib.sh" # same_datasets

GRID=(tasks=copy positions=rope,alibi steps=300 eval_lens=3,5,8 eval_n=20 threads=1
      checkpoint_every=100 --quiet)
exper() { "$BIN" experiment "$TINY" "${GRID[@]}" "$@"; }

expect_exit 0 "an experiment of 2 schemes x 2 seeds" exper seeds=1,2 out_dir=a

# ---- list -----------------------------------------------------------------------------------
expect_exit 0 "results list" "$BIN" results list a/results.h5
check "list: one line per run, and a header" test "$(wc -l <last.out)" -eq 5
commit=$("$BIN" --version | sed -n 's/^git commit //p' | sed 's/+/\\+/g') # "+changes": a regex
for run in copy/rope/1 copy/rope/2 copy/alibi/1 copy/alibi/2; do
    check "list names $run with 300 steps, fit, step 300, the build's commit, float32" \
        grep -qE "^$run +300 +(yes|no) \([0-9.]+ at 5\) +300 +$commit +float32 " last.out
done

# ---- rerun a recorded run -------------------------------------------------------------------
expect_exit 0 "train --from a/results.h5 copy/alibi/2" "$BIN" train --from a/results.h5 copy/alibi/2 --quiet
check "it says the rerun is the same as the record" \
    grep -q "rerun of copy/alibi/2 from a/results.h5: the same as the record: 300 losses" last.out
check "it trained in a/rerun/copy-alibi-2 from a fresh start (its log has 300 steps)" \
    log_consecutive a/rerun/copy-alibi-2/train_log.csv 300
check "and its results.h5 equals the record: train_loss, eval_len, exact_match, token_acc" \
    same_datasets a/results.h5 a/rerun/copy-alibi-2/results.h5 /runs/copy/alibi/2
expect_exit 0 "train --from with a changed key" \
    "$BIN" train --from a/results.h5 copy/rope/1 --quiet lr=2e-3 out_dir=changed
check "... says what differs" grep -q "differs from the record: lr = 0.001 in the record, 0.002 in this run" last.out
expect_exit 0 "train --from --dry-run" "$BIN" train --from a/results.h5 copy/rope/1 --dry-run
check "... shows where the values came from" \
    grep -qE "steps +300 +results file" last.out
check "... and the default out_dir" grep -qE "out_dir +a/rerun/copy-rope-1 +--from a/results.h5" last.out
check "... and wrote nothing" test ! -e a/rerun/copy-rope-1

expect_exit 2 "train --from with a run that is not there" "$BIN" train --from a/results.h5 copy/none/1
expect_stderr "... names it" "no run /runs/copy/none/1"
expect_exit 2 "train --from with a malformed run" "$BIN" train --from a/results.h5 copy-rope-1
expect_stderr "... says how to write it" "is not a run: write TASK/POS/SEED"
expect_exit 2 "train --from without the run" "$BIN" train --from a/results.h5
expect_stderr "... says so" "missing the run after --from"
expect_exit 2 "train --from a missing file" "$BIN" train --from nothing.h5 copy/rope/1
expect_stderr "... names it" "nothing.h5: no such file"

# ---- merge ----------------------------------------------------------------------------------
expect_exit 0 "a second piece of the grid: seeds 3, and 2 again" exper seeds=2,3 out_dir=b
expect_exit 0 "merge a and b" "$BIN" results merge all.h5 a/results.h5 b/results.h5
expect_stderr "... reports 6 runs" "wrote all.h5 \(6 runs from 2 files\)"
"$BIN" results list all.h5 >all.list 2>/dev/null
check "the merge lists 6 runs" test "$(($(wc -l <all.list) - 1))" -eq 6
check "merged runs equal their sources" same_datasets all.h5 b/results.h5 /runs/copy/rope/3 /runs/copy/alibi/2
expect_exit 0 "train one run differently (lr) and record it in c" \
    "$BIN" experiment "$TINY" "${GRID[@]}" seeds=1 positions=rope lr=2e-3 out_dir=c
expect_exit 2 "merge with a run recorded differently" "$BIN" results merge bad.h5 a/results.h5 c/results.h5
expect_stderr "... names the run and the key" "/runs/copy/rope/1 is recorded differently: lr = 0.001 in a/results.h5, 0.002 in c/results.h5"
check "... and writes nothing" test ! -e bad.h5
expect_exit 2 "merge onto an existing file that is not an input" "$BIN" results merge all.h5 b/results.h5
expect_stderr "... refuses" "all.h5 exists and is not one of the inputs"
expect_exit 2 "results with an unknown action" "$BIN" results show all.h5
expect_stderr "... says which" "unknown action 'show'; use list or merge"
expect_exit 2 "results merge without inputs" "$BIN" results merge all.h5
expect_exit 2 "results list of a file that is not HDF5" "$BIN" results list "$TINY"
expect_stderr "... says so" "not a readable HDF5 file"

finish "list, rerun, merge"
