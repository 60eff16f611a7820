#!/usr/bin/python3
"""answer_slots.py: where in the answer a model goes wrong, from a dump.

    relgrad dump --checkpoint RUN/best.h5 --out d.h5 batch_size=256 train_len=20
    /usr/bin/python3 tools/answer_slots.py d.h5

A dump (docs/format.md, "relgrad dump") holds one training-style batch with
its logits, targets and loss mask. For every answer length in the batch this
prints, per answer slot k = 1, 2, ... (the loss mask's positions of a row in
order: a decoder's answer tokens and then its EOS), the share of rows whose
teacher-forced argmax at that slot is the target, and the share of rows with
every slot right. On addition the slots are the n + 1 digits of the sum
(least significant first with digits = lsb) and then EOS, so a model that
computes every digit but cannot end its answer shows 1.00s and then a low
last pair.

Output: a line per answer length with at least --min-rows rows:
    slots S  rows R  all A  |  a1 a2 ... aS
Needs Debian's python3-h5py and python3-numpy.
"""
import argparse
import sys

import h5py
import numpy as np


def slot_accuracy(logits, targets, mask):
    """{number of answer slots: (rows, all-right share, [share right per slot])}
    from logits [B,T,V], targets [B,T] and the loss mask [B,T]."""
    pred = logits.argmax(-1)
    by_len = {}
    for r in range(targets.shape[0]):
        idx = np.nonzero(mask[r] > 0)[0]
        if len(idx) == 0:
            continue
        by_len.setdefault(len(idx), []).append(pred[r, idx] == targets[r, idx])
    out = {}
    for slots, rows in sorted(by_len.items()):
        right = np.array(rows)  # (rows, slots)
        out[slots] = (len(rows), float(right.all(axis=1).mean()),
                      [float(v) for v in right.mean(axis=0)])
    return out


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dump", help="a dump written by `relgrad dump`")
    ap.add_argument("--min-rows", type=int, default=5,
                    help="skip answer lengths with fewer rows (default 5)")
    args = ap.parse_args(argv)
    try:
        with h5py.File(args.dump, "r") as f:
            logits = f["logits"][()]
            targets = f["batch/targets"][()]
            mask = f["batch/mask"][()]
    except (OSError, KeyError) as e:
        print(f"answer_slots.py: {args.dump}: not a relgrad dump with logits, "
              f"batch/targets and batch/mask ({e}); write one with `relgrad dump "
              f"--checkpoint CKPT --out FILE`", file=sys.stderr)
        return 2
    for slots, (rows, all_right, acc) in slot_accuracy(logits, targets, mask).items():
        if rows < args.min_rows:
            continue
        print(f"slots {slots:3d}  rows {rows:4d}  all {all_right:.2f}  |  "
              + " ".join(f"{a:.2f}" for a in acc))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
