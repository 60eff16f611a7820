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
