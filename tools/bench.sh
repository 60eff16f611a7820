#!/usr/bin/env bash
# bench.sh: relgrad's training step against PyTorch's on the same model, batch
# and optimizer, in the same run, and against BLIS's own sgemm speed; greedy
# decoding with the key/value cache against a PyTorch decoder with one; an
# encoder's evaluation pass against a PyTorch encoder's; and two relgrad jobs
# sharing the cores.
#
# Usage: tools/bench.sh [--quick] [--threads N] [--reps R] [--configs a,b,e]
#                       [--schemes none,rope,alibi,t5,xl,deberta,fire]
#                       [--decode-lens 256,1024,4096] [--no-decode]
#                       [--eval-lens 128,512,2048] [--eval-batch 1] [--no-eval]
#                       [--no-two-jobs] [--no-peak] [--no-wait]
#                       [--torch-blis same|own]
#   --quick     fewer timed steps, 1 repetition, decoding at 32,64,128 tokens,
#               evaluation at 16,32,64 symbols and a short two-jobs test (a
#               smoke test, not a result)
#   --threads   threads for relgrad, PyTorch and gemm_peak (default 2)
#   --reps      repetitions per (config, scheme, program) (default 3)
#   --configs   which training configs (below; default a,b,e)
#   --schemes   which schemes; config e runs those an encoder has (not fire,
#               which has no encoder form) and says so
#   --no-peak   do not run gemm_peak (MFU columns n/a)
#   --torch-blis which BLIS kernels PyTorch runs: `same` (default) the set
#               relgrad runs, so both programs multiply with one GEMM; `own`
#               BLIS's own choice, as PyTorch's users get it (issue 22's
#               definition; differs where relgrad overrides BLIS for itself,
#               src/core/runtime.c). A BLIS_ARCH_TYPE set by the user goes to
#               both programs either way; gemm_peak always runs relgrad's set.
#   --no-wait   do not wait for an idle machine before each run (by default
#               each run waits, up to 120 s, until other processes use less
#               than ~20% of the CPUs: a 2-thread OpenMP run sharing its cores
#               with another job can be several times slower)
# Sections of the output:
#   1. training steps, every scheme on configs a, b and e (below), with
#      speedup over PyTorch and MFU;
#   2. greedy decoding on config b's model (pos rope, batch 1): a prompt of
#      LEN/2 symbols, then LEN/2 generated tokens, at each LEN of
#      --decode-lens; generated tokens/s of `relgrad bench --decode` and of
#      `tools/bench_torch.py --decode` (preallocated key/value cache);
#   3. an encoder's evaluation on config e's model (pos rope, --eval-batch
#      rows, default 1): the one pass `relgrad eval` makes over a batch of N
#      symbols (T = 2N+2 tokens; forward without gradients and the argmax of
#      every slot), at each N of --eval-lens; median pass and tokens/s of
#      `relgrad bench --eval` and of `tools/bench_torch.py --eval` (the same
#      model in PyTorch, no_grad);
#   4. two jobs: `relgrad bench` on config a (rope) alone, then two copies
#      started together, each with --threads threads: each one's ms/step over
#      the alone run's (1.0 = no slowdown; 2.0 = a fair share of the cores).
# BLIS kernels: relgrad picks BLIS's vector kernels itself when BLIS would
# fall back to its generic ones, or to AVX2 on an AVX-512 CPU it cannot name
# (src/core/runtime.c); PyTorch's GEMMs run in the same BLIS (libblas.so.3),
# and by default PyTorch and gemm_peak get the same kernels through
# BLIS_ARCH_TYPE (printed at the top): both programs use one GEMM
# (--torch-blis own: PyTorch on BLIS's own choice).
# Needs build/relgrad (tools/build.sh), experiments/bench.ini, and Debian's
# /usr/bin/python3 with torch. Builds build/gemm_peak from tools/gemm_peak.c
# if it is missing. Raw outputs go to build/bench-logs/; the Markdown table
# goes to stdout, progress to stderr.
# Environment: RELGRAD (default build/relgrad), BENCH_INI (default
# experiments/bench.ini) pick another binary or config file; BENCH_LOGS
# another directory for the raw outputs.
#
# Configs (every example exactly train_len symbols, T = 2*train_len+2 tokens):
#   a: decoder, copy: d_model 64,  4 heads, 2 layers, d_ff 256,  batch 32,
#      train_len 19 (T 40)
#   b: decoder, copy: d_model 256, 8 heads, 4 layers, d_ff 1024, batch 16,
#      train_len 63 (T 128)
#   e: encoder (arch = encoder), Ruoss et al.'s reverse_string (2 symbols),
#      their model: d_model 64, 8 heads, 5 layers, d_ff 256, batch 128,
#      train_len 40 (T 82: BOS x SEP and 40 answer slots; experiments/ruoss.ini
#      trains this model with batch 32)
# Each run: 3 warm-up steps, then `steps` timed steps; each program prints
#   bench: ms_per_step=X tokens_per_s=Y peak_rss_mb=Z
# Runs alternate relgrad, torch, relgrad, torch, ...; the table shows medians.
#
# Model FLOP utilization (MFU) = model FLOPs per step / step time / sgemm peak,
# the peak being gemm_peak's `gemm: sgemm_gflops=` (best square size >= 1024).
# Model FLOPs per training step = 3 * forward FLOPs (backward counted as 2x
# forward), forward FLOPs = 2 * matmul MACs, with V = n_symbols + 4 = 20 for
# a and b, n_symbols + 5 = 7 for e (the encoder's ANS):
#   MACs = L * [ B*T*(3d*d + d*d + 2*d*F)        qkv, proj, fc1, fc2
#              + 2 * B*H*T*T*dh ]                scores and P.V over the FULL
#                                                T x T square (no causal halving)
#        + B*T*V*d                               lm_head
# (an encoder's square is its whole one). The same count is used for every
# scheme: scheme extras (xl's second score product and r projection, rope's
# rotations, biases) are not counted, and elementwise work (LayerNorm, GELU,
# softmax, AdamW) is not counted either.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0 threads=2 reps=3 wait_idle=1 max_tries=3 configs=a,b,e schemes=none,rope,alibi,t5,xl,deberta,fire
decode_lens=256,1024,4096 do_decode=1 do_two=1 do_peak=1 torch_blis=same
eval_lens=128,512,2048 eval_batch=1 do_eval=1
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --decode-lens) decode_lens=$2; shift ;;
    --no-decode) do_decode=0 ;;
    --eval-lens) eval_lens=$2; shift ;;
    --eval-batch) eval_batch=$2; shift ;;
    --no-eval) do_eval=0 ;;
    --no-peak) do_peak=0 ;;
    --no-two-jobs) do_two=0 ;;
    --threads) threads=$2; shift ;;
    --reps) reps=$2; shift ;;
    --no-wait) wait_idle=0 ;;
    --torch-blis) torch_blis=$2; shift ;;
    --configs) configs=$2; shift ;;
    --schemes) schemes=$2; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "bench.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
  shift
done
[ "$quick" = 1 ] && [ "$reps" = 3 ] && reps=1 max_tries=1
[ "$quick" = 1 ] && [ "$decode_lens" = 256,1024,4096 ] && decode_lens=32,64,128
[ "$quick" = 1 ] && [ "$eval_lens" = 128,512,2048 ] && eval_lens=16,32,64
case "$torch_blis" in
  same|own) ;;
  *) echo "bench.sh: --torch-blis takes 'same' or 'own', not '$torch_blis'" >&2; exit 2 ;;
esac
for v in "$threads" "$reps" "$eval_batch"; do
  [[ $v =~ ^[1-9][0-9]*$ ]] || { echo "bench.sh: '$v' is not a positive integer (--threads, --reps, --eval-batch)" >&2; exit 2; }
done

PY=/usr/bin/python3
RELGRAD=${RELGRAD:-build/relgrad}
INI=${BENCH_INI:-experiments/bench.ini}
logs=${BENCH_LOGS:-build/bench-logs}
[ -n "${BENCH_LOGS:-}" ] || [ -d build ] || { echo "bench.sh: build/ missing; run tools/build.sh first" >&2; exit 2; }
mkdir -p "$logs"
results=$logs/results.tsv
: >"$results"

# model/batch/task keys and timed steps of each config
config_keys() {
  case "$1" in
    a) echo "d_model=64 n_heads=4 n_layers=2 d_ff=256 batch_size=32 train_len=19 task=copy" ;;
    b) echo "d_model=256 n_heads=8 n_layers=4 d_ff=1024 batch_size=16 train_len=63 task=copy" ;;
    e) echo "arch=encoder d_model=64 n_heads=8 n_layers=5 d_ff=256 batch_size=128 train_len=40" \
         "task=reverse_string n_symbols=2" ;;
    *) echo "bench.sh: unknown config '$1' (a, b or e)" >&2; exit 2 ;;
  esac
}
config_steps() {
  case "$1:$quick" in
    a:0) echo 100 ;; a:1) echo 5 ;;
    b:0) echo 20 ;; b:1) echo 2 ;;
    e:0) echo 20 ;; e:1) echo 1 ;;
  esac
}
# whether config $1 runs scheme $2: an encoder has no fire (nor cope)
config_has_scheme() {
  [ "$1" != e ] || [[ ",none,sinusoidal,learned,rope,alibi,t5,xl,deberta," == *",$2,"* ]]
}
for cfg in ${configs//,/ }; do config_keys "$cfg" >/dev/null || exit 2; done

# busy fraction of all CPUs over 0.5 s, in percent (from /proc/stat)
cpu_busy() {
  local a b
  a=$(head -1 /proc/stat); sleep 0.5; b=$(head -1 /proc/stat)
  echo "$a" "$b" | awk '{ n = (NF - 2) / 2; for (i = 2; i <= n + 1; i++) { t1 += $i; t2 += $(i + n + 1) }
    idle1 = $5 + $6; idle2 = $(5 + n + 1) + $(6 + n + 1)
    d = t2 - t1; busy = d > 0 ? 100 * (d - (idle2 - idle1)) / d : 0; printf "%d\n", busy }'
}
# cumulative busy jiffies of all CPUs (user..steal, without idle/iowait/guest)
busy_jiffies() { head -1 /proc/stat | awk '{ print $2 + $3 + $4 + $7 + $8 + $9 }'; }
# cpu_now = CPU seconds used so far by this shell's finished children (bash
# `times`; must run in this shell, not in a $(...) subshell)
children_cpu() {
  times >"$logs/.times"
  cpu_now=$(tail -1 "$logs/.times" | awk '{ s = 0; for (i = 1; i <= 2; i++) { split($i, a, "m"); sub("s", "", a[2]); s += a[1] * 60 + a[2] }
    printf "%.3f\n", s }')
}
ncpu=$(nproc)
clk_tck=$(getconf CLK_TCK)
# measured OUT CMD...: run CMD with output to OUT; sets `foreign` to the share
# (%) of all CPUs that other processes used meanwhile; returns CMD's status
measured() {
  local out=$1 j0 c0 t0 j1 c1 t1 rc=0
  shift
  children_cpu; c0=$cpu_now j0=$(busy_jiffies) t0=$(date +%s.%N)
  "$@" >"$out" 2>&1 || rc=$?
  j1=$(busy_jiffies) t1=$(date +%s.%N); children_cpu; c1=$cpu_now
  foreign=$(awk -v j="$((j1 - j0))" -v hz="$clk_tck" -v c0="$c0" -v c1="$c1" -v t0="$t0" -v t1="$t1" -v n="$ncpu" \
    'BEGIN { f = 100 * (j / hz - (c1 - c0)) / ((t1 - t0) * n); if (f < 0) f = 0; printf "%d\n", f }')
  return $rc
}

n_busy=0   # runs started on a busy machine
wait_for_idle() {
  [ "$wait_idle" = 1 ] || return 0
  local waited=0 busy
  while busy=$(cpu_busy); [ "$busy" -gt 20 ]; do
    if [ "$waited" -ge 120 ]; then
      echo "bench.sh: machine still ${busy}% busy after 120 s; running anyway" >&2
      n_busy=$((n_busy + 1))
      return 0
    fi
    [ "$waited" = 0 ] && echo "bench.sh: machine ${busy}% busy, waiting for it to go idle" >&2
    sleep 2; waited=$((waited + 3))
  done
}

have_relgrad=1
if [ ! -x "$RELGRAD" ] || [ ! -f "$INI" ]; then
  echo "bench.sh: $RELGRAD or $INI missing: relgrad columns will be n/a" >&2
  have_relgrad=0
fi

# ---- which BLIS kernels: relgrad's choice, given to PyTorch and gemm_peak too
blas_line="(relgrad missing)"
user_arch=${BLIS_ARCH_TYPE:-}
if [ "$have_relgrad" = 1 ]; then
  blas_line=$("$RELGRAD" bench "$INI" steps=1 threads=1 | sed -n 's/^blas: //p')
  arch=$(echo "$blas_line" | sed -n 's/.*BLIS_ARCH_TYPE=\([0-9]*\).*/\1/p')
  [ -n "$arch" ] && export BLIS_ARCH_TYPE=$arch
fi
echo "bench.sh: relgrad runs $blas_line" >&2
# PyTorch's command prefix: with --torch-blis own (and no BLIS_ARCH_TYPE of
# the user's), PyTorch runs without relgrad's choice, on BLIS's own
TORCH=("$PY")
torch_arch=${BLIS_ARCH_TYPE:-unset}
if [ "$torch_blis" = own ] && [ -z "$user_arch" ]; then
  TORCH=(env -u BLIS_ARCH_TYPE "$PY")
  torch_arch="unset (BLIS's own choice)"
fi

# ---- BLIS's own sgemm speed
if [ "$do_peak" = 1 ] && { [ ! -x build/gemm_peak ] || [ tools/gemm_peak.c -nt build/gemm_peak ]; }; then
  echo "bench.sh: building build/gemm_peak" >&2
  gcc -O2 -std=gnu11 -Wall -Wextra -Werror -isystem /usr/include/x86_64-linux-gnu/blis-openmp \
    tools/gemm_peak.c -lblis -fopenmp -lm -o build/gemm_peak
fi
gemm_args=("$threads")
[ "$quick" = 1 ] && gemm_args+=(--quick)
gemm_foreign=0 gflops=
for ((try = 1; try <= max_tries && do_peak; try++)); do
  wait_for_idle
  echo "bench.sh: build/gemm_peak ${gemm_args[*]}" >&2
  measured "$logs/gemm_peak.txt" build/gemm_peak "${gemm_args[@]}"
  cat "$logs/gemm_peak.txt" >&2
  echo "bench.sh: (other processes: ${foreign}% of the CPUs)" >&2
  gemm_foreign=$foreign
  [ "$foreign" -le 15 ] && break
done
[ "$do_peak" = 1 ] && gflops=$(sed -n 's/^gemm: sgemm_gflops=\([0-9.]*\).*/\1/p' "$logs/gemm_peak.txt")

# run one program once (again, up to max_tries, if other processes took more
# than 15% of the CPUs meanwhile); append "prog config scheme ms tok rss foreign%"
run_one() {
  local prog=$1 cfg=$2 pos=$3 rep=$4 out=$logs/$1-$2-$3-$4.txt
  local keys steps
  keys=$(config_keys "$cfg") steps=$(config_steps "$cfg")
  if [ "$prog" = relgrad ]; then
    [ "$have_relgrad" = 1 ] || { echo -e "relgrad\t$cfg\t$pos\tn/a\tn/a\tn/a\t0" >>"$results"; return; }
    # shellcheck disable=SC2086
    set -- "$RELGRAD" bench "$INI" $keys pos="$pos" threads="$threads" steps="$steps"
  else
    local targs=() kv
    for kv in $keys; do targs+=("--${kv%%=*}" "${kv#*=}"); done   # key=value -> --key value
    set -- "${TORCH[@]}" tools/bench_torch.py "${targs[@]}" --pos "$pos" --threads "$threads" --steps "$steps"
  fi
  local try line
  for ((try = 1; try <= max_tries; try++)); do
    wait_for_idle
    echo "bench.sh: [$rep] $*" >&2
    if ! measured "$out" "$@" || ! line=$(grep '^bench: ' "$out" | tail -1); then
      echo "bench.sh: $prog failed (exit or no bench: line), see $out:" >&2
      tail -3 "$out" >&2
      echo -e "$prog\t$cfg\t$pos\tn/a\tn/a\tn/a\t0" >>"$results"
      return
    fi
    echo "         $line  (other processes: ${foreign}% of the CPUs)" >&2
    [ "$foreign" -le 15 ] && break
    [ "$try" -lt "$max_tries" ] && echo "bench.sh: contended run, repeating it" >&2
  done
  echo "$line" | sed -n "s/^bench: ms_per_step=\([^ ]*\) tokens_per_s=\([^ ]*\) peak_rss_mb=\([^ ]*\).*/$prog\t$cfg\t$pos\t\1\t\2\t\3\t$foreign/p" >>"$results"
}

skipped=   # "config:scheme" pairs not run
for cfg in ${configs//,/ }; do
  for pos in ${schemes//,/ }; do
    if ! config_has_scheme "$cfg" "$pos"; then
      echo "bench.sh: config $cfg has no $pos (skipped)" >&2
      skipped="$skipped $cfg:$pos"
      continue
    fi
    for ((r = 1; r <= reps; r++)); do
      run_one relgrad "$cfg" "$pos" "$r"
      run_one torch "$cfg" "$pos" "$r"
    done
  done
done

# ---- greedy decoding: config b's model, pos rope, batch 1
decode_results=$logs/decode.tsv
: >"$decode_results"
decode_keys="d_model=256 n_heads=8 n_layers=4 d_ff=1024"
if [ "$do_decode" = 1 ]; then
  for len in ${decode_lens//,/ }; do
    for ((r = 1; r <= reps; r++)); do
      for prog in relgrad torch; do
        out=$logs/decode-$prog-$len-$r.txt
        if [ "$prog" = relgrad ]; then
          [ "$have_relgrad" = 1 ] || continue
          # shellcheck disable=SC2086
          set -- "$RELGRAD" bench --decode "$len" "$INI" $decode_keys pos=rope threads="$threads"
        else
          set -- "${TORCH[@]}" tools/bench_torch.py --d_model 256 --n_heads 8 --n_layers 4 --d_ff 1024 \
            --pos rope --threads "$threads" --decode "$len"
        fi
        wait_for_idle
        echo "bench.sh: [$r] $*" >&2
        if measured "$out" "$@" && line=$(grep '^decode: ' "$out" | tail -1); then
          echo "         $line  (other processes: ${foreign}% of the CPUs)" >&2
          echo "$line" | sed -n "s/^decode: len=\([^ ]*\) batch=[^ ]* ms=\([^ ]*\) tokens_per_s=\([^ ]*\) peak_rss_mb=\([^ ]*\).*/$prog\t\1\t\2\t\3\t\4\t$foreign/p" >>"$decode_results"
        else
          echo "bench.sh: $prog --decode $len failed, see $out" >&2
        fi
      done
    done
  done
fi

# ---- an encoder's evaluation pass: config e's model, pos rope, --eval-batch rows
eval_results=$logs/eval.tsv
: >"$eval_results"
eval_keys=$(config_keys e | sed 's/batch_size=[^ ]* //; s/train_len=[^ ]* //')
if [ "$do_eval" = 1 ]; then
  for len in ${eval_lens//,/ }; do
    for ((r = 1; r <= reps; r++)); do
      for prog in relgrad torch; do
        out=$logs/eval-$prog-$len-$r.txt
        if [ "$prog" = relgrad ]; then
          [ "$have_relgrad" = 1 ] || continue
          # shellcheck disable=SC2086
          set -- "$RELGRAD" bench --eval "$len,$eval_batch" "$INI" $eval_keys pos=rope threads="$threads"
        else
          targs=()
          for kv in $eval_keys; do targs+=("--${kv%%=*}" "${kv#*=}"); done
          set -- "${TORCH[@]}" tools/bench_torch.py "${targs[@]}" --pos rope --threads "$threads" --eval "$len,$eval_batch"
        fi
        wait_for_idle
        echo "bench.sh: [$r] $*" >&2
        if measured "$out" "$@" && line=$(grep '^eval: ' "$out" | tail -1); then
          echo "         $line  (other processes: ${foreign}% of the CPUs)" >&2
          echo "$line" | sed -n "s/^eval: len=\([^ ]*\) batch=[^ ]* ms=\([^ ]*\) tokens_per_s=\([^ ]*\) peak_rss_mb=\([^ ]*\) seq=\([^ ]*\).*/$prog\t\1\t\5\t\2\t\3\t\4\t$foreign/p" >>"$eval_results"
        else
          echo "bench.sh: $prog --eval $len,$eval_batch failed, see $out" >&2
          tail -3 "$out" >&2
        fi
      done
    done
  done
fi

# ---- two relgrad jobs sharing the cores (config a, rope)
two_results=$logs/two_jobs.tsv
: >"$two_results"
if [ "$do_two" = 1 ] && [ "$have_relgrad" = 1 ]; then
  two_steps=$([ "$quick" = 1 ] && echo 20 || echo 300)
  read -ra a_keys <<<"$(config_keys a)"
  two_cmd=("$RELGRAD" bench "$INI" "${a_keys[@]}" pos=rope threads="$threads" steps="$two_steps")
  ms_of() { sed -n 's/^bench: ms_per_step=\([^ ]*\).*/\1/p' "$1"; }
  for ((r = 1; r <= reps; r++)); do
    wait_for_idle
    echo "bench.sh: [$r] two jobs: ${two_cmd[*]} alone, then twice at once" >&2
    "${two_cmd[@]}" >"$logs/two-alone-$r.txt" 2>&1
    "${two_cmd[@]}" >"$logs/two-first-$r.txt" 2>&1 &
    p1=$!
    "${two_cmd[@]}" >"$logs/two-second-$r.txt" 2>&1 &
    p2=$!
    wait "$p1" "$p2" || true
    a=$(ms_of "$logs/two-alone-$r.txt") f1=$(ms_of "$logs/two-first-$r.txt") f2=$(ms_of "$logs/two-second-$r.txt")
    echo "         alone ${a} ms/step; together ${f1} and ${f2} ms/step" >&2
    [ -n "$a" ] && [ -n "$f1" ] && [ -n "$f2" ] && echo -e "$a\t$f1\t$f2" >>"$two_results"
  done
fi

# ---- table (medians over repetitions)
echo "BLIS: $blas_line; PyTorch ran with BLIS_ARCH_TYPE=$torch_arch, gemm_peak with BLIS_ARCH_TYPE=${BLIS_ARCH_TYPE:-unset}"
echo
"$PY" - "$results" "$gflops" "$threads" "$reps" "$configs" "$schemes" "$gemm_foreign" "$decode_results" "$two_results" \
  "$eval_results" "$eval_batch" "$skipped" <<'EOF'
import statistics, sys
(path, gflops, threads, reps, configs, schemes, gemm_foreign, decode_path, two_path, eval_path, eval_batch,
 skipped) = sys.argv[1:]
gflops = float(gflops) if gflops else None
CFG = {"a": dict(d=64, H=4, L=2, F=256, B=32, n=19, V=20, arch="decoder"),
       "b": dict(d=256, H=8, L=4, F=1024, B=16, n=63, V=20, arch="decoder"),
       "e": dict(d=64, H=8, L=5, F=256, B=128, n=40, V=7, arch="encoder")}
rows = {}
for line in open(path):
    prog, cfg, pos, ms, tok, rss, foreign = line.rstrip("\n").split("\t")
    if ms != "n/a":
        rows.setdefault((prog, cfg, pos), []).append((float(ms), float(tok), float(rss), float(foreign)))

def flops(c):
    d, H, L, F, B, V = c["d"], c["H"], c["L"], c["F"], c["B"], c["V"]
    T = 2 * c["n"] + 2
    macs = L * (B * T * (4 * d * d + 2 * d * F) + 2 * B * H * T * T * (d // H)) + B * T * V * d
    return 3 * 2 * macs

def med(prog, cfg, pos, i):
    v = rows.get((prog, cfg, pos))
    return statistics.median(x[i] for x in v) if v else None

f = lambda x, fmt: "n/a" if x is None else fmt % x
n_contended = 0

def ms_cell(prog, cfg, pos):
    # median ms/step, marked * when a run kept had other processes on > 15% of the CPUs
    global n_contended
    v = rows.get((prog, cfg, pos))
    if not v:
        return "n/a"
    bad = sum(x[3] > 15 for x in v)
    n_contended += bad
    return "%.2f%s" % (med(prog, cfg, pos, 0), " *" if bad else "")
print(f"relgrad vs PyTorch, {threads} threads, median of {reps} alternating runs; "
      + (f"BLIS sgemm peak {gflops:.1f} GFLOP/s (build/gemm_peak)" if gflops else "BLIS sgemm peak not measured")
      + (" -- measured while other processes used the CPUs, MFU suspect" if int(gemm_foreign) > 15 else ""))
print()
print("| config | scheme | relgrad ms/step | torch ms/step | speedup (torch/relgrad) | relgrad tok/s "
      "| torch tok/s | relgrad peak RSS MB | torch peak RSS MB | relgrad MFU | torch MFU |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for cfg in configs.split(","):
    c = CFG[cfg]
    desc = f"{cfg}: d{c['d']} H{c['H']} L{c['L']} F{c['F']} B{c['B']} T{2 * c['n'] + 2}"
    if c["arch"] == "encoder":
        desc = f"{cfg}: encoder d{c['d']} H{c['H']} L{c['L']} F{c['F']} B{c['B']} T{2 * c['n'] + 2} ({c['n']} symbols)"
    for pos in schemes.split(","):
        if f"{cfg}:{pos}" in skipped.split():
            continue
        rm, tm = med("relgrad", cfg, pos, 0), med("torch", cfg, pos, 0)
        sp = tm / rm if rm and tm else None
        mfu = lambda ms: None if ms is None or not gflops else 100 * flops(c) / (ms / 1000) / (gflops * 1e9)
        print(f"| {desc} | {pos} | {ms_cell('relgrad', cfg, pos)} | {ms_cell('torch', cfg, pos)} | {f(sp, '%.2fx')} "
              f"| {f(med('relgrad', cfg, pos, 1), '%.0f')} | {f(med('torch', cfg, pos, 1), '%.0f')} "
              f"| {f(med('relgrad', cfg, pos, 2), '%.1f')} | {f(med('torch', cfg, pos, 2), '%.1f')} "
              f"| {f(mfu(rm), '%.1f%%')} | {f(mfu(tm), '%.1f%%')} |")
print()
if n_contended:
    print(f"\\* {n_contended} of the runs kept had other processes on more than 15% of the CPUs "
          "(after retries); those medians are suspect.")
    print()
for cfg in configs.split(","):
    print(f"model FLOPs per training step, config {cfg}: {flops(CFG[cfg]) / 1e9:.3f} GFLOP "
          "(3 x forward; see tools/bench.sh header)")
if skipped.split():
    print()
    print("not run: " + ", ".join(f"{p} on config {c}" for c, p in (x.split(":") for x in skipped.split()))
          + " (config e is an encoder: fire has no encoder form, SPEC section 7)")

dec = {}
for line in open(decode_path):
    prog, length, ms, tok, rss, foreign = line.rstrip("\n").split("\t")
    dec.setdefault((prog, int(length)), []).append((float(ms), float(tok), float(rss), float(foreign)))
if dec:
    print()
    print(f"Greedy decoding with a key/value cache, config b's model (d256 H8 L4 F1024, rope), batch 1, "
          f"{threads} threads: prompt of LEN/2 symbols, then LEN/2 generated tokens; median of {reps}")
    print()
    print("| LEN | relgrad ms | torch ms | relgrad tok/s | torch tok/s | speedup (relgrad/torch tok/s) "
          "| relgrad peak RSS MB | torch peak RSS MB |")
    print("|---|---|---|---|---|---|---|---|")
    for length in sorted({k[1] for k in dec}):
        def dm(prog, i):
            v = dec.get((prog, length))
            return statistics.median(x[i] for x in v) if v else None
        rt, tt = dm("relgrad", 1), dm("torch", 1)
        print(f"| {length} | {f(dm('relgrad', 0), '%.1f')} | {f(dm('torch', 0), '%.1f')} | {f(rt, '%.1f')} "
              f"| {f(tt, '%.1f')} | {f(rt / tt if rt and tt else None, '%.2fx')} "
              f"| {f(dm('relgrad', 2), '%.1f')} | {f(dm('torch', 2), '%.1f')} |")

ev = {}
for line in open(eval_path):
    prog, n, T, ms, tok, rss, foreign = line.rstrip("\n").split("\t")
    ev.setdefault((prog, int(n), int(T)), []).append((float(ms), float(tok), float(rss), float(foreign)))
if ev:
    c = CFG["e"]
    print()
    print(f"An encoder's evaluation pass, config e's model (encoder d{c['d']} H{c['H']} L{c['L']} F{c['F']}, "
          f"rope, reverse_string), batch {eval_batch}, {threads} threads: the one pass `relgrad eval` makes "
          f"over N symbols (T = 2N+2 tokens: forward without gradients, argmax of every slot); "
          f"each run's median pass, then the median of {reps} runs")
    print()
    print("| N | T | relgrad ms | torch ms | relgrad tok/s | torch tok/s | speedup (relgrad/torch tok/s) "
          "| relgrad peak RSS MB | torch peak RSS MB |")
    print("|---|---|---|---|---|---|---|---|---|")
    for n, T in sorted({k[1:] for k in ev}):
        def em(prog, i):
            v = ev.get((prog, n, T))
            return statistics.median(x[i] for x in v) if v else None
        rt, tt = em("relgrad", 1), em("torch", 1)
        print(f"| {n} | {T} | {f(em('relgrad', 0), '%.2f')} | {f(em('torch', 0), '%.2f')} | {f(rt, '%.0f')} "
              f"| {f(tt, '%.0f')} | {f(rt / tt if rt and tt else None, '%.2fx')} "
              f"| {f(em('relgrad', 2), '%.1f')} | {f(em('torch', 2), '%.1f')} |")

two = [tuple(map(float, line.split())) for line in open(two_path) if line.strip()]
if two:
    print()
    print(f"Two relgrad jobs started together (config a, rope, {threads} threads each) on a machine with "
          f"{__import__('os').cpu_count()} CPUs: ms/step alone and together; slowdown = together / alone")
    print()
    print("| repetition | alone ms/step | job 1 ms/step | job 2 ms/step | job 1 slowdown | job 2 slowdown |")
    print("|---|---|---|---|---|---|")
    for i, (a, j1, j2) in enumerate(two, 1):
        print(f"| {i} | {a:.2f} | {j1:.2f} | {j2:.2f} | {j1 / a:.2f}x | {j2 / a:.2f}x |")
EOF
if [ "$n_busy" -gt 0 ]; then
  echo
  echo "Warning: $n_busy of the runs (or gemm_peak) started while other processes kept the CPUs busy;"
  echo "their times are inflated. Re-run on an idle machine."
fi
