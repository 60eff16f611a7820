#!/usr/bin/python3
"""torch_ref.py: an independent PyTorch re-implementation of the relgrad model.

What it is
    A small, readable float64 PyTorch version of the model in SPEC.md
    (section 1) with every positional scheme of section 2 (none, sinusoidal,
    learned, rope, alibi, t5, xl, deberta), with and without Transformer-XL
    segment memory. It reads a relgrad gradient dump (SPEC section 4, written
    by `relgrad dump`), recomputes loss, logits and every parameter gradient
    with torch autograd, and compares them with the values in the dump.

How to run it (always with Debian's /usr/bin/python3, which has torch/h5py)
    /usr/bin/python3 tools/torch_ref.py DUMP.h5 [--tol 1e-6] [--quiet]
        One line per compared quantity (loss, logits, every gradient), then a
        summary line with the worst error and PASS or FAIL.
        Exit 0 = PASS, 1 = FAIL, 2 = unreadable or malformed input.
    /usr/bin/python3 tools/torch_ref.py --make-dump OUT.h5 --pos SCHEME [--mem M] [--seed N]
        Writes a dump of a small random model in the exact SPEC layout, with
        the values computed here (a format example for the C side).
    /usr/bin/python3 tools/torch_ref.py --selftest
        Checks the scheme helpers against known values, causality of every
        scheme, and the make-dump -> check round trip for every scheme.

Relative error (used for every compared tensor, so results are comparable)
    err(a, b) = max|a - b| / max(max|b|, 1e-30)
    where a is the dump's value and b the PyTorch value: the largest absolute
    difference relative to the largest magnitude of the reference tensor.
    A shape mismatch or a NaN/Inf gives err = inf. A float64 build should be
    near 1e-12 or better; a float32 build needs about --tol 1e-4.

The dump must also hold exactly the parameter set SPEC section 2 requires for
its scheme, in /params and in /grads: missing or extra names are a FAIL.
"""
import argparse
import math
import os
import signal
import sys
import tempfile

import h5py
import numpy as np
import torch

torch.set_default_dtype(torch.float64)

SCHEMES = ("none", "sinusoidal", "learned", "rope", "alibi", "t5", "xl", "deberta")
MEM_SCHEMES = ("none", "rope", "alibi", "t5", "xl", "deberta")  # relative: memory allowed
DUMP_FORMATS = ("relgrad-dump", "relgrad-checkpoint")  # see the note in read_config


class BadInput(Exception):
    """Unreadable or malformed input: exit status 2."""


# --------------------------------------------------------------------------
# Positional schemes: one small function per scheme's positional part.
# --------------------------------------------------------------------------

def sinusoidal_ape(pos, d):
    """Absolute sinusoidal embedding (Vaswani et al. 2017), interleaved:
    ape(p)[2m] = sin(p w_m), ape(p)[2m+1] = cos(p w_m), w_m = 10000^(-2m/d)."""
    w = 10000.0 ** (-2.0 * torch.arange(d // 2) / d)
    ang = pos.double()[:, None] * w[None, :]
    return torch.stack([torch.sin(ang), torch.cos(ang)], dim=-1).reshape(len(pos), d)


def rope_rotate(x, pos, base, scale):
    """RoPE (Su et al. 2021): rotate pairs (2m, 2m+1) of each head vector.
    x: [..., N, dh], pos: [N] absolute positions; angle = p * base^(-2m/dh) / scale
    (scale > 1 is position interpolation, Chen et al. 2023)."""
    dh = x.shape[-1]
    inv_freq = base ** (-2.0 * torch.arange(dh // 2) / dh)
    ang = pos.double()[:, None] * inv_freq[None, :] / scale  # [N, dh/2]
    cos, sin = torch.cos(ang), torch.sin(ang)
    x0, x1 = x[..., 0::2], x[..., 1::2]
    y0 = x0 * cos - x1 * sin
    y1 = x0 * sin + x1 * cos
    return torch.stack([y0, y1], dim=-1).flatten(-2)


def alibi_slopes(H):
    """ALiBi head slopes (Press et al. 2022). For H a power of two,
    s_h = 2^(-8(h+1)/H). Otherwise the paper's rule (its reference code): the
    slopes of the nearest lower power of two c, then every other slope of the
    2c-head sequence (starting with the first) until there are H slopes."""
    def pow2(n):
        return [2.0 ** (-8.0 * (h + 1) / n) for h in range(n)]
    if H & (H - 1) == 0:
        return pow2(H)
    c = 2 ** int(math.floor(math.log2(H)))
    return pow2(c) + pow2(2 * c)[0::2][:H - c]


def t5_bucket(n, nb, max_dist):
    """T5 causal relative-position bucket (Raffel et al. 2020) of distance
    n = i - j >= 0, as written in SPEC: exact buckets below e = nb/2, then
    logarithmic up to max_dist, in float64 with natural log and floor.
    SPEC ambiguity: for odd nb, e = nb // 2 (as T5's reference code does)."""
    e = nb // 2
    if n < e:
        return n
    return min(nb - 1, e + int(math.floor(math.log(n / e) / math.log(max_dist / e) * (nb - e))))


def xl_encoding(n, d):
    """Transformer-XL relative encoding e(n) (Dai et al. 2019), sines first:
    [sin(n w_0 .. n w_{d/2-1}), cos(n w_0 .. n w_{d/2-1})], w_m = 10000^(-2m/d).
    n: integer tensor of any shape -> [..., d]."""
    w = 10000.0 ** (-2.0 * torch.arange(d // 2) / d)
    ang = n.double()[..., None] * w
    return torch.cat([torch.sin(ang), torch.cos(ang)], dim=-1)


def xl_scores(q, k, u, v, r, dh):
    """Transformer-XL score of one head: ((q_i + u) . k_j + (q_i + v) . r(i-j)) / sqrt(dh).
    q [B,T,dh], k [B,N,dh], u, v [dh], r [T,N,dh] = r_h(i - j) for each (i, j)."""
    content = (q + u) @ k.transpose(-1, -2)
    position = torch.einsum("bid,ijd->bij", q + v, r)
    return (content + position) / math.sqrt(dh)


def deberta_rel(a, b, K):
    """DeBERTa relative index rel(a, b) = clamp(a - b, -K, K-1) + K in [0, 2K)
    (He et al. 2021, delta(i, j) of eq. 3), on absolute positions."""
    return torch.clamp(a - b, -K, K - 1) + K


def deberta_scores(q, k, kr, qr, c2p_idx, p2c_idx, dh):
    """DeBERTa disentangled attention of one head (He et al. 2021, eq. 4):
    (q_i . k_j + q_i . Kr[rel(i,j)] + k_j . Qr[rel(j,i)]) / sqrt(3 dh).
    kr, qr: [2K, dh] head slices of rel_emb Wpk^T and rel_emb Wpq^T."""
    c2c = q @ k.transpose(-1, -2)
    c2p = torch.einsum("bid,ijd->bij", q, kr[c2p_idx])
    p2c = torch.einsum("bjd,ijd->bij", k, qr[p2c_idx])
    return (c2c + c2p + p2c) / math.sqrt(3 * dh)


# --------------------------------------------------------------------------
# The model (SPEC section 1): pre-LN decoder-only Transformer.
# --------------------------------------------------------------------------

def expected_params(cfg):
    """Every parameter name and shape SPEC section 2 requires, in SPEC order."""
    d, H, F, V = cfg["d_model"], cfg["n_heads"], cfg["d_ff"], cfg["n_symbols"] + 4
    pos = cfg["pos"]
    s = {"tok_emb.weight": (V, d)}
    if pos == "learned":
        s["pos_emb.weight"] = (cfg["max_positions"], d)
    if pos == "t5":
        s["t5_bias.weight"] = (cfg["t5_buckets"], H)
    if pos == "deberta":
        s["rel_emb.weight"] = (2 * cfg["deberta_span"], d)
    for l in range(cfg["n_layers"]):
        p = "blocks.%d." % l
        s[p + "ln1.weight"] = s[p + "ln1.bias"] = (d,)
        s[p + "attn.qkv.weight"], s[p + "attn.qkv.bias"] = (3 * d, d), (3 * d,)
        s[p + "attn.proj.weight"], s[p + "attn.proj.bias"] = (d, d), (d,)
        if pos == "xl":
            s[p + "attn.r.weight"] = (d, d)
            s[p + "attn.r_w_bias"] = s[p + "attn.r_r_bias"] = (H, d // H)
        if pos == "deberta":
            s[p + "attn.pos_k.weight"] = s[p + "attn.pos_q.weight"] = (d, d)
        s[p + "ln2.weight"] = s[p + "ln2.bias"] = (d,)
        s[p + "mlp.fc1.weight"], s[p + "mlp.fc1.bias"] = (F, d), (F,)
        s[p + "mlp.fc2.weight"], s[p + "mlp.fc2.bias"] = (d, F), (d,)
    s["ln_f.weight"] = s["ln_f.bias"] = (d,)
    s["lm_head.weight"] = (V, d)
    return s


def layer_norm(x, g, b):
    mean = x.mean(-1, keepdim=True)
    var = ((x - mean) ** 2).mean(-1, keepdim=True)  # population variance
    return g * (x - mean) / torch.sqrt(var + 1e-5) + b


def gelu(x):
    return x * 0.5 * (1.0 + torch.erf(x / math.sqrt(2.0)))  # exact GELU


def linear(x, W, b=None):
    y = x @ W.t()
    return y if b is None else y + b


def attention(cfg, P, pre, a, M, offset):
    """One attention sublayer. a = LN(concat(mem, h)) over M+T rows."""
    d, H = cfg["d_model"], cfg["n_heads"]
    dh, pos = d // H, cfg["pos"]
    W, bias = P[pre + "attn.qkv.weight"], P[pre + "attn.qkv.bias"]
    q = linear(a[:, M:], W[:d], bias[:d])            # queries: current rows only
    k = linear(a, W[d:2 * d], bias[d:2 * d])          # keys/values: memory + current
    v = linear(a, W[2 * d:], bias[2 * d:])
    T, N = q.shape[1], k.shape[1]
    qpos = offset + torch.arange(T)                   # absolute query positions
    kpos = offset - M + torch.arange(N)               # absolute key positions
    dist = qpos[:, None] - kpos[None, :]              # i - j, [T, N]
    causal = dist >= 0                                # same as key index j <= M + i

    # Per-layer positional tensors shared by all heads.
    if pos == "t5":
        nb, md = cfg["t5_buckets"], cfg["t5_max_distance"]
        bucket = torch.tensor([[t5_bucket(max(int(n), 0), nb, md) for n in row] for row in dist])
    if pos == "xl":  # r(n) = e(n) Wr^T for every (i, j), split into heads below
        R = linear(xl_encoding(dist, d), P[pre + "attn.r.weight"])
    if pos == "deberta":
        K, rel_emb = cfg["deberta_span"], P["rel_emb.weight"]
        Kr, Qr = linear(rel_emb, P[pre + "attn.pos_k.weight"]), linear(rel_emb, P[pre + "attn.pos_q.weight"])
        c2p_idx = deberta_rel(qpos[:, None], kpos[None, :], K)  # rel(i, j)
        p2c_idx = deberta_rel(kpos[None, :], qpos[:, None], K)  # rel(j, i)
    slopes = alibi_slopes(H) if pos == "alibi" else None

    heads = []
    for h in range(H):
        sl = slice(h * dh, (h + 1) * dh)
        qh, kh = q[..., sl], k[..., sl]
        if pos == "xl":
            S = xl_scores(qh, kh, P[pre + "attn.r_w_bias"][h], P[pre + "attn.r_r_bias"][h], R[..., sl], dh)
        elif pos == "deberta":
            S = deberta_scores(qh, kh, Kr[:, sl], Qr[:, sl], c2p_idx, p2c_idx, dh)
        else:
            if pos == "rope":
                qh = rope_rotate(qh, qpos, cfg["rope_base"], cfg["rope_scale"])
                kh = rope_rotate(kh, kpos, cfg["rope_base"], cfg["rope_scale"])
            S = qh @ kh.transpose(-1, -2) / math.sqrt(dh)  # content score c(i, j)
            if pos == "alibi":
                S = S - slopes[h] * dist.double()             # bias added unscaled
            elif pos == "t5":
                S = S + P["t5_bias.weight"][bucket, h]
        S = S.masked_fill(~causal, float("-inf"))
        heads.append(torch.softmax(S, dim=-1) @ v[..., sl])
    o = torch.cat(heads, dim=-1)
    return linear(o, P[pre + "attn.proj.weight"], P[pre + "attn.proj.bias"])


def forward(cfg, P, tokens, offset, mems):
    """tokens: long [B,T]; mems: list of L tensors [B,M,d] (or None). -> logits [B,T,V]."""
    B, T = tokens.shape
    h = P["tok_emb.weight"][tokens]
    positions = offset + torch.arange(T)
    if cfg["pos"] == "sinusoidal":
        h = h + sinusoidal_ape(positions, cfg["d_model"])
    elif cfg["pos"] == "learned":
        h = h + P["pos_emb.weight"][positions]
    for l in range(cfg["n_layers"]):
        pre = "blocks.%d." % l
        mem = mems[l] if mems is not None else None
        M = 0 if mem is None else mem.shape[1]
        c = torch.cat([mem, h], dim=1) if M > 0 else h
        a = layer_norm(c, P[pre + "ln1.weight"], P[pre + "ln1.bias"])
        h = h + attention(cfg, P, pre, a, M, offset)
        z = layer_norm(h, P[pre + "ln2.weight"], P[pre + "ln2.bias"])
        h = h + linear(gelu(linear(z, P[pre + "mlp.fc1.weight"], P[pre + "mlp.fc1.bias"])),
                       P[pre + "mlp.fc2.weight"], P[pre + "mlp.fc2.bias"])
    return linear(layer_norm(h, P["ln_f.weight"], P["ln_f.bias"]), P["lm_head.weight"])


def masked_ce(logits, targets, mask):
    """sum mask * CE / sum mask. Targets where mask == 0 may be anything."""
    V = logits.shape[-1]
    safe = torch.where(mask != 0, targets, torch.zeros_like(targets)).clamp(0, V - 1)
    nll = -torch.log_softmax(logits, dim=-1).gather(-1, safe[..., None]).squeeze(-1)
    return (mask * nll).sum() / mask.sum()


def run_reference(cfg, params, batch, mems):
    """Forward + backward in float64. Returns loss, logits, {name: grad} as numpy."""
    P = {n: torch.tensor(v, dtype=torch.float64, requires_grad=True) for n, v in params.items()}
    tokens = torch.tensor(batch["tokens"], dtype=torch.long)
    m = None if mems is None else [torch.tensor(x, dtype=torch.float64) for x in mems]
    logits = forward(cfg, P, tokens, batch["offset"], m)
    loss = masked_ce(logits, torch.tensor(batch["targets"], dtype=torch.long),
                     torch.tensor(batch["mask"], dtype=torch.float64))
    loss.backward()
    grads = {n: (p.grad if p.grad is not None else torch.zeros_like(p)).numpy() for n, p in P.items()}
    return float(loss), logits.detach().numpy(), grads


# --------------------------------------------------------------------------
# Reading a dump.
# --------------------------------------------------------------------------

def _scalar(v, key):
    if isinstance(v, np.ndarray):
        if v.size != 1:
            raise BadInput("attribute %r has %d values, expected one" % (key, v.size))
        v = v.reshape(-1)[0]
    if isinstance(v, (bytes, np.bytes_)):
        v = v.decode("utf-8")
    return v


def _number(attrs, key, default=None, integer=True):
    """A numeric root attribute (int, float or numeric string), or default."""
    if key not in attrs:
        if default is None:
            raise BadInput("root attribute %r is missing" % key)
        return default
    v = _scalar(attrs[key], key)
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise BadInput("root attribute %r = %r is not a number" % (key, v))
    if integer and f != int(f):
        raise BadInput("root attribute %r = %r is not an integer" % (key, v))
    return int(f) if integer else f


def read_config(attrs):
    # SPEC ambiguity: section 4 says a dump has "the checkpoint's root
    # attributes" while include/relgrad/io.h names the dump format
    # "relgrad-dump"; both are accepted.
    fmt = str(_scalar(attrs["format"], "format")) if "format" in attrs else None
    if fmt not in DUMP_FORMATS:
        raise BadInput("root attribute 'format' is %r, expected one of %s" % (fmt, ", ".join(DUMP_FORMATS)))
    if _number(attrs, "format_version") != 1:
        raise BadInput("unsupported format_version %r (this reader knows 1)" % _number(attrs, "format_version"))
    if "pos" not in attrs:
        raise BadInput("root attribute 'pos' is missing")
    cfg = {"pos": str(_scalar(attrs["pos"], "pos")).strip()}
    for key in ("d_model", "n_heads", "n_layers", "d_ff", "n_symbols"):
        cfg[key] = _number(attrs, key)
    for key, default in (("max_positions", 0), ("t5_buckets", 32), ("t5_max_distance", 128),
                         ("deberta_span", 16), ("mem_len", 0)):
        cfg[key] = _number(attrs, key, default)
    cfg["rope_base"] = _number(attrs, "rope_base", 10000.0, integer=False)
    cfg["rope_scale"] = _number(attrs, "rope_scale", 1.0, integer=False)
    check_config(cfg)
    return cfg


def check_config(cfg):
    d, H, pos = cfg["d_model"], cfg["n_heads"], cfg["pos"]
    if pos not in SCHEMES:
        raise BadInput("unknown pos %r (expected one of %s)" % (pos, ", ".join(SCHEMES)))
    if min(d, H, cfg["n_layers"], cfg["d_ff"], cfg["n_symbols"]) <= 0 or d % H:
        raise BadInput("bad model shape: d_model %d, n_heads %d" % (d, H))
    if pos == "rope" and (d // H) % 2 or pos in ("sinusoidal", "xl") and d % 2:
        raise BadInput("pos %s needs an even dimension (d_model %d, n_heads %d)" % (pos, d, H))
    if pos == "learned" and cfg["max_positions"] <= 0:
        raise BadInput("pos learned needs max_positions > 0")
    if pos == "t5" and (cfg["t5_buckets"] < 2 or cfg["t5_max_distance"] <= cfg["t5_buckets"] // 2):
        raise BadInput("t5 needs t5_buckets >= 2 and t5_max_distance > t5_buckets/2")
    if pos == "deberta" and cfg["deberta_span"] <= 0:
        raise BadInput("deberta needs deberta_span > 0")


def read_dump(path):
    """Everything in the dump, as numpy arrays (the file is closed afterwards)."""
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise BadInput("cannot open %s as HDF5: %s" % (path, e))
    with f:
        cfg = read_config(f.attrs)

        def group(name):
            if name not in f or not isinstance(f[name], h5py.Group):
                raise BadInput("group /%s is missing" % name)
            out = {}
            f[name].visititems(lambda n, o: out.__setitem__(n, o[()]) if isinstance(o, h5py.Dataset) else None)
            return out

        def dataset(name):
            if name not in f or not isinstance(f[name], h5py.Dataset):
                raise BadInput("dataset /%s is missing" % name)
            return np.asarray(f[name][()])

        params, grads = group("params"), group("grads")
        batch = {k: dataset("batch/" + k) for k in ("tokens", "targets", "mask", "offset")}
        loss, logits = dataset("loss"), dataset("logits")
        mems = None
        if "mems" in f and len(f["mems"]) > 0:
            mems = [dataset("mems/%d" % l) for l in range(cfg["n_layers"])]
    # Validate the batch.
    tok = batch["tokens"]
    if tok.ndim != 2 or tok.size == 0 or not np.issubdtype(tok.dtype, np.integer):
        raise BadInput("/batch/tokens must be a non-empty integer [B,T] array, got %s %s" % (tok.dtype, tok.shape))
    B, T = tok.shape
    V = cfg["n_symbols"] + 4
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
    if mems is not None:
        # The memory length is taken from /mems (it may be shorter than
        # mem_len when the previous segment was shorter); keys are at
        # offset - M + j.
        M = mems[0].shape[1] if mems[0].ndim == 3 else -1
        for l, m in enumerate(mems):
            if m.shape != (B, M, cfg["d_model"]):
                raise BadInput("/mems/%d has shape %s, expected [B=%d, M, d=%d] like /mems/0"
                               % (l, m.shape, B, cfg["d_model"]))
        if M > 0 and cfg["pos"] in ("sinusoidal", "learned"):
            raise BadInput("pos %s with memory is a config error (SPEC section 2)" % cfg["pos"])
        if M == 0:
            mems = None
    if cfg["pos"] == "learned" and (batch["offset"] < 0 or batch["offset"] + T > cfg["max_positions"]):
        raise BadInput("learned positions %d..%d exceed max_positions %d"
                       % (batch["offset"], batch["offset"] + T - 1, cfg["max_positions"]))
    return cfg, params, grads, batch, mems, loss, logits


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


def check(path, tol=1e-6, quiet=False, out=print):
    """Compare a dump with the PyTorch reference. Returns the exit status."""
    try:
        cfg, params, grads, batch, mems, loss, logits = read_dump(path)
    except BadInput as e:
        out("torch_ref: %s: %s" % (path, e))
        return 2
    want = expected_params(cfg)
    M = 0 if mems is None else mems[0].shape[1]
    out("dump %s: pos=%s d=%d H=%d L=%d F=%d V=%d B=%d T=%d M=%d offset=%d" % (
        path, cfg["pos"], cfg["d_model"], cfg["n_heads"], cfg["n_layers"], cfg["d_ff"],
        cfg["n_symbols"] + 4, batch["tokens"].shape[0], batch["tokens"].shape[1], M, batch["offset"]))
    problems = []
    for where, have in (("/params", params), ("/grads", grads)):
        missing = [n for n in want if n not in have]
        extra = sorted(n for n in have if n not in want)
        shape = ["%s %s (expected %s)" % (n, tuple(have[n].shape), want[n])
                 for n in want if n in have and tuple(have[n].shape) != want[n]]
        for label, names in (("missing", missing), ("extra", extra), ("wrong shape", shape)):
            if names:
                problems.append("%s %s: %s" % (where, label, ", ".join(names)))
    for p in problems:
        out("param set FAIL: " + p)
    if not problems:
        out("param set ok: %d parameters for pos=%s" % (len(want), cfg["pos"]))
    if any(p.startswith("/params missing") or p.startswith("/params wrong") for p in problems):
        out("summary: cannot run the model (parameter set wrong): FAIL")
        return 1

    ref_loss, ref_logits, ref_grads = run_reference(cfg, {n: params[n] for n in want}, batch, mems)
    rows = [("loss", rel_err(np.reshape(loss, ()) if np.size(loss) == 1 else loss, ref_loss)),
            ("logits", rel_err(logits, ref_logits))]
    rows += [("grad " + n, rel_err(grads[n], ref_grads[n])) for n in want if n in grads]
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

def small_config(pos, mem):
    return {"d_model": 12, "n_heads": 3, "n_layers": 2, "d_ff": 20, "pos": pos,
            "max_positions": 64, "rope_base": 10000.0, "rope_scale": 1.0, "t5_buckets": 8,
            "t5_max_distance": 20, "deberta_span": 4, "mem_len": mem, "segment_len": 7 if mem else 0,
            "init_std": 0.3, "n_symbols": 5, "task": "copy", "batch_size": 2}


def random_params(cfg, rng, std=0.3):
    P = {}
    for n, shape in expected_params(cfg).items():
        P[n] = rng.normal(0.0, std, size=shape)
        if n.endswith("ln1.weight") or n.endswith("ln2.weight") or n == "ln_f.weight":
            P[n] += 1.0
    return P


def make_dump(out_path, pos, mem=0, seed=0, fixed_strings=False):
    if pos not in SCHEMES:
        raise BadInput("unknown --pos %r" % pos)
    if mem < 0 or mem > 0 and pos not in MEM_SCHEMES:
        raise BadInput("--mem %d with pos %s is a config error (SPEC section 2)" % (mem, pos))
    rng = np.random.RandomState(seed)
    cfg = small_config(pos, mem)
    check_config(cfg)
    B, T, V, L, d = 2, 7, cfg["n_symbols"] + 4, cfg["n_layers"], cfg["d_model"]
    params = random_params(cfg, rng)
    mask = (rng.rand(B, T) < 0.5).astype(np.float64)
    mask[rng.randint(B), rng.randint(T)] = 1.0
    batch = {"tokens": rng.randint(0, V, size=(B, T)).astype(np.int32),
             "targets": rng.randint(0, V, size=(B, T)).astype(np.int32),
             "mask": mask, "offset": int(T * rng.randint(1, 4)) if mem else 0}
    mems = [rng.normal(0.0, 1.0, size=(B, mem, d)) for _ in range(L)] if mem else None
    loss, logits, grads = run_reference(cfg, params, batch, mems)
    with h5py.File(out_path, "w") as f:
        for k, v in cfg.items():
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
        for l in range(L if mem else 0):
            f["mems/%d" % l] = mems[l]
        f["loss"] = np.float64(loss)
        f["logits"] = logits
    return loss


# --------------------------------------------------------------------------
# Self-test.
# --------------------------------------------------------------------------

def selftest():
    failures = []

    def expect(cond, what):
        print("  %-4s %s" % ("ok" if cond else "FAIL", what))
        if not cond:
            failures.append(what)

    print("ALiBi slopes (Press et al. 2022)")
    s8, s12 = alibi_slopes(8), alibi_slopes(12)
    expect(s8 == [2.0 ** -(h + 1) for h in range(8)], "H=8: 1/2 .. 1/256")
    want12 = [2.0 ** -(h + 1) for h in range(8)] + [2.0 ** -0.5, 2.0 ** -1.5, 2.0 ** -2.5, 2.0 ** -3.5]
    expect(np.allclose(s12, want12, rtol=1e-15, atol=0), "H=12: 2^-1 .. 2^-8, 2^-0.5, 2^-1.5, 2^-2.5, 2^-3.5")
    expect(alibi_slopes(3) == [2.0 ** -4, 2.0 ** -8, 2.0 ** -2], "H=3: 2^-4, 2^-8, 2^-2")

    print("T5 buckets, 32 buckets, max distance 128")
    b = [t5_bucket(n, 32, 128) for n in range(2000)]
    expect(b[:16] == list(range(16)), "distances 0..15 map to themselves")
    expect(all(x == 31 for x in b[113:]) and b[112] == 30, "every distance >= 113 maps to 31 (112 -> 30)")
    expect(all(x <= y for x, y in zip(b, b[1:])), "buckets never decrease with distance")
    print("       intermediate: " + ", ".join("%d->%d" % (n, b[n]) for n in (16, 17, 20, 24, 32, 48, 64, 90, 112)))

    print("RoPE")
    g = torch.Generator().manual_seed(1)
    x = torch.randn(5, 8, generator=g)
    p = torch.tensor([0.0, 3.0, 7.0, 50.0, 1000.0])
    for s in (2.0, 4.0, 0.5):
        expect(torch.allclose(rope_rotate(x, p, 10000.0, s), rope_rotate(x, p / s, 10000.0, 1.0),
                              rtol=0, atol=1e-12), "scale %g at p equals scale 1 at p/%g" % (s, s))
    qv, kv = torch.randn(1, 8, generator=g), torch.randn(1, 8, generator=g)
    dots = [float(rope_rotate(qv, torch.tensor([a + 9.0]), 100.0, 1.0)
                  @ rope_rotate(kv, torch.tensor([a]), 100.0, 1.0).t()) for a in (0.0, 5.0, 123.0)]
    expect(max(dots) - min(dots) < 1e-12, "q.k after rotation depends only on the distance")

    print("Causality: changing the last token changes no earlier logit")
    for pos in SCHEMES:
        for mem in ((0, 5) if pos in MEM_SCHEMES else (0,)):
            rng = np.random.RandomState(7)
            cfg = small_config(pos, mem)
            P = {n: torch.tensor(v) for n, v in random_params(cfg, rng).items()}
            tok = torch.tensor(rng.randint(0, 9, size=(2, 7)))
            mems = [torch.tensor(rng.normal(size=(2, mem, 12))) for _ in range(2)] if mem else None
            off = 14 if mem else 0
            a = forward(cfg, P, tok, off, mems)
            tok2 = tok.clone()
            tok2[:, -1] = (tok2[:, -1] + 1) % 9
            c = forward(cfg, P, tok2, off, mems)
            same = torch.equal(a[:, :-1], c[:, :-1])
            expect(same and not torch.equal(a[:, -1], c[:, -1]), "%s mem=%d" % (pos, mem))

    print("make-dump -> check round trip")
    with tempfile.TemporaryDirectory() as tmp:
        for i, pos in enumerate(SCHEMES):
            for mem in ((0, 5) if pos in MEM_SCHEMES else (0,)):
                path = os.path.join(tmp, "%s_%d.h5" % (pos, mem))
                make_dump(path, pos, mem, seed=i, fixed_strings=mem > 0)
                log = []
                rc = check(path, tol=1e-13, out=log.append)
                expect(rc == 0, "%s mem=%d: %s" % (pos, mem, log[-1]))
        # The checker must also catch mistakes.
        path = os.path.join(tmp, "t5_5.h5")
        with h5py.File(path, "a") as f:
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
            del f["loss"]
        expect(check(path, out=lambda s: None) == 2, "a dump without /loss is malformed (exit 2)")
        junk = os.path.join(tmp, "junk.h5")
        with open(junk, "w") as f:
            f.write("not hdf5\n")
        expect(check(junk, out=lambda s: None) == 2, "a non-HDF5 file is unreadable (exit 2)")

    print("selftest: %s" % ("PASS" if not failures else "FAIL (%d failed)" % len(failures)))
    return 0 if not failures else 1


def main(argv=None):
    ap = argparse.ArgumentParser(description="PyTorch reference check of a relgrad gradient dump (SPEC section 4).")
    ap.add_argument("dump", nargs="?", help="gradient dump file (HDF5) to check")
    ap.add_argument("--tol", type=float, default=1e-6, help="largest allowed max_rel_err (default 1e-6)")
    ap.add_argument("--quiet", action="store_true", help="print only failures and the summary")
    ap.add_argument("--make-dump", metavar="OUT.h5", help="write a dump of a small random model")
    ap.add_argument("--pos", choices=SCHEMES, help="scheme for --make-dump")
    ap.add_argument("--mem", type=int, default=0, help="memory length M for --make-dump (default 0)")
    ap.add_argument("--seed", type=int, default=0, help="seed for --make-dump (default 0)")
    ap.add_argument("--selftest", action="store_true", help="check the scheme helpers and the round trip")
    args = ap.parse_args(argv)
    if args.selftest:
        return selftest()
    if args.make_dump:
        if not args.pos:
            ap.error("--make-dump needs --pos")
        try:
            loss = make_dump(args.make_dump, args.pos, args.mem, args.seed)
        except BadInput as e:
            print("torch_ref: %s" % e, file=sys.stderr)
            return 2
        print("wrote %s (pos=%s mem=%d seed=%d loss=%.17g)" % (args.make_dump, args.pos, args.mem, args.seed, loss))
        return 0
    if not args.dump:
        ap.error("give a DUMP.h5 to check, or --make-dump / --selftest")

    def out(line):
        print(line, file=sys.stderr if line.startswith("torch_ref:") else sys.stdout)
    return check(args.dump, args.tol, args.quiet, out)


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # quiet `| head`
    sys.exit(main())
