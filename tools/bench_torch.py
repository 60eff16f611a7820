#!/usr/bin/python3
"""bench_torch.py: the SPEC model (docs: /work/shared/SPEC.md sections 1-3) in
plain PyTorch, timed the way `relgrad bench` times itself, so that the two can
be compared on the same model, batch and optimizer.

Run with Debian's python (the one that has torch):
    /usr/bin/python3 tools/bench_torch.py --pos rope --d_model 64 --n_heads 4 \
        --n_layers 2 --d_ff 256 --batch_size 32 --train_len 19 --steps 50 --threads 2
prints a `config:` line and finally
    bench: ms_per_step=X tokens_per_s=Y peak_rss_mb=Z
(X over the timed steps after 3 warm-up steps; Y = B*T per step / time; Z =
ru_maxrss of the whole process, MB).

    /usr/bin/python3 tools/bench_torch.py --pos rope ... --eval-memory 2048
builds the model, runs one no-grad forward over a single sequence of that
length (batch 1) and prints `eval_memory: len=N peak_rss_mb=Z base_rss_mb=W`
(W: peak before the forward, i.e. interpreter + torch + model).

What is timed per step, as in src/experiment/bench.c: draw a batch of the
task (copy, or Ruoss et al.'s reverse_string) in which every example has
exactly train_len symbols, forward, masked mean cross-entropy, backward,
global grad-norm clip, AdamW(betas 0.9/0.95, eps 1e-8, decay on matrices
only), zero_grad. The batch is laid out as relgrad lays it out (SPEC sections
3 and 7):
  --arch decoder  reads BOS x SEP y, predicts x SEP y EOS; loss on y and EOS
                  (T = 2*train_len + 2, vocabulary n_symbols + 4)
  --arch encoder  reads BOS x SEP ANS..ANS (one ANS per answer symbol), the
                  k-th ANS answers y_k; loss on the ANS slots (T = 2*train_len
                  + 2, vocabulary n_symbols + 5). Attention both ways, PAD
                  keys hidden: one additive mask per forward, the scheme's
                  bias [H,T,T] (alibi: -s|i-j|; t5: HF T5's bidirectional
                  buckets) plus -inf on the PAD keys [B,1,1,T] from tokens ==
                  PAD, built once and added in every layer, as a PyTorch
                  user (or HF's extended attention mask) does it.
  (copy: y = x; reverse_string: y = x reversed.)
Encoder schemes: none, sinusoidal, learned, rope, alibi, t5, xl (the rel-shift
over distances T-1 .. -(T-1)), deberta.

    /usr/bin/python3 tools/bench_torch.py --arch encoder --task reverse_string \
        --n_symbols 2 --d_model 64 --n_heads 8 --n_layers 5 --d_ff 256 --pos rope --eval 500,8
an encoder's evaluation, timed as `relgrad bench --eval` times itself: one
no_grad forward and the argmax of every slot over BATCH (default 1) examples
of LEN symbols; one untimed pass, then at least 3 timed passes and until 1 s
has gone by (at most 50); prints
`eval: len=N batch=B ms=X tokens_per_s=Y peak_rss_mb=Z seq=T runs=R`
(X the median pass, Y = B*T per X).

The model (class Model) is the SPEC model with SPEC's parameter names, so
its state_dict loads into tools/relgrad.py's Model (strict):
tests/python/test_bench_torch.py checks that it computes the same logits in
float64 for every scheme and both architectures.

    /usr/bin/python3 tools/bench_torch.py --pos rope ... --decode 1024 [--decode-batch 1]
greedy decoding with a key/value cache, the way a PyTorch user writes it
(preallocated per-layer k/v tensors [B,H,LEN,dh] filled in place, no_grad,
one forward per new token), timed as `relgrad bench --decode` times itself:
a prompt of LEN/2 random symbols in one forward, then LEN/2 tokens generated
one at a time (argmax of the last logits); after one untimed run of 16
tokens. Prints `decode: len=L batch=B ms=X tokens_per_s=Y peak_rss_mb=Z`
(Y = generated tokens per second). Schemes for decoding: none, rope, alibi.

Schemes: none, sinusoidal, learned, rope, alibi, t5, xl, deberta, fire.
Attention is batched matmuls over [B,H,T,T] with one additive float mask that
carries the causal -inf and the scheme's bias (alibi, t5). This torch (1.13)
has no scaled_dot_product_attention, so matmul + softmax is what a PyTorch user
would write here. Transformer-XL's position term uses the paper's rel-shift;
DeBERTa's two position terms are gathered from [.., T, 2K] products.

Threads: torch.set_num_threads(threads), set_num_interop_threads(1), and
OMP_NUM_THREADS/BLIS_NUM_THREADS set before torch is imported: Debian's torch
does its GEMMs in libblas.so.3 = BLIS (OpenMP), which reads its thread count
from the environment only, and would otherwise run every GEMM on one thread.
"""
import argparse
import math
import os
import resource
import statistics
import sys
import time


ENCODER_SCHEMES = ("none", "sinusoidal", "learned", "rope", "alibi", "t5", "xl", "deberta")
TASKS = ("copy", "reverse_string")


def parse_args(argv=None):
    """The command line (argv: a list, default sys.argv[1:]) -> argparse.Namespace."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--pos", default="rope",
                   choices=["none", "sinusoidal", "learned", "rope", "alibi", "t5", "xl", "deberta", "fire"])
    p.add_argument("--d_model", type=int, default=64)
    p.add_argument("--n_heads", type=int, default=4)
    p.add_argument("--n_layers", type=int, default=2)
    p.add_argument("--d_ff", type=int, default=256)
    p.add_argument("--batch_size", type=int, default=32)
    p.add_argument("--train_len", type=int, default=19)
    p.add_argument("--n_symbols", type=int, default=16)
    p.add_argument("--arch", default="decoder", choices=["decoder", "encoder"])
    p.add_argument("--task", default="copy", choices=TASKS)
    p.add_argument("--steps", type=int, default=50, help="timed steps (after 3 warm-up steps)")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--weight_decay", type=float, default=0.1)
    p.add_argument("--grad_clip", type=float, default=1.0)
    p.add_argument("--init_std", type=float, default=0.02)
    p.add_argument("--max_positions", type=int, default=256)
    p.add_argument("--rope_base", type=float, default=10000.0)
    p.add_argument("--rope_scale", type=float, default=1.0)
    p.add_argument("--t5_buckets", type=int, default=32)
    p.add_argument("--t5_max_distance", type=int, default=128)
    p.add_argument("--deberta_span", type=int, default=16)
    p.add_argument("--fire_width", type=int, default=32)
    p.add_argument("--fire_L", type=float, default=512.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--decode", type=int, default=0, metavar="LEN",
                   help="instead of training: greedy decoding with a key/value cache to LEN tokens")
    p.add_argument("--decode-batch", dest="decode_batch", type=int, default=1)
    p.add_argument("--foreach", type=int, default=1,
                   help="1: AdamW(foreach=True) multi-tensor update (faster here); 0: per-tensor loop")
    p.add_argument("--flush-denormal", dest="flush_denormal", type=int, default=0,
                   help="1: torch.set_flush_denormal(True) (off by default; relgrad does not flush either)")
    p.add_argument("--eval-memory", dest="eval_memory", type=int, default=0, metavar="LEN",
                   help="instead of training: one no-grad forward over a sequence of LEN tokens, print peak RSS")
    p.add_argument("--eval", dest="eval", default="", metavar="LEN[,BATCH]",
                   help="instead of training: an encoder's evaluation pass over BATCH examples of LEN symbols")
    a = p.parse_args(argv)
    if a.d_model % a.n_heads or (a.d_model // a.n_heads) % 2 or a.d_model % 2:
        p.error("d_model must split into heads of even size")
    if a.task == "reverse_string" and a.n_symbols != 2:
        p.error("--task reverse_string has its own alphabet of 2 symbols: --n_symbols 2")
    if a.arch == "encoder" and a.pos not in ENCODER_SCHEMES:
        p.error(f"--arch encoder: --pos {a.pos} has no encoder form here (one of {', '.join(ENCODER_SCHEMES)})")
    if a.arch == "encoder" and (a.decode or a.eval_memory):
        p.error("--arch encoder does not decode (--eval LEN times its evaluation)")
    a.eval_len, a.eval_batch = 0, 1
    if a.eval:
        parts = a.eval.split(",")
        ok = 1 <= len(parts) <= 2 and all(x.isdigit() for x in parts)
        if ok:
            a.eval_len, a.eval_batch = int(parts[0]), int(parts[1]) if len(parts) == 2 else 1
        if not ok or a.eval_len < 1 or a.eval_batch < 1:
            p.error(f"--eval '{a.eval}': expected LEN[,BATCH], LEN >= 1, BATCH >= 1, e.g. --eval 512,8")
        if a.arch != "encoder":
            p.error("--eval times an encoder's evaluation (--arch encoder); a decoder's: --decode LEN")
    return a


if __name__ == "__main__":
    ARGS = parse_args()
    # Before importing torch: BLIS (torch's BLAS here) and OpenMP read these once.
    os.environ["OMP_NUM_THREADS"] = str(ARGS.threads)
    os.environ["BLIS_NUM_THREADS"] = str(ARGS.threads)

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402


# ---------------------------------------------------------------- positions --

def sinusoid_table(n_pos, d, dtype=None):
    """SPEC's ape: row p = [sin(p w_0), cos(p w_0), sin(p w_1), ...] (interleaved)."""
    w = torch.pow(10000.0, -torch.arange(0, d, 2, dtype=torch.float64) / d)
    ang = torch.arange(n_pos, dtype=torch.float64)[:, None] * w[None, :]
    return torch.stack([ang.sin(), ang.cos()], dim=-1).reshape(n_pos, d).to(dtype or torch.float32)


def xl_table(dists, d):
    """Transformer-XL e(n) = [sin(n w_0..w_{d/2-1}), cos(n w_0..)] (sines first)."""
    w = torch.pow(10000.0, -torch.arange(0, d, 2, dtype=torch.float64) / d)
    ang = dists.to(torch.float64)[:, None] * w[None, :]
    return torch.cat([ang.sin(), ang.cos()], dim=-1)        # float64: cast by the caller


def alibi_slopes(h):
    def pow2(n):
        return [2.0 ** (-8.0 * (i + 1) / n) for i in range(n)]
    if h & (h - 1) == 0:
        return pow2(h)
    lo = 1 << (h.bit_length() - 1)
    return pow2(lo) + pow2(2 * lo)[0::2][: h - lo]


def t5_bucket(n, nb, max_dist):
    e = nb // 2
    if n < e:
        return n
    return min(nb - 1, e + int(math.floor(math.log(n / e) / math.log(max_dist / e) * (nb - e))))


def t5_bucket_bidirectional(r, nb, max_dist):
    """An encoder's T5 bucket of r = i - j (HF T5's bidirectional=True): keys
    after the query (r < 0) in the upper half, each half bucketed as above."""
    return (nb // 2 if r < 0 else 0) + t5_bucket(abs(r), nb // 2, max_dist)


# -------------------------------------------------------------------- model --

class Attention(nn.Module):
    def __init__(self, a):
        super().__init__()
        d, self.h = a.d_model, a.n_heads
        self.dh = d // self.h
        self.pos = a.pos
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        if a.pos == "xl":
            self.r = nn.Linear(d, d, bias=False)
            self.r_w_bias = nn.Parameter(torch.zeros(self.h, self.dh))
            self.r_r_bias = nn.Parameter(torch.zeros(self.h, self.dh))
        if a.pos == "deberta":
            self.pos_k = nn.Linear(d, d, bias=False)
            self.pos_q = nn.Linear(d, d, bias=False)
        if a.pos == "fire":
            self.fire = nn.Module()
            self.fire.fc1 = nn.Linear(1, a.fire_width)
            self.fire.fc2 = nn.Linear(a.fire_width, self.h)
            self.fire.c = nn.Parameter(torch.tensor([0.1]))
            self.fire.L = nn.Parameter(torch.tensor([1.0]))
            self.fire_L = a.fire_L

    def fire_bias(self, i, j):
        """FIRE: f(psi(i - j) / (psi(max(i, |L fire_L|)) + 1e-6)), psi(x) = log(|c x| + 1) -> [H,Tq,Tk]."""
        c, thr = self.fire.c, (self.fire.L * self.fire_L).abs()
        psi = lambda x: torch.log((c * x).abs() + 1)  # noqa: E731
        z = psi((i - j).float()) / (psi(torch.maximum(i.float(), thr)) + 1e-6)
        return self.fire.fc2(F.relu(self.fire.fc1(z[..., None]))).permute(2, 0, 1)

    def forward(self, x, ctx):
        B, T, d = x.shape
        H, dh = self.h, self.dh
        q, k, v = self.qkv(x).view(B, T, 3, H, dh).permute(2, 0, 3, 1, 4)  # each [B,H,T,dh]
        if self.pos == "rope":
            q, k = rope(q, ctx["cos"], ctx["sin"]), rope(k, ctx["cos"], ctx["sin"])
        if self.pos == "xl":
            # AC: (q + u) k^T;  BD: (q + v) r(i - j)^T via rel-shift of (q + v) r(T-1 .. 0)^T
            # (an encoder: distances T-1 .. -(T-1), rel_shift_both)
            r = self.r(ctx["xl_e"]).view(-1, H, dh).transpose(0, 1)         # [H,T or 2T-1,dh]
            ac = torch.matmul(q + self.r_w_bias[:, None, :], k.transpose(-1, -2))
            bd = torch.matmul(q + self.r_r_bias[:, None, :], r.transpose(-1, -2))
            bd = rel_shift_both(bd) if ctx["both_ways"] else rel_shift(bd)
            s = (ac + bd) * (1.0 / math.sqrt(dh)) + ctx["mask"]
        elif self.pos == "deberta":
            rel = ctx["rel_emb"]                                             # [2K,d]
            kr = self.pos_k(rel).view(-1, H, dh).transpose(0, 1)             # [H,2K,dh]
            qr = self.pos_q(rel).view(-1, H, dh).transpose(0, 1)
            idx = ctx["deb_idx"].expand(B, H, T, T)                          # idx[i,j] = rel(i,j)
            c2p = torch.gather(torch.matmul(q, kr.transpose(-1, -2)), -1, idx)
            p2c = torch.gather(torch.matmul(k, qr.transpose(-1, -2)), -1, idx).transpose(-1, -2)
            s = (torch.matmul(q, k.transpose(-1, -2)) + c2p + p2c) * (1.0 / math.sqrt(3 * dh)) + ctx["mask"]
        elif self.pos == "fire":
            s = torch.matmul(q * (1.0 / math.sqrt(dh)), k.transpose(-1, -2)) + ctx["mask"] \
                + self.fire_bias(ctx["i"], ctx["j"])
        else:
            # mask is [T,T] (causal) or [H,T,T] (causal + alibi/t5 bias)
            s = torch.matmul(q * (1.0 / math.sqrt(dh)), k.transpose(-1, -2)) + ctx["mask"]
        o = torch.matmul(torch.softmax(s, dim=-1), v)                        # [B,H,T,dh]
        return self.proj(o.transpose(1, 2).reshape(B, T, d))


def rope(x, cos, sin):
    """Rotate pairs (2m, 2m+1) of every head; cos/sin are [T, dh/2]."""
    x0, x1 = x[..., 0::2], x[..., 1::2]
    return torch.stack([x0 * cos - x1 * sin, x0 * sin + x1 * cos], dim=-1).flatten(-2)


def rel_shift(x):
    """[.., T, T] with column c = distance T-1-c  ->  [.., i, j] = distance i-j (j <= i)."""
    *lead, T, _ = x.shape
    x = F.pad(x, (1, 0))                                   # [.., T, T+1]
    return x.view(*lead, T + 1, T)[..., 1:, :].reshape(*lead, T, T)


def rel_shift_both(x):
    """An encoder's rel-shift: [.., T, 2T-1] with column c = distance T-1-c
    ->  [.., i, j] = distance i-j, every (i, j): row i's columns T-1-i ..
    2T-2-i, which are the flat entries T + (2T-1) i + j of the left-padded
    [.., T, 2T]."""
    *lead, T, _ = x.shape
    x = F.pad(x, (1, 0)).reshape(*lead, 2 * T * T)         # [.., T, 2T] flattened
    return x[..., T:].reshape(*lead, T, 2 * T - 1)[..., :T]


class Block(nn.Module):
    def __init__(self, a):
        super().__init__()
        self.ln1 = nn.LayerNorm(a.d_model, eps=1e-5)
        self.attn = Attention(a)
        self.ln2 = nn.LayerNorm(a.d_model, eps=1e-5)
        self.mlp = nn.Sequential()
        self.mlp.fc1 = nn.Linear(a.d_model, a.d_ff)
        self.mlp.gelu = nn.GELU()                          # exact (erf) form
        self.mlp.fc2 = nn.Linear(a.d_ff, a.d_model)

    def forward(self, x, ctx):
        x = x + self.attn(self.ln1(x), ctx)
        return x + self.mlp(self.ln2(x))


class Model(nn.Module):
    def __init__(self, a):
        super().__init__()
        self.a = a
        V, d = vocab_size(a), a.d_model
        self.tok_emb = nn.Embedding(V, d)
        if a.pos == "learned":
            self.pos_emb = nn.Embedding(a.max_positions, d)
        if a.pos == "t5":
            self.t5_bias = nn.Embedding(a.t5_buckets, a.n_heads)
        if a.pos == "deberta":
            self.rel_emb = nn.Embedding(2 * a.deberta_span, d)
        self.blocks = nn.ModuleList([Block(a) for _ in range(a.n_layers)])
        self.ln_f = nn.LayerNorm(d, eps=1e-5)
        self.lm_head = nn.Linear(d, V, bias=False)
        self._ctx_cache = {}
        for name, p in self.named_parameters():
            if name.endswith(".bias") or "r_w_bias" in name or "r_r_bias" in name:
                nn.init.zeros_(p)
            elif name.startswith("ln") or ".ln" in name:
                nn.init.ones_(p)
            else:
                nn.init.normal_(p, std=a.init_std)

    def constants(self, T):
        """Per-length constants (mask, rotations, index tables) in the model's
        dtype, cached by T. A decoder's mask carries the causal -inf (and
        alibi's bias); an encoder's scheme bias is ctx["bias"] ([H,T,T] or
        absent), the PAD mask comes with the tokens (forward)."""
        dt = self.tok_emb.weight.dtype
        if (T, dt) in self._ctx_cache:
            return self._ctx_cache[(T, dt)]
        a, H, d = self.a, self.a.n_heads, self.a.d_model
        encoder = a.arch == "encoder"
        i = torch.arange(T)[:, None]
        j = torch.arange(T)[None, :]
        causal = torch.zeros(T, T, dtype=dt).masked_fill(j > i, float("-inf"))
        ctx = {"mask": causal, "i": i, "j": j, "both_ways": encoder}
        if a.pos == "sinusoidal":
            ctx["ape"] = sinusoid_table(T, d, dt)
        if a.pos == "rope":
            dh = d // H
            inv = torch.pow(a.rope_base, -torch.arange(0, dh, 2, dtype=torch.float64) / dh) / a.rope_scale
            ang = torch.arange(T, dtype=torch.float64)[:, None] * inv[None, :]
            ctx["cos"], ctx["sin"] = ang.cos().to(dt), ang.sin().to(dt)
        if a.pos == "alibi":
            slopes = torch.tensor(alibi_slopes(H), dtype=torch.float64)[:, None, None]
            if encoder:  # -s_h |i - j|, both ways
                ctx["bias"] = (-slopes * (i - j).abs().double()).to(dt)
            else:
                ctx["mask"] = causal - (slopes * (i - j).clamp(min=0).double()).to(dt)
        if a.pos == "t5":
            rule = (lambda r: t5_bucket_bidirectional(r, a.t5_buckets, a.t5_max_distance)) if encoder \
                else (lambda r: t5_bucket(max(r, 0), a.t5_buckets, a.t5_max_distance))
            by_distance = torch.tensor([rule(r) for r in range(-(T - 1), T)])  # distance -(T-1) .. T-1
            ctx["t5_idx"] = by_distance[i - j + T - 1]
        if a.pos == "xl":
            ctx["xl_e"] = xl_table(torch.arange(T - 1, -T if encoder else -1, -1), d).to(dt)
        if a.pos == "deberta":
            K = a.deberta_span
            ctx["deb_idx"] = ((i - j).clamp(-K, K - 1) + K)[None, None]
        self._ctx_cache[(T, dt)] = ctx
        return ctx

    def forward(self, tokens):
        B, T = tokens.shape
        ctx = dict(self.constants(T))
        x = self.tok_emb(tokens)
        if self.a.pos == "sinusoidal":
            x = x + ctx["ape"]
        elif self.a.pos == "learned":
            if T > self.a.max_positions:
                raise SystemExit(f"bench_torch: T={T} exceeds max_positions={self.a.max_positions}")
            x = x + self.pos_emb.weight[:T]
        elif self.a.pos == "t5":
            # learnable bias [H,T,T] gathered from the table, plus the causal mask
            bias = self.t5_bias(ctx["t5_idx"]).permute(2, 0, 1)
            if self.a.arch == "encoder":
                ctx["bias"] = bias
            else:
                ctx["mask"] = bias + ctx["mask"]
        elif self.a.pos == "deberta":
            ctx["rel_emb"] = self.rel_emb.weight
        if self.a.arch == "encoder":
            # both ways; PAD keys hidden: [B,1,1,T], plus the scheme's bias -> [B,H,T,T]
            pad = torch.zeros(B, 1, 1, T, dtype=x.dtype).masked_fill(
                (tokens == pad_token(self.a))[:, None, None, :], float("-inf"))
            ctx["mask"] = pad + ctx["bias"] if "bias" in ctx else pad
        for blk in self.blocks:
            x = blk(x, ctx)
        return self.lm_head(self.ln_f(x))


# ------------------------------------------------------------ task + optim --

def vocab_size(a):
    """n_symbols, then PAD, BOS, SEP, EOS, then ANS for an encoder."""
    return a.n_symbols + 4 + (a.arch == "encoder")


def pad_token(a):
    return a.n_symbols


def task_batch(a, B, n, gen):
    """B examples of the task with n symbols each, laid out for a.arch:
    inputs/targets [B, 2n+2], targets -100 off the loss mask (module docstring)."""
    S = a.n_symbols
    BOS, SEP, EOS, ANS = S + 1, S + 2, S + 3, S + 4                   # PAD = S is never needed
    x = torch.randint(0, S, (B, n), generator=gen)
    y = x.flip(1) if a.task == "reverse_string" else x
    col = lambda v: torch.full((B, 1), v, dtype=torch.long)  # noqa: E731
    if a.arch == "encoder":
        inp = torch.cat([col(BOS), x, col(SEP), torch.full((B, n), ANS, dtype=torch.long)], dim=1)
        tgt = torch.full_like(inp, -100)
        tgt[:, n + 2:] = y                                             # the k-th ANS answers y_k
        return inp, tgt
    seq = torch.cat([col(BOS), x, col(SEP), y, col(EOS)], dim=1)      # [B, 2n+3]
    inp, tgt = seq[:, :-1], seq[:, 1:].clone()
    tgt[:, : n + 1] = -100                                             # mask: y_1..y_n and EOS only
    return inp.contiguous(), tgt


def make_optimizer(model, a):
    decay_suffixes = ("attn.qkv.weight", "attn.proj.weight", "mlp.fc1.weight", "mlp.fc2.weight",
                      "lm_head.weight", "attn.r.weight", "attn.pos_k.weight", "attn.pos_q.weight")
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (decay if name.endswith(decay_suffixes) else no_decay).append(p)
    groups = [{"params": decay, "weight_decay": a.weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=a.lr, betas=(0.9, 0.95), eps=1e-8, foreach=bool(a.foreach))


@torch.no_grad()
def decode_step(model, tokens, cache, t0):
    """Feed tokens [B,n] at positions t0.. through the layers, appending to the
    per-layer caches; logits of the last token [B,V]."""
    a, B, n = model.a, tokens.shape[0], tokens.shape[1]
    x = model.tok_emb(tokens)
    pos = torch.arange(t0, t0 + n)
    Tk = t0 + n
    # causal mask of the new rows against every cached key: [n, Tk]
    mask = torch.zeros(n, Tk).masked_fill(torch.arange(Tk)[None, :] > pos[:, None], float("-inf"))
    if a.pos == "alibi":
        slopes = torch.tensor(alibi_slopes(a.n_heads))[:, None, None]
        mask = mask - slopes * (pos[:, None] - torch.arange(Tk)[None, :]).clamp(min=0).float()
    if a.pos == "rope":
        dh = a.d_model // a.n_heads
        inv = torch.pow(a.rope_base, -torch.arange(0, dh, 2, dtype=torch.float64) / dh) / a.rope_scale
        ang = pos.double()[:, None] * inv[None, :]
        cos, sin = ang.cos().float(), ang.sin().float()
    for blk, (kc, vc) in zip(model.blocks, cache):
        at = blk.attn
        H, dh = at.h, at.dh
        q, k, v = at.qkv(blk.ln1(x)).view(B, n, 3, H, dh).permute(2, 0, 3, 1, 4)
        if a.pos == "rope":
            q, k = rope(q, cos, sin), rope(k, cos, sin)
        kc[:, :, t0:Tk] = k
        vc[:, :, t0:Tk] = v
        s = torch.matmul(q * (1.0 / math.sqrt(dh)), kc[:, :, :Tk].transpose(-1, -2)) + mask
        o = torch.matmul(torch.softmax(s, dim=-1), vc[:, :, :Tk])
        x = x + at.proj(o.transpose(1, 2).reshape(B, n, a.d_model))
        x = x + blk.mlp(blk.ln2(x))
    return model.lm_head(model.ln_f(x[:, -1]))


def decode_once(model, B, length, gen):
    """Prompt of length/2 random symbols, then length/2 greedy tokens; seconds."""
    a = model.a
    P, G = length // 2, length - length // 2
    H, dh = a.n_heads, a.d_model // a.n_heads
    cache = [(torch.empty(B, H, length, dh), torch.empty(B, H, length, dh)) for _ in model.blocks]
    prompt = torch.randint(0, a.n_symbols, (B, P), generator=gen)
    t = time.perf_counter()
    logits = decode_step(model, prompt, cache, 0)
    for i in range(G):
        nxt = logits.argmax(dim=-1, keepdim=True)                   # [B,1]
        if i + 1 == G:
            break
        logits = decode_step(model, nxt, cache, P + i)
    return time.perf_counter() - t


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


@torch.no_grad()
def eval_pass(model, inp, tgt):
    """An encoder's evaluation pass: forward, argmax of every slot; right slots."""
    pred = model(inp).argmax(dim=-1)
    return int(((pred == tgt) & (tgt != -100)).sum())


def time_eval(model, a):
    """As `relgrad bench --eval` (src/experiment/bench.c): one untimed pass,
    then at least 3 and until 1 s has gone by (at most 50); median ms."""
    gen = torch.Generator().manual_seed(a.seed + 2)
    inp, tgt = task_batch(a, a.eval_batch, a.eval_len, gen)
    model.eval()
    eval_pass(model, inp, tgt)
    times = []
    while len(times) < 50 and (len(times) < 3 or sum(times) < 1.0):
        t = time.perf_counter()
        eval_pass(model, inp, tgt)
        times.append(time.perf_counter() - t)
    return inp.shape[1], statistics.median(times), len(times)


def main(a):
    torch.manual_seed(a.seed)
    if a.eval_memory:
        a.max_positions = max(a.max_positions, a.eval_memory)
    if a.decode:
        if a.pos not in ("none", "rope", "alibi"):
            raise SystemExit(f"bench_torch: --decode supports pos none, rope, alibi (got {a.pos})")
        model = Model(a).eval()
        gen = torch.Generator().manual_seed(a.seed + 1)
        decode_once(model, a.decode_batch, 16, gen)                 # warm-up
        secs = decode_once(model, a.decode_batch, a.decode, gen)
        print(f"config: pos {a.pos} d_model {a.d_model} n_heads {a.n_heads} n_layers {a.n_layers} "
              f"d_ff {a.d_ff} threads {a.threads} (torch {torch.__version__})")
        gen_tokens = a.decode_batch * (a.decode - a.decode // 2)
        print(f"decode: len={a.decode} batch={a.decode_batch} ms={secs * 1000:.3f} "
              f"tokens_per_s={gen_tokens / secs:.1f} peak_rss_mb={peak_rss_mb():.1f}")
        return
    model = Model(a)
    n_params = sum(p.numel() for p in model.parameters())
    V = vocab_size(a)

    if a.eval_len:
        T, secs, runs = time_eval(model, a)
        print(f"config: pos {a.pos} arch {a.arch} d_model {a.d_model} n_heads {a.n_heads} n_layers {a.n_layers} "
              f"d_ff {a.d_ff} params {n_params} threads {a.threads} (torch {torch.__version__})")
        print(f"eval: len={a.eval_len} batch={a.eval_batch} ms={secs * 1000:.3f} "
              f"tokens_per_s={a.eval_batch * T / secs:.1f} peak_rss_mb={peak_rss_mb():.1f} seq={T} runs={runs}")
        return

    if a.eval_memory:
        model.eval()
        tokens = torch.randint(0, V, (1, a.eval_memory))
        base = peak_rss_mb()
        with torch.no_grad():
            model(tokens)
        print(f"config: pos {a.pos} d_model {a.d_model} n_heads {a.n_heads} n_layers {a.n_layers} "
              f"d_ff {a.d_ff} params {n_params} threads {a.threads} (torch {torch.__version__})")
        print(f"eval_memory: len={a.eval_memory} peak_rss_mb={peak_rss_mb():.1f} base_rss_mb={base:.1f}")
        return

    opt = make_optimizer(model, a)
    gen = torch.Generator().manual_seed(a.seed + 1)
    params = [p for p in model.parameters()]
    B, T = a.batch_size, 2 * a.train_len + 2

    def step():
        inp, tgt = task_batch(a, B, a.train_len, gen)
        logits = model(inp)
        loss = F.cross_entropy(logits.view(-1, V), tgt.view(-1), ignore_index=-100)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, a.grad_clip)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss

    for _ in range(a.warmup):
        step()
    t0 = time.perf_counter()
    for _ in range(a.steps):
        loss = step()
    secs = time.perf_counter() - t0
    if not torch.isfinite(loss):
        print("bench_torch: loss is not finite", file=sys.stderr)
        sys.exit(3)
    print(f"config: pos {a.pos} arch {a.arch} d_model {a.d_model} n_heads {a.n_heads} n_layers {a.n_layers} "
          f"d_ff {a.d_ff} batch {B} seq {T} threads {a.threads} params {n_params} "
          f"final_loss {loss.item():.4f} (torch {torch.__version__}, float32)")
    print(f"bench: ms_per_step={secs * 1000 / a.steps:.3f} tokens_per_s={B * T * a.steps / secs:.0f} "
          f"peak_rss_mb={peak_rss_mb():.1f}")


if __name__ == "__main__":
    torch.set_num_threads(ARGS.threads)
    torch.set_num_interop_threads(1)
    torch.set_flush_denormal(bool(ARGS.flush_denormal))
    main(ARGS)
