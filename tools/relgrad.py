"""relgrad.py: the Python door to relgrad: THE PyTorch implementation of the
SPEC model (SPEC.md sections 1, 2 and 6) and readers for relgrad's files.

Usage (run with /usr/bin/python3, which has torch and h5py):
    import sys; sys.path.insert(0, "tools"); import relgrad, torch
    model = relgrad.Model.from_checkpoint("out/quick/runs/copy-t5-1/checkpoint.h5")
    logits = model(torch.tensor([[17, 3, 9, 18]]))   # tokens [B,T] -> logits [B,T,V]
    rows = relgrad.read_results("out/quick/results.h5")  # one dict per (run, length)
    import pandas; table = pandas.DataFrame(rows)        # task, pos, seed, eval_len, ...

What is here
    Model             a torch.nn.Module whose state_dict keys are exactly the
                      SPEC parameter names of its config, so a relgrad
                      checkpoint loads with load_state_dict(strict=True).
                      forward(tokens, pos_ids=None, mems=None) -> logits.
                      Every scheme of SPEC sections 2, 6 and 8 (none,
                      sinusoidal, learned, rope, alibi, t5, xl, deberta, fire,
                      cope), positions as data (pos_ids; coupled positions,
                      which repeat and go down, for the schemes that read
                      each position on its own), per-layer hybrids
                      ("rope,alibi"), Transformer-XL segment memory, the
                      abacus embedding (abacus_ids as data, or computed from
                      the tokens) and index-hint tokens in the vocabulary.
    load_checkpoint   path -> (config dict, state_dict of torch tensors)
    read_results      an experiment's results.h5 -> list of flat dict rows
    read_runs         the same file -> one dict per run (config, curves, fit,
                      selection, provenance)
    interval95        half-width of a 95% interval of a mean (Student's t),
                      as table.md computes it
    expected_params   config -> {name: shape}, the SPEC parameter set
    masked_ce         the SPEC loss

tools/torch_ref.py (the cross-check of relgrad's gradient dumps) and
tools/torch_train.py (training in PyTorch with relgrad's data and schedule)
both use this module; there is no second implementation of the model.

Positions. Every distance is a difference of absolute positions, never of
indices: query i of the segment has position pos_ids[b, i], memory row j has
mem_pos[b, j], and i - j in SPEC section 2 means p_i - p_j. The causal mask
is by index: key j (memory rows first) is visible from query i iff j <= i + M.
"""
import math

import h5py
import numpy as np
import torch
import torch.nn as nn

# The file readers live in results_file.py (no torch: the table tools start
# quickly); they are part of this module's interface.
from results_file import (RUN_ATTRS, T_975, attr_value, interval95, read_attrs,  # noqa: F401
                          read_results, read_runs)

SCHEMES = ("none", "sinusoidal", "learned", "rope", "alibi", "t5", "xl", "deberta", "fire", "cope")
ABSOLUTE = ("sinusoidal", "learned")  # position added to the embeddings; one-entry lists only
RELATIVE = tuple(s for s in SCHEMES if s not in ABSOLUTE)  # allowed in lists and with memory
DECODER_ONLY = ("fire", "cope")  # no encoder form (SPEC sections 7 and 8)
NO_POSITIONS = ("none", "cope")  # read no pos_ids
# read each position on its own, never a distance between two: positions may
# repeat or go down (coupled positions, SPEC section 8)
ANY_ORDER = ("none", "sinusoidal", "learned", "rope", "cope")

# Model config keys this module reads, with SPEC defaults (None = required).
MODEL_DEFAULTS = {
    "d_model": None, "n_heads": None, "n_layers": None, "d_ff": None, "n_symbols": 16,
    "pos": "none", "max_positions": 0, "rope_base": 10000.0, "rope_scale": 1.0,
    "t5_buckets": 32, "t5_max_distance": 128, "deberta_span": 16, "mem_len": 0,
    "segment_len": 0, "init_std": 0.02, "fire_width": 32, "fire_L": 512.0,
    "random_positions": 0, "arch": "decoder", "cope_npos": 64, "alibi_left": 0.0,
    "abacus": 0, "abacus_max": 256, "n_hints": 0, "index_hints": 0, "coupled_positions": 0,
}
REAL_KEYS = ("rope_base", "rope_scale", "init_std", "fire_L", "alibi_left")
STRING_KEYS = ("pos", "arch")

LN_EPS = 1e-5  # SPEC section 1


class ConfigError(ValueError):
    """A config that SPEC forbids or that this module cannot run."""


# --------------------------------------------------------------------------
# Configuration: defaults, the per-layer scheme list, the parameter set.
# --------------------------------------------------------------------------

def make_config(raw):
    """A model config from a dict (e.g. a checkpoint's root attributes):
    SPEC defaults for missing keys, ints/floats/strs for the model keys, other
    keys passed through unchanged. Raises ConfigError if it is not valid."""
    cfg = dict(raw)
    for key, default in MODEL_DEFAULTS.items():
        if key not in cfg or cfg[key] is None:
            if default is None:
                raise ConfigError("config key %r is missing" % key)
            cfg[key] = default
        v = cfg[key]
        if key in STRING_KEYS:
            cfg[key] = str(v).strip()
        elif key in REAL_KEYS:
            cfg[key] = float(v)
        else:
            f = float(v)
            if f != int(f):
                raise ConfigError("config key %r = %r is not an integer" % (key, v))
            cfg[key] = int(f)
    check_config(cfg)
    return cfg


def layer_schemes(cfg):
    """The scheme of every layer: `pos` is a comma list repeating over the
    layers (SPEC section 6), layer l uses entry l % len(list)."""
    entries = [e.strip() for e in str(cfg["pos"]).split(",")]
    return [entries[l % len(entries)] for l in range(cfg["n_layers"])]


def check_config(cfg):
    """Raise ConfigError for a config SPEC sections 2 and 6 forbid."""
    d, H, L = cfg["d_model"], cfg["n_heads"], cfg["n_layers"]
    if min(d, H, L, cfg["d_ff"], cfg["n_symbols"]) <= 0 or d % H:
        raise ConfigError("bad model shape: d_model %d, n_heads %d, n_layers %d" % (d, H, L))
    if cfg["abacus"] < 0 or cfg["abacus"] > 0 and cfg["abacus_max"] <= 0:
        raise ConfigError("abacus %d needs abacus_max > 0 (SPEC section 8)" % cfg["abacus"])
    if cfg["n_hints"] < 0 or bool(cfg["n_hints"]) != bool(cfg["index_hints"]):
        raise ConfigError("n_hints %d with index_hints %d (SPEC section 8: hints need both)"
                          % (cfg["n_hints"], cfg["index_hints"]))
    entries = [e.strip() for e in str(cfg["pos"]).split(",")]
    for e in entries:
        if e not in SCHEMES:
            raise ConfigError("unknown pos %r (expected one of %s)" % (e, ", ".join(SCHEMES)))
    if len(entries) > L:
        raise ConfigError("pos lists %d schemes for %d layers" % (len(entries), L))
    if len(entries) > 1 and any(e in ABSOLUTE for e in entries):
        raise ConfigError("pos %r: absolute schemes (sinusoidal, learned) only as a one-entry list"
                          % cfg["pos"])
    used = set(entries)
    if cfg["arch"] not in ("decoder", "encoder"):
        raise ConfigError("arch %r is neither decoder nor encoder" % cfg["arch"])
    encoder = cfg["arch"] == "encoder"
    if encoder and used & set(DECODER_ONLY):
        raise ConfigError("pos %s has no encoder form (SPEC section 7)" % cfg["pos"])
    if encoder and cfg["mem_len"] > 0:
        raise ConfigError("an encoder has no segment memory (SPEC section 7)")
    if encoder and "t5" in used and (cfg["t5_buckets"] < 4
                                     or cfg["t5_max_distance"] <= cfg["t5_buckets"] // 4):
        raise ConfigError("an encoder's t5 needs t5_buckets >= 4 and t5_max_distance > t5_buckets/4")
    if "cope" in used and cfg["cope_npos"] < 2:
        raise ConfigError("cope needs cope_npos >= 2")
    if "rope" in used and (d // H) % 2 or used & {"sinusoidal", "xl"} and d % 2:
        raise ConfigError("pos %s needs an even dimension (d_model %d, n_heads %d)" % (cfg["pos"], d, H))
    if "learned" in used and cfg["max_positions"] <= 0:
        raise ConfigError("pos learned needs max_positions > 0")
    if "t5" in used and not encoder and (cfg["t5_buckets"] < 2
                                         or cfg["t5_max_distance"] <= cfg["t5_buckets"] // 2):
        raise ConfigError("t5 needs t5_buckets >= 2 and t5_max_distance > t5_buckets/2")
    if "deberta" in used and cfg["deberta_span"] <= 0:
        raise ConfigError("deberta needs deberta_span > 0")
    if "fire" in used and cfg["fire_width"] <= 0:
        raise ConfigError("fire needs fire_width > 0")
    if cfg["coupled_positions"] and (not used <= set(ANY_ORDER) or used <= set(NO_POSITIONS)):
        raise ConfigError("coupled_positions with pos %s: coupled positions need schemes that read "
                          "each position on its own (%s; SPEC section 8)"
                          % (cfg["pos"], ", ".join(s for s in ANY_ORDER if s not in NO_POSITIONS)))
    if cfg["mem_len"] < 0 or cfg["mem_len"] > 0 and used & set(ABSOLUTE):
        raise ConfigError("mem_len %d with pos %s is a config error (SPEC section 2)"
                          % (cfg["mem_len"], cfg["pos"]))
    R = cfg["random_positions"]
    if R:
        if used <= set(NO_POSITIONS):
            raise ConfigError("random_positions with layers that read no positions (%s) has no "
                              "effect (SPEC sections 6 and 8)" % cfg["pos"])
        if cfg["mem_len"] > 0:
            raise ConfigError("random_positions with mem_len > 0 is an error (SPEC section 6)")
        if "learned" in used and cfg["max_positions"] < R:
            raise ConfigError("random_positions %d exceeds max_positions %d" % (R, cfg["max_positions"]))


def expected_params(cfg):
    """Every parameter name and shape the config requires (SPEC sections 2
    and 6), in SPEC order: shared tables once, per-layer parameters only in
    layers whose scheme has them."""
    d, H, F, V = cfg["d_model"], cfg["n_heads"], cfg["d_ff"], vocab_size(cfg)
    schemes = layer_schemes(cfg)
    s = {"tok_emb.weight": (V, d)}
    if cfg["abacus"] > 0:
        s["abacus_emb.weight"] = (cfg["abacus_max"], d)
    if "learned" in schemes:
        s["pos_emb.weight"] = (cfg["max_positions"], d)
    if "t5" in schemes:
        s["t5_bias.weight"] = (cfg["t5_buckets"], H)
    if "deberta" in schemes:
        s["rel_emb.weight"] = (2 * cfg["deberta_span"], d)
    W = cfg["fire_width"]
    for l, scheme in enumerate(schemes):
        p = "blocks.%d." % l
        s[p + "ln1.weight"] = s[p + "ln1.bias"] = (d,)
        s[p + "attn.qkv.weight"], s[p + "attn.qkv.bias"] = (3 * d, d), (3 * d,)
        s[p + "attn.proj.weight"], s[p + "attn.proj.bias"] = (d, d), (d,)
        if scheme == "xl":
            s[p + "attn.r.weight"] = (d, d)
            s[p + "attn.r_w_bias"] = s[p + "attn.r_r_bias"] = (H, d // H)
        if scheme == "deberta":
            s[p + "attn.pos_k.weight"] = s[p + "attn.pos_q.weight"] = (d, d)
        if scheme == "fire":
            s[p + "attn.fire.fc1.weight"], s[p + "attn.fire.fc1.bias"] = (W, 1), (W,)
            s[p + "attn.fire.fc2.weight"], s[p + "attn.fire.fc2.bias"] = (H, W), (H,)
            s[p + "attn.fire.c"] = s[p + "attn.fire.L"] = (1,)
        if scheme == "cope":
            s[p + "attn.cope.pos_emb"] = (d // H, cfg["cope_npos"])
        s[p + "ln2.weight"] = s[p + "ln2.bias"] = (d,)
        s[p + "mlp.fc1.weight"], s[p + "mlp.fc1.bias"] = (F, d), (F,)
        s[p + "mlp.fc2.weight"], s[p + "mlp.fc2.bias"] = (d, F), (d,)
    s["ln_f.weight"] = s["ln_f.bias"] = (d,)
    s["lm_head.weight"] = (V, d)
    return s


def vocab_size(cfg):
    """n_symbols, then n_hints index-hint tokens, then 4 specials (PAD, BOS,
    SEP, EOS), + ANS for an encoder (SPEC sections 3, 7 and 8)."""
    return cfg["n_symbols"] + cfg["n_hints"] + 4 + (cfg["arch"] == "encoder")


def pad_token(cfg):
    """PAD: the first special token, after the symbols and the hints."""
    return cfg["n_symbols"] + cfg["n_hints"]


def abacus_ids_of(tokens, n_symbols):
    """Abacus ids (McLeish et al. 2024, SPEC section 8) of tokens [B,T]: a
    token's 1-based index within its run of consecutive symbols (ids
    0 .. n_symbols-1), 0 for every other token. Vectorised as the authors'
    helper does it: the index minus the index where the token's run
    started."""
    tokens = torch.as_tensor(tokens, dtype=torch.long)
    digit = (tokens >= 0) & (tokens < n_symbols)
    before = torch.cat([torch.zeros_like(digit[:, :1]), digit[:, :-1]], dim=1)
    starts = digit & ~before
    index = torch.arange(tokens.shape[1])[None, :].expand_as(tokens)
    # the index of the latest run start at or before each token
    start_at = torch.cummax(torch.where(starts, index, torch.full_like(index, -1)), dim=1).values
    return torch.where(digit, index - start_at + 1, torch.zeros_like(index))


def is_decayed(name):
    """Whether AdamW's weight decay applies (relgrad's src/nn/model.c): the
    matrices of the blocks, lm_head and the scheme matrices; not biases,
    LayerNorm, embeddings (tok_emb, pos_emb, rel_emb), t5_bias, XL's u/v or
    FIRE's c and L."""
    if name in ("tok_emb.weight", "pos_emb.weight", "t5_bias.weight", "rel_emb.weight",
                "abacus_emb.weight"):
        return False
    if ".ln1." in name or ".ln2." in name or name.startswith("ln_f."):
        return False
    return name.endswith(".weight")


# --------------------------------------------------------------------------
# Positional helpers, one per scheme. Constants are computed in float64 and
# cast to the model's dtype (as relgrad does in its float32 build).
# --------------------------------------------------------------------------

def sinusoidal_ape(pos, d):
    """Absolute sinusoidal embedding (Vaswani et al. 2017), interleaved:
    ape(p)[2m] = sin(p w_m), ape(p)[2m+1] = cos(p w_m), w_m = 10000^(-2m/d).
    pos: integer tensor of any shape -> [..., d] float64."""
    w = 10000.0 ** (-2.0 * torch.arange(d // 2, dtype=torch.float64) / d)
    ang = pos.to(torch.float64)[..., None] * w
    return torch.stack([torch.sin(ang), torch.cos(ang)], dim=-1).flatten(-2)


def rope_rotate(x, pos, base, scale):
    """RoPE (Su et al. 2021): rotate pairs (2m, 2m+1) of each head vector by
    angle p * base^(-2m/dh) / scale (scale > 1: position interpolation).
    x: [..., N, dh]; pos: integer or float positions broadcastable to [..., N]."""
    dh = x.shape[-1]
    inv_freq = base ** (-2.0 * torch.arange(dh // 2, dtype=torch.float64) / dh)
    ang = torch.as_tensor(pos).to(torch.float64)[..., None] * inv_freq / scale  # [..., N, dh/2]
    cos, sin = torch.cos(ang).to(x.dtype), torch.sin(ang).to(x.dtype)
    x0, x1 = x[..., 0::2], x[..., 1::2]
    return torch.stack([x0 * cos - x1 * sin, x0 * sin + x1 * cos], dim=-1).flatten(-2)


def alibi_slopes(H):
    """ALiBi head slopes (Press et al. 2022). For H a power of two,
    s_h = 2^(-8(h+1)/H); otherwise the slopes of the nearest lower power of
    two c, then every other slope of the 2c sequence until there are H."""
    def pow2(n):
        return [2.0 ** (-8.0 * (h + 1) / n) for h in range(n)]
    if H & (H - 1) == 0:
        return pow2(H)
    c = 2 ** int(math.floor(math.log2(H)))
    return pow2(c) + pow2(2 * c)[0::2][:H - c]


def t5_bucket(n, nb, max_dist):
    """T5 causal relative-position bucket (Raffel et al. 2020) of a distance
    n >= 0 (SPEC section 2): n itself below e = nb/2, then logarithmic up to
    max_dist, in float64 with natural log and floor; at most nb - 1."""
    e = nb // 2
    if n < e:
        return n
    return min(nb - 1, e + int(math.floor(math.log(n / e) / math.log(max_dist / e) * (nb - e))))


def t5_bucket_bidirectional(r, nb, max_dist):
    """The encoder's T5 bucket of a signed distance r = p_i - p_j (SPEC
    section 7, HF T5's bidirectional=True): keys after the query (r < 0) in
    the upper half, each half bucketed causally with nb/2 buckets."""
    half = nb // 2
    return (half if r < 0 else 0) + t5_bucket(abs(r), half, max_dist)


def t5_buckets_of(dist, nb, max_dist, bidirectional=False):
    """The bucket of every entry of an integer tensor of distances (>= 0 for
    the causal rule, signed for the bidirectional one), through a table of
    the scalar rule, so it is the same float64 math."""
    lo = int(dist.min()) if dist.numel() else 0
    top = int(dist.max()) if dist.numel() else 0
    rule = t5_bucket_bidirectional if bidirectional else t5_bucket
    table = torch.tensor([rule(n, nb, max_dist) for n in range(lo, top + 1)], dtype=torch.long)
    return table[dist - lo]


def xl_encoding(n, d):
    """Transformer-XL relative encoding e(n) (Dai et al. 2019), sines first:
    [sin(n w_0 .. n w_{d/2-1}), cos(n w_0 .. n w_{d/2-1})], w_m = 10000^(-2m/d).
    n: integer tensor of any shape -> [..., d] float64."""
    w = 10000.0 ** (-2.0 * torch.arange(d // 2, dtype=torch.float64) / d)
    ang = n.to(torch.float64)[..., None] * w
    return torch.cat([torch.sin(ang), torch.cos(ang)], dim=-1)


def deberta_rel(delta, K):
    """DeBERTa relative index rel = clamp(delta, -K, K-1) + K in [0, 2K)
    (He et al. 2021, eq. 3), where delta is a difference of positions."""
    return torch.clamp(delta, -K, K - 1) + K


def fire_inputs(qpos, dist, c, L, fire_L):
    """FIRE's normalised distance (Li et al. 2023, SPEC section 6):
    z = psi(p_i - p_j) / (psi(max(p_i, thr)) + 1e-6), psi(x) = log(|c x| + 1),
    thr = |L * fire_L|. qpos [B,T] query positions, dist [B,T,N] (>= 0 where
    visible), c and L [1] parameters -> z [B,T,N]."""
    def psi(x):
        return torch.log(torch.abs(c * x) + 1.0)
    thr = torch.abs(L * fire_L)
    p = qpos.to(c.dtype)
    denom = psi(torch.maximum(p, thr.expand_as(p))) + 1e-6  # [B,T]
    return psi(dist.to(c.dtype)) / denom[..., None]


def gather_last(table, index):
    """out[b,h,i,j] = table[b',h,i,index[b,i,j]] for table [B or 1,H,T,R] and
    index [B,T,N] (long): a per-(query, key) pick of a [query, r] table."""
    B, T, N = index.shape
    H = table.shape[1]
    table = table.expand(B, H, T, table.shape[-1])
    return torch.gather(table, 3, index[:, None].expand(B, H, T, N))


def gather_last_transposed(table, index):
    """out[b,h,i,j] = table[b',h,j,index[b,i,j]] for table [B or 1,H,N,R] and
    index [B,T,N]: DeBERTa's position-to-content pick (row j, not row i)."""
    B, T, N = index.shape
    H = table.shape[1]
    table = table.expand(B, H, N, table.shape[-1]).transpose(-1, -2)  # [B,H,R,N]
    return torch.gather(table, 2, index[:, None].expand(B, H, T, N))


def layer_norm(x, g, b, eps=LN_EPS):
    """SPEC LayerNorm: g * (x - mean) / sqrt(var + eps) + b, population variance."""
    mean = x.mean(-1, keepdim=True)
    var = ((x - mean) ** 2).mean(-1, keepdim=True)
    return g * (x - mean) / torch.sqrt(var + eps) + b


def gelu(x):
    """Exact GELU: x * 0.5 * (1 + erf(x / sqrt(2)))."""
    return x * 0.5 * (1.0 + torch.erf(x / math.sqrt(2.0)))


def masked_ce(logits, targets, mask):
    """SPEC loss: sum mask * CE(logits, targets) / sum mask. Targets where
    mask == 0 may hold anything."""
    V = logits.shape[-1]
    safe = torch.where(mask != 0, targets, torch.zeros_like(targets)).clamp(0, V - 1)
    nll = -torch.log_softmax(logits, dim=-1).gather(-1, safe[..., None]).squeeze(-1)
    return (mask * nll).sum() / mask.sum()


# --------------------------------------------------------------------------
# The model (SPEC section 1): pre-LN decoder-only Transformer.
# --------------------------------------------------------------------------

class Norm(nn.Module):
    """LayerNorm parameters: weight (gain) and bias, both [d]."""

    def __init__(self, d, dtype):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d, dtype=dtype))
        self.bias = nn.Parameter(torch.zeros(d, dtype=dtype))


class Fire(nn.Module):
    """FIRE's per-layer parameters: fc1 (1 -> W), fc2 (W -> H), c and L [1]."""

    def __init__(self, W, H, dtype):
        super().__init__()
        self.fc1 = nn.Linear(1, W, dtype=dtype)
        self.fc2 = nn.Linear(W, H, dtype=dtype)
        self.c = nn.Parameter(torch.full((1,), 0.1, dtype=dtype))
        self.L = nn.Parameter(torch.full((1,), 1.0, dtype=dtype))

    def bias(self, qpos, dist, fire_L):
        """f(z) for every (query, key): [B,H,T,N]."""
        z = fire_inputs(qpos, dist, self.c, self.L, fire_L)
        f = self.fc2(torch.relu(self.fc1(z[..., None])))  # [B,T,N,H]
        return f.permute(0, 3, 1, 2)


class Cope(nn.Module):
    """CoPE's per-layer table pos_emb [dh, P] (Golovneva et al. 2024; the
    authors' projects/cope/src/cope/context_position.py, default options),
    zeros at first."""

    def __init__(self, dh, P, dtype):
        super().__init__()
        self.P = P
        self.pos_emb = nn.Parameter(torch.zeros(dh, P, dtype=dtype))

    def logits(self, q, k, visible):
        """z [B,H,T,N]: gates sigmoid(q.k / sqrt(dh)) on visible keys, each key's
        position the sum of the gates from it up to the query (clamped to
        P - 1), q . pos_emb interpolated between floor and ceil."""
        dh = q.shape[-1]
        gates = torch.sigmoid(q @ k.transpose(-1, -2) / math.sqrt(dh)) * visible[:, None]
        positions = gates.flip(-1).cumsum(dim=-1).flip(-1).clamp(max=self.P - 1)
        fixed = q @ self.pos_emb  # [B,H,T,P]
        ceil, floor = positions.ceil().long(), positions.floor().long()  # no gradient here
        w = positions - floor
        return fixed.gather(-1, ceil) * w + fixed.gather(-1, floor) * (1 - w)


class Attention(nn.Module):
    """One causal self-attention sublayer with its layer's positional scheme.
    Holds attn.qkv, attn.proj and the scheme's own per-layer parameters."""

    def __init__(self, cfg, scheme, dtype):
        super().__init__()
        d, H = cfg["d_model"], cfg["n_heads"]
        self.cfg, self.scheme, self.H, self.dh = cfg, scheme, H, d // H
        self.qkv = nn.Linear(d, 3 * d, dtype=dtype)
        self.proj = nn.Linear(d, d, dtype=dtype)
        if scheme == "xl":
            self.r = nn.Linear(d, d, bias=False, dtype=dtype)
            self.r_w_bias = nn.Parameter(torch.zeros(H, d // H, dtype=dtype))
            self.r_r_bias = nn.Parameter(torch.zeros(H, d // H, dtype=dtype))
        if scheme == "deberta":
            self.pos_k = nn.Linear(d, d, bias=False, dtype=dtype)
            self.pos_q = nn.Linear(d, d, bias=False, dtype=dtype)
        if scheme == "fire":
            self.fire = Fire(cfg["fire_width"], H, dtype)
        if scheme == "cope":
            self.cope = Cope(d // H, cfg["cope_npos"], dtype)

    def heads(self, x):
        """[B,N,d] -> [B,H,N,dh]."""
        B, N, _ = x.shape
        return x.view(B, N, self.H, self.dh).transpose(1, 2)

    def forward(self, a, M, qpos, kpos, shared, return_probs=False, key_end=None):
        """a = LN1(concat(mem, h)) [B,M+T,d]; qpos [B,T], kpos [B,M+T] absolute
        positions; shared: the model's t5_bias / rel_emb modules; key_end
        [B] (encoder): the keys each row sees, PAD keys after. -> [B,T,d]."""
        cfg, H, dh, d = self.cfg, self.H, self.dh, self.cfg["d_model"]
        encoder = cfg["arch"] == "encoder"
        W, b = self.qkv.weight, self.qkv.bias
        q = self.heads(nn.functional.linear(a[:, M:], W[:d], b[:d]))  # queries: current rows only
        k = self.heads(nn.functional.linear(a, W[d:2 * d], b[d:2 * d]))
        v = self.heads(nn.functional.linear(a, W[2 * d:], b[2 * d:]))
        B, T, N = q.shape[0], q.shape[2], k.shape[2]
        if encoder:  # both ways, PAD keys hidden (SPEC section 7)
            visible = (torch.arange(N)[None, None, :] < key_end[:, None, None]).expand(B, T, N)
        else:  # causal, by index
            visible = (torch.arange(N)[None, :] <= torch.arange(T)[:, None] + M)[None].expand(B, T, N)
        dist = qpos[:, :, None] - kpos[:, None, :]  # p_i - p_j, [B,T,N]
        seen = torch.where(visible, dist, torch.zeros_like(dist))  # signed only in an encoder
        scale = 1.0 / math.sqrt(dh)
        extra = None
        if self.scheme == "rope":
            q = rope_rotate(q, qpos[:, None, :], cfg["rope_base"], cfg["rope_scale"])
            k = rope_rotate(k, kpos[:, None, :], cfg["rope_base"], cfg["rope_scale"])
        elif self.scheme == "alibi":  # - s_h |p_i - p_j|; keys before the query - s_h (r - alibi_left)
            slopes = torch.tensor(alibi_slopes(H), dtype=torch.float64)
            r = seen.to(torch.float64)
            penalty = torch.where(r > 0, r - cfg["alibi_left"], r.abs())
            extra = (-slopes[None, :, None, None] * penalty[:, None]).to(q.dtype)
        elif self.scheme == "t5":
            bucket = t5_buckets_of(seen, cfg["t5_buckets"], cfg["t5_max_distance"], encoder)
            extra = shared["t5_bias"].weight[bucket].permute(0, 3, 1, 2)  # [B,H,T,N]
        elif self.scheme == "fire":
            extra = self.fire.bias(qpos, seen, cfg["fire_L"])
        elif self.scheme == "xl":  # ((q + u).k + (q + v).r(i - j)) / sqrt(dh)
            lo = int(seen.min())  # < 0 in an encoder: keys after the query
            n = torch.arange(lo, int(seen.max()) + 1)
            R = self.r(xl_encoding(n, d).to(q.dtype))  # [D, d], row r = distance lo + r
            R = R.view(-1, H, dh).transpose(0, 1)[None]  # [1,H,D,dh]
            position = (q + self.r_r_bias[None, :, None, :]) @ R.transpose(-1, -2)
            extra = gather_last(position, seen - lo) * scale
            q = q + self.r_w_bias[None, :, None, :]
        elif self.scheme == "deberta":  # (q.k + q.Kr[rel(i,j)] + k.Qr[rel(j,i)]) / sqrt(3 dh)
            K, rel_emb = cfg["deberta_span"], shared["rel_emb"].weight
            Kr = self.pos_k(rel_emb).view(-1, H, dh).transpose(0, 1)[None]  # [1,H,2K,dh]
            Qr = self.pos_q(rel_emb).view(-1, H, dh).transpose(0, 1)[None]
            scale = 1.0 / math.sqrt(3 * dh)
            c2p = gather_last(q @ Kr.transpose(-1, -2), deberta_rel(dist, K))
            p2c = gather_last_transposed(k @ Qr.transpose(-1, -2), deberta_rel(-dist, K))
            extra = (c2p + p2c) * scale
        elif self.scheme == "cope":
            extra = self.cope.logits(q, k, visible) * scale
        S = (q @ k.transpose(-1, -2)) * scale  # content c(i, j)
        if extra is not None:
            S = S + extra  # biases added unscaled
        S = S.masked_fill(~visible[:, None], float("-inf"))
        P = torch.softmax(S, dim=-1)
        o = (P @ v).transpose(1, 2).reshape(a.shape[0], T, d)
        out = self.proj(o)
        return (out, P) if return_probs else out


class MLP(nn.Module):
    """fc2(GELU(fc1(x)))."""

    def __init__(self, d, F, dtype):
        super().__init__()
        self.fc1 = nn.Linear(d, F, dtype=dtype)
        self.fc2 = nn.Linear(F, d, dtype=dtype)

    def forward(self, x):
        return self.fc2(gelu(self.fc1(x)))


class Block(nn.Module):
    """One pre-LN layer: ln1, attn, ln2, mlp."""

    def __init__(self, cfg, scheme, dtype):
        super().__init__()
        d = cfg["d_model"]
        self.ln1 = Norm(d, dtype)
        self.attn = Attention(cfg, scheme, dtype)
        self.ln2 = Norm(d, dtype)
        self.mlp = MLP(d, cfg["d_ff"], dtype)


class Model(nn.Module):
    """The SPEC model. Parameters carry the SPEC names (state_dict keys such
    as "blocks.0.attn.qkv.weight"), so relgrad checkpoints load unchanged.

    Model(cfg, dtype) takes a config dict (make_config fills SPEC defaults);
    parameters start at LayerNorm 1/0, biases 0, FIRE c = 0.1 and L = 1, and
    everything else N(0, init_std) from torch's generator (init_normal_).
    ln_eps is SPEC's 1e-5 (torch_ref.py perturbs it to prove its tolerance)."""

    def __init__(self, cfg, dtype=torch.float32):
        super().__init__()
        cfg = make_config(cfg)
        d, V = cfg["d_model"], vocab_size(cfg)
        self.cfg, self.dtype, self.ln_eps = cfg, dtype, LN_EPS
        self.schemes = layer_schemes(cfg)
        self.tok_emb = nn.Embedding(V, d, dtype=dtype)
        if cfg["abacus"] > 0:
            self.abacus_emb = nn.Embedding(cfg["abacus_max"], d, dtype=dtype)
        if "learned" in self.schemes:
            self.pos_emb = nn.Embedding(cfg["max_positions"], d, dtype=dtype)
        if "t5" in self.schemes:
            self.t5_bias = nn.Embedding(cfg["t5_buckets"], cfg["n_heads"], dtype=dtype)
        if "deberta" in self.schemes:
            self.rel_emb = nn.Embedding(2 * cfg["deberta_span"], d, dtype=dtype)
        self.blocks = nn.ModuleList(Block(cfg, s, dtype) for s in self.schemes)
        self.ln_f = Norm(d, dtype)
        self.lm_head = nn.Linear(d, V, bias=False, dtype=dtype)
        self.init_normal_(cfg["init_std"])

    @torch.no_grad()
    def init_normal_(self, std, generator=None):
        """LayerNorm gains 1; biases, LayerNorm biases and XL's u, v 0;
        FIRE c = 0.1, L = 1; every other parameter N(0, std)."""
        for name, p in self.named_parameters():
            if name.endswith(("ln1.weight", "ln2.weight")) or name == "ln_f.weight":
                p.fill_(1.0)
            elif name.endswith((".bias", "r_w_bias", "r_r_bias", "cope.pos_emb")):
                p.zero_()
            elif name.endswith("fire.c"):
                p.fill_(0.1)
            elif name.endswith("fire.L"):
                p.fill_(1.0)
            else:
                p.copy_(torch.randn(p.shape, generator=generator, dtype=torch.float64) * std)

    @classmethod
    def from_checkpoint(cls, path, dtype=torch.float64):
        """A model with the weights of a relgrad checkpoint (or dump)."""
        cfg, state = load_checkpoint(path)
        model = cls(cfg, dtype=dtype)
        model.load_state_dict({n: t.to(dtype) for n, t in state.items()}, strict=True)
        return model

    def _shared(self):
        return {"t5_bias": getattr(self, "t5_bias", None), "rel_emb": getattr(self, "rel_emb", None)}

    def default_positions(self, B, T, M, mem_pos):
        """pos_ids continuing after the memory: mem_pos[:, -1] + 1 + t, or
        M + t (memory at positions 0 .. M-1, no memory: t)."""
        start = mem_pos[:, -1:] + 1 if mem_pos is not None and M > 0 else torch.full((B, 1), M)
        return start + torch.arange(T)[None, :]

    def forward(self, tokens, pos_ids=None, mems=None, mem_pos=None, return_mems=False,
                return_probs=False, abacus_ids=None):
        """tokens: long [B,T]; pos_ids: int [B,T] absolute positions, strictly
        increasing per row unless every layer's scheme reads each position on
        its own (ANY_ORDER: coupled positions repeat and go down; default: see
        default_positions); mems: list of
        n_layers tensors [B,M,d] (the memory, no gradient) with positions
        mem_pos [B,M] (default: the M positions just before pos_ids[:, 0]);
        abacus_ids [B,T] (a model with an abacus embedding): the ids the
        embedding reads, by default abacus_ids_of(tokens) (no shift).
        Returns logits [B,T,V]; with return_mems also the next memory (list)
        and its positions (last mem_len rows of concat(mem_l, h_l));
        with return_probs also the attention probabilities, one [B,H,T,M+T]
        tensor per layer."""
        cfg = self.cfg
        tokens = torch.as_tensor(tokens, dtype=torch.long)
        B, T = tokens.shape
        M = 0 if not mems else mems[0].shape[1]
        if pos_ids is None:
            pos_ids = self.default_positions(B, T, M, mem_pos)
        pos_ids = torch.as_tensor(pos_ids, dtype=torch.long).expand(B, T)
        any_order = set(self.schemes) <= set(ANY_ORDER)
        if T > 1 and not any_order and not bool((pos_ids[:, 1:] > pos_ids[:, :-1]).all()):
            raise ValueError("pos_ids must be strictly increasing along each row")
        if M > 0 and mem_pos is None:
            mem_pos = pos_ids[:, :1] - M + torch.arange(M)[None, :]
        kpos = torch.cat([mem_pos.to(torch.long).expand(B, M), pos_ids], 1) if M > 0 else pos_ids

        h = self.tok_emb(tokens)
        if cfg["abacus"] > 0:
            ids = abacus_ids_of(tokens, cfg["n_symbols"]) if abacus_ids is None else \
                torch.as_tensor(abacus_ids, dtype=torch.long)
            if int(ids.max()) >= cfg["abacus_max"] or int(ids.min()) < 0:
                raise ValueError("abacus id %d outside abacus_max %d" % (int(ids.max()), cfg["abacus_max"]))
            h = h + self.abacus_emb(ids)
        elif abacus_ids is not None:
            raise ValueError("abacus_ids given to a model without an abacus embedding")
        if self.schemes[0] == "sinusoidal":
            h = h + sinusoidal_ape(pos_ids, cfg["d_model"]).to(h.dtype)
        elif self.schemes[0] == "learned":
            if int(pos_ids.max()) >= cfg["max_positions"] or int(pos_ids.min()) < 0:
                raise ValueError("learned positions: position %d >= max_positions %d"
                                 % (int(pos_ids.max()), cfg["max_positions"]))
            h = h + self.pos_emb(pos_ids)
        shared, new_mems, probs = self._shared(), [], []
        key_end = None
        if cfg["arch"] == "encoder":  # each row's keys end where its trailing PAD begins
            real = tokens != pad_token(cfg)
            idx = torch.arange(1, T + 1)[None, :].expand(B, T)
            key_end = torch.where(real, idx, torch.zeros_like(idx)).max(dim=1).values
        for l, block in enumerate(self.blocks):
            c = torch.cat([mems[l].to(h.dtype), h], dim=1) if M > 0 else h
            if cfg["mem_len"] > 0:
                new_mems.append(c[:, -cfg["mem_len"]:].detach())
            a = layer_norm(c, block.ln1.weight, block.ln1.bias, self.ln_eps)
            o = block.attn(a, M, pos_ids, kpos, shared, return_probs, key_end)
            if return_probs:
                o, p = o
                probs.append(p.detach())
            h = h + o
            h = h + block.mlp(layer_norm(h, block.ln2.weight, block.ln2.bias, self.ln_eps))
        logits = self.lm_head(layer_norm(h, self.ln_f.weight, self.ln_f.bias, self.ln_eps))
        out = (logits,)
        if return_mems:
            out += (new_mems, kpos[:, -cfg["mem_len"]:] if cfg["mem_len"] > 0 else None)
        if return_probs:
            out += (probs,)
        return out[0] if len(out) == 1 else out

    def forward_segments(self, tokens, pos_ids=None, abacus_ids=None):
        """A whole sequence as relgrad trains and evaluates it: in segments of
        segment_len tokens with memory carried between them when mem_len > 0
        and segment_len > 0 (the memory starts empty), else one forward.
        Positions default to 0 .. T-1; abacus ids (with an abacus embedding)
        to those of the whole sequence."""
        cfg = self.cfg
        tokens = torch.as_tensor(tokens, dtype=torch.long)
        B, T = tokens.shape
        if pos_ids is None:
            pos_ids = torch.arange(T)[None, :].expand(B, T)
        if abacus_ids is None and cfg["abacus"] > 0:
            abacus_ids = abacus_ids_of(tokens, cfg["n_symbols"])
        S = cfg["segment_len"]
        if cfg["mem_len"] == 0 or S == 0 or S >= T:
            return self(tokens, pos_ids, abacus_ids=abacus_ids)
        mems, mem_pos, parts = None, None, []
        for t0 in range(0, T, S):
            ids = None if abacus_ids is None else abacus_ids[:, t0:t0 + S]
            logits, mems, mem_pos = self(tokens[:, t0:t0 + S], pos_ids[:, t0:t0 + S], mems, mem_pos,
                                         return_mems=True, abacus_ids=ids)
            parts.append(logits)
        return torch.cat(parts, dim=1)


# --------------------------------------------------------------------------
# Files (SPEC section 4).
# --------------------------------------------------------------------------

def load_checkpoint(path):
    """A relgrad checkpoint (or gradient dump) -> (config, state_dict).
    config: every root attribute as a Python int/float/str, with SPEC
    defaults for missing model keys; state_dict: {name: torch.Tensor} from
    /params, in the file's dtype (float32 checkpoints, float64 f64 dumps)."""
    with h5py.File(path, "r") as f:
        cfg = make_config(read_attrs(f))
        if "params" not in f:
            raise ConfigError("%s has no /params group" % path)
        state = {}
        f["params"].visititems(
            lambda n, o: state.__setitem__(n, torch.from_numpy(np.array(o[()])))
            if isinstance(o, h5py.Dataset) else None)
    return cfg, state
