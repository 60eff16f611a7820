#!/usr/bin/python3
"""torch_ref.py: the PyTorch cross-check of relgrad's gradient dumps.

What it is
    A reader of relgrad gradient dumps (SPEC section 4, written by
    `relgrad dump`) that recomputes loss, logits and every parameter
    gradient in float64 with torch autograd through the model of
    tools/relgrad.py (the one PyTorch implementation of SPEC), and compares
    them with the dump's values. Every scheme of SPEC sections 2, 6 and 8
    (none, sinusoidal, learned, rope, alibi, t5, xl, deberta, fire, cope),
    per-layer hybrids (pos = "rope,alibi"), positions as data (coupled ones
    too), segment memory, the abacus embedding (its ids as data) and index
    hints (hint tokens in the vocabulary).

How to run it (always with Debian's /usr/bin/python3, which has torch/h5py)
    /usr/bin/python3 tools/torch_ref.py DUMP.h5 [--tol T] [--quiet] [--ln-eps E]
        One line per compared quantity (loss, logits, every gradient), then a
        summary line with the worst error and PASS or FAIL.
        Exit 0 = PASS, 1 = FAIL, 2 = unreadable or malformed input.
        --tol defaults to 1e-11 for a float64 dump and 1e-4 for a float32 one.
        --ln-eps E computes the reference with LayerNorm epsilon E instead of
        SPEC's 1e-5: a mutation that a correct float64 dump must FAIL at
        1e-11 (tools/xcheck_mutation.sh), proving the tolerance bites.
    /usr/bin/python3 tools/torch_ref.py --make-dump OUT.h5 --pos SCHEME[,SCHEME..]
            [--mem M] [--random-positions L] [--seed N] [--legacy]
        Writes a dump of a small random model in the exact SPEC layout with
        the values computed here (a format example for the C side). --legacy
        leaves out /batch/positions and /mems/positions (the first format).
    /usr/bin/python3 tools/torch_ref.py --selftest
        Checks the scheme helpers against known values, causality, positions
        as data, memory, FIRE by hand, the parameter sets of hybrids, and the
        make-dump -> check round trip for every scheme, memory, random
        positions and hybrid lists.

Dump fields read (SPEC sections 4 and 6)
    /params, /grads, /loss, /logits, /batch/{tokens,targets,mask,offset},
    /batch/positions [B,T] (if missing: offset + t), /batch/abacus_ids [B,T]
    (a model with an abacus embedding; if missing: computed from the tokens),
    /mems/{l} [B,m,d] and
    /mems/positions [B,m] (if missing: offset - m + j); root attributes
    (pos may be a comma list; random_positions, fire_width, fire_L optional).

Relative error (used for every compared tensor, so results are comparable)
    err(a, b) = max|a - b| / max(max|b|, 1e-30)
    where a is the dump's value and b the PyTorch value. A shape mismatch or
    a NaN/Inf gives err = inf.

The dump must also hold exactly the parameter set SPEC requires for its
config (hybrid rules included), in /params and in /grads: missing or extra
names are a FAIL.
"""
import argparse
import os
import signal
import sys
import tempfile

import h5py
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import relgrad  # noqa: E402  (the model lives there)

DUMP_FORMATS = ("relgrad-dump", "relgrad-checkpoint")  # see the note in read_config
TOL_F64, TOL_F32 = 1e-11, 1e-4


class BadInput(Exception):
    """Unreadable or malformed input: exit status 2."""


# --------------------------------------------------------------------------
# Running the reference.
# --------------------------------------------------------------------------

def run_reference(cfg, params, batch, mems, ln_eps=relgrad.LN_EPS):
    """Forward + backward in float64 through relgrad.Model.
    batch: tokens, targets, mask, positions [B,T]; mems: None or
    {"states": [L x [B,m,d]], "positions": [B,m]}.
    Returns loss, logits, {name: grad} as numpy."""
    model = relgrad.Model(cfg, dtype=torch.float64)
    model.ln_eps = ln_eps
    model.load_state_dict({n: torch.tensor(np.asarray(v), dtype=torch.float64)
                           for n, v in params.items()}, strict=True)
    states = mem_pos = None
    if mems is not None:
        states = [torch.tensor(x, dtype=torch.float64) for x in mems["states"]]
        mem_pos = torch.tensor(mems["positions"], dtype=torch.long)
    ids = batch.get("abacus_ids")
    logits = model(torch.tensor(batch["tokens"], dtype=torch.long),
                   torch.tensor(batch["positions"], dtype=torch.long), states, mem_pos,
                   abacus_ids=None if ids is None else torch.tensor(ids, dtype=torch.long))
    loss = relgrad.masked_ce(logits, torch.tensor(batch["targets"], dtype=torch.long),
                             torch.tensor(batch["mask"], dtype=torch.float64))
    loss.backward()
    grads = {n: (p.grad if p.grad is not None else torch.zeros_like(p)).numpy()
             for n, p in model.named_parameters()}
    return float(loss), logits.detach().numpy(), grads


# --------------------------------------------------------------------------
# Reading a dump.
# --------------------------------------------------------------------------

def read_config(attrs):
    """The model config from a dump's root attributes (BadInput if wrong).
    SPEC ambiguity: section 4 says a dump has "the checkpoint's root
    attributes" while include/relgrad/io.h names the dump format
    "relgrad-dump"; both are accepted."""
    a = {k: relgrad.attr_value(attrs[k]) for k in attrs}
    fmt = a.get("format")
    if fmt not in DUMP_FORMATS:
        raise BadInput("root attribute 'format' is %r, expected one of %s" % (fmt, ", ".join(DUMP_FORMATS)))
    if a.get("format_version") != 1:
        raise BadInput("unsupported format_version %r (this reader knows 1)" % a.get("format_version"))
    if "pos" not in a:
        raise BadInput("root attribute 'pos' is missing")
    try:
        return relgrad.make_config(a)
    except (relgrad.ConfigError, TypeError, ValueError) as e:
        raise BadInput(str(e))


def _group(f, name):
    if name not in f or not isinstance(f[name], h5py.Group):
        raise BadInput("group /%s is missing" % name)
    out = {}
    f[name].visititems(lambda n, o: out.__setitem__(n, o[()]) if isinstance(o, h5py.Dataset) else None)
    return out


def _dataset(f, name):
    if name not in f or not isinstance(f[name], h5py.Dataset):
        raise BadInput("dataset /%s is missing" % name)
    return np.asarray(f[name][()])


def read_dump(path):
    """Everything in the dump, as numpy arrays (the file is closed afterwards):
    cfg, params, grads, batch, mems (None or states + positions), loss, logits."""
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise BadInput("cannot open %s as HDF5: %s" % (path, e))
    with f:
        cfg = read_config(f.attrs)
        params, grads = _group(f, "params"), _group(f, "grads")
        batch = {k: _dataset(f, "batch/" + k) for k in ("tokens", "targets", "mask", "offset")}
        batch["positions"] = _dataset(f, "batch/positions") if "batch/positions" in f else None
        batch["abacus_ids"] = _dataset(f, "batch/abacus_ids") if "batch/abacus_ids" in f else None
        loss, logits = _dataset(f, "loss"), _dataset(f, "logits")
        mems = None
        if "mems" in f and "mems/0" in f:
            mems = {"states": [_dataset(f, "mems/%d" % l) for l in range(cfg["n_layers"])],
                    "positions": _dataset(f, "mems/positions") if "mems/positions" in f else None}
    check_batch(cfg, batch)
    mems = check_mems(cfg, batch, mems)
    return cfg, params, grads, batch, mems, loss, logits


def check_batch(cfg, batch):
    """Validate /batch in place; fills positions = offset + t when missing."""
    tok = batch["tokens"]
    if tok.ndim != 2 or tok.size == 0 or not np.issubdtype(tok.dtype, np.integer):
        raise BadInput("/batch/tokens must be a non-empty integer [B,T] array, got %s %s" % (tok.dtype, tok.shape))
    B, T = tok.shape
    V = relgrad.vocab_size(cfg)
    if tok.min() < 0 or tok.max() >= V:
        raise BadInput("/batch/tokens has values outside [0, %d)" % V)
    for k in ("targets", "mask"):
        if batch[k].shape != (B, T):
            raise BadInput("/batch/%s has shape %s, expected %s" % (k, batch[k].shape, (B, T)))
    batch["mask"] = batch["mask"].astype(np.float64)
    if batch["mask"].sum() <= 0:
        raise BadInput("/batch/mask sums to %g; the loss is undefined" % batch["mask"].sum())
    bad = (batch["mask"] != 0) & ((batch["targets"] < 0) | (batch["targets"] >= V))
    if bad.any():
        raise BadInput("/batch/targets has values outside [0, %d) where the mask is on" % V)
    if batch["offset"].size != 1:
        raise BadInput("/batch/offset must be a scalar")
    batch["offset"] = int(batch["offset"].reshape(-1)[0])
    pos = batch["positions"]
    if pos is None:
        pos = batch["offset"] + np.tile(np.arange(T), (B, 1))
    elif pos.shape != (B, T) or not np.issubdtype(pos.dtype, np.integer):
        raise BadInput("/batch/positions must be an integer [B,T] = %s array, got %s %s" % ((B, T), pos.dtype, pos.shape))
    any_order = set(relgrad.layer_schemes(cfg)) <= set(relgrad.ANY_ORDER)
    if T > 1 and not any_order and not (np.diff(pos, axis=1) > 0).all():
        raise BadInput("/batch/positions must increase strictly along each row")
    if pos.min() < 0:
        raise BadInput("/batch/positions holds a negative position")
    if "learned" in relgrad.layer_schemes(cfg) and pos.max() >= cfg["max_positions"]:
        raise BadInput("learned positions up to %d exceed max_positions %d" % (pos.max(), cfg["max_positions"]))
    batch["positions"] = pos.astype(np.int64)
    ids = batch["abacus_ids"]
    if ids is not None:
        if cfg["abacus"] <= 0:
            raise BadInput("/batch/abacus_ids in a dump of a model without an abacus embedding")
        if ids.shape != (B, T) or not np.issubdtype(ids.dtype, np.integer):
            raise BadInput("/batch/abacus_ids must be an integer [B,T] = %s array" % ((B, T),))
        if ids.min() < 0 or ids.max() >= cfg["abacus_max"]:
            raise BadInput("/batch/abacus_ids has values outside [0, abacus_max = %d)" % cfg["abacus_max"])
        batch["abacus_ids"] = ids.astype(np.int64)


def check_mems(cfg, batch, mems):
    """Validate /mems; fills positions = offset - m + j when missing.
    The memory length m is taken from /mems (it may be shorter than mem_len
    when the previous segment was shorter). Returns None for no memory."""
    if mems is None:
        return None
    B = batch["tokens"].shape[0]
    states = mems["states"]
    M = states[0].shape[1] if states[0].ndim == 3 else -1
    for l, m in enumerate(states):
        if m.shape != (B, M, cfg["d_model"]):
            raise BadInput("/mems/%d has shape %s, expected [B=%d, M, d=%d] like /mems/0"
                           % (l, m.shape, B, cfg["d_model"]))
    if M == 0:
        return None
    if set(relgrad.layer_schemes(cfg)) & set(relgrad.ABSOLUTE):
        raise BadInput("pos %s with memory is a config error (SPEC section 2)" % cfg["pos"])
    pos = mems["positions"]
    if pos is None:
        pos = batch["offset"] - M + np.tile(np.arange(M), (B, 1))
    elif pos.shape != (B, M) or not np.issubdtype(pos.dtype, np.integer):
        raise BadInput("/mems/positions must be an integer [B,m] = %s array, got %s" % ((B, M), pos.shape))
    full = np.concatenate([pos, batch["positions"]], axis=1)
    if not (np.diff(full, axis=1) > 0).all():
        raise BadInput("/mems/positions followed by /batch/positions must increase strictly")
    return {"states": states, "positions": pos.astype(np.int64)}


# --------------------------------------------------------------------------
# Comparing.
# --------------------------------------------------------------------------

def rel_err(a, b):
    """max|a - b| / max(max|b|, 1e-30); a = dump value, b = PyTorch value."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return float("inf")
    if a.size == 0:
        return 0.0
    err = np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-30)
    return float(err) if np.isfinite(err) else float("inf")


def param_set_problems(want, params, grads):
    """Missing, extra and wrongly shaped names in /params and /grads."""
    problems = []
    for where, have in (("/params", params), ("/grads", grads)):
        missing = [n for n in want if n not in have]
        extra = sorted(n for n in have if n not in want)
        shape = ["%s %s (expected %s)" % (n, tuple(have[n].shape), want[n])
                 for n in want if n in have and tuple(have[n].shape) != want[n]]
        for label, names in (("missing", missing), ("extra", extra), ("wrong shape", shape)):
            if names:
                problems.append("%s %s: %s" % (where, label, ", ".join(names)))
    return problems


def check(path, tol=None, quiet=False, out=print, ln_eps=relgrad.LN_EPS):
    """Compare a dump with the PyTorch reference. Returns the exit status.
    tol None: 1e-11 for a float64 dump, 1e-4 for a float32 one."""
    try:
        cfg, params, grads, batch, mems, loss, logits = read_dump(path)
    except BadInput as e:
        out("torch_ref: %s: %s" % (path, e))
        return 2
    if tol is None:
        f64 = all(np.asarray(v).dtype == np.float64 for v in params.values())
        tol = TOL_F64 if f64 else TOL_F32
    want = relgrad.expected_params(cfg)
    M = 0 if mems is None else mems["states"][0].shape[1]
    B, T = batch["tokens"].shape
    out("dump %s: pos=%s d=%d H=%d L=%d F=%d V=%d B=%d T=%d M=%d offset=%d positions %d..%d%s" % (
        path, cfg["pos"], cfg["d_model"], cfg["n_heads"], cfg["n_layers"], cfg["d_ff"],
        relgrad.vocab_size(cfg), B, T, M, batch["offset"], batch["positions"].min(),
        batch["positions"].max(), "" if ln_eps == relgrad.LN_EPS else ", MUTATED ln_eps %g" % ln_eps))
    problems = param_set_problems(want, params, grads)
    for p in problems:
        out("param set FAIL: " + p)
    if not problems:
        out("param set ok: %d parameters for pos=%s" % (len(want), cfg["pos"]))
    if any(p.startswith("/params missing") or p.startswith("/params wrong") for p in problems):
        out("summary: cannot run the model (parameter set wrong): FAIL")
        return 1
    try:
        ref_loss, ref_logits, ref_grads = run_reference(cfg, {n: params[n] for n in want}, batch, mems, ln_eps)
    except ValueError as e:
        out("torch_ref: %s: %s" % (path, e))
        return 2
    rows = [("loss", rel_err(np.reshape(loss, ()) if np.size(loss) == 1 else loss, ref_loss)),
            ("logits", rel_err(logits, ref_logits))]
    # A gradient that is zero up to rounding (FIRE's fc2.bias: a constant per
    # score row, which softmax ignores) has no scale of its own; it is judged
    # against the model's largest gradient instead, at the same bound.
    largest = max((float(np.max(np.abs(ref_grads[n]))) for n in want if np.size(ref_grads[n])),
                  default=0.0)
    for n in want:
        if n not in grads:
            continue
        scale = float(np.max(np.abs(ref_grads[n]))) if np.size(ref_grads[n]) else 0.0
        if scale <= 1e-12 * largest:
            diff = float(np.max(np.abs(np.asarray(grads[n], np.float64) - ref_grads[n])))
            rows.append(("grad %s (zero up to rounding)" % n, diff / max(largest, 1e-30)))
        else:
            rows.append(("grad " + n, rel_err(grads[n], ref_grads[n])))
    worst_name, worst = max(rows, key=lambda r: r[1])
    for name, err in rows:
        if not quiet or err > tol:
            out("%-40s max_rel_err %.3e%s" % (name, err, "" if err <= tol else "  FAIL"))
    ok = worst <= tol and not problems
    out("summary: worst max_rel_err %.3e (%s), tol %.1e, %d compared%s: %s" % (
        worst, worst_name, tol, len(rows), ", parameter set wrong" if problems else "",
        "PASS" if ok else "FAIL"))
    return 0 if ok else 1


# --------------------------------------------------------------------------
# Writing a dump of a small random model (format example and self-test).
# --------------------------------------------------------------------------

def small_config(pos, mem, random_positions=0):
    """The make-dump model: tiny, 3 heads (not a power of two), small T5 and
    DeBERTa tables (bucketing and clamping happen), fire_L = 4 so FIRE's
    threshold falls inside the positions (with L = 1 a tie p_i = thr occurs).
    A hybrid list gets 3 layers so a 2-entry list repeats."""
    layers = 3 if "," in pos else 2
    return relgrad.make_config({
        "d_model": 12, "n_heads": 3, "n_layers": layers, "d_ff": 20, "pos": pos,
        "max_positions": 64, "rope_base": 10000.0, "rope_scale": 1.0, "t5_buckets": 8,
        "t5_max_distance": 20, "deberta_span": 4, "mem_len": mem, "segment_len": 7 if mem else 0,
        "init_std": 0.3, "n_symbols": 5, "task": "copy", "batch_size": 2, "fire_width": 5,
        "fire_L": 4.0, "random_positions": random_positions})


def random_params(cfg, rng, std=0.3):
    """Random values for every parameter: LayerNorm gains near 1, FIRE's c
    near 0.1 and L exactly 1 (its initial value), the rest N(0, std)."""
    P = {}
    for n, shape in relgrad.expected_params(cfg).items():
        P[n] = rng.normal(0.0, std, size=shape)
        if n.endswith(("ln1.weight", "ln2.weight")) or n == "ln_f.weight":
            P[n] += 1.0
        elif n.endswith("fire.c"):
            P[n] = 0.1 + 0.1 * P[n]
        elif n.endswith("fire.L"):
            P[n] = np.ones(shape)
    return P


def random_positions(rng, B, T, L):
    """Per row, a sorted uniformly random T-subset of 0 .. L-1 (SPEC section 6)."""
    return np.stack([np.sort(rng.choice(L, size=T, replace=False)) for _ in range(B)])


def make_dump(out_path, pos, mem=0, seed=0, rand_pos=0, fixed_strings=False, legacy=False):
    """Write a dump of a small random model with reference values computed
    here. Returns the loss."""
    try:
        cfg = small_config(pos, mem, rand_pos)
    except relgrad.ConfigError as e:
        raise BadInput(str(e))
    rng = np.random.RandomState(seed)
    B, T, V, L, d = 2, 7, relgrad.vocab_size(cfg), cfg["n_layers"], cfg["d_model"]
    params = random_params(cfg, rng)
    mask = (rng.rand(B, T) < 0.5).astype(np.float64)
    mask[rng.randint(B), rng.randint(T)] = 1.0
    offset = int(T * rng.randint(1, 4)) if mem else 0
    positions = random_positions(rng, B, T, rand_pos) if rand_pos else offset + np.tile(np.arange(T), (B, 1))
    if legacy and rand_pos:
        raise BadInput("--legacy dumps cannot carry random positions")
    batch = {"tokens": rng.randint(0, V, size=(B, T)).astype(np.int32),
             "targets": rng.randint(0, V, size=(B, T)).astype(np.int32),
             "mask": mask, "offset": offset, "positions": positions.astype(np.int32)}
    mems = None
    if mem:
        mems = {"states": [rng.normal(0.0, 1.0, size=(B, mem, d)) for _ in range(L)],
                "positions": (offset - mem + np.tile(np.arange(mem), (B, 1))).astype(np.int32)}
    loss, logits, grads = run_reference(cfg, params, batch, mems)
    with h5py.File(out_path, "w") as f:
        for k, v in cfg.items():
            if k in ("fire_width", "fire_L", "random_positions") and legacy:
                continue
            f.attrs[k] = np.bytes_(v) if fixed_strings and isinstance(v, str) else v
        f.attrs["seed"] = seed
        f.attrs["format"] = np.bytes_("relgrad-dump") if fixed_strings else "relgrad-dump"
        f.attrs["format_version"] = 1
        for n in params:
            f["params/" + n] = params[n]
            f["grads/" + n] = grads[n]
        f["batch/tokens"], f["batch/targets"] = batch["tokens"], batch["targets"]
        f["batch/mask"] = batch["mask"]
        f["batch/offset"] = np.int32(batch["offset"])
        if not legacy:
            f["batch/positions"] = batch["positions"]
        for l in range(L if mem else 0):
            f["mems/%d" % l] = mems["states"][l]
        if mem and not legacy:
            f["mems/positions"] = mems["positions"]
        f["loss"] = np.float64(loss)
        f["logits"] = logits
    return loss


# --------------------------------------------------------------------------
# Self-test.
# --------------------------------------------------------------------------

def _model(pos, mem=0, seed=7, rand_pos=0):
    """A small float64 model with random parameters (for the self-test)."""
    cfg = small_config(pos, mem, rand_pos)
    model = relgrad.Model(cfg, dtype=torch.float64)
    P = random_params(cfg, np.random.RandomState(seed))
    model.load_state_dict({n: torch.tensor(v) for n, v in P.items()}, strict=True)
    return model


def selftest_helpers(expect):
    """Scheme helpers against known values."""
    print("ALiBi slopes (Press et al. 2022)")
    s8, s12 = relgrad.alibi_slopes(8), relgrad.alibi_slopes(12)
    expect(s8 == [2.0 ** -(h + 1) for h in range(8)], "H=8: 1/2 .. 1/256")
    want12 = [2.0 ** -(h + 1) for h in range(8)] + [2.0 ** -0.5, 2.0 ** -1.5, 2.0 ** -2.5, 2.0 ** -3.5]
    expect(np.allclose(s12, want12, rtol=1e-15, atol=0), "H=12: 2^-1 .. 2^-8, 2^-0.5, 2^-1.5, 2^-2.5, 2^-3.5")
    expect(relgrad.alibi_slopes(3) == [2.0 ** -4, 2.0 ** -8, 2.0 ** -2], "H=3: 2^-4, 2^-8, 2^-2")

    print("T5 buckets, 32 buckets, max distance 128")
    b = [relgrad.t5_bucket(n, 32, 128) for n in range(2000)]
    expect(b[:16] == list(range(16)), "distances 0..15 map to themselves")
    expect(all(x == 31 for x in b[113:]) and b[112] == 30, "every distance >= 113 maps to 31 (112 -> 30)")
    expect(all(x <= y for x, y in zip(b, b[1:])), "buckets never decrease with distance")
    expect(b[16] == b[17] == b[18] == 16 and b[19] == 17, "16, 17, 18 share bucket 16; 19 -> 17")
    dist = torch.tensor([[0, 5, 17, 40, 500]])
    expect(relgrad.t5_buckets_of(dist, 32, 128).tolist() == [[b[0], b[5], b[17], b[40], b[500]]],
           "the tensor form equals the scalar rule")

    print("RoPE")
    g = torch.Generator().manual_seed(1)
    x = torch.randn(5, 8, generator=g, dtype=torch.float64)
    p = torch.tensor([0.0, 3.0, 7.0, 50.0, 1000.0])
    for s in (2.0, 4.0, 0.5):
        expect(torch.allclose(relgrad.rope_rotate(x, p, 10000.0, s), relgrad.rope_rotate(x, p / s, 10000.0, 1.0),
                              rtol=0, atol=1e-12), "scale %g at p equals scale 1 at p/%g" % (s, s))
    qv, kv = torch.randn(1, 8, generator=g, dtype=torch.float64), torch.randn(1, 8, generator=g, dtype=torch.float64)
    dots = [float(relgrad.rope_rotate(qv, torch.tensor([a + 9.0]), 100.0, 1.0)
                  @ relgrad.rope_rotate(kv, torch.tensor([a]), 100.0, 1.0).t()) for a in (0.0, 5.0, 123.0)]
    expect(max(dots) - min(dots) < 1e-12, "q.k after rotation depends only on the distance")


def selftest_fire(expect):
    """FIRE's bias for one (query, key) computed by hand from SPEC section 6."""
    print("FIRE by hand")
    model = _model("fire")
    fire = model.blocks[0].attn.fire
    c, L, fire_L = float(fire.c), float(fire.L), model.cfg["fire_L"]
    qpos, dist = torch.tensor([[2, 9]]), torch.tensor([[[0, 1, 2], [3, 7, 9]]])
    got = fire.bias(qpos, dist, fire_L).detach()  # [1,H,2,3]
    ok = True
    for i in range(2):
        for j in range(3):
            p, n = int(qpos[0, i]), int(dist[0, i, j])
            psi = lambda v: np.log(abs(c * v) + 1.0)  # noqa: E731
            z = psi(n) / (psi(max(p, abs(L * fire_L))) + 1e-6)
            hid = np.maximum(fire.fc1.weight.detach().numpy()[:, 0] * z + fire.fc1.bias.detach().numpy(), 0)
            want = fire.fc2.weight.detach().numpy() @ hid + fire.fc2.bias.detach().numpy()
            ok &= np.allclose(got[0, :, i, j].numpy(), want, rtol=1e-14, atol=1e-14)
    expect(ok, "f(z)[h] for p_i below and above thr = |L fire_L| = %g" % abs(L * fire_L))
    # the tie p_i = thr splits max's gradient half and half (SPEC section 6)
    Lp = torch.tensor([1.0], dtype=torch.float64, requires_grad=True)
    z = relgrad.fire_inputs(torch.tensor([[4]]), torch.tensor([[[3]]]),
                            torch.tensor([0.1], dtype=torch.float64), Lp, 4.0)
    z.sum().backward()
    psi = lambda v: np.log(abs(0.1 * v) + 1.0)  # noqa: E731
    full = -psi(3) / (psi(4) + 1e-6) ** 2 * (0.1 / (0.1 * 4 + 1)) * 4.0  # dz/dL without the split
    expect(abs(float(Lp.grad) - 0.5 * full) < 1e-15, "at p_i = thr dz/dL is half the untied value")


def selftest_positions(expect):
    """Positions are data: causality, translation, memory."""
    print("Causality: changing the last token changes no earlier logit")
    for pos in relgrad.SCHEMES + ("rope,alibi", "t5,deberta,none"):
        for mem in ((0, 5) if pos not in relgrad.ABSOLUTE else (0,)):
            model = _model(pos, mem)
            rng = np.random.RandomState(7)
            tok = torch.tensor(rng.randint(0, 9, size=(2, 7)))
            mems = [torch.tensor(rng.normal(size=(2, mem, 12))) for _ in model.blocks] if mem else None
            pids = torch.tensor(random_positions(rng, 2, 7, 40)) + 10 if not mem else None
            a = model(tok, pids, mems)
            tok2 = tok.clone()
            tok2[:, -1] = (tok2[:, -1] + 1) % 9
            c = model(tok2, pids, mems)
            expect(torch.equal(a[:, :-1], c[:, :-1]) and not torch.equal(a[:, -1], c[:, -1]),
                   "%s mem=%d" % (pos, mem))

    print("Positions are data: shifting every position by 13")
    rng = np.random.RandomState(3)
    tok = torch.tensor(rng.randint(0, 9, size=(2, 7)))
    pids = torch.tensor(random_positions(rng, 2, 7, 30))
    for pos in relgrad.SCHEMES + ("rope,alibi",):
        model = _model(pos)
        a, b = model(tok, pids), model(tok, pids + 13)
        diff = float((a - b).abs().max())
        if pos in relgrad.ABSOLUTE or pos == "fire":  # fire normalises by the query position
            expect(diff > 1e-6, "%s: logits change (%.1e)" % (pos, diff))
        else:
            expect(diff < 1e-12, "%s: logits unchanged (%.1e)" % (pos, diff))
    model = _model("alibi")
    expect(not torch.allclose(model(tok, pids), model(tok, torch.arange(7)[None].expand(2, 7))),
           "alibi: random positions differ from 0..T-1 (positions are read)")

    print("Memory: two segments with memory equal one forward (random positions too)")
    for pos in relgrad.RELATIVE + ("rope,alibi", "t5,deberta,none"):
        model = _model(pos, mem=8)
        full_pos = torch.tensor(random_positions(rng, 2, 12, 40))
        tok = torch.tensor(rng.randint(0, 9, size=(2, 12)))
        whole = model(tok, full_pos)
        first, mems, mpos = model(tok[:, :6], full_pos[:, :6], return_mems=True)
        second = model(tok[:, 6:], full_pos[:, 6:], mems, mpos)
        diff = float((torch.cat([first, second], 1) - whole).abs().max())
        expect(diff < 1e-12, "%s: max |difference| %.1e" % (pos, diff))


def selftest_params(expect):
    """Hybrid parameter sets (SPEC section 6)."""
    print("Parameter sets of hybrids")
    cfg = small_config("t5,deberta,none", 0)
    names = set(relgrad.expected_params(cfg))
    expect("t5_bias.weight" in names and "rel_emb.weight" in names, "t5,deberta,none: shared tables once")
    expect("blocks.1.attn.pos_k.weight" in names and "blocks.0.attn.pos_k.weight" not in names
           and "blocks.2.attn.pos_q.weight" not in names, "deberta matrices only in layer 1")
    cfg = small_config("rope,xl", 0)
    names = set(relgrad.expected_params(cfg))
    expect("blocks.1.attn.r.weight" in names and "blocks.2.attn.r.weight" not in names
           and "blocks.0.attn.r_w_bias" not in names, "rope,xl on 3 layers: xl only in layer 1")
    expect(relgrad.layer_schemes(cfg) == ["rope", "xl", "rope"], "the list repeats over the layers")
    for bad in ("rope,sinusoidal", "rope,,none", "rope,none,t5,t5", "rope,bogus"):
        try:
            small_config(bad, 0)
            expect(False, "%r is rejected" % bad)
        except relgrad.ConfigError:
            expect(True, "%r is rejected" % bad)
    model = relgrad.Model(small_config("fire,none", 0), dtype=torch.float64)
    expect(sorted(model.state_dict()) == sorted(relgrad.expected_params(model.cfg)),
           "Model's state_dict keys are the SPEC set (fire,none)")


def selftest_round_trip(expect, tmp):
    """make-dump -> check for every scheme, memory, random positions, hybrids."""
    print("make-dump -> check round trip")
    cases = []
    for i, pos in enumerate(relgrad.SCHEMES):
        cases.append((pos, 0, 0, i, False))
        if pos not in relgrad.ABSOLUTE:
            cases.append((pos, 5, 0, i, False))
        if pos not in relgrad.NO_POSITIONS:
            cases.append((pos, 0, 40, i, False))
    cases += [("rope,alibi", 0, 0, 20, False), ("rope,alibi", 5, 0, 21, False), ("rope,alibi", 0, 40, 22, False),
              ("t5,deberta,none", 0, 0, 23, False), ("t5,deberta,none", 5, 0, 24, False),
              ("t5,deberta,none", 0, 40, 25, False), ("fire,xl", 0, 40, 26, False),
              ("t5", 5, 0, 27, True), ("learned", 0, 0, 28, True)]  # legacy: no positions fields
    for pos, mem, rp, seed, legacy in cases:
        path = os.path.join(tmp, "%s_%d_%d_%d.h5" % (pos.replace(",", "+"), mem, rp, legacy))
        make_dump(path, pos, mem, seed=seed, rand_pos=rp, fixed_strings=mem > 0, legacy=legacy)
        log = []
        rc = check(path, tol=1e-13, out=log.append)
        expect(rc == 0, "%s mem=%d random_positions=%d%s: %s" % (pos, mem, rp, " legacy" if legacy else "", log[-1]))
    return os.path.join(tmp, "t5+deberta+none_5_0_0.h5")


def selftest_catches(expect, tmp, path):
    """The checker must catch mistakes."""
    print("The checker catches mistakes")
    log = []
    rc = check(path, out=log.append, ln_eps=1.001e-5)
    expect(rc == 1 and "FAIL" in log[-1], "ln_eps 1.001e-5 (mutation) is a FAIL at 1e-11: " + log[-1])
    with h5py.File(path, "a") as f:
        pos = f["batch/positions"][()]
        pos[0, -1] += 1
        f["batch/positions"][...] = pos
    log = []
    expect(check(path, out=log.append) == 1, "a changed last position is a FAIL: " + log[-1])
    with h5py.File(path, "a") as f:
        pos[0, -1] -= 1
        f["batch/positions"][...] = pos
        f["grads/blocks.1.attn.qkv.weight"][0, 0] += 1e-6
    log = []
    rc = check(path, out=log.append)
    expect(rc == 1 and "FAIL" in log[-1], "a perturbed gradient is a FAIL: " + log[-1])
    with h5py.File(path, "a") as f:
        del f["params/t5_bias.weight"]
        f["grads/pos_emb.weight"] = np.zeros((64, 12))
    log = []
    rc = check(path, out=log.append)
    text = "\n".join(log)
    expect(rc == 1 and "t5_bias.weight" in text and "pos_emb.weight" in text,
           "missing and extra parameters are a FAIL naming them")
    with h5py.File(path, "a") as f:
        f["batch/positions"][...] = pos[:, ::-1]
    expect(check(path, out=lambda s: None) == 2, "decreasing positions are malformed (exit 2)")
    with h5py.File(path, "a") as f:
        del f["loss"]
    expect(check(path, out=lambda s: None) == 2, "a dump without /loss is malformed (exit 2)")
    junk = os.path.join(tmp, "junk.h5")
    with open(junk, "w") as f:
        f.write("not hdf5\n")
    expect(check(junk, out=lambda s: None) == 2, "a non-HDF5 file is unreadable (exit 2)")


def selftest_methods(expect):
    """The methods of 2024 in the model: abacus ids, coupled positions, hints."""
    print("Abacus ids, coupled positions, index hints (SPEC section 8)")
    rng = np.random.RandomState(11)
    tok = rng.randint(0, 9, size=(3, 40))
    want = np.zeros_like(tok)
    for b in range(3):
        run = 0
        for t in range(40):
            run = run + 1 if tok[b, t] < 5 else 0
            want[b, t] = run
    expect((relgrad.abacus_ids_of(torch.tensor(tok), 5).numpy() == want).all(),
           "abacus_ids_of = each digit's 1-based index in its run, 0 elsewhere")
    cfg = dict(small_config("rope", 0), abacus=3, abacus_max=50)
    model = relgrad.Model(cfg, dtype=torch.float64)
    t = torch.tensor(tok)
    a, b = model(t), model(t, abacus_ids=torch.tensor(want))
    c = model(t, abacus_ids=torch.tensor(np.where(want > 0, want + 2, 0)))
    expect(torch.equal(a, b) and float((a - c).abs().max()) > 1e-6,
           "the ids default to the tokens' and a shift changes the logits")
    coupled = torch.tensor([[0, 3, 4, 2, 3, 4, 2, 3, 4, 5]])
    for pos in ("rope", "learned", "sinusoidal", "alibi"):
        model = _model(pos)
        try:
            model(torch.tensor(rng.randint(0, 9, size=(1, 10))), coupled)
            expect(pos in relgrad.ANY_ORDER, "%s takes positions that repeat and go down" % pos)
        except ValueError:
            expect(pos not in relgrad.ANY_ORDER, "%s refuses positions that go down" % pos)
    cfg = dict(small_config("rope", 0), index_hints=1, n_hints=7)
    expect(relgrad.vocab_size(relgrad.make_config(cfg)) == 5 + 7 + 4 and
           relgrad.pad_token(relgrad.make_config(cfg)) == 12, "hints come before the specials")


def selftest():
    failures = []

    def expect(cond, what):
        print("  %-4s %s" % ("ok" if cond else "FAIL", what))
        if not cond:
            failures.append(what)

    selftest_helpers(expect)
    selftest_fire(expect)
    selftest_positions(expect)
    selftest_params(expect)
    selftest_methods(expect)
    with tempfile.TemporaryDirectory() as tmp:
        path = selftest_round_trip(expect, tmp)
        selftest_catches(expect, tmp, path)
    print("selftest: %s" % ("PASS" if not failures else "FAIL (%d failed)" % len(failures)))
    return 0 if not failures else 1


def main(argv=None):
    ap = argparse.ArgumentParser(description="PyTorch reference check of a relgrad gradient dump (SPEC section 4).")
    ap.add_argument("dump", nargs="?", help="gradient dump file (HDF5) to check")
    ap.add_argument("--tol", type=float, default=None,
                    help="largest allowed max_rel_err (default 1e-11 for float64 dumps, 1e-4 for float32)")
    ap.add_argument("--quiet", action="store_true", help="print only failures and the summary")
    ap.add_argument("--ln-eps", type=float, default=relgrad.LN_EPS,
                    help="LayerNorm epsilon of the reference (mutation switch; SPEC: 1e-5)")
    ap.add_argument("--mutate", choices=["t5_direction"],
                    help="mutation switch: t5_direction flips the encoder's T5 direction bit "
                         "(keys after the query in the lower half); a correct dump must FAIL")
    ap.add_argument("--make-dump", metavar="OUT.h5", help="write a dump of a small random model")
    ap.add_argument("--pos", help="scheme or comma list of schemes for --make-dump")
    ap.add_argument("--mem", type=int, default=0, help="memory length M for --make-dump (default 0)")
    ap.add_argument("--random-positions", type=int, default=0, metavar="L",
                    help="--make-dump: positions a sorted random subset of 0..L-1 per row")
    ap.add_argument("--legacy", action="store_true", help="--make-dump: the first format (no positions)")
    ap.add_argument("--seed", type=int, default=0, help="seed for --make-dump (default 0)")
    ap.add_argument("--selftest", action="store_true", help="check the helpers and the round trip")
    args = ap.parse_args(argv)
    if args.selftest:
        return selftest()
    if args.make_dump:
        if not args.pos:
            ap.error("--make-dump needs --pos")
        try:
            loss = make_dump(args.make_dump, args.pos, args.mem, args.seed, args.random_positions,
                             legacy=args.legacy)
        except BadInput as e:
            print("torch_ref: %s" % e, file=sys.stderr)
            return 2
        print("wrote %s (pos=%s mem=%d random_positions=%d seed=%d loss=%.17g)" % (
            args.make_dump, args.pos, args.mem, args.random_positions, args.seed, loss))
        return 0
    if not args.dump:
        ap.error("give a DUMP.h5 to check, or --make-dump / --selftest")

    def out(line):
        print(line, file=sys.stderr if line.startswith("torch_ref:") else sys.stdout)
    if args.mutate == "t5_direction":
        def flipped(r, nb, max_dist):
            half = nb // 2
            return (half if r > 0 else 0) + relgrad.t5_bucket(abs(r), half, max_dist)
        relgrad.t5_bucket_bidirectional = flipped
    return check(args.dump, args.tol, args.quiet, out, args.ln_eps)


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # quiet `| head`
    sys.exit(main())
