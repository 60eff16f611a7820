#!/usr/bin/env bash
# bench_ops.sh: where a training step's time goes, per op: wall time of each
# op's forward and backward, summed over a `relgrad bench` run.
#
# Usage: tools/bench_ops.sh [relgrad bench arguments]
#   e.g. tools/bench_ops.sh experiments/bench.ini pos=xl steps=100 threads=1
# It copies the source tree to a temporary directory, patches the copy's
# src/core/tape.c to time every op (forward: from the previous op's record to
# this one's; backward: the node's backward function) and builds it there;
# the tree itself is not touched. At exit the patched relgrad prints
#   op  fwd ms  bwd ms  calls
# summed over warm-up and timed steps. The first op of a step (embedding)
# is charged, as "forward", with everything between steps: the previous
# step's backward (also listed per op), clipping, AdamW and the batch, so
# its fwd minus the bwd total is what the optimizer and data cost. Use
# threads=1 on a shared machine: wall times include waiting for a core.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/relgrad-bench-ops.XXXXXX)
trap 'rm -rf "$work"' EXIT
(cd "$src" && tar --exclude=./build --exclude=./.git -cf - .) | tar -xf - -C "$work"
/usr/bin/python3 - "$work/src/core/tape.c" <<'PY'
import sys
p = sys.argv[1]
s = open(p).read()
s = s.replace('#include <string.h>\n', '''#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static double prof_now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
enum { PMAX = 64 };
static const char *pname[PMAX];
static double pfwd[PMAX], pbwd[PMAX], plast;
static long pcalls[PMAX];
static int np;
static int pidx(const char *op) { for (int i = 0; i < np; i++) if (!strcmp(pname[i], op)) return i; if (np == PMAX) return PMAX - 1; pname[np] = op; return np++; }
static void prof_report(void) {
    double tf = 0, tb = 0;
    fprintf(stderr, "%-22s %10s %10s %8s\\n", "op", "fwd ms", "bwd ms", "calls");
    for (int i = 0; i < np; i++) { tf += pfwd[i]; tb += pbwd[i]; fprintf(stderr, "%-22s %10.2f %10.2f %8ld\\n", pname[i], pfwd[i] * 1e3, pbwd[i] * 1e3, pcalls[i]); }
    fprintf(stderr, "%-22s %10.2f %10.2f\\n", "total", tf * 1e3, tb * 1e3);
}
__attribute__((constructor)) static void prof_init(void) { atexit(prof_report); }
''')
s = s.replace('''    ctx->tape = node;
    ctx->n_nodes++;''', '''    ctx->tape = node;
    ctx->n_nodes++;
    { double t = prof_now(); if (plast > 0) { int i = pidx(op); pfwd[i] += t - plast; pcalls[i]++; } plast = t; }''')
s = s.replace('''        if (node->out->grad) node->backward(ctx, node); /* no grad reached it: skip */''',
              '''        if (node->out->grad) { double t = prof_now(); node->backward(ctx, node); pbwd[pidx(node->op)] += prof_now() - t; }''')
if s.count('prof_now') < 4:
    sys.exit("bench_ops.sh: src/core/tape.c changed; update the patch in tools/bench_ops.sh")
open(p, 'w').write(s)
PY
"$work/tools/build.sh" "$work/build" -DRELGRAD_TESTS=OFF >/dev/null
cd "$src"
"$work/build/relgrad" bench "$@"
