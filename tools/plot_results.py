#!/usr/bin/python3
"""plot_results.py: accuracy against evaluation length from an experiment's
results.h5 (SPEC section 4). Top row exact match, bottom row per-token
accuracy; one column per task, one line per positional scheme: the mean over
seeds, shaded with its 95% interval (Student's t, as in table.md, clipped to
[0, 1]) when there is more than one seed. The training length is marked.

usage: /usr/bin/python3 tools/plot_results.py RESULTS.h5 OUT.png
Needs Debian's python3-h5py, python3-numpy and python3-matplotlib.
"""
import os
import sys

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import relgrad  # noqa: E402

METRICS = (("exact_match", "exact match (greedy)"), ("token_acc", "token accuracy (teacher-forced)"))


def load(path):
    """{task: {pos: {eval_len: [row per seed]}}} and {task: train_len}."""
    runs = {}
    for r in relgrad.read_results(path):
        runs.setdefault(r["task"], {}).setdefault(r["pos"], {}).setdefault(r["eval_len"], []).append(r)
    train_len = {}
    with h5py.File(path, "r") as f:
        for task, by_pos in f["runs"].items():
            for by_seed in by_pos.values():
                for run in by_seed.values():
                    train_len[task] = int(relgrad.attr_value(run.attrs["train_len"]))
    return runs, train_len


def scheme_order(names):
    """Registry order first (tools/relgrad.py), then hybrids and others."""
    known = [p for p in relgrad.SCHEMES if p in names]
    return known + sorted(set(names) - set(known))


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    runs, train_len = load(sys.argv[1])
    tasks = sorted(runs)
    n_seeds = max(len(rows) for by_pos in runs.values() for by_len in by_pos.values()
                  for rows in by_len.values())
    fig, axes = plt.subplots(2, len(tasks), figsize=(5 * len(tasks), 7.5), squeeze=False)
    for col, task in enumerate(tasks):
        for row, (metric, label) in enumerate(METRICS):
            ax = axes[row][col]
            for pos in scheme_order(runs[task]):
                by_len = runs[task][pos]
                lens = sorted(by_len)
                values = [[r[metric] for r in by_len[n]] for n in lens]
                mean = np.array([np.mean(v) for v in values])
                half = np.array([relgrad.interval95(v) for v in values])
                line, = ax.plot(lens, mean, marker="o", ms=3, label=pos)
                if any(len(v) > 1 for v in values):
                    ax.fill_between(lens, np.clip(mean - half, 0, 1), np.clip(mean + half, 0, 1),
                                    color=line.get_color(), alpha=0.12)
            if task in train_len:
                ax.axvline(train_len[task], color="gray", ls="--", lw=1)
                ax.text(train_len[task], 1.02, " train length", color="gray", fontsize=8, va="bottom")
            ax.set_title(task if row == 0 else "")
            ax.set_xlabel("input length (symbols)")
            ax.set_ylim(-0.02, 1.08)
            ax.grid(alpha=0.3)
            if col == 0:
                ax.set_ylabel(label)
    axes[0][-1].legend(fontsize=8, loc="upper right")
    note = "mean over %d seeds, shaded: 95%% interval of the mean" % n_seeds if n_seeds > 1 else "one seed"
    fig.suptitle(note, fontsize=9, color="gray")
    fig.tight_layout()
    fig.savefig(sys.argv[2], dpi=110)
    print(f"plot: wrote {sys.argv[2]}")


if __name__ == "__main__":
    main()
