#!/usr/bin/python3
"""tools/answer_slots.py: per-slot teacher-forced accuracy from a dump.
On arrays built by hand (which slots are right is known) and on a dump that
build/relgrad writes for addition (every row has n + 1 digit slots and an
EOS slot, and the shares equal an argmax comparison done here). Needs
build/relgrad (RELGRAD_BIN); exit 77 if it is missing."""
import os
import sys
import tempfile

import h5py
import numpy as np

import common
import answer_slots


def hand_made(check):
    """Two rows with 3 answer slots, one with 2: known right/wrong slots."""
    V, T = 5, 6
    targets = np.zeros((3, T), dtype=np.int32)
    mask = np.zeros((3, T), dtype=np.float32)
    logits = np.zeros((3, T, V), dtype=np.float32)
    mask[0, 2:5] = mask[1, 1:4] = mask[2, 4:6] = 1
    targets[:, :] = 3
    logits[:, :, 3] = 1.0  # argmax 3 = the target everywhere ...
    logits[1, 3, 4] = 2.0  # ... but row 1's last slot (position 3)
    logits[2, 4, 0] = 2.0  # and row 2's first slot (position 4)
    got = answer_slots.slot_accuracy(logits, targets, mask)
    check(sorted(got) == [2, 3], "answer lengths 2 and 3 found")
    check(got[3][0] == 2 and got[3][2] == [1.0, 1.0, 0.5], "3 slots: 2 rows, last slot right in half")
    check(got[3][1] == 0.5, "3 slots: all right in one row of two")
    check(got[2] == (1, 0.0, [0.0, 1.0]), "2 slots: first slot wrong, none all right")


def real_dump(check, tmp):
    """A dump of a fresh addition model at n = 6: 8 slots (7 digits and EOS)."""
    exe = common.binary("RELGRAD_BIN", "build/relgrad")
    out = os.path.join(tmp, "d.h5")
    common.run([exe, "dump", "experiments/single.ini", "--out", out, "task=addition",
                "n_symbols=10", "train_len=6", "batch_size=32", "--quiet"])
    with h5py.File(out, "r") as f:
        logits, targets, mask = f["logits"][()], f["batch/targets"][()], f["batch/mask"][()]
        tokens = f["batch/tokens"][()]
    got = answer_slots.slot_accuracy(logits, targets, mask)
    check(sum(rows for rows, _, _ in got.values()) == 32, "every row counted once")
    # a dump's rows have train_len = 6 digits: the answer is 7 digits, then EOS
    check(sorted(got) == [8], "slots = n + 2 = 8: %s" % sorted(got))
    pred = logits.argmax(-1)
    for slots, (rows, all_right, acc) in got.items():
        sel = [r for r in range(32) if int((mask[r] > 0).sum()) == slots]
        right = np.array([pred[r][mask[r] > 0] == targets[r][mask[r] > 0] for r in sel])
        check(np.allclose(acc, right.mean(axis=0)) and abs(all_right - right.all(axis=1).mean()) < 1e-12,
              "%d slots: shares equal the argmax comparison" % slots)
    check(tokens.shape == targets.shape, "tokens and targets align")


def main():
    check = common.Checks()
    hand_made(check)
    with tempfile.TemporaryDirectory() as tmp:
        real_dump(check, tmp)
    return check.finish("answer_slots")


if __name__ == "__main__":
    sys.exit(main())
