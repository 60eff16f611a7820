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
#   - an experiment skips the runs its out_dir/results.h5 records, also when
#     only that file was copied there (a fresh machine), trains the rest,
#     and refuses a record made with another config, naming the key; over
#     MPI ranks the runs rank 1 trains keep their fit and provenance;
#   - table.md's tables equal what tools/tables.py writes from results.h5;
#   - bad arguments are exit 2 with what is wrong.
# Usage: tests/robust/results.sh   (env: RELGRAD_BIN)
NAME=results
source "$(dirname "$0")/lib.sh"
source "$HERE/mpi_lib.sh" # same_datasets, mpi

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

# ---- an experiment resumes from a results file ------------------------------------------------
mkdir fresh && cp a/results.h5 fresh/ # a fresh machine: the shipped results file, no run directories
expect_exit 0 "the grid with seeds 1..3 on a results file that records seeds 1 and 2" \
    exper seeds=1..3 out_dir=fresh
expect_stderr "... says what it found" "fresh/results.h5 records 4 of the 6 runs"
check "... trained only the runs of seed 3" \
    test "$(cd fresh/runs && echo *)" == "copy-alibi-3 copy-rope-3"
check "... and kept the recorded runs as they were" \
    same_datasets fresh/results.h5 a/results.h5 /runs/copy/rope/1 /runs/copy/rope/2 /runs/copy/alibi/1 /runs/copy/alibi/2
check "... and its table has the three seeds" grep -qE "^\| copy \| rope \| [0-3]/3" fresh/table.md
tables_of() { sed -n '/^## Exact match/,$p' "$1"; }
/usr/bin/python3 -c "import sys; sys.path.insert(0, '$ROOT/tools'); import results_file, tables
print('\n'.join(tables.experiment_tables(results_file.read_runs('fresh/results.h5'))))" >py_tables.md
check "table.md's tables = tools/tables.py's from results.h5" cmp -s <(tables_of fresh/table.md) py_tables.md
# a grid where some seeds fit and others do not (rope fits with seed 1 at 200 steps here)
expect_exit 0 "a grid of fitted and unfitted runs" "$BIN" experiment "$TINY" tasks=copy positions=rope,alibi \
    seeds=1,2 steps=200 lr=1e-2 n_symbols=3 train_len=3 eval_lens=3,6 eval_n=20 threads=1 out_dir=mix --quiet
/usr/bin/python3 -c "import sys; sys.path.insert(0, '$ROOT/tools'); import results_file, tables
print('\n'.join(tables.experiment_tables(results_file.read_runs('mix/results.h5'))))" >py_mix.md
check "... its table.md's tables = tools/tables.py's" cmp -s <(tables_of mix/table.md) py_mix.md
check "... which mark the unfitted runs" grep -q "†" py_mix.md
expect_exit 0 "the same grid again: everything is recorded" exper seeds=1..3 out_dir=fresh
expect_stderr "... nothing is trained" "records 6 of the 6 runs: nothing to train"
expect_exit 0 "experiment --dry-run on it" exper seeds=1..4 out_dir=fresh --dry-run
check "... the plan counts the recorded runs" grep -q "2 to start, 0 to resume, 6 complete (6 recorded in results.h5" last.out
expect_exit 2 "the grid with another lr on that results file" exper seeds=1..4 out_dir=fresh lr=2e-3
expect_stderr "... names the key, both values and what to do" \
    "fresh/results.h5 records run copy/rope/1 with lr = 0.001, but this experiment has lr = 0.002" \
    "another out_dir"
check "... and trained nothing" test ! -e fresh/runs/copy-rope-4
expect_exit 2 "its dry run says the same" exper seeds=1..4 out_dir=fresh lr=2e-3 --dry-run
expect_stderr "... naming lr" "with lr = 0.001, but this experiment has lr = 0.002"

# ---- over 2 MPI ranks: what rank 1 trains (sent to rank 0) keeps its record ----------------------
expect_exit 0 "the grid over 2 MPI ranks" mpi 2 "$BIN" experiment "$TINY" "${GRID[@]}" seeds=1,2 out_dir=m
expect_exit 0 "results list of it" "$BIN" results list m/results.h5
check "every run has its fit, selected step and provenance" \
    test "$(grep -cE " (yes|no) \([0-9.]+ at 5\) +300 +$commit +float32 " last.out)" -eq 4
check "... and the same numbers as in one process" \
    same_datasets m/results.h5 a/results.h5 /runs/copy/rope/1 /runs/copy/alibi/2

finish "list, rerun, merge, resuming from a results file"
