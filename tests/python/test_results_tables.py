#!/usr/bin/python3
"""The machinery behind docs/results.md's generated tables
(tools/results_tables.py, tools/tables.py), on small results files this test
writes itself with numbers chosen so every expected cell is worked out by
hand below:
  - accuracy tables: mean ± 95% interval per length, the fit column, the
    dagger and its footnote on a row with an unfitted seed;
  - beyond the training length: fitted runs only and all runs, "no fitted
    run" for a cell without one;
  - fit derived from the accuracy at train_len for a file that predates it;
  - verdicts: reproduced, not reproduced, inconclusive (interval across the
    boundary, one run), per-seed differences against another scheme and
    another experiment;
  - the document: generated tables pass --check; a changed number fails it
    naming the table and line; bad markers and names are exit 2 with FILE:LINE;
  - tools/compare_papers.py's tables mark unfitted runs the same way.
Needs /usr/bin/python3 with h5py and numpy; no relgrad binary."""
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np

import common
import results_file
import tables

SCRIPT = os.path.join(common.ROOT, "tools", "results_tables.py")
T2 = 12.706  # Student's t, 97.5%, 1 degree of freedom


def write_results(path, runs, with_fit=True):
    """A results.h5 in relgrad's layout: runs = [(task, pos, seed, train_len,
    lens, exact, token, fit_exact)]; fit recorded at threshold 0.95 unless
    with_fit is False (a file from before relgrad recorded it)."""
    with h5py.File(path, "w") as f:
        for task, pos, seed, train_len, lens, exact, token, fit_exact in runs:
            g = f.create_group("runs/%s/%s/%d" % (task, pos, seed))
            g["train_loss"] = np.linspace(2, 1, 10, dtype=np.float32)
            g["eval_len"] = np.array(lens, dtype=np.int32)
            g["exact_match"] = np.array(exact, dtype=np.float64)
            g["token_acc"] = np.array(token, dtype=np.float64)
            for k, v in (("task", task), ("pos", pos), ("tasks", "copy,reverse"),
                         ("positions", "rope,none,alibi")):
                g.attrs[k] = np.bytes_(v)
            g.attrs["seed"], g.attrs["train_len"], g.attrs["steps"] = seed, train_len, 10
            g.attrs["fit_threshold"], g.attrs["wall_seconds"] = 0.95, 1.5
            if with_fit:
                g.attrs["fit"] = int(fit_exact >= 0.95)
                g.attrs["fit_exact_match"] = fit_exact
                g.attrs["fit_token_acc"] = 1.0


# quick: copy, train_len 4, lengths 4 and 8. rope fits with both seeds, none
# with seed 1 only, alibi with neither.
QUICK = [
    ("copy", "rope", 1, 4, [4, 8], [1.0, 0.2], [1.0, 0.5], 1.0),
    ("copy", "rope", 2, 4, [4, 8], [0.98, 0.4], [1.0, 0.7], 0.98),
    ("copy", "none", 1, 4, [4, 8], [0.96, 0.6], [0.99, 0.8], 0.96),
    ("copy", "none", 2, 4, [4, 8], [0.5, 0.0], [0.9, 0.2], 0.5),
    ("copy", "alibi", 1, 4, [4, 8], [0.3, 0.1], [0.8, 0.4], 0.3),
    ("copy", "alibi", 2, 4, [4, 8], [0.1, 0.1], [0.7, 0.4], 0.1),
]
# other: the same cell (copy, rope) with seed 1 only (a versus across experiments)
OTHER = [("copy", "rope", 1, 4, [4, 8], [1.0, 0.05], [1.0, 0.3], 1.0),
         ("copy", "rope", 2, 4, [4, 8], [1.0, 0.1], [1.0, 0.3], 1.0)]


def half(a, b):
    """The 95% half-width of two values: t * sd / sqrt(2) = t * |a - b| / 2."""
    return T2 * abs(a - b) / 2


def check_tables(check, results_dir):
    runs = results_file.read_runs(os.path.join(results_dir, "quick", "results.h5"))
    lines = tables.accuracy(runs, "exact_match")
    check(lines[0] == "| task | pos | fit | 4 (train) | 8 |", "header marks the training length: %s" % lines[0])
    want_rope = "| copy | rope | 2/2 | %.3f ± %.3f | %.3f ± %.3f |" % (0.99, half(1.0, 0.98), 0.3, half(0.2, 0.4))
    check(want_rope in lines, "rope row: %s" % want_rope)
    want_none = "| copy | none | 1/2 † | %.3f ± %.3f | %.3f ± %.3f |" % (0.73, half(0.96, 0.5), 0.3, half(0.6, 0.0))
    check(want_none in lines, "none row with its dagger: %s" % want_none)
    check("| copy | alibi | 0/2 † |" in "".join(lines), "alibi: 0/2 with a dagger")
    check(lines[-1] == tables.FOOTNOTE and lines[-2] == "", "the footnote under the table")
    check([l.split("|")[2].strip() for l in lines[2:5]] == ["rope", "none", "alibi"],
          "rows in the experiment's order of positions (rope, none, alibi), not sorted")
    all_fit = [r for r in runs if r["pos"] == "rope"]
    check(tables.FOOTNOTE not in tables.accuracy(all_fit, "exact_match"), "no footnote when every seed fitted")

    beyond = tables.beyond_table(runs)
    row = {l.split("|")[2].strip(): [c.strip() for c in l.split("|")[3:7]] for l in beyond[2:]}
    check(row["rope"][0] == row["rope"][1] == "%.3f ± %.3f (2)" % (0.3, half(0.2, 0.4)),
          "rope beyond: fitted = all = both seeds: %s" % row["rope"][:2])
    check(row["none"][0] == "0.600 (1)" and row["none"][1] == "%.3f ± %.3f (2)" % (0.3, half(0.6, 0.0)),
          "none beyond: fitted runs = seed 1 only (0.600, 1 run), all runs both: %s" % row["none"][:2])
    check(row["alibi"][0] == "no fitted run" and row["alibi"][2] == "no fitted run"
          and row["alibi"][1] == "%.3f ± %.3f (2)" % (0.1, 0.0),
          "alibi beyond: 'no fitted run' instead of a number, all runs 0.100: %s" % row["alibi"])
    check(row["none"][2] == "0.800 (1)", "token accuracy beyond, fitted runs: %s" % row["none"][2])

    old = results_file.read_runs(os.path.join(results_dir, "old", "results.h5"))
    fits = {(r["pos"], r["seed"]): r["fit"] for r in old}
    check(fits == {("rope", 1): True, ("rope", 2): True, ("none", 1): True, ("none", 2): False,
                   ("alibi", 1): False, ("alibi", 2): False},
          "a file without fit: fit from exact match at train_len >= fit_threshold: %s" % fits)


def run(args):
    p = subprocess.run(["/usr/bin/python3", SCRIPT] + args, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    return p.returncode, p.stdout + p.stderr


CLAIMS = """id,paper,claim,experiment,task,scheme,versus,lengths,metric,runs,paper_value,source,rule
A,Paper A,rope extrapolates,quick,copy,rope,,8..8,exact_match,all,0.5,Table 1,> 0.2
B,Paper A,rope extrapolates far,quick,copy,rope,,beyond,exact_match,all,0.9,Table 1,> 0.35
C,Paper B,alibi does not,quick,copy,alibi,,beyond,exact_match,all,0.0,Table 2,> 0.5
D,Paper B,none fitted extrapolates,quick,copy,none,,beyond,exact_match,fitted,0.7,Table 2,> 0.5
E,Paper B,none beats alibi,quick,copy,none,alibi,beyond,exact_match,all,+0.3,Fig. 1,> 0
F,Paper C,quick's rope beats other's,quick,copy,rope,other/rope,beyond,token_acc,all,+0.1,Fig. 2,> 0.25
G,Paper C,alibi fitted,quick,copy,alibi,,beyond,exact_match,fitted,0.2,Fig. 2,< 0.5
"""


def check_verdicts(check, tmp, results_dir):
    claims = os.path.join(tmp, "claims.csv")
    with open(claims, "w") as f:
        f.write(CLAIMS)
    doc = os.path.join(tmp, "doc.md")
    with open(doc, "w") as f:
        f.write("# Doc\n\n<!-- table: verdicts -->\n<!-- end table -->\n\nText.\n")
    rc, out = run(["--doc", doc, "--results", results_dir, "--claims", claims])
    check(rc == 0, "verdicts generated (exit %d: %s)" % (rc, out.strip()))
    rows = {}
    for line in open(doc).read().split("\n"):
        if line.startswith("| ") and ":" in line.split("|")[1]:
            cells = [c.strip() for c in line.split("|")[1:-1]]
            rows[cells[0].split(":")[0]] = cells
    # A: rope at 8, seeds 0.2, 0.4: 0.3 ± 1.271, straddles 0.2
    check(rows["A"][3] == "%.3f ± %.3f (2)" % (0.3, half(0.2, 0.4)) and rows["A"][5] == "inconclusive",
          "A: interval across the boundary is inconclusive: %s" % rows["A"][3:])
    check(rows["A"][2] == "0.5 (Paper A, Table 1)", "A: the paper's number and source: %s" % rows["A"][2])
    # C: alibi beyond: 0.1, 0.1 -> 0.100 ± 0.000, entirely below 0.5
    check(rows["C"][5] == "not reproduced", "C: whole interval below the boundary: %s" % rows["C"][3:])
    # D: none fitted: seed 1 only -> one run, no interval
    check(rows["D"][3] == "0.600 (1)" and rows["D"][5] == "inconclusive (1 run: no interval)",
          "D: one fitted run is inconclusive: %s" % rows["D"][3:])
    # E: per seed none - alibi: 0.6 - 0.1 = 0.5, 0.0 - 0.1 = -0.1 -> 0.2 ± 3.812: inconclusive
    check(rows["E"][3] == "%.3f ± %.3f (2)" % (0.2, half(0.5, -0.1)) and rows["E"][5] == "inconclusive",
          "E: per-seed differences against another scheme: %s" % rows["E"][3:])
    # F: token acc beyond, quick rope (0.5, 0.7) - other rope (0.3, 0.3) = 0.2, 0.4 -> 0.3 ± 1.271
    check(rows["F"][3] == "%.3f ± %.3f (2)" % (0.3, half(0.2, 0.4)), "F: against another experiment: %s" % rows["F"][3])
    # G: no fitted alibi run
    check(rows["G"][3] == "-" and rows["G"][5] == "inconclusive (no runs)", "G: no fitted run: %s" % rows["G"][3:])
    # B: rope beyond 0.2, 0.4 -> straddles 0.35
    check(rows["B"][5] == "inconclusive", "B: %s" % rows["B"][3:])

    # reproduced: identical seeds give a zero-width interval above the boundary
    with open(claims, "a") as f:
        f.write("H,Paper C,other rope fits at 4,other,copy,rope,,4..4,exact_match,all,1.0,Fig. 3,>= 0.99\n")
    with open(doc, "w") as f:
        f.write("<!-- table: verdicts ids=H -->\n<!-- end table -->\n")
    rc, out = run(["--doc", doc, "--results", results_dir, "--claims", claims])
    text = open(doc).read()
    check(rc == 0 and "| 1.000 ± 0.000 (2) | >= 0.99 | reproduced |" in text,
          "H: whole interval above the boundary is reproduced: %s" % text.strip().split("\n")[-2])
    with open(claims, "a") as f:
        f.write("I,Paper C,broken,other,copy,rope,,4..4,exact_match,some,1.0,Fig. 3,>= 0.99\n")
    rc, out = run(["--doc", doc, "--results", results_dir, "--claims", claims])
    check(rc == 2 and "claims.csv:10" in out and "runs 'some'" in out,
          "a malformed claim: exit 2 naming file:line and the column (%d: %s)" % (rc, out.strip()))


DOC = """# Results

Some text.

<!-- table: quick/exact_match -->
<!-- end table -->

More text.

<!-- table: quick/beyond positions=rope,none -->
old content
<!-- end table -->
"""


def check_document(check, tmp, results_dir):
    doc = os.path.join(tmp, "results.md")
    with open(doc, "w") as f:
        f.write(DOC)
    args = ["--doc", doc, "--results", results_dir, "--claims", os.path.join(tmp, "none.csv")]
    rc, out = run(args + ["--check"])
    check(rc == 1 and "quick/exact_match" in out and "quick/beyond positions=rope,none" in out
          and "results.md:5" in out and "results.md:10" in out,
          "--check on stale tables: exit 1 naming both tables and their lines (%d)" % rc)
    rc, out = run(args)
    text = open(doc).read()
    check(rc == 0 and "old content" not in text and "Some text." in text and "More text." in text,
          "regenerated in place, the prose kept")
    check("| copy | none | 1/2 † |" in text and "| copy | alibi |" not in text.split("quick/beyond")[1],
          "the options chose the rows (positions=rope,none)")
    rc, out = run(args + ["--check"])
    check(rc == 0, "--check right after regenerating: exit 0 (%d: %s)" % (rc, out.strip()))
    with open(doc, "w") as f:
        f.write(text.replace("| copy | rope | 2/2 | 0.990", "| copy | rope | 2/2 | 0.991"))
    rc, out = run(args + ["--check"])
    check(rc == 1 and "table quick/exact_match (" in out and "0.991" in out
          and "quick/beyond" not in out,
          "one changed number: exit 1 naming that table only, with the line (%d: %s)" % (rc, out.strip()))
    for bad, needle in (("<!-- table: quick/exact_match -->\nno end\n", "results.md:1: table quick/exact_match has no"),
                        ("<!-- table: nosuch/exact_match -->\n<!-- end table -->\n", "nosuch/results.h5"),
                        ("<!-- table: quick/exact -->\n<!-- end table -->\n", "unknown table kind 'exact'"),
                        ("<!-- table: quick/beyond lengths=4 -->\n<!-- end table -->\n", "key 'lengths'"),
                        ("<!-- table: ruoss lengths=4 -->\n<!-- end table -->\n",
                         "key 'lengths' does not apply to ruoss"),
                        ("text\n<!-- end table -->\n", "results.md:2: a marker out of place")):
        with open(doc, "w") as f:
            f.write(bad)
        rc, out = run(args + ["--check"])
        check(rc == 2 and needle in out, "bad input exits 2 saying %r (%d: %s)" % (needle, rc, out.strip()))
    with open(doc, "w") as f:
        f.write("<!-- table: ruoss plain=quick random=other -->\n<!-- end table -->\n")
    rc, out = run(args)
    text = open(doc).read()
    check(rc == 0 and "| group | task | chance | pos | fit: plain, randomized | score: plain |" in text
          and "Gain from randomized positions" in text,
          "a ruoss table from two experiments (%d: %s)" % (rc, text[:300]))
    rc, out = run(["--nonsense"])
    check(rc == 2 and "argument 1" in out, "an unknown option: exit 2 naming the argument")


def check_compare_papers(check, tmp):
    """tools/compare_papers.py marks unfitted runs and averages extrapolation
    over fitted runs and over all runs."""
    lens = list(range(20, 41))
    runs = []
    for pos, fits, beyond in (("none", (1.0, 0.2), (0.4, 0.0)), ("rope", (1.0, 1.0), (0.1, 0.3)),
                              ("t5", (0.5, 0.6), (0.0, 0.0))):
        for seed in (1, 2):
            em = [fits[seed - 1]] + [beyond[seed - 1]] * 20
            runs.append(("copy", pos, seed, 20, lens, em, [0.5] * 21, fits[seed - 1]))
    path = os.path.join(tmp, "k.h5")
    write_results(path, runs)
    script = os.path.join(common.ROOT, "tools", "compare_papers.py")
    p = subprocess.run(["/usr/bin/python3", script, "kazemnejad", path, os.path.join(tmp, "k")],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    text = open(os.path.join(tmp, "k.md")).read() if p.returncode == 0 else p.stderr
    row = {l.split("|")[2].strip(): [c.strip() for c in l.split("|")[3:6]]
           for l in text.split("\n") if l.startswith("| copy |")}
    check(row.get("none") == ["1/2 †", "0.400 (1)", "%.3f ± %.3f (2)" % (0.2, half(0.4, 0.0))],
          "compare_papers kazemnejad: none fit 1/2 with a dagger, fitted and all runs: %s" % row.get("none"))
    check(row.get("rope") == ["2/2"] + ["%.3f ± %.3f (2)" % (0.2, half(0.1, 0.3))] * 2,
          "compare_papers kazemnejad: rope all fitted: %s" % row.get("rope"))
    check(row.get("t5", [""])[1] == "no fitted run", "compare_papers kazemnejad: t5 'no fitted run': %s" % row.get("t5"))
    check("relgrad, fitted runs: none > rope;" in text, "ranking over fitted runs leaves t5 out")
    plain, rand = os.path.join(tmp, "plain.h5"), os.path.join(tmp, "rand.h5")
    write_results(plain, [("copy", "rope", 1, 20, lens, [1.0] + [0.0] * 20, [1.0] + [0.2] * 20, 1.0),
                          ("cycle_navigation", "rope", 1, 20, lens, [1.0] + [0.4] * 20, [1.0] + [0.4] * 20,
                           1.0)])
    write_results(rand, [("copy", "rope", 1, 20, lens, [0.5] + [0.0] * 20, [0.9] + [0.5] * 20, 0.5),
                         ("cycle_navigation", "rope", 1, 20, lens, [1.0] + [0.7] * 20, [1.0] + [0.7] * 20,
                          1.0)])
    p = subprocess.run(["/usr/bin/python3", script, "ruoss", plain, rand, os.path.join(tmp, "r")],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    text = open(os.path.join(tmp, "r.md")).read() if p.returncode == 0 else p.stderr
    check("| - | copy | - | rope | 1/1, 0/1 † | 0.200 | 0.500 | +0.300 | no fitted run | 0.000 | 0.000 |"
          in text, "compare_papers ruoss: beyond each run's train_len, the gain over all runs, none over "
          "fitted; a task not theirs has no group or chance: %s" % text.split("\n")[2:4])
    check("| regular | cycle_navigation | 0.200 | rope | 1/1, 1/1 | 0.400 | 0.700 | +0.300 | +0.300 | 0.400 "
          "| 0.700 |" in text, "compare_papers ruoss: their group and chance (1/5) beside the score: %s"
          % text.split("\n")[2:4])
    check("over the 2 (task, scheme) pairs that have both: +30.0 percentage points" in text
          and "+30.0 percentage points over 1 pairs" in text,
          "compare_papers ruoss: average gain over both pairs, fitted gain over one: %s" % text[-400:])

def main():
    check = common.Checks()
    with tempfile.TemporaryDirectory() as tmp:
        results_dir = os.path.join(tmp, "results")
        for name, runs, with_fit in (("quick", QUICK, True), ("other", OTHER, True), ("old", QUICK, False)):
            os.makedirs(os.path.join(results_dir, name))
            write_results(os.path.join(results_dir, name, "results.h5"), runs, with_fit)
        check_tables(check, results_dir)
        check_verdicts(check, tmp, results_dir)
        check_document(check, tmp, results_dir)
        check_compare_papers(check, tmp)
    return check.finish("results_tables")


if __name__ == "__main__":
    sys.exit(main())
