"""tables.py: the accuracy tables of relgrad's results, in the format
`relgrad experiment` writes to table.md, for tools/results_tables.py
(docs/results.md), tools/report.py (report.html) and tools/compare_papers.py.

Every table marks the runs that did not fit: a run fitted when its exact
match at the training length reached its fit_threshold (results.h5 records
fit, fit_exact_match; tools/relgrad.py read_runs). Accuracy per length is the
mean over all seeds, with a column "fit" (fitted seeds / seeds) and a dagger
on rows with an unfitted seed; extrapolation (the mean over the lengths
beyond training) is averaged over the fitted runs only and, separately, over
all runs, and a cell with no fitted run says so instead of showing a number.

    runs = results_file.read_runs("out/quick/results.h5")
    print("\\n".join(tables.experiment_tables(runs)))   # the tables of table.md

Numbers are the mean ± the half-width of its 95% interval (Student's t,
results_file.interval95), three decimals, as src/cli/cmd_experiment.c prints
them.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import results_file  # noqa: E402

DAGGER = "†"
METRICS = (("exact_match", "Exact match"), ("token_acc", "Token accuracy"))
NO_FITTED = "no fitted run"
FOOTNOTE = ("%s at least one seed did not fit the training length (exact match there below "
            "its fit_threshold, or not recorded); the means above include it. \"Beyond the "
            "training length\" averages over the fitted runs only and over all runs." % DAGGER)


def mean(values):
    return sum(values) / len(values)


def mean_interval(values, count=False):
    """'0.953' for one value, '0.953 ± 0.021' for more; with count, the
    number of values in brackets after it."""
    text = "%.3f" % mean(values)
    if len(values) > 1:
        text += " ± %.3f" % results_file.interval95(values)
    return text + (" (%d)" % len(values) if count else "")


def fitted(run):
    """Whether a run fitted its training length (unknown counts as not)."""
    return run["fit"] is True


def beyond(run, metric, lo=None, hi=None):
    """A run's mean of `metric` over its evaluation lengths in lo..hi
    (default: every length above its training length), or None when it has
    none there."""
    lo = run["train_len"] + 1 if lo is None else lo
    values = [float(v) for n, v in zip(run["eval_len"], run[metric])
              if lo <= n and (hi is None or n <= hi)]
    return mean(values) if values else None


def _ordered(names, preferred):
    """names in the order of `preferred` (first seen), then the rest sorted."""
    order = [p for p in preferred if p in names]
    return order + sorted(set(names) - set(order))


def cells(runs):
    """[(task label, pos, [runs by seed])] in the experiment's order: its
    tasks and positions lists as the runs recorded them, then sorted."""
    tasks, positions, labels = [], [], {}
    for r in runs:
        for entry in str(r["config"].get("tasks", "")).split(","):
            name = entry.split(":")[0].strip()
            if name and name not in tasks:
                tasks.append(name)
                labels[name] = entry.strip()
        for entry in str(r["config"].get("positions", "")).split(","):
            pos = entry.strip().replace("+", ",")
            if pos and pos not in positions:
                positions.append(pos)
    by_cell = {}
    for r in runs:
        by_cell.setdefault((r["task"], r["pos"]), []).append(r)
    out = []
    for task in _ordered({t for t, _ in by_cell}, tasks):
        for pos in _ordered({p for t, p in by_cell if t == task}, positions):
            group = sorted(by_cell[(task, pos)], key=lambda r: r["seed"])
            out.append((labels.get(task, task), pos, group))
    return out


def _lengths(runs, lengths):
    return sorted(set(lengths) if lengths else {int(n) for r in runs for n in r["eval_len"]})


def accuracy(runs, metric, lengths=None):
    """Markdown lines: per task and scheme, the metric at each length (mean
    over seeds ± interval), with the fit column and the dagger."""
    lens = _lengths(runs, lengths)
    train = {r["train_len"] for r in runs}
    head = "| task | pos | fit |" + "".join(
        " %d%s |" % (n, " (train)" if n in train else "") for n in lens)
    lines = [head, "|---|---|---|" + "---|" * len(lens)]
    marked = False
    for task, pos, group in cells(runs):
        n_fit = sum(fitted(r) for r in group)
        mark = "" if n_fit == len(group) else " " + DAGGER
        marked |= bool(mark)
        row = "| %s | %s | %d/%d%s |" % (task, pos, n_fit, len(group), mark)
        for n in lens:
            values = [float(v) for r in group for m, v in zip(r["eval_len"], r[metric]) if m == n]
            row += " %s |" % (mean_interval(values) if values else "-")
        lines.append(row)
    if marked:
        lines += ["", FOOTNOTE]
    return lines


def beyond_table(runs):
    """Markdown lines: per task and scheme, each run's mean over the lengths
    beyond its training length, averaged over fitted runs and over all runs
    (runs in brackets)."""
    head = ("| task | pos | exact match: fitted runs | exact match: all runs | "
            "token accuracy: fitted runs | token accuracy: all runs |")
    lines = [head, "|---|---|---|---|---|---|"]
    for task, pos, group in cells(runs):
        row = "| %s | %s |" % (task, pos)
        for metric, _ in METRICS:
            for only_fitted in (True, False):
                values = [v for v in (beyond(r, metric) for r in group
                                      if fitted(r) or not only_fitted) if v is not None]
                if values:
                    row += " %s |" % mean_interval(values, count=True)
                elif only_fitted and not any(fitted(r) for r in group):
                    row += " %s |" % NO_FITTED
                else:
                    row += " - |"
        lines.append(row)
    return lines


def experiment_tables(runs):
    """The tables of table.md: exact match, token accuracy, beyond training."""
    lines = []
    for metric, title in METRICS:
        lines += ["## %s" % title, ""] + accuracy(runs, metric) + [""]
    lines += ["## Beyond the training length", "",
              "Each run's mean over the evaluation lengths above its training length, then the "
              "mean over runs ± the half-width of its 95% interval (runs in brackets).", ""]
    return lines + beyond_table(runs) + [""]


# Ruoss et al. 2023's fifteen tasks: (their group, the number of classes an
# answer token takes in their code, task.output_size), in their order.
# Chance is uniform guessing over those classes, per answer token (for a
# one-token answer it is exact match's chance too).
RUOSS_TASKS = (
    ("even_pairs", "regular", 2), ("modular_arithmetic", "regular", 5),
    ("parity_check", "regular", 2), ("cycle_navigation", "regular", 5),
    ("stack_manipulation", "context-free", 3), ("reverse_string", "context-free", 2),
    ("modular_arithmetic_brackets", "context-free", 5), ("solve_equation", "context-free", 5),
    ("duplicate_string", "context-sensitive", 2), ("missing_duplicate_string", "context-sensitive", 2),
    ("odds_first", "context-sensitive", 2), ("binary_addition", "context-sensitive", 3),
    ("binary_multiplication", "context-sensitive", 3), ("compute_sqrt", "context-sensitive", 2),
    ("bucket_sort", "context-sensitive", 5))
RUOSS_POSITIONS = ("none", "sinusoidal", "xl", "rope", "alibi")


def ruoss_table(plain, randomized):
    """Ruoss et al. 2023's comparison from two lists of runs, the grid without
    and with randomized positions: per task (with its group and chance) and
    scheme, the fitted runs of each side, their score (per-token accuracy
    averaged over the lengths beyond each run's training length, mean over
    all runs), the gain from randomized positions (over all runs, and over
    fitted runs when both sides have one) and exact match beyond training.
    Returns (markdown lines, rows): one row a (task, scheme) as a dict of
    task, pos, plain and randomized (scores), gain and fitted_gain (None
    where a side has no run, or no fitted run)."""
    def side(runs, task, pos):
        return [r for r in runs if r["task"] == task and r["pos"] == pos]

    def score(group, metric, only_fitted=False):
        values = [v for v in (beyond(r, metric) for r in group if fitted(r) or not only_fitted)
                  if v is not None]
        return mean(values) if values else None

    def fit(group):
        if not group:
            return "-"
        n = sum(fitted(r) for r in group)
        return "%d/%d%s" % (n, len(group), "" if n == len(group) else " " + DAGGER)

    known = {name: (group, k) for name, group, k in RUOSS_TASKS}
    names = {r["task"] for r in plain + randomized}
    tasks = [t for t, _, _ in RUOSS_TASKS if t in names] + sorted(names - set(known))
    lines = ["| group | task | chance | pos | fit: plain, randomized | score: plain | randomized | "
             "gain | gain, fitted runs | exact match: plain | randomized |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    rows = []
    fmt = lambda v: "-" if v is None else "%.3f" % v  # noqa: E731
    for task in tasks:
        group, classes = known.get(task, ("-", 0))
        positions = {r["pos"] for r in plain + randomized if r["task"] == task}
        for pos in _ordered(positions, RUOSS_POSITIONS):
            a, b = side(plain, task, pos), side(randomized, task, pos)
            sa, sb = score(a, "token_acc"), score(b, "token_acc")
            fa, fb = score(a, "token_acc", True), score(b, "token_acc", True)
            gain = sb - sa if sa is not None and sb is not None else None
            fitted_gain = fb - fa if fa is not None and fb is not None else None
            rows.append({"task": task, "pos": pos, "plain": sa, "randomized": sb, "gain": gain,
                         "fitted_gain": fitted_gain})
            lines.append("| %s | %s | %s | %s | %s, %s | %s | %s | %s | %s | %s | %s |" % (
                group, task, "%.3f" % (1.0 / classes) if classes else "-", pos, fit(a), fit(b),
                fmt(sa), fmt(sb), "-" if gain is None else "%+.3f" % gain,
                "%+.3f" % fitted_gain if fitted_gain is not None
                else (NO_FITTED if a and b else "-"),
                fmt(score(a, "exact_match")), fmt(score(b, "exact_match"))))
    return lines, rows
