#!/usr/bin/python3
"""check_attention.py: checks a file `relgrad attention` wrote (used by
attention.sh). usage: check_attention.py MAPS.h5 MAPS.png LEN EXAMPLE [CHECKPOINT]

  - one group per length, LEN and 2 LEN, with the example asked for;
  - probs [L,H,T,T], T = 2n+2 for copy (a decoder: BOS x SEP y EOS is 2n+3
    tokens, less the last; an encoder: BOS x SEP and n ANS slots);
  - every row sums to 1 within 1e-6 over its visible keys; a decoder's is
    exactly 0 above the diagonal, an encoder's (root attribute arch) is
    positive everywhere above it (keys after the query) and exactly 0 on
    PAD keys (n_real on);
  - mean_distance (signed p_i - p_j), entropy, left_share and right_share
    recomputed here from probs and positions agree; an encoder has a head
    that puts attention on keys to the right, a decoder none;
  - with CHECKPOINT: the PyTorch model of tools/relgrad.py, loaded from it in
    float64, gives the same probabilities on the file's tokens and positions
    within 2e-6 (the bound test_inspect.c holds float32 probabilities to);
  - the PNG is an image of a sensible size.
Exit 0 when all hold."""
import os
import sys

import h5py
import matplotlib.image
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))

P_TOL = 2e-6
path, png, base, example = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
ckpt = sys.argv[5] if len(sys.argv) > 5 else None
bad = []


def check(cond, what):
    print("  %-4s %s" % ("ok" if cond else "FAIL", what))
    if not cond:
        bad.append(what)


def text(value):
    return value.decode() if isinstance(value, bytes) else str(value)


model = None
if ckpt:
    import torch
    import relgrad
    model = relgrad.Model.from_checkpoint(ckpt, dtype=torch.float64)

with h5py.File(path, "r") as f:
    check(text(f.attrs["format"]) == "relgrad-attention", "format attribute")
    arch = text(f.attrs["arch"])
    encoder = arch == "encoder"
    print("  arch %s" % arch)
    check(sorted(f.keys()) == sorted(["len_%d" % base, "len_%d" % (2 * base)]), "groups %s" % sorted(f.keys()))
    for n in (base, 2 * base):
        g = f["len_%d" % n]
        P = g["probs"][()].astype(np.float64)
        pos = g["positions"][()].astype(np.float64)
        L, H, T, T2 = P.shape
        real = int(g.attrs["n_real"])
        check(T == T2 == 2 * n + 2, "len %d: probs %s, T = 2n+2 for copy" % (n, P.shape))
        check(int(g.attrs["example"]) == example, "len %d: example %d" % (n, example))
        check(0 < real <= T, "len %d: n_real %d of %d tokens" % (n, real, T))
        rows = np.abs(P[..., :real].sum(axis=-1) - 1).max()
        check(rows <= 1e-6, "len %d: rows sum to 1 over their visible keys (worst %.3g)" % (n, rows))
        check(P.min() >= 0, "len %d: no negative probabilities" % n)
        upper = np.triu(np.ones((T, T), dtype=bool), k=1)
        if encoder:
            above = P[..., :real, :real][..., upper[:real, :real]]
            check(above.min() > 0, "len %d: encoder: every key above the diagonal attended (smallest %.3g)"
                  % (n, above.min()))
            check(np.abs(P[..., real:]).max(initial=0) == 0, "len %d: PAD keys get 0" % n)
        else:
            above = np.abs(P[..., upper]).max()
            check(above == 0, "len %d: decoder: zeros above the diagonal (largest %.3g)" % (n, above))
        r = pos[:real, None] - pos[None, :]  # p_i - p_j over the real queries
        Q = P[..., :real, :]
        dist = (Q * r).sum(axis=-1).mean(axis=-1)
        with np.errstate(divide="ignore", invalid="ignore"):
            ent = -np.where(Q > 0, Q * np.log(Q), 0).sum(axis=-1).mean(axis=-1)
        left = np.where(r > 0, Q, 0).sum(axis=-1).mean(axis=-1)
        right = np.where(r < 0, Q, 0).sum(axis=-1).mean(axis=-1)
        check(np.allclose(dist, g["mean_distance"][()], atol=1e-5), "len %d: mean attended distance" % n)
        check(np.allclose(ent, g["entropy"][()], atol=1e-5), "len %d: entropy" % n)
        check(np.allclose(left, g["left_share"][()], atol=1e-5), "len %d: left share" % n)
        check(np.allclose(right, g["right_share"][()], atol=1e-5), "len %d: right share" % n)
        if encoder:
            check(right.max() > 0.1, "len %d: encoder: some head looks right (largest share %.3g)" % (n, right.max()))
        else:
            check(right.max() == 0, "len %d: decoder: no attention to the right" % n)
        # rows of queries that see more than one key are not all one-hot
        check(ent.max() > 0.01, "len %d: attention is spread somewhere (entropy %.3g)" % (n, ent.max()))
        if model is not None:
            check(model.cfg["arch"] == arch, "len %d: the checkpoint's arch is the file's" % n)
            tokens = torch.as_tensor(g["tokens"][()], dtype=torch.long)[None]
            positions = torch.as_tensor(g["positions"][()], dtype=torch.long)[None]
            with torch.no_grad():
                _, probs = model(tokens, positions, return_probs=True)
            ref = torch.stack([p[0] for p in probs]).numpy()  # [L,H,T,T]
            diff = np.abs(ref - P).max()
            check(diff <= P_TOL, "len %d: PyTorch's probabilities (tools/relgrad.py) agree: max difference %.3g"
                  % (n, diff))

img = matplotlib.image.imread(png)
check(img.ndim == 3 and img.shape[0] > 100 and img.shape[1] > 300, "PNG %s" % (img.shape,))
sys.exit(1 if bad else 0)
