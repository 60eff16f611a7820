#!/usr/bin/env bash
# cli.sh: the command line tells what it is and what it will do.
#   help      `relgrad`, `relgrad help`, `relgrad help CMD`, `relgrad CMD --help`
#             and -h for every command of the overview: usage, the keys it
#             takes with their defaults, examples (each example of train,
#             experiment and config runs with --dry-run); `relgrad help keys`
#             names every key a checkpoint stores, with the default an empty
#             config gets; `relgrad help KEY`; `relgrad list schemes|tasks`
#             (every listed name is accepted); `relgrad --version` (version,
#             precision, git commit of this tree, BLIS, HDF5; "unknown"
#             without .git).
#   config    every run command prints the resolved configuration once, to
#             stderr, each value with FILE:LINE, argument N (counted as typed,
#             options included), checkpoint or default; `relgrad config` prints
#             it to stdout and validates (exit 2 when invalid).
#   dry run   train/experiment --dry-run: configuration and plan on stdout,
#             nothing created; a checkpoint of another run is refused.
#   bench     --eval times an encoder's evaluation pass (its eval: line), and
#             refuses a decoder and a length the model cannot read; --decode
#             refuses an encoder; a bad LEN[,BATCH] is refused naming
#             argument 3.
#   refused   the grid keys tasks/positions/seeds in train, dump and bench:
#             exit 2 naming the key, where it was set and `relgrad
#             experiment`; at their defaults they pass; values a checkpoint
#             of an experiment run carries are not the user's and pass.
# Usage: tests/robust/cli.sh   (env: RELGRAD_BIN)
NAME=cli
source "$(dirname "$0")/lib.sh"
t_start=$(now)

# ---- help ---------------------------------------------------------------------------------
expect_exit 2 "no arguments" "$BIN" && expect_stderr "no arguments" "usage: relgrad COMMAND" "relgrad help"
for h in help --help -h; do
    expect_exit 0 "relgrad $h" "$BIN" $h && cp last.out "overview.$h"
done
cmp -s overview.help overview.--help && cmp -s overview.help overview.-h && pass ||
    fail "relgrad help, --help and -h print different overviews"
# the commands of the overview: the lines between "commands:" and the next blank line
mapfile -t COMMANDS < <(awk '/^commands:/ { on = 1; next } on && /^$/ { exit } on { print $1 }' overview.help)
[[ ${#COMMANDS[@]} -ge 8 ]] && pass || fail "the overview lists ${#COMMANDS[@]} commands: ${COMMANDS[*]}"
for cmd in train experiment eval dump bench config list help; do
    [[ " ${COMMANDS[*]} " == *" $cmd "* ]] && pass || fail "the overview does not list $cmd"
done
for cmd in "${COMMANDS[@]}"; do
    expect_exit 0 "help $cmd" "$BIN" help "$cmd" || continue
    cp last.out "help.$cmd"
    grep -q "^usage: relgrad $cmd" "help.$cmd" && grep -q "^examples:" "help.$cmd" && pass ||
        fail "help $cmd: no usage line or no examples" "$(head -n 3 "help.$cmd")"
    for form in --help -h; do
        # --help wins wherever it stands, even after a file that does not exist
        expect_exit 0 "$cmd $form" "$BIN" "$cmd" "$WORK/no-such.ini" "$form" &&
            { cmp -s last.out "help.$cmd" && pass || fail "relgrad $cmd $form differs from relgrad help $cmd"; }
    done
    # every example names a command and, for commands that write nothing
    # with --dry-run (or at all), runs as written
    while IFS= read -r ex; do
        read -ra words <<<"$ex"
        [[ ${words[0]} == relgrad || ${words[0]} == relgrad-f64 ]] && [[ " ${COMMANDS[*]} " == *" ${words[1]} "* ]] &&
            pass || fail "help $cmd: example '$ex' is not a relgrad command"
        case ${words[1]} in
        train | experiment) extra=(--dry-run) ;;
        config | list | help) extra=() ;;
        *) continue ;;
        esac
        (cd "$ROOT" && "$BIN" "${words[@]:1}" "${extra[@]}" >"$WORK/ex.out" 2>"$WORK/ex.err" </dev/null)
        rc=$?
        [[ $rc -eq 0 ]] && pass || fail "help $cmd: example '$ex ${extra[*]}' exits $rc" "$(head -c 400 "$WORK/ex.err")"
    done < <(sed -n '/^examples:/,$p' "help.$cmd" | sed -n 's/^  //p')
done
# the keys each command's help lists
has() { grep -qE -- "(^| )$2( |$)" "help.$1"; }
for kv in d_model=64 pos=rope eval_lens=8,16,24,32,48,64 steps=2000 out_dir=out quiet=0; do
    has train "$kv" && pass || fail "help train does not list $kv"
done
has train 'tasks=[^ ]*' && fail "help train lists the grid key tasks" || pass
has experiment 'tasks=copy' && has experiment 'seeds=1' && pass || fail "help experiment does not list tasks and seeds"
has eval 'eval_n=200' && has eval 'threads=2' && pass || fail "help eval does not list eval_n and threads"
has eval 'd_model=64' && fail "help eval lists d_model, which eval cannot change" || pass

# `relgrad help keys`: every key a checkpoint stores, with the default an empty config has
expect_exit 0 "making a checkpoint" "$BIN" train "$TINY" out_dir="$WORK/ck" steps=2 --quiet
mapfile -t KEYS < <(h5dump -H -A "$WORK/ck/checkpoint.h5" | sed -n 's/^ *ATTRIBUTE "\([a-z0-9_A-Z]*\)".*/\1/p' |
    grep -vx -e format -e format_version -e step -e train_seconds -e best_step -e best_val_exact_match | sort -u)
[[ ${#KEYS[@]} -ge 30 ]] && pass || fail "the checkpoint stores only ${#KEYS[@]} keys"
expect_exit 0 "help keys" "$BIN" help keys && cp last.out keys.txt
: >empty.ini
expect_exit 0 "config of an empty file" "$BIN" config empty.ini out_dir="$WORK/none" && cp last.out empty.txt
for key in "${KEYS[@]}"; do
    def=$(sed -n "s/^  $key = \(.*\)$/\1/p" keys.txt)
    [[ -n "$def" ]] && pass || { fail "help keys: no line '  $key = DEFAULT'"; continue; }
    [[ $def == '"" (empty)' ]] && def='""'
    line=$(grep -E "^    $key +" empty.txt)
    read -r _ value src <<<"$line"
    if [[ $key == out_dir ]]; then
        [[ $src == argument* ]] && pass || fail "config: out_dir should come from an argument: '$line'"
    elif [[ "$value" == "$def" && "$src" == default ]]; then pass; else
        fail "key $key: help keys says default '$def', an empty config has '$line'"
    fi
    expect_exit 0 "help $key" "$BIN" help "$key" && { grep -q "^  $key = " last.out && pass || fail "help $key: no '$key = ' line"; }
done
expect_exit 2 "help on nothing known" "$BIN" help no_such_topic && expect_stderr "help on nothing known" "no_such_topic" "help keys"

# lists: every listed name is accepted where it belongs
expect_exit 0 "list schemes" "$BIN" list schemes && mapfile -t SCHEMES < <(awk '{ print $1 }' last.out)
[[ ${#SCHEMES[@]} -ge 9 ]] && pass || fail "list schemes: ${#SCHEMES[@]} schemes"
for s in "${SCHEMES[@]}"; do
    expect_exit 0 "pos=$s is accepted" "$BIN" config "$TINY" pos="$s" out_dir="$WORK/none"
done
# a task's line starts at column 1 (name, n_symbols N or any, |y|); its
# description lines are indented
expect_exit 0 "list tasks" "$BIN" list tasks &&
    mapfile -t TASKS < <(awk '/^[^ ]/ { print $1 }' last.out) &&
    mapfile -t TASK_SYMBOLS < <(awk '/^[^ ]/ { print $3 }' last.out)
[[ ${#TASKS[@]} -ge 21 ]] && pass || fail "list tasks: ${#TASKS[@]} tasks"
for i in "${!TASKS[@]}"; do
    t=${TASKS[i]} ns=${TASK_SYMBOLS[i]}
    [[ $ns == any ]] && ns=2
    expect_exit 0 "task=$t is accepted" "$BIN" config "$TINY" task="$t" n_symbols="$ns" out_dir="$WORK/none"
    # a task that fixes its alphabet refuses another one (tiny.ini sets n_symbols = 8)
    if [[ ${TASK_SYMBOLS[i]} != any ]]; then
        expect_exit 2 "task=$t refuses n_symbols=$((ns + 1))" "$BIN" config "$TINY" task="$t" n_symbols=$((ns + 1)) out_dir="$WORK/none" &&
            expect_stderr "task=$t refuses n_symbols=$((ns + 1))" "set n_symbols = $ns"
    fi
done
expect_exit 2 "list nothing" "$BIN" list && expect_stderr "list nothing" "schemes or tasks"
expect_exit 2 "list something unknown" "$BIN" list keyz && expect_stderr "list something unknown" "keyz"

# version
if expect_exit 0 "--version" "$BIN" --version; then
    grep -qE '^relgrad [0-9]+\.[0-9]+\.[0-9]+ \((float32|float64)\)$' last.out && pass || fail "--version: no 'relgrad X.Y.Z (precision)' line" "$(cat last.out)"
    grep -qE '^BLIS [0-9]+\.[0-9]+' last.out && grep -qE '^HDF5 [0-9]+\.[0-9]+\.[0-9]+$' last.out && pass ||
        fail "--version: no BLIS or HDF5 version" "$(cat last.out)"
    commit=$(sed -n 's/^git commit \([0-9a-f]*\).*/\1/p' last.out)
    if head=$(git -C "$ROOT" rev-parse --short=12 HEAD 2>/dev/null); then
        [[ "$commit" == "$head" ]] && pass || fail "--version: commit '$commit', the tree is at $head (rebuild?)"
    fi
fi
mkdir nogit
cmake -DSOURCE_DIR="$WORK/nogit" -DOUT="$WORK/info.h" -DVERSION=9.8.7 -P "$ROOT/cmake/build_info.cmake" &&
    grep -q 'RELGRAD_GIT_COMMIT "unknown"' info.h && grep -q 'RELGRAD_VERSION "9.8.7"' info.h && pass ||
    fail "cmake/build_info.cmake outside a git checkout: $(cat info.h 2>/dev/null)"

# ---- the resolved configuration ---------------------------------------------------------------
# source KEY FILE: "VALUE SOURCE" of KEY in a configuration printout
source_of() { grep -E "^    $1 +" "$2" | head -n 1 | awk '{ $1 = ""; sub(/^ /, ""); print }'; }
# an option between key=value arguments does not shift their numbers
expect_exit 0 "config with an option between arguments" "$BIN" train "$TINY" steps=7 --dry-run eval_n=3 out_dir="$WORK/dry"
cp last.out dry.out
[[ "$(source_of steps dry.out)" == "7 argument 3" && "$(source_of eval_n dry.out)" == "3 argument 5" ]] && pass ||
    fail "sources of arguments: steps '$(source_of steps dry.out)', eval_n '$(source_of eval_n dry.out)'"
[[ "$(source_of d_model dry.out)" == "16 $TINY:6" ]] && pass || fail "source of d_model: '$(source_of d_model dry.out)'"
[[ "$(source_of mem_len dry.out)" == "0 default" ]] && pass || fail "source of mem_len: '$(source_of mem_len dry.out)'"
grep -q "fresh start" dry.out && pass || fail "dry run: the plan does not say it starts fresh" "$(tail -n 5 dry.out)"
[[ ! -e "$WORK/dry" ]] && pass || fail "train --dry-run created out_dir"
expect_exit 2 "a bad key after an option" "$BIN" train "$TINY" --quiet stpes=3 out_dir="$WORK/dry"
expect_stderr "a bad key after an option" "argument 4" "stpes"
expect_exit 2 "an unknown option" "$BIN" train "$TINY" --dryrun && expect_stderr "an unknown option" "argument 3" "--dryrun" "--dry-run"

# each run command prints it once, to stderr
once() { # WHAT: the last command printed one configuration, on stderr only
    local n
    n=$(grep -c "configuration (key, value" "$WORK/last.err")
    [[ $n -eq 1 ]] && pass || fail "$1: $n configuration printouts on stderr"
    grep -q "configuration (key, value" "$WORK/last.out" && fail "$1: configuration on stdout" || pass
}
expect_exit 0 "train" "$BIN" train "$TINY" out_dir="$WORK/run" steps=10 && once train
expect_exit 0 "eval" "$BIN" eval "$WORK/run/checkpoint.h5" eval_n=4 && once eval
[[ "$(source_of eval_n last.err)" == "4 argument 3" && "$(source_of d_model last.err)" == "16 checkpoint" ]] && pass ||
    fail "eval sources: eval_n '$(source_of eval_n last.err)', d_model '$(source_of d_model last.err)'"
expect_exit 0 "dump" "$BIN" dump "$TINY" --out "$WORK/d.h5" && once dump
expect_exit 0 "bench" "$BIN" bench "$TINY" steps=2 && once bench
# bench --eval times an encoder's evaluation pass (copy at 6 symbols: BOS x SEP and 6 ANS,
# 14 tokens; d16 H2 L1 F32 with V = 8 + 5: 2672 parameters), --decode a decoder's decoding;
# each refuses the other architecture, and a bad LEN[,BATCH] names its argument
expect_exit 0 "bench --eval" "$BIN" bench --eval 6,2 "$TINY" arch=encoder --quiet
grep -qE "^eval: len=6 batch=2 ms=[0-9.]+ tokens_per_s=[0-9.]+ peak_rss_mb=[0-9.]+ seq=14 runs=[0-9]+$" last.out &&
    grep -qE "^config: pos rope arch encoder d_model 16 .* params 2672 " last.out && pass ||
    fail "bench --eval: no eval: line of 14 tokens or no encoder of 2672 parameters" "$(cat last.out)"
# --eval runs BATCH rows, not the config's batch_size: a batch_size whose training batch would
# be too large for memory does not stop it (tools/bench.sh times N = 2048 with bench.ini's 32)
expect_exit 0 "bench --eval ignores batch_size" "$BIN" bench --eval 6,2 "$TINY" arch=encoder \
    batch_size=100000000 --quiet
expect_exit 2 "bench --eval on a decoder" "$BIN" bench --eval 6 "$TINY" &&
    expect_stderr "bench --eval on a decoder" "arch = encoder" "--decode LEN"
expect_exit 2 "bench --decode on an encoder" "$BIN" bench --decode 8 "$TINY" arch=encoder &&
    expect_stderr "bench --decode on an encoder" "does not decode" "--eval LEN"
expect_exit 2 "bench --eval longer than learned positions" "$BIN" bench --eval 600 "$TINY" arch=encoder \
    pos=learned max_positions=64 && expect_stderr "bench --eval longer than learned positions" \
    "key 'max_positions': 64 is too small" "eval length 600"
for spec in 0 6,0 6x 6,2,1; do
    expect_exit 2 "bench --eval $spec" "$BIN" bench --eval "$spec" "$TINY" arch=encoder &&
        expect_stderr "bench --eval $spec" "argument 3: --eval '$spec'" "LEN\[,BATCH\]"
done
expect_exit 0 "experiment" "$BIN" experiment "$TINY" out_dir="$WORK/exp" steps=10 tasks=copy,reverse seeds=1 && once experiment
grep -qE "wrote .*/results.h5, .*/table.md, .*/plot.png" <(tail -n 1 last.err) && pass ||
    fail "experiment: the last line does not name the files written" "$(tail -n 1 last.err)"
grep -q "^| copy | rope |" last.out && pass || fail "experiment: no table on stdout" "$(head -c 300 last.out)"
grep -qE "step [0-9]+/|configuration" last.out && fail "experiment: progress or configuration on stdout" || pass
expect_exit 0 "eval --quiet" "$BIN" eval "$WORK/run/checkpoint.h5" eval_n=4 --quiet
[[ ! -s last.err ]] && pass || fail "eval --quiet wrote to stderr" "$(head -c 300 last.err)"

# `relgrad config` prints to stdout and validates
expect_exit 2 "config, invalid" "$BIN" config "$TINY" n_heads=3
expect_stderr "config, invalid" "argument 3" "n_heads"
grep -q "^    n_heads  *3  *argument 3" last.out && pass || fail "config, invalid: no printout on stdout"
expect_exit 0 "config of an experiment" "$BIN" config "$ROOT/experiments/quick.ini" out_dir="$WORK/q"
grep -q "plan: 40 runs" last.out && grep -q "valid for \`relgrad experiment\`" last.out && pass ||
    fail "config quick.ini: no plan of 40 runs" "$(tail -n 6 last.out)"
# every shipped experiment file stays valid (a key renamed in the code, a
# value out of range: `relgrad config` refuses it here, not in a user's grid)
for ini in "$ROOT"/experiments/*.ini; do
    expect_exit 0 "config $(basename "$ini")" "$BIN" config "$ini" out_dir="$WORK/cfg"
done

# ---- dry runs ---------------------------------------------------------------------------------
snapshot() { find "$WORK/run" "$WORK/exp" -printf '%p %s %T@\n' | sort; }
before=$(snapshot)
expect_exit 0 "dry run of a complete run" "$BIN" train "$TINY" out_dir="$WORK/run" steps=10 --dry-run
grep -q "complete (checkpoint.h5 at step 10): evaluate only" last.out && pass || fail "dry run of a complete run: plan" "$(tail -n 5 last.out)"
expect_exit 2 "dry run with another run's checkpoint" "$BIN" train "$TINY" out_dir="$WORK/run" steps=10 seed=8 --dry-run
expect_stderr "dry run with another run's checkpoint" "cannot resume" "seed"
expect_exit 0 "experiment --dry-run" "$BIN" experiment "$TINY" out_dir="$WORK/exp" steps=10 tasks=copy,reverse,sort seeds=1 --dry-run
grep -q "2 complete" last.out && grep -q "1 to start" last.out && pass || fail "experiment dry run: plan" "$(tail -n 6 last.out)"
[[ "$(snapshot)" == "$before" ]] && pass || fail "dry runs changed files" "$(diff <(echo "$before") <(snapshot) | head -n 6)"
expect_exit 0 "experiment --dry-run, new out_dir" "$BIN" experiment "$TINY" out_dir="$WORK/exp2" tasks=copy,sort --dry-run
[[ ! -e "$WORK/exp2" ]] && pass || fail "experiment --dry-run created out_dir"

# ---- keys a command would ignore ----------------------------------------------------------------
for cmd in train bench dump; do
    args=("$BIN" "$cmd" "$TINY" out_dir="$WORK/refused")
    [[ $cmd == dump ]] && args+=(--out "$WORK/refused.h5")
    expect_exit 2 "$cmd positions=..." "${args[@]}" positions=none,fire &&
        expect_stderr "$cmd positions=..." "argument ${#args[@]}: key 'positions'" "relgrad experiment"
    expect_exit 0 "$cmd with the grid keys at their defaults" "${args[@]}" tasks=copy seeds=1 steps=2
done
rm -rf "$WORK/refused" "$WORK/refused.h5"
expect_exit 2 "train with a config that sets a grid" "$BIN" train "$ROOT/experiments/quick.ini" out_dir="$WORK/refused"
expect_stderr "train with a config that sets a grid" "quick.ini:[0-9]+: key 'tasks'" "quick.ini:[0-9]+: key 'positions'" \
    "relgrad experiment .*quick.ini"
[[ ! -e "$WORK/refused" ]] && pass || fail "a refused train created out_dir"
# a run of an experiment stores the grid it belonged to: dumping it is fine
expect_exit 0 "dump --checkpoint of an experiment's run" "$BIN" dump --checkpoint "$WORK/exp/runs/reverse-rope-1/checkpoint.h5" --out "$WORK/e.h5"

finish "help, configuration printouts, dry runs and refused keys; $(elapsed "$t_start") s"
