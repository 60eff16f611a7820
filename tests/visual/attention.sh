#!/usr/bin/env bash
# attention.sh: `relgrad attention` on a freshly trained tiny model
# (tests/CMakeLists.txt: visual.attention): its HDF5 and PNG at the training
# length and at 2x (check_attention.py: rows sum to 1 within 1e-6, zeros above
# the diagonal, statistics recomputed, the probabilities of the PyTorch model
# tools/relgrad.py on the same checkpoint), with len= and example=; encoder
# checkpoints (2 training steps; also at random positions): the full matrix,
# positive above the diagonal, each head's direction printed; bad input
# exits 2. Environment: RELGRAD_BIN (float32 build).
NAME=attention
source "$(dirname "$0")/../robust/lib.sh"
CHECK="$HERE/../visual/check_attention.py"

run out.txt err.txt "$BIN" train "$TINY" steps=60 pos=alibi eval_lens=5 out_dir=run
((RC == 0)) && pass || fail "training the tiny model: exit $RC" "$(cat err.txt)"

run out.txt err.txt "$BIN" attention run/checkpoint.h5
if ((RC == 0)) && [[ -s run/attention.h5 && -s run/attention.png ]]; then pass; else fail "attention with defaults: exit $RC" "$(cat err.txt)"; fi
grep -q "length 5 (training length)" out.txt && pass || fail "no line for the training length" "$(cat out.txt)"
if /usr/bin/python3 "$CHECK" run/attention.h5 run/attention.png 5 0 run/checkpoint.h5 >check.txt 2>&1; then pass; else fail "defaults: $(grep FAIL check.txt)" "$(tail -3 check.txt)"; fi

run out.txt err.txt "$BIN" attention run/checkpoint.h5 len=3 example=7 --out maps.h5
if ((RC == 0)) && [[ -s maps.h5 && -s maps.png ]]; then pass; else fail "len=3 example=7: exit $RC" "$(cat err.txt)"; fi
if /usr/bin/python3 "$CHECK" maps.h5 maps.png 3 7 >check.txt 2>&1; then pass; else fail "len=3: $(grep FAIL check.txt)"; fi

# rope too (rotations in the cache)
run out.txt err.txt "$BIN" train "$TINY" steps=30 pos=rope eval_lens=5 out_dir=run_rope
run out.txt err.txt "$BIN" attention run_rope/checkpoint.h5 --out rope.h5
if ((RC == 0)) && /usr/bin/python3 "$CHECK" rope.h5 rope.png 5 0 >check.txt 2>&1; then pass; else fail "rope: exit $RC $(grep FAIL check.txt)" "$(cat err.txt)"; fi

# encoders: one forward, both ways (a model trained 2 steps: near its random init)
run out.txt err.txt "$BIN" train "$TINY" steps=2 arch=encoder pos=alibi eval_lens=5 out_dir=run_enc
((RC == 0)) && pass || fail "training the tiny encoder: exit $RC" "$(cat err.txt)"
run out.txt err.txt "$BIN" attention run_enc/checkpoint.h5
if ((RC == 0)) && [[ -s run_enc/attention.h5 && -s run_enc/attention.png ]]; then pass; else fail "encoder attention: exit $RC" "$(cat err.txt)"; fi
grep -q "length 5 (training length) (example 0, 12 tokens, encoder: both ways)" out.txt && pass || fail "encoder: no line for the training length" "$(cat out.txt)"
grep -Eq "h1 [+-][0-9.]+ / [0-9.]+ / L [0-9.]+ R [0-9.]+ (left|right|mixed)" out.txt && pass || fail "encoder: no direction per head" "$(cat out.txt)"
if /usr/bin/python3 "$CHECK" run_enc/attention.h5 run_enc/attention.png 5 0 run_enc/checkpoint.h5 >check.txt 2>&1; then pass; else fail "encoder: $(grep FAIL check.txt)" "$(tail -3 check.txt)"; fi
run out.txt err.txt "$BIN" train "$TINY" steps=2 arch=encoder pos=t5 random_positions=40 eval_lens=5 out_dir=run_enc_t5
run out.txt err.txt "$BIN" attention run_enc_t5/checkpoint.h5 len=4 example=2 --out enc_t5.h5
if ((RC == 0)) && /usr/bin/python3 "$CHECK" enc_t5.h5 enc_t5.png 4 2 run_enc_t5/checkpoint.h5 >check.txt 2>&1; then pass; else fail "encoder t5, random positions: exit $RC $(grep FAIL check.txt)" "$(cat err.txt)"; fi

# bad input
run out.txt err.txt "$BIN" attention run/checkpoint.h5 example=20
if ((RC == 2)) && grep -q "eval_n = 20" err.txt; then pass; else fail "example=20 of 20: exit $RC" "$(cat err.txt)"; fi
run out.txt err.txt "$BIN" attention run/checkpoint.h5 len=x
if ((RC == 2)) && grep -q "argument 3" err.txt; then pass; else fail "len=x: exit $RC" "$(cat err.txt)"; fi
run out.txt err.txt "$BIN" attention missing.h5
((RC == 2)) && pass || fail "missing checkpoint: exit $RC"

echo "attention: $CHECKS checks, $FAILS failed"
((FAILS == 0)) || { echo "attention: FAILED"; exit 1; }
echo "attention: passed"
