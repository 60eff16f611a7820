#!/usr/bin/python3
"""attention_maps.py: draw the attention maps that `relgrad attention` writes
(HDF5, format "relgrad-attention", docs/format.md: one group /len_<n> per
length with probs [L,H,T,T], mean_distance, entropy, left_share and
right_share [L,H]; the root's arch attribute) as a grid of heatmaps: one
block per length side by side (the training length, then 2x), a row per
layer and a column per head; each panel is titled with the head's mean
attended distance (d, signed p_i - p_j) and entropy (e, nats). Rows are
queries, columns keys, the whole T x T matrix: a decoder's is empty above
the diagonal, an encoder's (arch = encoder) is full, and its panels also
give the share of attention on keys left (L) and right (R) of the query and
which way the head mostly looks. The dashed lines mark where the answer
starts: a decoder's queries from there on predict it; an encoder's ANS
slots start there. A dotted line marks where trailing PAD starts (an
encoder's PAD keys get 0).

usage: /usr/bin/python3 tools/attention_maps.py MAPS.h5 OUT.png [--title TEXT]
Needs Debian's python3-h5py, python3-numpy and python3-matplotlib.
"""
import os
import sys

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.colors import PowerNorm  # noqa: E402
import numpy as np  # noqa: E402


def attr(obj, name):
    value = obj.attrs[name]
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.item()
    return value


def load(path):
    """(root attributes, [map dicts sorted by length])"""
    with h5py.File(path, "r") as f:
        if attr(f, "format") != "relgrad-attention":
            raise SystemExit(f"attention_maps.py: {path} is not a relgrad attention file")
        root = {k: attr(f, k) for k in f.attrs}
        root.setdefault("arch", "decoder")  # files from before encoders had no maps of them
        maps = []
        for name, g in f.items():
            if not name.startswith("len_"):
                continue
            T = g["probs"].shape[2]
            maps.append({
                "len": int(attr(g, "length")), "example": int(attr(g, "example")),
                "prompt_len": int(attr(g, "prompt_len")), "train_len": int(attr(g, "train_len")),
                "n_real": int(attr(g, "n_real")) if "n_real" in g.attrs else T,
                "probs": g["probs"][()], "mean_distance": g["mean_distance"][()],
                "entropy": g["entropy"][()], "positions": g["positions"][()],
                "left_share": g["left_share"][()] if "left_share" in g else None,
                "right_share": g["right_share"][()] if "right_share" in g else None,
            })
    maps.sort(key=lambda m: m["len"])
    return root, maps


def direction(left, right):
    """Which way a head mostly looks (as relgrad's rg_attention_direction):
    left or right when more than half of its attention is on that side."""
    return "left" if left > 0.5 else "right" if right > 0.5 else "mixed"


def draw(path, out, title=None):
    root, maps = load(path)
    encoder = root["arch"] == "encoder"
    L, H = maps[0]["probs"].shape[:2]
    fig = plt.figure(figsize=(max(6.0, 1.9 * H * len(maps) + 0.6), 2.1 * L + 1.0))
    subs = fig.subfigures(1, len(maps), wspace=0.03) if len(maps) > 1 else [fig]
    norm = PowerNorm(gamma=0.5, vmin=0.0, vmax=1.0)
    image, last = None, None
    for sub, m in zip(subs, maps):
        which = "training length" if m["len"] == m["train_len"] else f"{m['len'] / m['train_len']:g}x training"
        kind = "\nencoder: queries attend both ways" if encoder else ""
        sub.suptitle(f"length {m['len']} ({which}), example {m['example']}, "
                     f"{m['probs'].shape[2]} tokens{kind}", fontsize=10)
        axes = sub.subplots(L, H, squeeze=False)
        last = (sub, axes)
        for l in range(L):
            for h in range(H):
                ax = axes[l][h]
                P = m["probs"][l, h]
                image = ax.imshow(P, cmap="magma", norm=norm, interpolation="nearest")
                # a decoder's query prompt_len-1 predicts y_1; an encoder's
                # first ANS slot is token prompt_len
                start = m["prompt_len"] - (0.5 if encoder else 1.5)
                ax.axhline(start, color="#7fd4ff", lw=0.6, ls="--")
                ax.axvline(start, color="#7fd4ff", lw=0.6, ls="--")
                if m["n_real"] < P.shape[1]:  # trailing PAD
                    ax.axhline(m["n_real"] - 0.5, color="#7fd4ff", lw=0.6, ls=":")
                    ax.axvline(m["n_real"] - 0.5, color="#7fd4ff", lw=0.6, ls=":")
                ax.set_xticks([])
                ax.set_yticks([])
                text = f"layer {l} head {h}\nd {m['mean_distance'][l, h]:+.1f}  e {m['entropy'][l, h]:.2f}"
                if encoder and m["left_share"] is not None:
                    left, right = m["left_share"][l, h], m["right_share"][l, h]
                    text += f"\nL {left:.2f} R {right:.2f} {direction(left, right)}"
                ax.set_title(text, fontsize=7)
    if image is not None:
        last[0].colorbar(image, ax=last[1].ravel().tolist(), shrink=0.7, pad=0.02,
                         label="P (sqrt scale)")
    if title:
        fig.text(0.005, 0.005, title, fontsize=6, color="#666666")
    tmp = f"{out}.tmp.{os.getpid()}.png"
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, out)


def main():
    args = sys.argv[1:]
    title = None
    if "--title" in args:
        i = args.index("--title")
        if i + 1 >= len(args):
            sys.exit(__doc__)
        title = args[i + 1]
        del args[i:i + 2]
    if len(args) != 2:
        sys.exit(__doc__)
    draw(args[0], args[1], title)
    print(f"attention maps: wrote {args[1]}")


if __name__ == "__main__":
    main()
