#!/usr/bin/python3
"""Every task's examples, checked against answers computed here, independently
of src/data/: Python's own integers, eval of the expressions as text, a list
as the stack. For every task, both architectures, several seeds and lengths
1..40 plus long ones, each batch row written by tests/data_examples (the
library's rg_batch_draw) must have

  - the layout of its architecture: decoder BOS x SEP y EOS shifted by one,
    encoder BOS x SEP ANS.. with y as the ANS positions' targets; PAD after;
  - an input x that the task's rules can produce (alphabet, form, ranges);
  - y equal to the answer computed here from x;
  - the loss mask on y (and the decoder's EOS), the accuracy mask on y up to
    the termination token where the task has one, the lengths right.

Then the draws' distributions where the authors' rules fix them (operators,
split points, solve_equation's choice of the number x replaces), and a
mutated generator (one answer token off in every row) must be caught in
every row. Needs tests/data_examples (DATA_EXAMPLES_BIN); exit 77 if it is
missing."""
import math
import os
import random
import subprocess
import sys

import common

NS_DEFAULT = 16
CLASSIC = {"copy", "reverse", "sort", "duplicate", "parity", "addition", "odds_first"}
ALIAS = {"parity_check": "parity", "reverse_string": "reverse", "duplicate_string": "duplicate",
         "bucket_sort": "sort"}
ALPHABET = {"parity": 2, "even_pairs": 2, "modular_arithmetic": 9, "parity_check": 2,
            "cycle_navigation": 5, "stack_manipulation": 5, "reverse_string": 2,
            "modular_arithmetic_brackets": 11, "solve_equation": 11, "duplicate_string": 2,
            "missing_duplicate_string": 4, "binary_addition": 3, "binary_multiplication": 3,
            "compute_sqrt": 2, "bucket_sort": 5, "counting": 19}
TASKS = sorted(CLASSIC | set(ALPHABET))
# terminated outputs: accuracy counts y up to the termination token
TERMINATED = {"binary_addition", "binary_multiplication", "stack_manipulation"}


class Bad(Exception):
    """An example that breaks a rule."""


def need(cond, what):
    if not cond:
        raise Bad(what)


# ---- the tasks, written from their descriptions -------------------------------------

def input_len(task, n):
    if task == "addition":
        return 2 * n + 1
    if task == "counting":
        return 2 * n + 2
    if task == "modular_arithmetic":
        return n - (n % 2 == 0)
    return n


def out_len(task, n):
    task = ALIAS.get(task, task)
    if task in ("parity", "even_pairs", "modular_arithmetic", "cycle_navigation",
                "modular_arithmetic_brackets", "solve_equation", "missing_duplicate_string",
                "counting"):
        return 1
    return {"duplicate": 2 * n, "addition": n + 1, "stack_manipulation": n + 1,
            "binary_addition": n + 1, "compute_sqrt": (n + 1) // 2}.get(task, n)


def value_lsb(digits, base):
    return sum(d * base ** i for i, d in enumerate(digits))


def bits_lsb(v):
    """v in binary, least significant bit first, no leading zeros (0 -> [0])."""
    return [int(c) for c in reversed(format(v, "b"))]


def expression_text(tokens, names):
    """Token ids -> text, or Bad."""
    out = []
    for t in tokens:
        if t < 5:
            out.append(str(t))
        else:
            need(t in names, "token %d is not in the alphabet" % t)
            out.append(names[t])
    return "".join(out)


def derivable(text, ops):
    """Whether text is an expression the authors' generator writes:
    d | -d | (d) | (-d) | (E op E)."""
    def expr(i):  # end of an expression starting at i, or -1
        if i < len(text) and text[i].isdigit():
            return i + 1
        if text.startswith("-", i) and i + 1 < len(text) and text[i + 1].isdigit():
            return i + 2
        if not text.startswith("(", i):
            return -1
        if i + 2 < len(text) and text[i + 1].isdigit() and text[i + 2] == ")":
            return i + 3
        if i + 3 < len(text) and text[i + 1] == "-" and text[i + 2].isdigit() and text[i + 3] == ")":
            return i + 4
        j = expr(i + 1)
        if j < 0 or j >= len(text) or text[j] not in ops:
            return -1
        k = expr(j + 1)
        if k < 0 or k >= len(text) or text[k] != ")":
            return -1
        return k + 1
    return expr(0) == len(text)


def answer(task, x, n, ns, digits):
    """(y, scored) for input x of length n, checking that x is a possible input."""
    task = ALIAS.get(task, task)
    need(len(x) == input_len(task, n), "input of %d tokens" % len(x))
    if task in ("copy", "reverse", "sort", "duplicate", "odds_first", "parity"):
        top = 2 if task == "parity" else ns
        need(all(0 <= v < top for v in x), "symbols outside 0..%d" % (top - 1))
        y = {"copy": list(x), "reverse": x[::-1], "sort": sorted(x), "duplicate": x + x,
             "odds_first": x[0::2] + x[1::2], "parity": [sum(x) % 2]}[task]
        return y, len(y)
    if task == "addition":
        sep = ns + 2
        need(x[n] == sep, "no SEP between a and b")
        a, b = x[:n], x[n + 1:]
        need(all(0 <= v < ns for v in a + b), "digits outside the base")
        if digits == "msb":
            a, b = a[::-1], b[::-1]
        s = value_lsb(a, ns) + value_lsb(b, ns)
        y = [(s // ns ** i) % ns for i in range(n + 1)]
        need(s < ns ** (n + 1), "sum too long")
        return (y[::-1] if digits == "msb" else y), n + 1
    if task == "even_pairs":
        need(set(x) <= {0, 1}, "not bits")
        return [sum(1 for i in range(n - 1) if x[i] != x[i + 1]) % 2], 1
    if task == "cycle_navigation":
        need(set(x) <= {0, 1, 2}, "not actions")
        return [sum(v - 1 for v in x) % 5], 1
    if task == "modular_arithmetic":
        need(len(x) % 2 == 1, "even length")
        need(all(0 <= v < 5 for v in x[0::2]), "a number is not 0..4")
        need(all(v in (5, 6, 7) for v in x[1::2]), "an operator is not + - *")
        text = expression_text(x, {5: "+", 6: "-", 7: "*"})
        return [eval(text) % 5], 1
    if task == "modular_arithmetic_brackets":
        text = expression_text(x, {5: "+", 6: "-", 7: "*", 8: "(", 9: ")"})
        need(derivable(text, "+-*"), "not a generated expression: %s" % text)
        return [eval(text) % 5], 1
    if task == "solve_equation":
        if n < 3:
            need(x == [0] * n, "short equation is not zeros")
            return [0], 1
        need(x[-2] == 10 and 0 <= x[-1] < 5, "no '= value' at the end")
        need(x[:-2].count(9) == 1, "not exactly one x")
        text = expression_text(x[:-2], {5: "+", 6: "-", 7: "(", 8: ")", 9: "x"})
        need(derivable(text.replace("x", "0"), "+-"), "not a generated expression: %s" % text)
        roots = [c for c in range(5) if eval(text.replace("x", str(c))) % 5 == x[-1]]
        need(len(roots) == 1, "%d solutions" % len(roots))
        return roots, 1
    if task == "stack_manipulation":
        if n == 1:
            need(x[0] in (0, 1), "a one-token input is not a value")
            return [x[0], 2], 2
        k = next((i for i, v in enumerate(x) if v >= 2), n)
        need(1 <= k <= n - 1, "stack of %d values" % k)
        need(all(v in (2, 3, 4) for v in x[k:]), "actions after the stack are not 2 3 4")
        stack = list(x[:k])
        for v in x[k:]:
            if v == 2:
                if stack:
                    stack.pop()
            else:
                stack.append(v - 3)
        y = stack[::-1] + [2]
        return y + [0] * (n + 1 - len(y)), len(y)
    if task == "missing_duplicate_string":
        if n == 1:
            need(x == [1], "n = 1 is not x = 1")
            return [1], 1
        h = n // 2
        body = x[:2 * h]
        need(x[2 * h:] == ([3] if n % 2 else []), "padding")
        need(body.count(2) == 1 and all(v in (0, 1, 2) for v in body), "not one missing bit")
        fits = [c for c in (0, 1) if [c if v == 2 else v for v in body][:h] ==
                [c if v == 2 else v for v in body][h:]]
        need(len(fits) == 1, "%d ways to fill the gap" % len(fits))
        return fits, 1
    if task in ("binary_addition", "binary_multiplication"):
        add = task == "binary_addition"
        m = n + 1 if add else n
        if n <= 2:
            need(set(x) <= {0, 1}, "short input is not bits")
            v = value_lsb(x, 2)
            need(v <= 2 ** n - 2, "short input %d above 2^n - 2" % v)
            res = bits_lsb(v) if add else [0] * (n - 1)
        else:
            need(x.count(2) == 1, "not one operator")
            k = x.index(2)
            need(1 <= k <= n - 2, "first number of %d bits" % k)
            a, b = value_lsb(x[:k], 2), value_lsb(x[k + 1:], 2)
            need(a >= 1 and b >= 1, "a number is 0")
            res = bits_lsb(a + b if add else a * b)
        y = res + [2]
        return y + [0] * (m - len(y)), len(y)
    if task == "counting":  # CoPE's counting task: run the program
        SET, INC, PASS, END, PRINT = 14, 15, 16, 17, 18
        names = {11: "a", 12: "b", 13: "c"}
        values = {}
        for i in range(n):
            first, second = x[2 * i], x[2 * i + 1]
            if first == PASS:
                need(second == END, "statement %d: pass is not followed by its END" % i)
                continue
            need(first in names and second in (SET, INC), "statement %d is not v SET or v INC" % i)
            if second == SET:
                values[names[first]] = 0
            else:
                need(names[first] in values, "statement %d increments an unset variable" % i)
                need(values[names[first]] < 10, "statement %d counts past 10" % i)
                values[names[first]] += 1
        need(x[2 * n] == PRINT and x[2 * n + 1] in names, "no PRINT v at the end")
        need(names[x[2 * n + 1]] in values, "PRINT of an unset variable")
        return [values[names[x[2 * n + 1]]]], 1
    if task == "compute_sqrt":
        need(set(x) <= {0, 1}, "not bits")
        v = int("".join(map(str, x)), 2)
        need(v >= 1, "the number is 0")
        m = (n + 1) // 2
        r = math.isqrt(v)
        return [int(c) for c in format(r, "b").zfill(m)], m
    raise ValueError(task)


# ---- one row --------------------------------------------------------------------------

def check_row(task, arch, digits, ns, row, T):
    """Raises Bad if the row breaks a rule; returns (x, y) otherwise."""
    head, tok, tgt, mask, acc = row.split("|")
    n, seq_len, n_tokens = map(int, head.split())
    tok, tgt = list(map(int, tok.split())), list(map(int, tgt.split()))
    mask, acc = list(map(int, mask.split())), list(map(int, acc.split()))
    need(len(tok) == len(tgt) == len(mask) == len(acc) == T, "row width")
    pad, bos, sep, eos, ans = ns, ns + 1, ns + 2, ns + 3, ns + 4
    L = input_len(ALIAS.get(task, task), n)
    P = L + 2
    need(tok[0] == bos and tok[P - 1] == sep, "BOS x SEP")
    x = tok[1:P - 1]
    m = out_len(task, n)
    length = P + m  # tokens read, both architectures
    need(n_tokens == length, "n_tokens %d, expected %d" % (n_tokens, length))
    need(all(v == pad for v in tok[length:] + tgt[length:]), "padding tokens")
    need(not any(mask[length:]) and not any(acc[length:]), "padding masks")
    if arch == "decoder":
        need(seq_len == length + 1, "seq_len")
        seq = tok[:length] + [tgt[length - 1]]
        need(tgt[:length] == seq[1:], "targets are not the next tokens")
        need(seq[-1] == eos, "no EOS")
        y = seq[P:P + m]
    else:
        need(seq_len == length, "seq_len")
        need(tok[P:length] == [ans] * m, "ANS tokens")
        need(tgt[:P] == [pad] * P, "targets before the answer")
        y = tgt[P:length]
    want, scored = answer(task, x, n, ns, digits)
    need(y == want, "y = %s, expected %s (x = %s)" % (y, want, x))
    need(task in TERMINATED or scored == m, "scored part")
    if arch == "decoder":  # target t is sequence token t+1: y_1 at t = P-1, EOS at t = P+m-1
        want_mask = [int(t >= P - 1) for t in range(length)]
        want_acc = [int(P - 1 <= t < P - 1 + scored or (scored == m and t == length - 1))
                    for t in range(length)]
    else:
        want_mask = [int(t >= P) for t in range(length)]
        want_acc = [int(P <= t < P + scored) for t in range(length)]
    need(mask[:length] == want_mask, "loss mask %s" % mask[:length])
    need(acc[:length] == want_acc, "accuracy mask %s" % acc[:length])
    return x, y


def batches(binary, task, arch, digits, seed, B, lo, hi, count, mutate=0):
    """(T, rows) of each batch data_examples writes."""
    out = subprocess.run([binary, arch, task, digits, str(seed), str(B), str(lo), str(hi),
                          str(count), str(mutate)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, check=True).stdout.splitlines()
    i = 0
    while i < len(out):
        _, nb, T = out[i].split()
        nb, T = int(nb), int(T)
        yield T, out[i + 1:i + 1 + nb]
        i += 1 + nb


# ---- distributions ------------------------------------------------------------------------

def z_ok(observed, expected, var, limit=5.0):
    return abs(observed - expected) <= limit * math.sqrt(max(var, 1e-12))


def check_distributions(check, binary):
    def inputs(task, n, count, seed=7):
        for T, rows in batches(binary, task, "decoder", "lsb", seed, 256, n, n, count):
            for row in rows:
                tok = list(map(int, row.split("|")[1].split()))
                yield tok[1:1 + input_len(ALIAS.get(task, task), n)]

    # modular_arithmetic: + - * uniform between the numbers
    ops = [v for x in inputs("modular_arithmetic", 21, 8) for v in x[1::2]]
    share = [ops.count(o) / len(ops) for o in (5, 6, 7)]
    check(all(abs(s - 1 / 3) < 0.02 for s in share),
          "modular_arithmetic: + - * each about 1/3 of %d operators (%s)"
          % (len(ops), " ".join("%.3f" % s for s in share)))
    # stack_manipulation: stack size uniform in 1..n-1
    n = 9
    sizes = [next(i for i, v in enumerate(x) if v >= 2) for x in inputs("stack_manipulation", n, 8)]
    counts = [sizes.count(k) for k in range(1, n)]
    check(all(abs(c / len(sizes) - 1 / (n - 1)) < 0.03 for c in counts),
          "stack_manipulation: initial stack size uniform in 1..%d (%s)" % (n - 1, counts))
    # binary_addition: the first number's length uniform in 1..n-2
    n = 10
    cut = [x.index(2) for x in inputs("binary_addition", n, 8)]
    counts = [cut.count(k) for k in range(1, n - 1)]
    check(all(abs(c / len(cut) - 1 / (n - 2)) < 0.03 for c in counts),
          "binary_addition: |a| uniform in 1..%d (%s)" % (n - 2, counts))
    # counting: the statement kinds after the first SET against the same
    # shares in programs drawn here by the authors' rules (count_data_gen.py:
    # weights SET 1, INC 7, PASS 50; an INC with no variable set or at 10 is
    # drawn again; a program with nothing set at the end is drawn again)
    def shares(programs):
        kinds = []
        for ops in programs:
            kinds += ops[ops.index(14) + 1:]
        return [kinds.count(k) / len(kinds) for k in (14, 15, 17)], len(kinds)

    def authors_program(rng, n):
        while True:
            values, ops = {}, []
            for _ in range(n):
                while True:
                    op = rng.choices((14, 17, 15), (1, 50, 7))[0]
                    if op == 14:
                        values[rng.randrange(3)] = 0
                    elif op == 15:
                        if not values:
                            continue
                        v = rng.choice(list(values))
                        if values[v] + 1 > 10:
                            continue
                        values[v] += 1
                    ops.append(op)
                    break
            if values:
                return ops
    ours, count = shares([[x[2 * i + 1] for i in range(200)] for x in inputs("counting", 200, 2)])
    rng = random.Random(5)
    theirs, _ = shares([authors_program(rng, 200) for _ in range(1500)])
    check(all(abs(a - b) < 0.006 for a, b in zip(ours, theirs)),
          "counting: SET, INC, PASS after the first SET %s in %d statements, by the authors' rules %s"
          % (" ".join("%.4f" % v for v in ours), count, " ".join("%.4f" % v for v in theirs)))
    # modular_arithmetic_brackets draws * (mult = True), solve_equation does not
    # (binary operators only: a binary - follows a number or ')', a unary one does not)
    mab = [v for x in inputs("modular_arithmetic_brackets", 30, 2) for i, v in enumerate(x)
           if v in (5, 7) or (v == 6 and i > 0 and (x[i - 1] < 5 or x[i - 1] == 9))]
    check(abs(mab.count(7) / len(mab) - 1 / 3) < 0.03,
          "modular_arithmetic_brackets: * is a third of the operators (%.3f)"
          % (mab.count(7) / len(mab)))
    # solve_equation: the replaced number is the first at or after a uniform
    # place (cyclically), so a number after a long run of brackets and
    # operators is the more likely; compare the run before the chosen number
    # with what that rule expects (and with a uniform choice, to be sure the
    # check can tell them apart)
    obs = exp = var = uni = 0.0
    for x in inputs("solve_equation", 24, 8):
        expr = x[:-2]
        L = len(expr)
        runs = {}
        for j, v in enumerate(expr):
            if v < 5 or v == 9:
                r = 0
                while expr[(j - 1 - r) % L] >= 5 and expr[(j - 1 - r) % L] != 9:
                    r += 1
                runs[j] = r
        p = {j: (r + 1) / L for j, r in runs.items()}
        mean = sum(p[j] * runs[j] for j in runs)
        exp += mean
        var += sum(p[j] * runs[j] ** 2 for j in runs) - mean ** 2
        uni += sum(runs.values()) / len(runs)
        obs += runs[expr.index(9)]
    check(abs(sum(p.values()) - 1) < 1e-12 and z_ok(obs, exp, var) and not z_ok(uni, exp, var),
          "solve_equation: x replaces the first number at or after a uniform place "
          "(run before it: %.0f observed, %.0f expected, %.0f if uniform over numbers, sd %.0f)"
          % (obs, exp, uni, math.sqrt(var)))


# ---- main ------------------------------------------------------------------------------

def main():
    binary = os.environ.get("DATA_EXAMPLES_BIN", os.path.join(common.ROOT, "build", "tests", "data_examples"))
    if not os.access(binary, os.X_OK):
        print("skip: %s not found (build first, or set DATA_EXAMPLES_BIN)" % binary)
        return common.SKIP
    check = common.Checks()
    plans = [(1, 40, 64, 4), (64, 64, 8, 1), (100, 130, 4, 1), (257, 257, 2, 1)]
    for task in TASKS:
        ns = ALPHABET.get(task, NS_DEFAULT)
        for arch in ("decoder", "encoder"):
            for digits in (["lsb", "msb"] if task == "addition" else ["lsb"]):
                rows = bad = 0
                first = ""
                lengths = set()
                for seed in (1, 2, 3):
                    for lo, hi, B, count in plans:
                        for T, batch in batches(binary, task, arch, digits, seed, B, lo, hi, count):
                            for row in batch:
                                rows += 1
                                lengths.add(int(row.split()[0]))
                                try:
                                    check_row(task, arch, digits, ns, row, T)
                                except Bad as e:
                                    bad += 1
                                    first = first or "%s (row: %s)" % (e, row[:200])
                check(bad == 0 and len(lengths) >= 40,
                      "%s %s%s: %d rows at %d lengths follow the task%s"
                      % (task, arch, " " + digits if task == "addition" else "", rows, len(lengths),
                         "" if not bad else ": %d bad, first: %s" % (bad, first)))
    # the decoder and the encoder hold the same examples for the same seed
    same = True
    for task in TASKS:
        examples = {}
        for arch in ("decoder", "encoder"):
            examples[arch] = [check_row(task, arch, "lsb", ALPHABET.get(task, NS_DEFAULT), row, T)
                              for T, b in batches(binary, task, arch, "lsb", 5, 16, 1, 20, 2)
                              for row in b]
        same &= len(examples["decoder"]) == 32 and examples["decoder"] == examples["encoder"]
    check(same, "every task: decoder and encoder batches from one seed hold the same x and y")
    check_distributions(check, binary)
    # a broken generator is caught: one answer token off in every row
    for task in TASKS:
        for arch in ("decoder", "encoder"):
            rows = caught = 0
            for T, batch in batches(binary, task, arch, "lsb", 9, 32, 1, 40, 2, mutate=1):
                for row in batch:
                    rows += 1
                    try:
                        check_row(task, arch, "lsb", ALPHABET.get(task, NS_DEFAULT), row, T)
                    except Bad:
                        caught += 1
            check(rows > 0 and caught == rows,
                  "%s %s: one answer token off is caught in %d of %d rows" % (task, arch, caught, rows))
    return check.finish("test_task_answers")


if __name__ == "__main__":
    sys.exit(main())
