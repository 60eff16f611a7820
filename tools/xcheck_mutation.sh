#!/usr/bin/env bash
# xcheck_mutation.sh [POS [MEM [key=value ...]]]: proves that the cross-check's
# tolerance bites. Writes one float64 dump (as tools/xcheck.sh does; default
# pos rope, no memory), checks it with tools/torch_ref.py as is (must PASS),
# then with the reference mutated (must FAIL at the 1e-11 bound): by
# default its LayerNorm epsilon 1.001e-5 instead of 1e-5; with
# XCHECK_MUTATION=t5_direction, the encoder's T5 buckets with the direction
# bit flipped (keys after the query in the lower half).
# Exit 0: the plain check passed and the mutated one failed, as they should.
# Exit 1: the mutated check wrongly passed, or the plain check failed.
# Exit 2: the dump could not be written or read.
set -euo pipefail
cd "$(dirname "$0")/.."
pos=${1:-rope} mem=${2:-0}
shift $(($# >= 2 ? 2 : $#))
bin=${RELGRAD_BIN:-build/relgrad-f64}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
seg=0
[[ "$mem" -gt 0 ]] && seg=6
"$bin" dump experiments/xcheck.ini --out "$out/dump.h5" pos="$pos" mem_len="$mem" segment_len="$seg" "$@" || exit 2
set +e
/usr/bin/python3 tools/torch_ref.py "$out/dump.h5" --tol 1e-11 --quiet
plain=$?
case "${XCHECK_MUTATION:-ln_eps}" in
  ln_eps) how=(--ln-eps 1.001e-5) what="ln_eps 1.001e-5" ;;
  t5_direction) how=(--mutate t5_direction) what="T5's direction bit flipped" ;;
  *) echo "xcheck_mutation: unknown XCHECK_MUTATION '$XCHECK_MUTATION' (ln_eps, t5_direction)" >&2; exit 2 ;;
esac
log=$(/usr/bin/python3 tools/torch_ref.py "$out/dump.h5" --tol 1e-11 --quiet "${how[@]}")
mutated=$?
echo "mutated ($what): ${log##*$'\n'}"
set -e
if [[ $plain -eq 2 || $mutated -eq 2 ]]; then
  echo "xcheck_mutation: the dump could not be read" >&2
  exit 2
fi
if [[ $plain -ne 0 ]]; then
  echo "xcheck_mutation: FAIL: the unmutated check already fails" >&2
  exit 1
fi
if [[ $mutated -eq 0 ]]; then
  echo "xcheck_mutation: FAIL: $what went unnoticed at 1e-11; the tolerance does not bite" >&2
  exit 1
fi
echo "xcheck_mutation: ok: the mutated reference FAILS at 1e-11, the correct one PASSES"
