#!/usr/bin/python3
"""The user loader (tools/relgrad.py) on files `relgrad experiment` writes:
read_results rows against the results file and the runs' train logs (and a
hybrid group name with a comma), load_checkpoint's config types and SPEC
parameter set, Model.from_checkpoint's strict load, and that evaluating the
loaded model in PyTorch reproduces relgrad's recorded accuracies. Needs
build/relgrad (RELGRAD_BIN); exit 77 if it is missing."""
import os
import shutil
import sys
import tempfile

import h5py
import numpy as np
import torch

import common
import relgrad
import torch_train as tt

TASKS, POSITIONS, LENS, STEPS = ("copy", "reverse"), ("t5", "xl"), (1, 2, 5), 300


def check_results(check, out):
    """read_results on results.h5 and on a copy with a hybrid group name."""
    rows = relgrad.read_results(os.path.join(out, "results.h5"))
    check(len(rows) == len(TASKS) * len(POSITIONS) * len(LENS), "%d rows = runs x lengths" % len(rows))
    keys = {"task", "pos", "seed", "eval_len", "exact_match", "token_acc", "wall_seconds", "steps",
            "final_train_loss", "train_len", "fit", "fit_exact_match", "selected_step",
            "val_exact_match", "git_commit", "precision", "cpu_model", "config"}
    check(all(set(r) == keys for r in rows), "every row has exactly the documented keys")
    check(all(isinstance(r["task"], str) and isinstance(r["pos"], str) and isinstance(r["seed"], int)
              and isinstance(r["eval_len"], int) and isinstance(r["exact_match"], float) for r in rows),
          "plain Python types (str, int, float)")
    check({(r["task"], r["pos"], r["eval_len"]) for r in rows} ==
          {(t, p, n) for t in TASKS for p in POSITIONS for n in LENS}, "every (task, pos, length) once")
    check(all(r["steps"] == STEPS and 0 <= r["exact_match"] <= 1 and 0 <= r["token_acc"] <= 1
              and r["wall_seconds"] > 0 for r in rows), "steps, accuracies in [0,1], wall time > 0")
    check_provenance(check, rows)
    ok = True
    for r in rows:
        log = os.path.join(out, "runs", "%s-%s-%d" % (r["task"], r["pos"], r["seed"]), "train_log.csv")
        last = np.genfromtxt(log, delimiter=",", names=True)["loss"][-1]
        ok &= abs(r["final_train_loss"] - last) <= 1e-6 * abs(last)
    check(ok, "final_train_loss equals the last loss of each run's train_log.csv")
    hybrid = os.path.join(out, "hybrid.h5")
    shutil.copy(os.path.join(out, "results.h5"), hybrid)
    with h5py.File(hybrid, "a") as f:
        f.copy("runs/copy/t5", "runs/copy/rope,alibi")
    got = [r for r in relgrad.read_results(hybrid) if r["pos"] == "rope,alibi"]
    check(len(got) == len(LENS) and all(r["task"] == "copy" for r in got),
          "a hybrid group /runs/copy/rope,alibi/1 reads as pos 'rope,alibi'")
    return rows


def check_provenance(check, rows):
    """What each run records beside its curves: the full configuration, fit
    at the training length (5, one of LENS), the selected step, the build's
    commit (as --version says), precision and CPU model."""
    version = common.run([common.binary("RELGRAD_BIN", "build/relgrad"), "--version"])
    commit = next(l.split()[-1] for l in version.splitlines() if l.startswith("git commit"))
    fields = {}
    with open("/proc/cpuinfo") as f:
        for line in f:
            if not line.strip():
                break  # the first processor only
            if ":" in line:
                key, value = line.split(":", 1)
                fields.setdefault(key.strip(), value.strip())
    cpu = fields.get("model name") or "unknown"
    if "model name" in fields and "cpu family" in fields and "model" in fields:
        cpu = "%s (family %s, model %s)" % (fields["model name"], fields["cpu family"],
                                             fields["model"])
    check(all(r["git_commit"] == commit and r["precision"] == "float32" and r["cpu_model"] == cpu
              for r in rows), "git_commit = --version's (%s), precision float32, cpu_model = "
          "/proc/cpuinfo's (%s)" % (commit, cpu))
    with open(os.path.join(common.ROOT, "tests", "robust", "tiny.ini")) as f:
        tiny = {l.split("=")[0].strip() for l in f if "=" in l and not l.startswith(";")}
    check(all({"d_model", "select", "fit_threshold", "val_n", "eval_lens", "threads"} <= set(r["config"])
              and tiny <= set(r["config"]) and r["config"]["steps"] == STEPS for r in rows),
          "config: every key, those of tiny.ini among them, with the run's values")
    check(all(r["train_len"] == 5 and r["fit"] == (r["fit_exact_match"] >= 0.95)
              and r["fit_exact_match"] == next(q["exact_match"] for q in rows if q["task"] == r["task"]
                                               and q["pos"] == r["pos"] and q["eval_len"] == 5)
              for r in rows), "fit: exact match at train_len (5) against fit_threshold 0.95")
    check(all(r["selected_step"] == STEPS and r["val_exact_match"] is None for r in rows),
          "select = last: selected_step = steps, no validation score")


def check_checkpoint(check, out, rows):
    """load_checkpoint and Model.from_checkpoint on one run's checkpoint."""
    path = os.path.join(out, "runs", "copy-t5-1", "checkpoint.h5")
    cfg, state = relgrad.load_checkpoint(path)
    check(isinstance(cfg["pos"], str) and cfg["pos"] == "t5" and isinstance(cfg["d_model"], int)
          and isinstance(cfg["lr"], float) and cfg["format"] == "relgrad-checkpoint",
          "config: strings decoded, ints and floats typed (pos=%r d_model=%r lr=%r)" % (cfg["pos"], cfg["d_model"], cfg["lr"]))
    want = relgrad.expected_params(cfg)
    check(set(state) == set(want) and all(tuple(state[n].shape) == want[n] for n in want),
          "state_dict: exactly the SPEC parameter set for t5 (%d names, shapes right)" % len(want))
    check(all(t.dtype == torch.float32 for t in state.values()), "float32 tensors as stored")
    model = relgrad.Model.from_checkpoint(path)
    check(set(model.state_dict()) == set(want), "Model.from_checkpoint: parameters carry the SPEC names")
    logits = model(torch.tensor([[9, 1, 2, 10]]))
    check(tuple(logits.shape) == (1, 4, cfg["n_symbols"] + 4) and logits.dtype == torch.float64,
          "forward(tokens) -> float64 logits [1, 4, V]")
    res = tt.evaluate(model, cfg, list(LENS), cfg["eval_n"], [tt.eval_seed(n) for n in LENS])
    mine = {(r["eval_len"]): (r["exact_match"], r["token_acc"]) for r in rows if r["task"] == "copy" and r["pos"] == "t5"}
    check(all(abs(em - mine[n][0]) < 1e-12 and abs(acc - mine[n][1]) < 1e-12 for n, em, acc in res),
          "PyTorch evaluation of the checkpoint = relgrad's recorded accuracies: %s" % res)


def main():
    check = common.Checks()
    torch.set_num_threads(1)
    relgrad_bin = common.binary("RELGRAD_BIN", "build/relgrad")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "exp")
        common.run([relgrad_bin, "experiment", "tests/robust/tiny.ini", "steps=%d" % STEPS,
                    "tasks=" + ",".join(TASKS), "positions=" + ",".join(POSITIONS), "seeds=1",
                    "eval_lens=" + ",".join(map(str, LENS)), "lr=3e-3", "checkpoint_every=%d" % STEPS, "out_dir=" + out])
        rows = check_results(check, out)
        check_checkpoint(check, out, rows)
    return check.finish("test_readers")


if __name__ == "__main__":
    sys.exit(main())
