#!/usr/bin/python3
"""report.py: one static HTML page of an experiment, OUT_DIR/report.html
(relgrad experiment runs it at the end; it can be run again by hand).

It holds, in one self-contained file (images embedded, no server, no script):
the accuracy tables (means over seeds with 95% intervals, unfitted runs
marked, extrapolation over fitted runs and over all runs: tools/tables.py,
the tables of table.md), the plot (plot.png), the attention maps of each
(task, scheme) at the training length and at 2x (OUT_DIR/report/attention-*.h5,
written by relgrad and drawn here with tools/attention_maps.py), the loss
curves, and for every run whether it fitted, the step it selected, its
config and provenance (commit, CPU, precision), wall time and final loss
(results.h5, SPEC section 4).

usage: /usr/bin/python3 tools/report.py OUT_DIR
Needs Debian's python3-h5py, python3-numpy and python3-matplotlib.
"""
import base64
import glob
import html
import io
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import attention_maps  # noqa: E402
import results_file  # noqa: E402
import tables  # noqa: E402

CSS = """
body { font-family: Helvetica, Arial, sans-serif; margin: 24px auto; max-width: 1400px; color: #222; }
h1 { font-size: 22px; } h2 { font-size: 18px; margin-top: 28px; border-bottom: 1px solid #ddd; }
h3 { font-size: 15px; }
table { border-collapse: collapse; font-size: 13px; margin: 8px 0; }
th, td { border: 1px solid #ccc; padding: 3px 7px; text-align: right; }
th { background: #f2f2f2; } td.l, th.l { text-align: left; }
img { max-width: 100%; } .maps img { border: 1px solid #eee; margin: 4px 0 16px 0; }
details summary { cursor: pointer; color: #2a5d9f; }
.note { color: #666; font-size: 12px; }
"""


def png_data(path_or_fig):
    """data: URI of a PNG file, or of a matplotlib figure (closed here)."""
    if isinstance(path_or_fig, str):
        with open(path_or_fig, "rb") as f:
            raw = f.read()
    else:
        buf = io.BytesIO()
        path_or_fig.savefig(buf, format="png", dpi=100)
        plt.close(path_or_fig)
        raw = buf.getvalue()
    return "data:image/png;base64," + base64.b64encode(raw).decode()


def load_runs(path):
    """results_file.read_runs, with the report's short names: cfg (the
    config and, after it, the provenance) and wall."""
    runs = results_file.read_runs(path)
    for r in runs:
        r["cfg"] = dict(sorted(r["config"].items()))
        r["cfg"].update({k: r[k] for k in ("git_commit", "precision", "cpu_model") if r[k]})
        r["wall"] = r["wall_seconds"]
    return runs


def fit_text(r):
    """'1.00' for a fitted run, '0.54 †' for one that did not fit."""
    if r["fit_exact_match"] is None:
        return "not recorded " + tables.DAGGER
    return "%.2f%s" % (r["fit_exact_match"], "" if tables.fitted(r) else " " + tables.DAGGER)


def markdown_to_html(text):
    """table.md: '#'/'##' headings, paragraphs and pipe tables (all it holds)."""
    out, table, para = [], [], []

    def flush():
        if para:
            out.append("<p>%s</p>" % html.escape(" ".join(para)))
            para.clear()
        if table:
            rows = [r for r in table if not set(r.replace("|", "").strip()) <= set("-: ")]
            cells = [[c.strip() for c in r.strip().strip("|").split("|")] for r in rows]
            out.append("<table>")
            for i, row in enumerate(cells):
                tag = "th" if i == 0 else "td"
                out.append("<tr>" + "".join(
                    '<%s class="%s">%s</%s>' % (tag, "l" if j < 2 else "", html.escape(c), tag)
                    for j, c in enumerate(row)) + "</tr>")
            out.append("</table>")
            table.clear()

    for line in text.splitlines():
        if line.startswith("|"):
            if para:
                flush()
            table.append(line)
        elif line.startswith("#"):
            flush()
            level = len(line) - len(line.lstrip("#"))
            out.append("<h%d>%s</h%d>" % (level + 1, html.escape(line.lstrip("#").strip()), level + 1))
        elif not line.strip():
            flush()
        else:
            if table:
                flush()
            para.append(line.strip())
    flush()
    return "\n".join(out)


def loss_figure(runs, task):
    fig, ax = plt.subplots(figsize=(7.5, 3.2))
    for r in runs:
        if r["task"] != task:
            continue
        loss = r["train_loss"]
        k = max(1, len(loss) // 200)  # light smoothing: mean over windows of k steps
        smooth = np.convolve(loss, np.ones(k) / k, mode="valid") if len(loss) >= k else loss
        ax.plot(np.arange(len(smooth)) + k, smooth, lw=1, label="%s seed %d" % (r["pos"], r["seed"]))
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("training loss")
    ax.set_title("%s: training loss" % task, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig


def sparkline(loss, width=160, height=28):
    """An inline SVG polyline of a loss curve (log scale)."""
    if len(loss) < 2:
        return ""
    y = np.log(np.maximum(np.asarray(loss, dtype=float), 1e-12))
    lo, hi = float(y.min()), float(y.max())
    xs = np.linspace(0, width, len(y))
    ys = height - 2 - (y - lo) / (hi - lo if hi > lo else 1) * (height - 4)
    step = max(1, len(y) // width)
    pts = " ".join("%.1f,%.1f" % (x, v) for x, v in zip(xs[::step], ys[::step]))
    return ('<svg width="%d" height="%d" role="img" aria-label="loss curve">'
            '<polyline fill="none" stroke="#2a5d9f" stroke-width="1" points="%s"/></svg>'
            % (width, height, pts))


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out_dir = sys.argv[1]
    runs = load_runs(os.path.join(out_dir, "results.h5"))
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             "<title>relgrad experiment: %s</title>" % html.escape(out_dir),
             "<style>%s</style></head><body>" % CSS,
             "<h1>relgrad experiment: %s</h1>" % html.escape(out_dir)]
    tasks = sorted({r["task"] for r in runs})
    total = sum(r["wall"] for r in runs)
    parts.append('<p class="note">%d runs (%s), %.1f min of training and evaluation in all. '
                 "Made by tools/report.py from results.h5, table.md, plot.png and the attention "
                 "maps in report/.</p>" % (len(runs), ", ".join(tasks), total / 60))

    # the tables of table.md, from results.h5 (so a report of an older
    # experiment marks unfitted runs too)
    parts.append('<div class="table">%s</div>'
                 % markdown_to_html("\n".join(tables.experiment_tables(runs))))
    plot = os.path.join(out_dir, "plot.png")
    if os.path.exists(plot):
        parts.append("<h2>Exact match against length</h2>")
        parts.append('<img id="plot" alt="exact match against evaluation length" src="%s">'
                     % png_data(plot))

    maps = sorted(glob.glob(os.path.join(out_dir, "report", "attention-*.h5")))
    if maps:
        parts.append("<h2>Attention maps</h2>")
        parts.append('<p class="note">Per layer (rows) and head (columns): the attention '
                     "probabilities of evaluation example 0 at the training length (left) and at "
                     "twice it (right), from the first seed's final checkpoint, through the pass "
                     "evaluation makes (a decoder's cached decoding, an encoder's one forward). "
                     "Rows are queries, columns keys (an encoder's keys before and after the "
                     "query: the full matrix); the dashed lines mark where the answer starts. "
                     "d: mean attended distance (positions back, signed: negative means to the "
                     "right), e: entropy (nats), averaged over queries; an encoder's L and R: the "
                     "share of attention on keys left and right of the query, and which way the "
                     "head mostly looks.</p>")
        parts.append('<div class="maps">')
        for h5 in maps:
            png = h5[:-3] + ".png"
            attention_maps.draw(h5, png)
            name = os.path.basename(h5)[len("attention-"):-3]
            parts.append("<h3>%s</h3>" % html.escape(name.replace("-", ", pos ", 1)))
            parts.append('<img alt="attention maps %s" src="%s">' % (html.escape(name), png_data(png)))
        parts.append("</div>")
    drawn = {os.path.basename(h5)[len("attention-"):-3] for h5 in maps}
    missing = sorted({"%s, pos %s" % (r["task"], r["pos"]) for r in runs
                      if "%s-%s" % (r["task"], r["pos"].replace(",", "+")) not in drawn})
    if missing:
        parts.append('<p class="note">No attention maps for: %s (relgrad experiment said why on '
                     "stderr, e.g. a learned table too short for twice the training length).</p>"
                     % html.escape("; ".join(missing)))

    parts.append("<h2>Training loss</h2>")
    for task in tasks:
        parts.append('<img alt="training loss, %s" src="%s">' % (html.escape(task),
                                                                  png_data(loss_figure(runs, task))))

    parts.append("<h2>Runs</h2>")
    parts.append('<p class="note">fit: exact match at the training length; %s: below the '
                 "run's fit_threshold (it did not fit). selected: the step whose parameters "
                 "were evaluated (select = best: the best validation exact match, shown in "
                 "brackets).</p>" % tables.DAGGER)
    parts.append('<table><tr><th class="l">task</th><th class="l">pos</th><th>seed</th>'
                 "<th>steps</th><th>fit</th><th>selected</th><th>wall time (s)</th><th>final loss</th>"
                 '<th class="l">loss curve (log)</th><th class="l">exact match by length</th>'
                 '<th class="l">config</th></tr>')
    for r in runs:
        loss = r["train_loss"]
        final = "%.3g" % float(np.mean(loss[-20:])) if len(loss) else "-"
        exact = ", ".join("%d: %.2f" % (n, a) for n, a in zip(r["eval_len"], r["exact_match"]))
        cfg = "".join('<tr><td class="l">%s</td><td class="l">%s</td></tr>'
                      % (html.escape(k), html.escape(str(v))) for k, v in r["cfg"].items())
        selected = "-" if r["selected_step"] is None else "%d" % r["selected_step"]
        if r["val_exact_match"] is not None:
            selected += " (%.2f)" % r["val_exact_match"]
        parts.append('<tr><td class="l">%s</td><td class="l">%s</td><td>%d</td><td>%d</td>'
                     '<td>%s</td><td>%s</td>'
                     '<td>%.1f</td><td>%s</td><td class="l">%s</td><td class="l">%s</td>'
                     '<td class="l"><details><summary>config</summary><table>%s</table>'
                     "</details></td></tr>"
                     % (html.escape(r["task"]), html.escape(r["pos"]), r["seed"], len(loss),
                        html.escape(fit_text(r)), selected,
                        r["wall"], final, sparkline(loss), html.escape(exact), cfg))
    parts.append("</table></body></html>")

    path = os.path.join(out_dir, "report.html")
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w") as f:
        f.write("\n".join(parts) + "\n")
    os.replace(tmp, path)
    print("report: wrote %s" % path)


if __name__ == "__main__":
    main()
