#!/usr/bin/python3
"""results_tables.py: regenerates the tables of docs/results.md from the
shipped results (data/results/EXPERIMENT/results.h5) and the claims file
(data/claims.csv), so every number on that page can be checked.

usage: /usr/bin/python3 tools/results_tables.py [--check] [--doc FILE]
           [--results DIR] [--claims FILE]

A generated table sits between two markers, each on a line of its own:

    <!-- table: NAME [key=value ...] -->
    ... (written by this script) ...
    <!-- end table -->

NAME is one of
    EXPERIMENT/exact_match    accuracy per task, scheme and length, as in the
    EXPERIMENT/token_acc      experiment's table.md (fit column, dagger and
                              footnote on unfitted runs); keys: lengths=8,16,24
                              tasks=copy,reverse positions=rope,alibi
    EXPERIMENT/beyond         per task and scheme: the mean beyond the training
                              length over fitted runs and over all runs; keys:
                              tasks=, positions=
    ruoss                     Ruoss et al. 2023's comparison (tables.ruoss_table):
                              per task, with its group and chance, and scheme,
                              their score without and with randomized
                              positions, the gain, exact match; keys:
                              plain=ruoss random=ruoss_random (the defaults)
    verdicts                  the claims of the claims file: the paper's number,
                              relgrad's mean with its 95% interval and number of
                              runs, the rule and the verdict; keys: paper=TEXT
                              (claims whose paper starts with it), ids=K1,K2
EXPERIMENT is a directory of --results (default data/results) holding
results.h5.

Without --check the file is rewritten with every table regenerated. With
--check nothing is written: the exit status is 1 when a table differs from
what would be generated (each one is named, with the first differing line),
0 when all agree; the claims file's form is checked too. Bad input (an unknown NAME or key, an unclosed marker, a
missing results file, a malformed claim) is exit status 2 with FILE:LINE.

The claims file (CSV, one claim a row; docs/results.md says how to add one):
    id          short name (K1)
    paper       who claims it (Kazemnejad et al. 2023)
    claim       the claim in words
    experiment  the results directory relgrad's value comes from
    task        task of the runs
    scheme      pos of the runs
    versus      empty, or another scheme (EXPERIMENT/SCHEME for another
                experiment): the value is then the per-seed difference
                scheme - versus (seeds present in both)
    lengths     a..b: each run's mean over those evaluation lengths;
                "beyond": over the lengths above its training length
    metric      exact_match or token_acc
    runs        fitted (only runs that fitted their training length; with
                versus, both runs of a seed) or all
    paper_value the paper's number, as the paper gives it
    source      where the paper's number is (table, figure, data/ file)
    rule        OP BOUNDARY (OP one of > >= < <=): what relgrad's value must
                satisfy for the claim to hold here
Verdict: "reproduced" when relgrad's whole 95% interval satisfies the rule,
"not reproduced" when the whole interval violates it, "inconclusive" when
the interval straddles the boundary, or with fewer than 2 runs (no
interval).
"""
import csv
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import results_file  # noqa: E402
import tables  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BEGIN = re.compile(r"^<!-- table: (\S+)((?: \S+=\S+)*) -->$")
END = "<!-- end table -->"
CLAIM_COLUMNS = ("id", "paper", "claim", "experiment", "task", "scheme", "versus", "lengths",
                 "metric", "runs", "paper_value", "source", "rule")
RULE = re.compile(r"^(>=|<=|>|<) *(-?[0-9.]+)$")


class BadInput(Exception):
    """What is wrong, where, and how to fix it (exit status 2)."""


# ---- results -----------------------------------------------------------------------

class Results:
    """The results files of --results, read once each."""

    def __init__(self, root):
        self.root, self.cache = root, {}

    def runs(self, experiment, where):
        if experiment not in self.cache:
            path = os.path.join(self.root, experiment, "results.h5")
            if not os.path.exists(path):
                raise BadInput("%s: no results file %s; ship the experiment's results.h5 there "
                               "(data/results/EXPERIMENT/results.h5) or fix the name"
                               % (where, path))
            self.cache[experiment] = results_file.read_runs(path)
        return self.cache[experiment]


def _list(value):
    return [v for v in value.split(",") if v]


def select_runs(runs, options):
    tasks, positions = _list(options.get("tasks", "")), _list(options.get("positions", ""))
    return [r for r in runs if (not tasks or r["task"] in tasks)
            and (not positions or r["pos"] in positions)]


def experiment_table(results, experiment, kind, options, where):
    allowed = {"exact_match": ("lengths", "tasks", "positions"), "token_acc":
               ("lengths", "tasks", "positions"), "beyond": ("tasks", "positions")}
    if kind not in allowed:
        raise BadInput("%s: unknown table kind '%s'; use exact_match, token_acc or beyond"
                       % (where, kind))
    for key in options:
        if key not in allowed[kind]:
            raise BadInput("%s: key '%s' does not apply to %s; it takes %s"
                           % (where, key, kind, ", ".join(allowed[kind])))
    runs = select_runs(results.runs(experiment, where), options)
    if not runs:
        raise BadInput("%s: no run of %s matches %s" % (where, experiment, options))
    if kind == "beyond":
        return tables.beyond_table(runs)
    try:
        lengths = [int(n) for n in _list(options.get("lengths", ""))]
    except ValueError:
        raise BadInput("%s: lengths=%s: write whole numbers, e.g. lengths=8,16,24"
                       % (where, options["lengths"]))
    return tables.accuracy(runs, kind, lengths)


# ---- claims and verdicts ---------------------------------------------------------

def read_claims(path):
    """The claims file as a list of dicts (each with its line, for messages)."""
    if not os.path.exists(path):
        raise BadInput("%s: missing; the verdict table needs the claims file" % path)
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        if tuple(reader.fieldnames or ()) != CLAIM_COLUMNS:
            raise BadInput("%s:1: the header must be %s" % (path, ",".join(CLAIM_COLUMNS)))
        claims = []
        for row in reader:
            row["where"] = "%s:%d" % (path, reader.line_num)
            check_claim(row)
            claims.append(row)
    return claims


def check_claim(c):
    w = c["where"]
    for key in ("id", "paper", "claim", "experiment", "task", "scheme", "lengths", "metric",
                "runs", "paper_value", "source", "rule"):
        if not (c.get(key) or "").strip():
            raise BadInput("%s: claim '%s': column %s is empty; fill it in" % (w, c["id"], key))
    if c["metric"] not in ("exact_match", "token_acc"):
        raise BadInput("%s: claim %s: metric '%s'; use exact_match or token_acc"
                       % (w, c["id"], c["metric"]))
    if c["runs"] not in ("fitted", "all"):
        raise BadInput("%s: claim %s: runs '%s'; use fitted or all" % (w, c["id"], c["runs"]))
    if not RULE.match(c["rule"].strip()):
        raise BadInput("%s: claim %s: rule '%s'; write OP BOUNDARY with OP one of > >= < <=, "
                       "e.g. > 0.5" % (w, c["id"], c["rule"]))
    if c["lengths"] != "beyond" and not re.match(r"^\d+\.\.\d+$", c["lengths"]):
        raise BadInput("%s: claim %s: lengths '%s'; write a..b (e.g. 21..40) or beyond"
                       % (w, c["id"], c["lengths"]))


def run_values(runs, c, task, scheme):
    """{seed: (value, fitted)} of the runs of (task, scheme)."""
    lo = hi = None
    if c["lengths"] != "beyond":
        lo, hi = (int(x) for x in c["lengths"].split(".."))
    out = {}
    for r in runs:
        if r["task"] == task and r["pos"] == scheme:
            v = tables.beyond(r, c["metric"], lo, hi)
            if v is not None:
                out[r["seed"]] = (v, tables.fitted(r))
    return out


def claim_values(results, c):
    """relgrad's values of a claim: one per run (or per seed pair with versus)."""
    only_fitted = c["runs"] == "fitted"
    mine = run_values(results.runs(c["experiment"], c["where"]), c, c["task"], c["scheme"])
    if not c["versus"].strip():
        return [v for v, fit in mine.values() if fit or not only_fitted]
    other = c["versus"].strip()
    experiment, scheme = other.split("/", 1) if "/" in other else (c["experiment"], other)
    theirs = run_values(results.runs(experiment, c["where"]), c, c["task"], scheme)
    return [mine[s][0] - theirs[s][0] for s in sorted(set(mine) & set(theirs))
            if not only_fitted or (mine[s][1] and theirs[s][1])]


def verdict(values, rule):
    """(relgrad's cell, verdict) for the values and an 'OP BOUNDARY' rule."""
    op, bound = RULE.match(rule.strip()).groups()
    bound = float(bound)
    if not values:
        return "-", "inconclusive (no runs)"
    cell = tables.mean_interval(values, count=True)
    if len(values) < 2:
        return cell, "inconclusive (1 run: no interval)"
    m, h = tables.mean(values), results_file.interval95(values)
    lo, hi = m - h, m + h
    holds = {">": lambda x: x > bound, ">=": lambda x: x >= bound,
             "<": lambda x: x < bound, "<=": lambda x: x <= bound}[op]
    if holds(lo) and holds(hi):
        return cell, "reproduced"
    if not holds(lo) and not holds(hi):
        return cell, "not reproduced"
    return cell, "inconclusive"


def verdict_table(results, claims, options, where):
    for key in options:
        if key not in ("paper", "ids"):
            raise BadInput("%s: key '%s' does not apply to verdicts; it takes paper, ids"
                           % (where, key))
    ids = _list(options.get("ids", ""))
    chosen = [c for c in claims if c["paper"].startswith(options.get("paper", ""))
              and (not ids or c["id"] in ids)]
    missing = set(ids) - {c["id"] for c in chosen}
    if missing or not chosen:
        raise BadInput("%s: no claim %s in the claims file" % (where, ", ".join(sorted(missing))
                                                                 or str(options)))
    lines = ["| claim | measured | paper's number | relgrad: mean ± 95% interval (runs) | rule "
             "| verdict |", "|---|---|---|---|---|---|"]
    for c in chosen:
        cell, says = verdict(claim_values(results, c), c["rule"])
        scheme = c["scheme"] + (" - " + c["versus"].strip() if c["versus"].strip() else "")
        span = "beyond training" if c["lengths"] == "beyond" else "over " + c["lengths"]
        measured = "%s/%s: %s, %s %s, %s runs" % (c["experiment"], c["task"], scheme,
                                                  c["metric"].replace("_", " "), span, c["runs"])
        lines.append("| %s: %s | %s | %s (%s, %s) | %s | %s | %s |" % (
            c["id"], c["claim"], measured, c["paper_value"], c["paper"], c["source"], cell,
            c["rule"].strip(), says))
    return lines


# ---- the document --------------------------------------------------------------------

def ruoss_comparison(results, options, where):
    for key in options:
        if key not in ("plain", "random"):
            raise BadInput("%s: key '%s' does not apply to ruoss; it takes plain, random"
                           % (where, key))
    plain = results.runs(options.get("plain", "ruoss"), where)
    randomized = results.runs(options.get("random", "ruoss_random"), where)
    lines, rows = tables.ruoss_table(plain, randomized)
    gains = [r["gain"] for r in rows if r["gain"] is not None]
    fitted = [r["fitted_gain"] for r in rows if r["fitted_gain"] is not None]
    lines += ["", "score: Ruoss et al.'s, per-token accuracy averaged over the lengths beyond "
              "each run's training length, mean over all runs; chance: uniform guessing over "
              "the classes of an answer token in their code. Gain from randomized positions, "
              "averaged over the %d (task, scheme) pairs with runs on both sides: %s; over "
              "the %d pairs with fitted runs on both sides: %s." % (
                  len(gains), "%+.3f" % tables.mean(gains) if gains else "-",
                  len(fitted), "%+.3f" % tables.mean(fitted) if fitted else "-")]
    return lines


def generate(spec, options, where, results, claims_path, claims):
    if spec == "ruoss":
        return ruoss_comparison(results, options, where)
    if spec == "verdicts":
        if claims[0] is None:
            claims[0] = read_claims(claims_path)
        return verdict_table(results, claims[0], options, where)
    if "/" not in spec:
        raise BadInput("%s: table '%s': write EXPERIMENT/KIND (e.g. quick/exact_match), ruoss or "
                       "verdicts" % (where, spec))
    experiment, kind = spec.rsplit("/", 1)
    return experiment_table(results, experiment, kind, options, where)


def process(doc, results_dir, claims_path):
    """(the document regenerated, [(table, first differing line)])."""
    with open(doc) as f:
        lines = f.read().split("\n")
    results, claims = Results(results_dir), [None]
    out, differ, i = [], [], 0
    while i < len(lines):
        line = lines[i]
        out.append(line)
        m = BEGIN.match(line)
        if not m:
            if line.startswith("<!-- table:") or line == END:
                raise BadInput("%s:%d: a marker out of place: '%s'; a table is "
                               "'<!-- table: NAME [key=value ...] -->' ... '%s'"
                               % (doc, i + 1, line, END))
            i += 1
            continue
        where = "%s:%d" % (doc, i + 1)
        options = dict(kv.split("=", 1) for kv in m.group(2).split())
        j = i + 1
        while j < len(lines) and lines[j] != END:
            if BEGIN.match(lines[j]):
                raise BadInput("%s: table %s has no '%s' before the next table (line %d)"
                               % (where, m.group(1), END, j + 1))
            j += 1
        if j == len(lines):
            raise BadInput("%s: table %s has no '%s'" % (where, m.group(1), END))
        fresh = generate(m.group(1), options, where, results, claims_path, claims)
        old = lines[i + 1:j]
        if old != fresh:
            k = next((k for k, (a, b) in enumerate(zip(old, fresh)) if a != b), min(len(old), len(fresh)))
            differ.append(("%s (%s)" % (m.group(1) + m.group(2), where),
                           "line %d: the file has %r, the results give %r"
                           % (i + 2 + k, old[k] if k < len(old) else "(nothing)",
                              fresh[k] if k < len(fresh) else "(nothing)")))
        out += fresh + [END]
        i = j + 1
    return "\n".join(out), differ


def main(argv):
    args = {"--doc": os.path.join(ROOT, "docs", "results.md"),
            "--results": os.path.join(ROOT, "data", "results"),
            "--claims": os.path.join(ROOT, "data", "claims.csv")}
    check, i = False, 1
    while i < len(argv):
        if argv[i] == "--check":
            check = True
        elif argv[i] in args and i + 1 < len(argv):
            args[argv[i]] = argv[i + 1]
            i += 1
        else:
            sys.stderr.write("results_tables.py: argument %d: '%s' is not an option; see the "
                             "usage below\n\n%s" % (i, argv[i], __doc__))
            return 2
        i += 1
    try:
        text, differ = process(args["--doc"], args["--results"], args["--claims"])
        if check and os.path.exists(args["--claims"]):
            read_claims(args["--claims"])  # its form, also when no table reads it yet
    except BadInput as e:
        sys.stderr.write("results_tables.py: %s\n" % e)
        return 2
    if check:
        for name, why in differ:
            sys.stderr.write("results_tables.py: table %s differs from the results: %s; run "
                             "/usr/bin/python3 tools/results_tables.py to regenerate it\n"
                             % (name, why))
        return 1 if differ else 0
    if differ:
        tmp = "%s.tmp.%d" % (args["--doc"], os.getpid())
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, args["--doc"])
    print("results_tables.py: %s: %d table(s) regenerated" % (args["--doc"], len(differ)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
