#!/usr/bin/python3
"""The data of the methods of 2024 (SPEC section 8), checked against what is
computed here from the definitions, independently of src/data/: every row of
batches that tests/data_examples writes (the library's rg_batch_draw,
rg_batch_coupled_positions and rg_batch_abacus, in the order training uses),
for addition in both digit orders, in training and in evaluation:

  - index hints: a hint before every digit of a, b and y, the same hint for
    the same significance in all three, hint = offset + significance with
    the offset 0 at evaluation and in 0 .. n_hints - n - 1 in training, and
    y (hints and digits) the sum of a and b computed with Python integers;
  - coupled positions: BOS 0, both SEPs s, the digit of significance i of a,
    b and y at s + 1 + i, padding 0, s = 1 at evaluation and in
    1 .. coupled_max - n - 1 in training;
  - abacus ids: each token's 1-based index within its run of digits, 0 for
    every other token, shifted by one k per batch (0 .. K) in training and
    not at all at evaluation.

Then the offsets, starts and shifts are spread over their whole ranges, and
mutated rows (one hint, position or id off) are caught. Needs
tests/data_examples (DATA_EXAMPLES_BIN); exit 77 if it is missing."""
import os
import subprocess
import sys

import common

NS = 10


class Bad(Exception):
    """A row that breaks a rule."""


def need(cond, what):
    if not cond:
        raise Bad(what)


def batches(binary, digits, seed, B, lo, hi, count, methods):
    """[(T, [row fields])] of data_examples' output; a row's fields are lists
    of ints: head, tokens, targets, mask, acc_mask[, positions][, ids]."""
    out = subprocess.run([binary, "decoder", "addition", digits, str(seed), str(B), str(lo),
                          str(hi), str(count), "0", methods], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, check=True).stdout.splitlines()
    result, i = [], 0
    while i < len(out):
        _, nb, T = out[i].split()
        rows = [[list(map(int, f.split())) for f in line.split("|")] for line in out[i + 1:i + 1 + int(nb)]]
        result.append((int(T), rows))
        i += 1 + int(nb)
    return result


def value(digits_lsb):
    return sum(d * NS ** i for i, d in enumerate(digits_lsb))


def significance(index, length, digits):
    return length - 1 - index if digits == "msb" else index


def check_hints(row, T, digits, H, training):
    """Returns the row's hint offset and its last hint (offset + n)."""
    (n, _, _), tok, tgt = row[0], row[1], row[2]
    pad, bos, sep, eos = NS + H, NS + H + 1, NS + H + 2, NS + H + 3
    P = 4 * n + 3  # BOS, hint digit x 2n, SEP, ... , SEP
    m = 2 * (n + 1)
    need(len(tok) == T and tok[0] == bos and tok[P - 1] == sep and tok[2 * n + 1] == sep,
         "BOS h a .. SEP h b .. SEP")
    seq = tok[:P + m] + [tgt[P + m - 1]]
    need(seq[-1] == eos and tgt[:P + m] == seq[1:], "targets are the next tokens, then EOS")
    need(all(t == pad for t in tok[P + m:]), "padding")
    parts = {"a": (tok[1:2 * n + 1], n), "b": (tok[2 * n + 2:4 * n + 2], n), "y": (seq[P:P + m], n + 1)}
    hint_of, dig = {}, {}
    for name, (part, length) in parts.items():
        hints, ds = part[0::2], part[1::2]
        need(len(ds) == length, "%s has %d digits" % (name, len(ds)))
        need(all(NS <= h < NS + H for h in hints), "%s: a hint is not a hint token" % name)
        need(all(0 <= d < NS for d in ds), "%s: a digit is not a digit" % name)
        for i, h in enumerate(hints):
            hint_of.setdefault(significance(i, length, digits), set()).add(h - NS)
        dig[name] = ds if digits == "lsb" else ds[::-1]
    need(all(len(v) == 1 for v in hint_of.values()), "one hint per significance across a, b, y")
    o = min(min(v) for v in hint_of.values())
    need(all(hint_of[i] == {o + i} for i in range(n + 1)), "hint = offset + significance")
    need(o == 0 if not training else 0 <= o <= H - n - 1, "offset %d (H %d, n %d)" % (o, H, n))
    need(value(dig["y"]) == value(dig["a"]) + value(dig["b"]), "y is not a + b")
    return o, o + n


def check_coupled(row, T, digits, top, training):
    """Returns the row's start s and its largest position (s + 1 + n)."""
    (n, _, _), tok, pos = row[0], row[1], row[5]
    P = 2 * n + 3
    need(len(pos) == T, "positions width")
    s = pos[n + 1]
    need(pos[0] == 0 and pos[P - 1] == s, "BOS 0, both SEPs s")
    need(s == 1 if not training else 1 <= s <= top - n - 1, "start %d (coupled_max %d, n %d)" % (s, top, n))
    for name, first, length in (("a", 1, n), ("b", n + 2, n), ("y", P, n + 1)):
        for i in range(length):
            need(pos[first + i] == s + 1 + significance(i, length, digits),
                 "%s digit %d at %d" % (name, i, pos[first + i]))
    need(all(p == 0 for p in pos[P + n + 1:]), "padding at 0")
    a = [tok[1 + i] for i in range(n)]
    b = [tok[n + 2 + i] for i in range(n)]
    y = [tok[P + i] for i in range(n + 1)]
    if digits == "msb":
        a, b, y = a[::-1], b[::-1], y[::-1]
    need(value(y) == value(a) + value(b), "y is not a + b")
    return s, s + 1 + n


def abacus_of(tokens):
    """The definition, one token at a time."""
    ids, run = [], 0
    for t in tokens:
        run = run + 1 if 0 <= t < NS else 0
        ids.append(run)
    return ids


def check_abacus(row, K, training):
    """Returns the row's shift."""
    tok, ids = row[1], row[-1]
    plain = abacus_of(tok)
    shifts = {i - p for i, p in zip(ids, plain) if p > 0}
    need(all(i == 0 for i, p in zip(ids, plain) if p == 0), "a non-digit has an id")
    need(len(shifts) == 1, "one shift per row, got %s" % sorted(shifts))
    k = shifts.pop()
    need(k == 0 if not training else 0 <= k <= K, "shift %d (K %d)" % (k, K))
    return k


def run(check, binary, digits, methods, training, rows_check, name):
    rows = bad = 0
    first, seen, per_batch_ok = "", [], True
    for seed in (1, 2):
        for T, batch in batches(binary, digits, seed, 32, 1, 12, 8, methods):
            values = []
            for row in batch:
                rows += 1
                try:
                    values.append(rows_check(row, T))
                except Bad as e:
                    bad += 1
                    first = first or str(e)
            seen += values
            if name == "abacus":
                per_batch_ok &= len(set(values)) <= 1
    check(bad == 0 and rows > 0 and per_batch_ok,
          "%s %s %s: %d rows follow the definition%s" % (name, digits, "training" if training else
                                                       "evaluation", rows, "" if not bad else
                                                       ": %d bad, first: %s" % (bad, first)))
    return seen


def main():
    binary = os.environ.get("DATA_EXAMPLES_BIN", os.path.join(common.ROOT, "build", "tests", "data_examples"))
    if not os.access(binary, os.X_OK):
        print("skip: %s not found (build first, or set DATA_EXAMPLES_BIN)" % binary)
        return common.SKIP
    check = common.Checks()
    H, TOP, K = 20, 30, 6
    for digits in ("lsb", "msb"):
        for training in (False, True):
            tr = ",train" if training else ""
            offsets = run(check, binary, digits, "ns=%d,hints=%d%s" % (NS, H, tr), training,
                          lambda r, T: check_hints(r, T, digits, H, training), "index hints")
            starts = run(check, binary, digits, "ns=%d,coupled=%d%s" % (NS, TOP, tr), training,
                         lambda r, T: check_coupled(r, T, digits, TOP, training), "coupled positions")
            shifts = run(check, binary, digits, "ns=%d,abacus=%d%s" % (NS, K, tr), training,
                         lambda r, T: check_abacus(r, K, training), "abacus")
            if training:  # the draws reach both ends of their ranges
                lo, hi = min(o for o, _ in offsets), max(h for _, h in offsets)
                check(lo == 0 and hi == H - 1,
                      "index hints %s: offsets from %d, last hints up to %d (hint tokens 0 .. %d)"
                      % (digits, lo, hi, H - 1))
                lo, hi = min(s for s, _ in starts), max(p for _, p in starts)
                check(lo == 1 and hi == TOP,
                      "coupled positions %s: starts from %d, positions up to %d (coupled_max %d)"
                      % (digits, lo, hi, TOP))
                check(set(shifts) == set(range(K + 1)),
                      "abacus %s: shifts %s over the batches (0 .. K = %d)" % (digits, sorted(set(shifts)), K))
    # the checks catch a broken generator: one hint, position or id off
    caught = total = 0
    for T, batch in batches(binary, "lsb", 3, 32, 2, 12, 2, "ns=%d,hints=%d,train" % (NS, H)):
        for row in batch:
            row[1][1] = row[1][1] + 1 if row[1][1] < NS + H - 1 else row[1][1] - 1  # a's first hint
            total += 1
            try:
                check_hints(row, T, "lsb", H, True)
            except Bad:
                caught += 1
    check(total > 0 and caught == total, "a changed hint is caught in %d of %d rows" % (caught, total))
    caught = total = 0
    for T, batch in batches(binary, "msb", 3, 32, 2, 12, 2, "ns=%d,coupled=%d,train" % (NS, TOP)):
        for row in batch:
            n = row[0][0]
            row[5][n + 3] += 1  # b's second digit
            total += 1
            try:
                check_coupled(row, T, "msb", TOP, True)
            except Bad:
                caught += 1
    check(total > 0 and caught == total, "a moved position is caught in %d of %d rows" % (caught, total))
    caught = total = 0
    for T, batch in batches(binary, "lsb", 3, 32, 2, 12, 2, "ns=%d,abacus=%d,train" % (NS, K)):
        for row in batch:
            row[-1][2] += 1  # a's second digit
            total += 1
            try:
                check_abacus(row, K, True)
            except Bad:
                caught += 1
    check(total > 0 and caught == total, "a changed abacus id is caught in %d of %d rows" % (caught, total))
    return check.finish("test_methods_data")


if __name__ == "__main__":
    sys.exit(main())
