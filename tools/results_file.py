"""results_file.py: reading relgrad's results files (results.h5, SPEC
section 4; docs/format.md) with h5py and numpy alone, so that the table and
report tools start quickly. tools/relgrad.py re-exports everything here:
use `relgrad.read_runs(...)`, `relgrad.read_results(...)`.

    read_runs      results.h5 -> one dict per run (config, curves, fit,
                   selection, provenance)
    read_results   results.h5 -> flat rows, one per (run, evaluation length)
    interval95     half-width of a 95% interval of a mean (Student's t), as
                   table.md computes it
    attr_value, read_attrs   HDF5 attributes as Python values
"""
import math

import h5py
import numpy as np


def attr_value(v):
    """An HDF5 attribute as a Python int, float or str (bytes decoded,
    one-element arrays unwrapped)."""
    if isinstance(v, np.ndarray):
        if v.size != 1:
            return [attr_value(x) for x in v.reshape(-1)]
        v = v.reshape(-1)[0]
    if isinstance(v, (bytes, np.bytes_)):
        return v.decode("utf-8").rstrip("\0")
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    return v


def read_attrs(obj):
    """All attributes of an HDF5 object as a dict of Python values."""
    return {k: attr_value(obj.attrs[k]) for k in obj.attrs}


# Attributes of a run group that are not config keys (docs/format.md).
RUN_ATTRS = ("wall_seconds", "fit", "fit_exact_match", "fit_token_acc", "selected_step",
             "val_exact_match", "git_commit", "precision", "cpu_model")


def read_runs(path):
    """An experiment's results.h5 (SPEC section 4) as one dict per run, in
    (task, pos, seed) order:
      task, pos, seed        the group's names (a hybrid pos keeps its commas)
      config                 every config key the run recorded (its full
                             resolved configuration)
      train_loss             numpy float64 [steps]
      eval_len, exact_match, token_acc   numpy arrays [k]
      wall_seconds, steps, train_len, final_train_loss
      fit                    True / False: exact match at train_len >= the
                             run's fit_threshold; None when unknown
      fit_exact_match, fit_token_acc     the accuracies at train_len (None:
                             unknown)
      selected_step          the step whose parameters were evaluated
      val_exact_match        select = best: that step's validation exact
                             match (None otherwise)
      git_commit, precision, cpu_model   provenance (None: not recorded)
    Files written before relgrad recorded fit get it from the accuracy at
    train_len when that length was evaluated (fit_threshold 0.95 unless the
    run recorded another)."""
    out = []
    with h5py.File(path, "r") as f:
        runs = f.get("runs")
        if runs is None:
            raise ValueError("%s has no /runs group (not a relgrad results file?)" % path)
        for task in sorted(runs):
            for pos in sorted(runs[task]):
                for seed in sorted(runs[task][pos], key=int):
                    out.append(_run(runs[task][pos][seed], task, pos, int(seed)))
    return out


def read_results(path):
    """An experiment's results.h5 (SPEC section 4) as flat rows, one per
    (run, evaluation length): dicts with task, pos, seed, eval_len,
    exact_match, token_acc, wall_seconds, steps, final_train_loss, and the
    run's train_len, fit, fit_exact_match, selected_step, val_exact_match,
    git_commit, precision, cpu_model and config (a dict of every config key;
    read_runs says what each means). `pos` is the group name as written (a
    hybrid keeps its commas)."""
    rows = []
    for run in read_runs(path):
        common = {k: run[k] for k in ROW_KEYS}
        rows.extend(dict(common, eval_len=int(n), exact_match=float(e), token_acc=float(a))
                    for n, e, a in zip(run["eval_len"], run["exact_match"], run["token_acc"]))
    return rows


# The per-run fields each read_results row carries.
ROW_KEYS = ("task", "pos", "seed", "wall_seconds", "steps", "final_train_loss", "train_len", "fit",
            "fit_exact_match", "selected_step", "val_exact_match", "git_commit", "precision",
            "cpu_model", "config")


# Student's t, 97.5% quantile, for 1..30 degrees of freedom (the same table
# as src/cli/cmd_experiment.c); beyond 30, 1.96.
T_975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179,
         2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
         2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


def interval95(values):
    """Half-width of the 95% interval of the mean of `values` (Student's t
    with n - 1 degrees of freedom), 0 for fewer than two values."""
    n = len(values)
    if n < 2:
        return 0.0
    t = T_975[n - 2] if n - 1 <= len(T_975) else 1.96
    m = sum(values) / n
    return t * math.sqrt(sum((v - m) ** 2 for v in values) / (n - 1)) / math.sqrt(n)


def _run(g, task, pos, seed):
    """One run group /runs/{task}/{pos}/{seed} as read_runs describes it."""
    attrs = read_attrs(g)
    loss = np.asarray(g["train_loss"][()], dtype=np.float64).reshape(-1)
    lens = np.asarray(g["eval_len"][()]).reshape(-1).astype(int)
    em = np.asarray(g["exact_match"][()], dtype=np.float64).reshape(-1)
    acc = np.asarray(g["token_acc"][()], dtype=np.float64).reshape(-1)
    config = {k: v for k, v in attrs.items() if k not in RUN_ATTRS}
    train_len = int(config.get("train_len", 0))
    fit, fit_em, fit_acc = attrs.get("fit"), attrs.get("fit_exact_match"), attrs.get("fit_token_acc")
    if fit is None and train_len in lens:  # a file from before fit was recorded
        k = list(lens).index(train_len)
        fit_em, fit_acc = float(em[k]), float(acc[k])
        fit = fit_em >= float(config.get("fit_threshold", 0.95))
    return {"task": task, "pos": pos, "seed": seed, "config": config,
            "train_loss": loss, "eval_len": lens, "exact_match": em, "token_acc": acc,
            "wall_seconds": float(attrs.get("wall_seconds", float("nan"))),
            "steps": int(config.get("steps", loss.size)), "train_len": train_len,
            "final_train_loss": float(loss[-1]) if loss.size else float("nan"),
            "fit": None if fit is None else bool(fit),
            "fit_exact_match": fit_em, "fit_token_acc": fit_acc,
            "selected_step": attrs.get("selected_step"),
            "val_exact_match": attrs.get("val_exact_match"),
            "git_commit": attrs.get("git_commit"), "precision": attrs.get("precision"),
            "cpu_model": attrs.get("cpu_model")}
