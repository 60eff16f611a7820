#!/usr/bin/python3
"""A trained checkpoint in PyTorch gives relgrad's logits. For each case:
train a small run with build/relgrad (float32), dump one batch of the
trained model with `relgrad-f64 dump --checkpoint CKPT --out D.h5`, load
the checkpoint with tools/relgrad.Model.from_checkpoint(CKPT, float64), run
it on /batch/tokens at /batch/positions (and /mems when the model has
memory) and compare with /logits: max|a - b| / max|b| <= 1e-12. Also: the
dump's parameters are the checkpoint's (the trained model, not a fresh
one), and the dump's loss is what masked_ce gives on PyTorch's logits.
Cases: a single scheme; a per-layer hybrid read at random positions; a
relative scheme with segment memory. Needs build/relgrad and
build/relgrad-f64 (RELGRAD_BIN, RELGRAD_F64_BIN); exit 77 if missing."""
import os
import sys
import tempfile

import h5py
import numpy as np
import torch

import common
import relgrad

TOL = 1e-12
# name, training overrides (tests/robust/tiny.ini: d_model 16, 2 heads), dump overrides
CASES = [
    ("none", ["pos=none"], []),
    ("hybrid fire,t5 at random positions", ["pos=fire,t5", "n_layers=2"], ["random_positions=40"]),
    ("xl with memory", ["pos=xl", "mem_len=4", "segment_len=6"], []),
]


def rel_err(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return float("inf")
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-30))


def check_case(check, tmp, name, train_args, dump_args, f32, f64):
    out = os.path.join(tmp, name.split()[0])
    common.run([f32, "train", "tests/robust/tiny.ini", "steps=60", "lr=3e-3", "checkpoint_every=60",
                "out_dir=" + out, "--quiet"] + train_args)
    ckpt, dump = os.path.join(out, "checkpoint.h5"), os.path.join(out, "dump.h5")
    common.run([f64, "dump", "--checkpoint", ckpt, "--out", dump, "--quiet"] + dump_args)
    model = relgrad.Model.from_checkpoint(ckpt, dtype=torch.float64)
    _, state = relgrad.load_checkpoint(ckpt)
    with h5py.File(dump, "r") as f:
        same = all(np.array_equal(f["params"][n][()], state[n].double().numpy()) for n in state)
        check(same and set(f["params"]) == set(state),
              "%s: the dump holds the checkpoint's parameters (float32 values, as float64)" % name)
        tokens = torch.from_numpy(f["batch/tokens"][()].astype(np.int64))
        pos = torch.from_numpy(f["batch/positions"][()].astype(np.int64))
        targets = torch.from_numpy(f["batch/targets"][()].astype(np.int64))
        mask = torch.from_numpy(f["batch/mask"][()])
        mems = mem_pos = None
        if "mems" in f:
            mems = [torch.from_numpy(f["mems/%d" % l][()]) for l in range(model.cfg["n_layers"])]
            mem_pos = torch.from_numpy(f["mems/positions"][()].astype(np.int64))
        want, want_loss = f["logits"][()], float(f["loss"][()])
        random = not np.array_equal(pos.numpy(), np.arange(pos.shape[1])[None, :].repeat(pos.shape[0], 0)
                                    + int(f["batch/offset"][()]))
    if "random" in name:
        check(random, "%s: the batch's positions are not 0..T-1 (random positions reached the dump)" % name)
    if mems is not None:
        check(mems[0].shape[1] > 0, "%s: the dump carries %d memory rows" % (name, mems[0].shape[1]))
    with torch.no_grad():
        logits = model(tokens, pos, mems=mems, mem_pos=mem_pos)
        loss = float(relgrad.masked_ce(logits, targets, mask))
    err = rel_err(logits.numpy(), want)
    check(err <= TOL, "%s: PyTorch logits vs relgrad's, relative error %.2e <= %.0e" % (name, err, TOL))
    check(abs(loss - want_loss) <= TOL * abs(want_loss),
          "%s: loss %.15g (PyTorch) vs %.15g (relgrad)" % (name, loss, want_loss))


def main():
    check = common.Checks()
    torch.set_num_threads(1)
    f32 = common.binary("RELGRAD_BIN", "build/relgrad")
    f64 = common.binary("RELGRAD_F64_BIN", "build/relgrad-f64")
    with tempfile.TemporaryDirectory() as tmp:
        for name, train_args, dump_args in CASES:
            check_case(check, tmp, name, train_args, dump_args, f32, f64)
    return check.finish("test_checkpoint_logits")


if __name__ == "__main__":
    sys.exit(main())
