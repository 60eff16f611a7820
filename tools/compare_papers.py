#!/usr/bin/python3
"""compare_papers.py: relgrad's reproductions beside the published numbers in data/.

usage:
  /usr/bin/python3 tools/compare_papers.py kazemnejad RESULTS.h5 OUT_PREFIX
  /usr/bin/python3 tools/compare_papers.py kazemnejad_arith RESULTS.h5 OUT_PREFIX
  /usr/bin/python3 tools/compare_papers.py ruoss PLAIN.h5 RANDOM.h5 OUT_PREFIX

kazemnejad: for copy and reverse (trained to 20, tested at 21..40), each
    scheme's exact match per length, relgrad (mean over its seeds) beside
    Kazemnejad et al. 2023 (mean over their 3 seeds, from the authors'
    results/sanity_check.jsonl as recorded in data/kazemnejad2023.csv; copy =
    their variant 3 "cmc", random tokens; reverse = their variant 1 "mc").
    Writes OUT_PREFIX.png (one panel per task) and OUT_PREFIX.md (mean exact
    match over 21..40 per scheme, both sides, and the ranking of the schemes).
kazemnejad_arith: sort and addition (trained to 8, tested at 9..16). The
    paper's stored source gives, per seed, addition's overall test exact match
    and, for sort, only each scheme's reciprocal rank among the five (1 =
    best). relgrad's side: exact match averaged over 9..16 per seed, and the
    same reciprocal rank computed from it. Writes OUT_PREFIX.png and .md.
ruoss: the same grid trained without (PLAIN) and with randomized positions
    (RANDOM); per task (with its group and chance: uniform guessing over the
    classes of an answer token in their code) and scheme, the score Ruoss et
    al. 2023 report (per-token accuracy averaged over the lengths beyond each
    run's training length) and exact match, the gain from randomized
    positions, and its average over the grid beside the only number of theirs
    we could read: +12.0% on average (abstract; their table could not be
    recovered, see data/README.md). The same table is docs/results.md's
    `<!-- table: ruoss -->` (tools/tables.py ruoss_table).
    Writes OUT_PREFIX.png and OUT_PREFIX.md.
Every table marks runs that did not fit their training length (exact match
there below fit_threshold: a dagger, and a fit column of fitted/all runs)
and averages extrapolation over the fitted runs only and over all runs; a
cell without a fitted run says so.
Needs Debian's python3-h5py, python3-numpy, python3-matplotlib.
"""
import csv
import math
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import results_file  # noqa: E402
import tables  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Kazemnejad et al.'s scheme labels -> relgrad's pos names (APE is sinusoidal).
K_SCHEMES = {"NoPE": "none", "T5 relative bias": "t5", "ALiBi": "alibi",
             'RoPE (Rotary; repo "rotary")': "rope", "APE (sinusoidal)": "sinusoidal"}
# Their task variants closest to relgrad's tasks (data/README.md).
K_TASKS = {"copy": "[split cmc_tr20_ts40", "reverse": "[split mc_tr20_ts40"}


def ours(path):
    """{(task, pos): {eval_len: [per-seed rows]}} from a results.h5."""
    table = {}
    for r in results_file.read_results(path):
        table.setdefault((r["task"], r["pos"]), {}).setdefault(r["eval_len"], []).append(r)
    return table


def mean(values):
    return sum(values) / len(values) if values else float("nan")


def interval(values):
    return results_file.interval95(values)


def seed_means(by_len, lo, hi, key="exact_match"):
    """{seed: (mean of key over the lengths lo..hi, fitted)} of one
    (task, scheme): each run's mean over those lengths."""
    per_seed, fit = {}, {}
    for n, rows in by_len.items():
        if lo <= n <= hi:
            for r in rows:
                per_seed.setdefault(r["seed"], []).append(r[key])
                fit[r["seed"]] = r["fit"] is True
    return {s: (mean(v), fit[s]) for s, v in per_seed.items()}


def fitted_and_all(seeds):
    """Table cells of {seed: (value, fitted)}: over the fitted runs ("no
    fitted run" when none) and over all runs, each 'mean ± 95% (runs)'."""
    fit = [v for v, f in seeds.values() if f]
    every = [v for v, f in seeds.values()]
    return (tables.mean_interval(fit, count=True) if fit else tables.NO_FITTED,
            tables.mean_interval(every, count=True) if every else "-")


def fit_cell(seeds):
    """'2/3 †': fitted runs / runs, with a dagger when one did not fit."""
    n_fit = sum(f for _, f in seeds.values())
    return "%d/%d%s" % (n_fit, len(seeds), "" if n_fit == len(seeds) else " " + tables.DAGGER)


FIT_NOTE = ("fit: runs whose exact match at the training length reached their fit_threshold "
            "(results.h5); %s marks a scheme with an unfitted run. \"fitted runs\" averages over "
            "those only, \"all runs\" over every seed." % tables.DAGGER)


def kazemnejad_published():
    """{(task, pos): {eval_len: [per-seed exact match]}} for lengths 21..40."""
    out = {}
    with open(os.path.join(ROOT, "data", "kazemnejad2023.csv")) as f:
        for row in csv.DictReader(f):
            pos = K_SCHEMES.get(row["encoding"])
            task = next((t for t, key in K_TASKS.items() if key in row["task"]), None)
            if not pos or not task or not row["eval_length"].isdigit():
                continue
            n = int(row["eval_length"])
            if 21 <= n <= 40 and "test" in row["metric"]:
                out.setdefault((task, pos), {}).setdefault(n, []).append(float(row["value"]))
    return out


def kazemnejad(results, prefix):
    mine, theirs = ours(results), kazemnejad_published()
    schemes = ["none", "t5", "alibi", "rope", "sinusoidal"]
    tasks = [t for t in ("copy", "reverse") if any((t, p) in mine for p in schemes)]
    fig, axes = plt.subplots(1, len(tasks), figsize=(6 * len(tasks), 4.2), squeeze=False)
    lines = ["| task | scheme | fit | relgrad 21..40: fitted runs | relgrad 21..40: all runs | "
             "paper 21..40 (3 seeds) | relgrad at 20 |", "|---|---|---|---|---|---|---|"]
    ranks = []
    for ax, task in zip(axes[0], tasks):
        score = {}
        for k, pos in enumerate(schemes):
            color = "C%d" % k
            m = mine.get((task, pos), {})
            lens = sorted(n for n in m if 21 <= n <= 40)
            if lens:
                ys = [mean([r["exact_match"] for r in m[n]]) for n in lens]
                ax.plot(lens, ys, "-o", ms=3, color=color, label="%s (relgrad)" % pos)
            t = theirs.get((task, pos), {})
            tl = sorted(t)
            if tl:
                ax.plot(tl, [mean(t[n]) for n in tl], "--", color=color, alpha=0.7,
                        label="%s (paper)" % pos)
            seeds = seed_means(m, 21, 40)
            ours_scores = [v for v, _ in seeds.values()]
            fitted_scores = [v for v, f in seeds.values() if f]
            paper_scores = [mean([t[n][i] for n in tl]) for i in range(min(len(t[n]) for n in tl))] if tl else []
            at20 = m.get(20, [])
            score[pos] = (mean(ours_scores), mean(paper_scores), mean(fitted_scores))
            lines.append("| %s | %s | %s | %s | %s | %s | %s |" % (
                (task, pos, fit_cell(seeds) if seeds else "-") + fitted_and_all(seeds) + (
                    "%.3f ± %.3f" % (mean(paper_scores), interval(paper_scores)) if paper_scores else "-",
                    "%.3f" % mean([r["exact_match"] for r in at20]) if at20 else "-")))
        known = lambda v: v if not math.isnan(v) else -1  # noqa: E731
        order_ours = sorted(score, key=lambda p: -known(score[p][0]))
        order_fitted = sorted((p for p in score if not math.isnan(score[p][2])), key=lambda p: -score[p][2])
        order_paper = sorted(score, key=lambda p: -known(score[p][1]))
        ranks.append("- %s: relgrad, all runs: %s; relgrad, fitted runs: %s; paper %s" % (
            task, " > ".join(order_ours), " > ".join(order_fitted) or "no fitted run",
            " > ".join(order_paper)))
        ax.set_title("%s: exact match beyond training (train 1..20)" % task)
        ax.set_xlabel("length")
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("exact match")
    axes[0][-1].legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(prefix + ".png", dpi=110)
    with open(prefix + ".md", "w") as f:
        f.write("\n".join(lines) + "\n\n" + FIT_NOTE + "\n\nRanking by mean exact match over 21..40 "
                "(fitted runs: schemes without one left out):\n\n" + "\n".join(ranks) + "\n")
    print("wrote %s.png and %s.md" % (prefix, prefix))


def kazemnejad_arith_published():
    """({pos: [addition exact match per seed]}, {pos: [sort reciprocal rank per seed]})."""
    add, srt = {}, {}
    with open(os.path.join(ROOT, "data", "kazemnejad2023.csv")) as f:
        for row in csv.DictReader(f):
            pos = K_SCHEMES.get(row["encoding"])
            if not pos:
                continue
            if row["task"].startswith("addition (no scratchpad; split len_tr8_ts16"):
                add.setdefault(pos, []).append(float(row["value"]))
            elif row["task"].startswith("sorting, single-token variant"):
                srt.setdefault(pos, []).append(float(row["value"]))
    return add, srt


def kazemnejad_arith(results, prefix):
    mine = ours(results)
    schemes = ["none", "t5", "alibi", "rope", "sinusoidal"]
    add_paper, sort_paper = kazemnejad_arith_published()

    def beyond(task, pos):
        """{seed: (mean exact match over 9..16, fitted)}."""
        return seed_means(mine.get((task, pos), {}), 9, 16)

    add_fit = {p: beyond("addition", p) for p in schemes}
    srt_fit = {p: beyond("sort", p) for p in schemes}
    add = {p: {s: v for s, (v, _) in add_fit[p].items()} for p in schemes}
    srt = {p: {s: v for s, (v, _) in srt_fit[p].items()} for p in schemes}
    # reciprocal rank of each scheme among the five, per seed (ties share the best rank)
    rr = {p: [] for p in schemes}
    seeds = sorted(set().union(*[set(v) for v in srt.values()])) if any(srt.values()) else []
    for s in seeds:
        if not all(s in srt[p] for p in schemes):
            continue
        for p in schemes:
            rank = 1 + sum(srt[q][s] > srt[p][s] for q in schemes)
            rr[p].append(1.0 / rank)
    fmt = lambda v: "%.3f ± %.3f (%d)" % (mean(v), interval(v), len(v)) if v else "-"  # noqa: E731
    lines = ["Addition: exact match beyond training (9..16 digits), mean over seeds ± 95% interval (seeds).",
             "",
             "| scheme | fit | relgrad: fitted runs | relgrad: all runs | paper |", "|---|---|---|---|---|"]
    for p in schemes:
        lines.append("| %s | %s | %s | %s | %s |" % (
            (p, fit_cell(add_fit[p]) if add_fit[p] else "-") + fitted_and_all(add_fit[p])
            + (fmt(add_paper.get(p, [])),)))
    lines += ["", "Sort: exact match beyond training (9..16) and each scheme's reciprocal rank among the "
              "five per seed over all runs (the paper's stored source shows only the rank).", "",
              "| scheme | fit | relgrad exact match: fitted runs | all runs | relgrad reciprocal rank "
              "| paper reciprocal rank |", "|---|---|---|---|---|---|"]
    for p in schemes:
        lines.append("| %s | %s | %s | %s | %s | %s |" % (
            (p, fit_cell(srt_fit[p]) if srt_fit[p] else "-") + fitted_and_all(srt_fit[p])
            + (fmt(rr[p]), fmt(sort_paper.get(p, [])))))
    lines += ["", FIT_NOTE]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    x = np.arange(len(schemes))
    for ax, (title, a, b, ylabel) in zip(axes, [
            ("addition: exact match at 9..16 (train 1..8)", {p: list(add[p].values()) for p in schemes},
             add_paper, "exact match"),
            ("sort: reciprocal rank among the five (1 = best)", rr, sort_paper, "reciprocal rank")]):
        ax.bar(x - 0.2, [mean(a[p]) if a[p] else 0 for p in schemes], 0.4,
               yerr=[interval(a[p]) for p in schemes], label="relgrad")
        ax.bar(x + 0.2, [mean(b.get(p, [])) if b.get(p) else 0 for p in schemes], 0.4,
               yerr=[interval(b.get(p, [])) for p in schemes], label="Kazemnejad et al. 2023")
        ax.set_xticks(x)
        ax.set_xticklabels(schemes)
        ax.set_title(title, fontsize=10)
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3, axis="y")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(prefix + ".png", dpi=110)
    with open(prefix + ".md", "w") as f:
        f.write("\n".join(lines) + "\n")
    print("wrote %s.png and %s.md" % (prefix, prefix))


def ruoss(plain, random, prefix):
    a, b = results_file.read_runs(plain), results_file.read_runs(random)
    lines, rows = tables.ruoss_table(a, b)
    both = [r for r in rows if r["gain"] is not None]
    gains = [r["gain"] for r in both]
    fitted_gains = [r["fitted_gain"] for r in rows if r["fitted_gain"] is not None]
    labels = ["%s\n%s" % (r["task"], r["pos"]) for r in both]
    pa, ra = [r["plain"] for r in both], [r["randomized"] for r in both]
    avg = mean(gains)
    lines.append("")
    lines.append("Average gain from randomized positions over the %d (task, scheme) pairs that have both: "
                 "%+.1f percentage points of per-token accuracy beyond the training length. "
                 "Ruoss et al. 2023 (abstract): +12.0%% on average over their grid." % (len(gains), 100 * avg))
    lines.append("")
    lines.append("Over fitted runs only (a pair counts when both sides have one): %s. %s"
                 % ("%+.1f percentage points over %d pairs" % (100 * mean(fitted_gains), len(fitted_gains))
                    if fitted_gains else "no pair has fitted runs on both sides", FIT_NOTE))
    fig, ax = plt.subplots(figsize=(max(6, 0.45 * len(labels)), 4))
    x = np.arange(len(labels))
    ax.bar(x - 0.2, pa, 0.4, label="plain positions")
    ax.bar(x + 0.2, ra, 0.4, label="randomized positions")
    ax.set_xticks(x)
    ax.set_xticklabels(labels, fontsize=6, rotation=90)
    ax.set_ylabel("per-token accuracy beyond training")
    ax.set_title("relgrad: average gain %+.1f points (Ruoss et al.: +12.0%%)" % (100 * avg))
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(prefix + ".png", dpi=110)
    with open(prefix + ".md", "w") as f:
        f.write("\n".join(lines) + "\n")
    print("wrote %s.png and %s.md" % (prefix, prefix))


def main(argv):
    if len(argv) == 4 and argv[1] == "kazemnejad":
        kazemnejad(argv[2], argv[3])
    elif len(argv) == 4 and argv[1] == "kazemnejad_arith":
        kazemnejad_arith(argv[2], argv[3])
    elif len(argv) == 5 and argv[1] == "ruoss":
        ruoss(argv[2], argv[3], argv[4])
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
