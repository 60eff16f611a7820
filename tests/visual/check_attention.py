#!/usr/bin/python3
"""check_attention.py: checks a file `relgrad attention` wrote (used by
attention.sh). usage: check_attention.py MAPS.h5 MAPS.png LEN EXAMPLE

  - one group per length, LEN and 2 LEN, with the example asked for;
  - probs [L,H,T,T], T = 2n+2 for copy (BOS x SEP y EOS is 2n+3 tokens, less the last);
  - every row sums to 1 within 1e-6 and is exactly 0 above the diagonal;
  - mean_distance and entropy recomputed here from probs and positions agree;
  - the PNG is an image of a sensible size.
Exit 0 when all hold."""
import sys

import h5py
import matplotlib.image
import numpy as np

path, png, base, example = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
bad = []


def check(cond, what):
    print("  %-4s %s" % ("ok" if cond else "FAIL", what))
    if not cond:
        bad.append(what)


with h5py.File(path, "r") as f:
    fmt = f.attrs["format"]
    check((fmt.decode() if isinstance(fmt, bytes) else fmt) == "relgrad-attention", "format attribute")
    check(sorted(f.keys()) == sorted(["len_%d" % base, "len_%d" % (2 * base)]), "groups %s" % sorted(f.keys()))
    for n in (base, 2 * base):
        g = f["len_%d" % n]
        P = g["probs"][()].astype(np.float64)
        pos = g["positions"][()].astype(np.float64)
        L, H, T, T2 = P.shape
        check(T == T2 == 2 * n + 2, "len %d: probs %s, T = 2n+2 for copy (BOS x SEP y EOS, less one)" % (n, P.shape))
        check(int(g.attrs["example"]) == example, "len %d: example %d" % (n, example))
        rows = np.abs(P.sum(axis=-1) - 1).max()
        check(rows <= 1e-6, "len %d: rows sum to 1 (worst %.3g)" % (n, rows))
        above = np.abs(np.triu(P, k=1)).max()
        check(above == 0, "len %d: zeros above the diagonal (largest %.3g)" % (n, above))
        check(P.min() >= 0, "len %d: no negative probabilities" % n)
        dist = (P * (pos[:, None] - pos[None, :])).sum(axis=-1).mean(axis=-1)
        with np.errstate(divide="ignore", invalid="ignore"):
            ent = -np.where(P > 0, P * np.log(P), 0).sum(axis=-1).mean(axis=-1)
        check(np.allclose(dist, g["mean_distance"][()], atol=1e-5), "len %d: mean attended distance" % n)
        check(np.allclose(ent, g["entropy"][()], atol=1e-5), "len %d: entropy" % n)
        # rows of queries that see more than one key are not all one-hot
        check(ent.max() > 0.01, "len %d: attention is spread somewhere (entropy %.3g)" % (n, ent.max()))

img = matplotlib.image.imread(png)
check(img.ndim == 3 and img.shape[0] > 100 and img.shape[1] > 300, "PNG %s" % (img.shape,))
sys.exit(1 if bad else 0)
