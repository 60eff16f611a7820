#!/usr/bin/python3
"""plot_results.py: exact match against evaluation length from an experiment's
results.h5 (SPEC section 4): one panel per task, one line per positional
scheme (mean over seeds, shaded min-max), the training length marked.

usage: /usr/bin/python3 tools/plot_results.py RESULTS.h5 OUT.png
Needs Debian's python3-h5py, python3-numpy and python3-matplotlib.
"""
import sys

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

SCHEMES = ["none", "sinusoidal", "learned", "rope", "alibi", "t5", "xl", "deberta"]


def attr(group, name):
    value = group.attrs[name]
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.item()
    return value


def load(path):
    """{task: {pos: [(eval_len, exact_match, train_len), ...per seed]}}"""
    runs = {}
    with h5py.File(path, "r") as f:
        for task, by_pos in f["runs"].items():
            for pos, by_seed in by_pos.items():
                for seed, run in by_seed.items():
                    runs.setdefault(task, {}).setdefault(pos, []).append(
                        (run["eval_len"][()], run["exact_match"][()], int(attr(run, "train_len"))))
    return runs


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    runs = load(sys.argv[1])
    tasks = sorted(runs)
    fig, axes = plt.subplots(1, len(tasks), figsize=(5 * len(tasks), 4), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        order = [p for p in SCHEMES if p in runs[task]] + sorted(set(runs[task]) - set(SCHEMES))
        train_len = None
        for pos in order:
            seeds = runs[task][pos]
            lens = seeds[0][0]
            acc = np.array([s[1] for s in seeds])
            train_len = seeds[0][2]
            line, = ax.plot(lens, acc.mean(axis=0), marker="o", ms=3, label=pos)
            if len(seeds) > 1:
                ax.fill_between(lens, acc.min(axis=0), acc.max(axis=0), color=line.get_color(), alpha=0.15)
        if train_len is not None:
            ax.axvline(train_len, color="gray", ls="--", lw=1)
            ax.text(train_len, 1.02, " train length", color="gray", fontsize=8, va="bottom")
        ax.set_title(task)
        ax.set_xlabel("input length (symbols)")
        ax.set_ylim(-0.02, 1.08)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("exact match (greedy)")
    axes[0][-1].legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    fig.savefig(sys.argv[2], dpi=120)
    print(f"plot: wrote {sys.argv[2]}")


if __name__ == "__main__":
    main()
