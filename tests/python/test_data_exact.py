#!/usr/bin/python3
"""tools/torch_train.py reproduces relgrad bit for bit: the batch that
`relgrad dump` draws from the training stream (tokens, targets, mask), the
initial parameters of rg_model_init (float32 and float64 builds), and the
first training steps (losses of `relgrad train` against torch_train's loop
on the same data and weights). Needs build/relgrad and build/relgrad-f64
(RELGRAD_BIN, RELGRAD_F64_BIN); exit 77 if they are missing."""
import os
import sys
import tempfile

import h5py
import numpy as np
import torch

import common
import relgrad
import torch_train as tt

CASES = [  # (binary env, default path, config, overrides)
    ("RELGRAD_F64_BIN", "build/relgrad-f64", "experiments/xcheck.ini", ["pos=t5"]),
    ("RELGRAD_F64_BIN", "build/relgrad-f64", "experiments/xcheck.ini", ["pos=deberta", "task=reverse", "seed=11"]),
    ("RELGRAD_BIN", "build/relgrad", "experiments/single.ini", ["pos=xl", "task=sort", "train_len=9"]),
    ("RELGRAD_BIN", "build/relgrad", "experiments/single.ini", ["pos=learned", "task=duplicate", "seed=5"]),
]


def check_dump(check, path, label):
    """The dump's batch and /params against torch_train's data and init."""
    cfg, state = relgrad.load_checkpoint(path)
    with h5py.File(path, "r") as f:
        tok, tgt, mask = f["batch/tokens"][()], f["batch/targets"][()], f["batch/mask"][()]
    rng = tt.Rng(tt.train_seed(cfg["seed"]))
    t, g, m, _ = tt.make_batch(cfg["task"], cfg["n_symbols"], cfg["batch_size"], cfg["train_len"],
                               cfg["train_len"], rng)
    check(t.shape == tok.shape and (t == tok).all() and (g == tgt).all() and (m == mask).all(),
          "%s: batch %s tokens, targets and mask identical" % (label, tok.shape))
    dtype = next(iter(state.values())).numpy().dtype
    init = tt.relgrad_init_values(cfg, cfg["seed"], dtype)
    same = [n for n in init if np.array_equal(init[n], state[n].numpy())]
    check(len(same) == len(init) == len(state), "%s: all %d initial parameters bit-identical (%s)"
          % (label, len(state), dtype))


def check_training(check, tmp):
    """Losses of the first 5 steps: relgrad train vs torch_train (float32)."""
    out = os.path.join(tmp, "run")
    common.run([common.binary("RELGRAD_BIN", "build/relgrad"), "train", "tests/robust/tiny.ini",
                "steps=5", "pos=alibi", "threads=1", "out_dir=" + out, "checkpoint_every=5"])
    want = np.genfromtxt(os.path.join(out, "train_log.csv"), delimiter=",", names=True)["loss"]
    cfg, _ = relgrad.load_checkpoint(os.path.join(out, "checkpoint.h5"))
    model = relgrad.Model(cfg, dtype=torch.float32)
    model.load_state_dict({n: torch.from_numpy(v) for n, v in tt.relgrad_init_values(cfg, cfg["seed"]).items()})
    got = np.array(tt.train(model, cfg, progress=False))
    err = float(np.max(np.abs(got - want) / np.abs(want)))
    check(got.shape == want.shape and err < 1e-5,
          "5 training steps: losses agree with relgrad's train_log.csv (max rel. diff %.1e)" % err)


def main():
    check = common.Checks()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        for i, (env, default, ini, over) in enumerate(CASES):
            path = os.path.join(tmp, "dump%d.h5" % i)
            common.run([common.binary(env, default), "dump", ini, "--out", path, "threads=1"] + over)
            check_dump(check, path, "%s %s %s" % (os.path.basename(default), os.path.basename(ini), " ".join(over)))
        check_training(check, tmp)
    return check.finish("test_data_exact")


if __name__ == "__main__":
    sys.exit(main())
