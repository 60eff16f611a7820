"""test_bench_torch.py: the PyTorch side of tools/bench.sh times the SPEC model,
and bench.sh's encoder config and evaluation table run.

  - tools/bench_torch.py's Model (the model bench.sh times against relgrad)
    has exactly the SPEC parameters (tools/relgrad.py's expected_params:
    names and shapes) and, with random weights loaded into relgrad.py's
    Model (the implementation the 1e-11 cross-checks hold relgrad to), gives
    the same logits in float64 (relative error <= 1e-12): every scheme of
    the decoder, every encoder scheme bench_torch.py has, on batches laid
    out as bench_torch.py lays them out (the encoder's with rows padded by
    PAD, so the key mask is exercised);
  - the check can fail: an encoder with T5's causal buckets, or with the PAD
    keys left visible, is caught;
  - `tools/bench.sh --quick --configs e` (one scheme, no BLIS peak, no
    decoding, a short evaluation length) prints config e's row named
    "e: encoder d64 H8 L5 F256 B128 T82" with a time for relgrad and for
    PyTorch, and an evaluation row for each; both programs' logs report an
    encoder, 82 tokens per row and the same parameter count, the one
    expected_params gives for config e; an unknown config is refused (exit 2);
    with --torch-blis own the BLIS line says PyTorch ran on BLIS's own kernel
    choice, and a --torch-blis value other than same/own is refused (exit 2).
Exit 77 (skipped) when torch or the relgrad binary is missing.
"""
import os
import re
import subprocess
import sys
import tempfile

from common import ROOT, SKIP, Checks, binary

try:
    import torch
except ImportError:
    print("skip: no torch")
    sys.exit(SKIP)

import bench_torch  # noqa: E402  (tools/ is on sys.path: common.py)
import relgrad  # noqa: E402

SMALL = ["--d_model", "16", "--n_heads", "4", "--n_layers", "2", "--d_ff", "24", "--n_symbols", "5",
         "--t5_buckets", "8", "--t5_max_distance", "20", "--deberta_span", "3", "--max_positions", "64",
         "--fire_width", "6", "--fire_L", "8"]
CFG_KEYS = ("d_model", "n_heads", "n_layers", "d_ff", "n_symbols", "pos", "arch", "max_positions",
            "t5_buckets", "t5_max_distance", "deberta_span", "fire_width", "fire_L", "rope_base",
            "rope_scale", "init_std")


def models(arch, pos, seed=3):
    """(bench_torch's model in float64 with random weights, relgrad.py's with
    the same weights, bench_torch's args)."""
    a = bench_torch.parse_args(SMALL + ["--arch", arch, "--pos", pos])
    torch.manual_seed(seed)
    bm = bench_torch.Model(a).double()
    with torch.no_grad():
        for p in bm.parameters():  # every weight random, so that every term shows
            p.copy_(torch.randn(p.shape, dtype=torch.float64) * 0.5)
    rm = relgrad.Model({k: getattr(a, k) for k in CFG_KEYS}, dtype=torch.float64)
    return bm, rm, a


def batch(a, lens, seed=5):
    """Rows of the given lengths as bench_torch lays them out, padded with
    PAD to the longest: tokens [B,T]."""
    gen = torch.Generator().manual_seed(seed)
    rows = [bench_torch.task_batch(a, 1, n, gen)[0][0] for n in lens]
    T = max(len(r) for r in rows)
    pad = bench_torch.pad_token(a)
    return torch.stack([torch.cat([r, torch.full((T - len(r),), pad, dtype=torch.long)]) for r in rows])


def rel_err(bm, rm, tokens):
    with torch.no_grad():
        bm._ctx_cache.clear()
        b, r = bm(tokens), rm(tokens)
    return float((b - r).abs().max() / r.abs().max())


def main():
    check = Checks()
    cases = [("decoder", p) for p in ("none", "sinusoidal", "learned", "rope", "alibi", "t5", "xl",
                                      "deberta", "fire")]
    cases += [("encoder", p) for p in bench_torch.ENCODER_SCHEMES]
    for arch, pos in cases:
        bm, rm, a = models(arch, pos)
        want = relgrad.expected_params(rm.cfg)
        have = {n: tuple(t.shape) for n, t in bm.state_dict().items()}
        check(have == want, "%s %s: bench_torch's parameters are SPEC's (%d names)%s"
              % (arch, pos, len(want), "" if have == want else
                 ": extra %s, missing %s" % (sorted(set(have) - set(want)), sorted(set(want) - set(have)))))
        if have != want:
            continue
        rm.load_state_dict(bm.state_dict(), strict=True)
        lens = [12, 12, 12] if arch == "decoder" else [12, 5, 1]  # the encoder's rows padded; T = 26 > t5_max_distance
        err = rel_err(bm, rm, batch(a, lens))
        check(err <= 1e-12, "%s %s: logits equal relgrad.py's in float64 (relative error %.2e)"
              % (arch, pos, err))

    # the comparison catches an encoder that is wrong where bench_torch could be
    bm, rm, a = models("encoder", "t5")
    rm.load_state_dict(bm.state_dict(), strict=True)
    tokens = batch(a, [6, 3, 1])
    both_ways = bench_torch.t5_bucket_bidirectional
    bench_torch.t5_bucket_bidirectional = lambda r, nb, md: bench_torch.t5_bucket(max(r, 0), nb, md)
    err = rel_err(bm, rm, tokens)
    bench_torch.t5_bucket_bidirectional = both_ways
    check(err > 1e-6, "mutation: an encoder with T5's causal buckets is caught (relative error %.2e)" % err)
    pad_token = bench_torch.pad_token
    bench_torch.pad_token = lambda a: -1  # no key is PAD: padded rows see their PAD keys
    err = rel_err(bm, rm, tokens)
    bench_torch.pad_token = pad_token
    check(err > 1e-6, "mutation: an encoder that attends to PAD keys is caught (relative error %.2e)" % err)
    check(rel_err(bm, rm, tokens) <= 1e-12, "mutations undone: equal again")

    # bench.sh's config e and its evaluation table, end to end
    relgrad_bin = binary("RELGRAD_BIN", "build/relgrad")
    with tempfile.TemporaryDirectory() as logs:
        env = dict(os.environ, RELGRAD=relgrad_bin, BENCH_LOGS=logs)
        env.pop("BLIS_ARCH_TYPE", None)
        cmd = ["tools/bench.sh", "--quick", "--configs", "e", "--schemes", "t5", "--threads", "1",
               "--no-wait", "--no-peak", "--no-decode", "--no-two-jobs", "--eval-lens", "8",
               "--torch-blis", "own"]
        p = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        check(p.returncode == 0, "%s exits 0 (got %d; stderr ends %r)" % (" ".join(cmd), p.returncode,
                                                                          p.stderr[-600:]))
        num = r"[0-9]+\.[0-9]+"
        row = re.search(r"^\| e: encoder d64 H8 L5 F256 B128 T82 \(40 symbols\) \| t5 \| (%s)( \*)? \| (%s)( \*)? \|"
                        % (num, num), p.stdout, re.M)  # " *": the machine was busy
        check(row is not None, "bench.sh: config e's row, named, with relgrad and torch ms/step"
              + ("" if row else ":\n" + p.stdout[:1500]))
        ev = re.search(r"^\| 8 \| 18 \| (%s) \| (%s) \|" % (num, num), p.stdout, re.M)
        check(ev is not None, "bench.sh: the encoder's evaluation row at 8 symbols (18 tokens), both programs")
        check(re.search(r"^BLIS: .*; PyTorch ran with BLIS_ARCH_TYPE=unset \(BLIS's own choice\), gemm_peak with",
                        p.stdout, re.M) is not None,
              "bench.sh --torch-blis own: the BLIS line says PyTorch ran on BLIS's own choice")

        def config_line(name):
            path = os.path.join(logs, name)
            text = open(path).read() if os.path.exists(path) else ""
            m = re.search(r"^config: .*\barch (\w+) .*\bseq (\d+)\b.*\bparams (\d+)\b", text, re.M)
            return (m.group(1), int(m.group(2)), int(m.group(3))) if m else None

        cfg_e = relgrad.make_config(dict(d_model=64, n_heads=8, n_layers=5, d_ff=256, n_symbols=2, pos="t5",
                                         arch="encoder"))
        expected = sum(int(torch.tensor(s).prod()) for s in relgrad.expected_params(cfg_e).values())
        got_relgrad, got_torch = config_line("relgrad-e-t5-1.txt"), config_line("torch-e-t5-1.txt")
        check(got_relgrad == ("encoder", 82, expected) and got_torch == ("encoder", 82, expected),
              "config e: an encoder, 82 tokens per row and %d parameters on both sides (relgrad %s, torch %s)"
              % (expected, got_relgrad, got_torch))
        p = subprocess.run(["tools/bench.sh", "--quick", "--configs", "a,z"], cwd=ROOT, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        check(p.returncode == 2 and "unknown config 'z'" in p.stderr,
              "bench.sh --configs a,z: exit 2 naming z, before running anything (exit %d)" % p.returncode)
        p = subprocess.run(["tools/bench.sh", "--quick", "--torch-blis", "mine"], cwd=ROOT, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        check(p.returncode == 2 and "--torch-blis takes 'same' or 'own', not 'mine'" in p.stderr,
              "bench.sh --torch-blis mine: exit 2 naming the value (exit %d)" % p.returncode)
    return check.finish("test_bench_torch")


if __name__ == "__main__":
    sys.exit(main())
