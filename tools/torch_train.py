#!/usr/bin/python3
"""torch_train.py: train the SPEC model in PyTorch with relgrad's data and
schedule, and evaluate it per length, so its curves can be compared with
relgrad's (the T5 investigation, docs/t5_investigation.md).

Same as relgrad (read from src/core/tensor.c, src/data/, src/nn/model.c,
src/train/optim.c, src/train/train.c, src/train/eval.c):
    RNG        xoshiro256** seeded by splitmix64; rg_rng_int = lo + u64 % span;
               normal = Box-Muller from two uniforms (u64 >> 11) * 2^-53.
    data       rg_batch_make: every example's length first, then each
               example's symbols; tokens/targets/mask as relgrad lays them out;
               training stream seed rg_train_seed(seed), lengths 1..train_len.
    init       --init relgrad (default): rg_model_init's order and values
               (N(0, init_std) in float64 cast to float32, LayerNorm 1/0,
               biases 0), bit-exact for the single schemes none .. deberta;
               --init normal: relgrad.Model's own N(0, init_std) from torch;
               --init-from CKPT.h5: the weights of a relgrad checkpoint.
    schedule   lr(s) = lr (s+1)/warmup for s < warmup, then
               lr 0.5 (1 + cos(pi (s - warmup)/(steps - warmup)));
               global grad-norm clipping: g *= clip/(norm + 1e-6) if norm > clip;
               AdamW beta (0.9, 0.95), eps 1e-8 after the bias-corrected sqrt,
               decoupled decay w -= lr wd w on matrices only (relgrad.is_decayed).
    eval       per length n: eval_n examples in batches of 64 from one stream
               (seed rg_eval_seed(n), the same for every model seed, as relgrad
               draws it; or explicit --eval-stream-seeds);
               exact match by greedy decoding from BOS x SEP (the full forward
               recomputed each step), whole y and EOS right; teacher-forced
               token accuracy over the masked positions.

Usage
    /usr/bin/python3 tools/torch_train.py --task copy --pos t5 --train-len 16 \\
        --eval-lens 8,16,17,18,20,24,32 --steps 4000 --batch 32 --lr 3e-3 \\
        --warmup 100 --d-model 64 --heads 4 --layers 2 --d-ff 256 \\
        --init-std 0.1 --seed 1 --threads 1 --out FILE.csv
    Optional: --log LOG.csv (step,loss,lr,grad_norm like relgrad's
    train_log.csv), --save W.h5 (a relgrad checkpoint `relgrad eval` reads),
    --dtype float64, --eval-n, --weight-decay, --grad-clip, --n-symbols,
    --set key=value (any other model key, e.g. t5_max_distance=256).
    --steps 0 with --init-from evaluates a relgrad checkpoint in PyTorch.
"""
import argparse
import csv
import math
import os
import sys
import time

import h5py
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import relgrad  # noqa: E402

MASK64 = (1 << 64) - 1
TASKS = ("copy", "reverse", "sort", "duplicate")
EVAL_BATCH = 64  # src/train/eval.c


# --------------------------------------------------------------------------
# relgrad's random numbers (src/core/tensor.c) and stream seeds (src/data/batch.c).
# --------------------------------------------------------------------------

def _rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & MASK64


def mix64(z):
    """splitmix64's finaliser (a bijection of 64-bit integers)."""
    z = ((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) & MASK64
    return z ^ (z >> 31)


class Rng:
    """xoshiro256** with its four state words seeded by splitmix64 (rg_rng)."""

    def __init__(self, seed):
        x, self.s = seed & MASK64, []
        for _ in range(4):
            x = (x + 0x9e3779b97f4a7c15) & MASK64
            self.s.append(mix64(x))

    def u64(self):
        s = self.s
        result = (_rotl((s[1] * 5) & MASK64, 7) * 9) & MASK64
        t = (s[1] << 17) & MASK64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = _rotl(s[3], 45)
        return result

    def uniform(self):
        return (self.u64() >> 11) * 2.0 ** -53

    def normal(self):
        u1, u2 = self.uniform(), self.uniform()
        u1 = max(u1, 1e-300)
        return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)

    def int(self, lo, hi):
        """Uniform in [lo, hi] as rg_rng_int draws it (modulo, one u64)."""
        return lo + self.u64() % (hi - lo + 1)


def _stream_key(seed, tag, n):
    """src/data/batch.c: seed (32 bits) << 32 | tag (2 bits) << 30 | n (30 bits)."""
    return ((seed & 0xffffffff) << 32) | ((tag & 3) << 30) | (n & 0x3fffffff)


def train_seed(seed):
    """rg_train_seed: the training data stream's seed."""
    return mix64(_stream_key(seed, 0, 0))


def eval_seed(n):
    """rg_eval_seed(n): the evaluation stream of length n, the same for every
    model seed."""
    return mix64(_stream_key(0, 1, n))


# --------------------------------------------------------------------------
# Tasks and batches (src/data/, SPEC section 3).
# --------------------------------------------------------------------------

def answer(task, x):
    """y for input x."""
    if task == "copy":
        return list(x)
    if task == "reverse":
        return x[::-1]
    if task == "sort":
        return sorted(x)
    if task == "duplicate":
        return list(x) + list(x)
    raise ValueError("unknown task %r (this tool knows %s)" % (task, ", ".join(TASKS)))


def out_len(task, n):
    return 2 * n if task == "duplicate" else n


def make_batch(task, n_symbols, B, min_len, max_len, rng):
    """rg_batch_make: B examples with lengths uniform in [min_len, max_len]
    (all lengths drawn first), then each example's symbols. Returns tokens,
    targets (int64 [B,T]), mask (float [B,T]) and the lengths, where T is
    the longest sequence minus one; rows are BOS x SEP y then PAD."""
    pad, bos, sep, eos = n_symbols, n_symbols + 1, n_symbols + 2, n_symbols + 3
    lens = [rng.int(min_len, max_len) for _ in range(B)]
    T = max(n + out_len(task, n) + 3 for n in lens) - 1
    tokens = np.full((B, T), pad, dtype=np.int64)
    targets = np.full((B, T), pad, dtype=np.int64)
    mask = np.zeros((B, T))
    for i, n in enumerate(lens):
        x = [rng.int(0, n_symbols - 1) for _ in range(n)]
        seq = [bos] + x + [sep] + answer(task, x)  # the inputs: everything but EOS
        L = len(seq)
        tokens[i, :L] = seq
        targets[i, :L - 1], targets[i, L - 1] = seq[1:], eos
        mask[i, n + 1:L] = 1.0
    return tokens, targets, mask, lens


# --------------------------------------------------------------------------
# Initialisation (src/nn/model.c rg_model_init).
# --------------------------------------------------------------------------

def relgrad_param_order(cfg):
    """Parameter names in rg_model_init's declaration (and drawing) order."""
    schemes = relgrad.layer_schemes(cfg)
    if len(set(schemes)) > 1 or schemes[0] == "fire":
        raise ValueError("relgrad's parameter order for pos %s is not known to this tool "
                         "(single schemes none..deberta only); use --init normal or --init-from"
                         % cfg["pos"])
    pos = schemes[0]
    names = ["tok_emb.weight", "lm_head.weight", "ln_f.weight", "ln_f.bias"]
    names += {"learned": ["pos_emb.weight"], "t5": ["t5_bias.weight"],
              "deberta": ["rel_emb.weight"]}.get(pos, [])
    for l in range(cfg["n_layers"]):
        per = ["ln1.weight", "ln1.bias", "ln2.weight", "ln2.bias", "attn.qkv.weight", "attn.qkv.bias",
               "attn.proj.weight", "attn.proj.bias", "mlp.fc1.weight", "mlp.fc1.bias",
               "mlp.fc2.weight", "mlp.fc2.bias"]
        per += {"xl": ["attn.r.weight", "attn.r_w_bias", "attn.r_r_bias"],
                "deberta": ["attn.pos_k.weight", "attn.pos_q.weight"]}.get(pos, [])
        names += ["blocks.%d.%s" % (l, n) for n in per]
    return names


def relgrad_init_values(cfg, seed, dtype=np.float32):
    """{name: numpy array}: rg_model_init's initial parameters for model seed
    `seed` (its generator is seeded with the seed itself), rounded to dtype
    (float32 for build/relgrad, float64 for build/relgrad-f64)."""
    rng, std, shapes, out = Rng(seed), cfg["init_std"], relgrad.expected_params(cfg), {}
    for name in relgrad_param_order(cfg):
        size = int(np.prod(shapes[name]))
        if name.endswith(("ln1.weight", "ln2.weight")) or name == "ln_f.weight":
            v = np.ones(size)
        elif name.endswith((".bias", "r_w_bias", "r_r_bias")):
            v = np.zeros(size)
        else:
            v = np.array([std * rng.normal() for _ in range(size)])
        out[name] = v.astype(dtype).reshape(shapes[name])
    return out


# --------------------------------------------------------------------------
# The schedule (src/train/optim.c).
# --------------------------------------------------------------------------

def lr_at(s, steps, warmup, lr_max):
    """rg_lr_at: linear warmup over `warmup` steps, then cosine decay to 0."""
    if s < warmup:
        return lr_max * (s + 1) / warmup
    if steps <= warmup:
        return lr_max
    return lr_max * 0.5 * (1 + math.cos(math.pi * (s - warmup) / (steps - warmup)))


class AdamW:
    """relgrad's AdamW: moments and update computed in float64 and stored in
    the parameters' dtype (as the C loop does with its (real) casts)."""

    def __init__(self, named_params, weight_decay, beta1=0.9, beta2=0.95, eps=1e-8):
        self.params = [(n, p, relgrad.is_decayed(n)) for n, p in named_params]
        self.m = {n: torch.zeros_like(p) for n, p, _ in self.params}
        self.v = {n: torch.zeros_like(p) for n, p, _ in self.params}
        self.wd, self.b1, self.b2, self.eps, self.step_count = weight_decay, beta1, beta2, eps, 0

    @torch.no_grad()
    def step(self, lr):
        self.step_count += 1
        b1, b2 = self.b1, self.b2
        c1, c2 = 1 - b1 ** self.step_count, 1 - b2 ** self.step_count
        for name, p, decayed in self.params:
            g = p.grad.double() if p.grad is not None else torch.zeros_like(p, dtype=torch.float64)
            m = (b1 * self.m[name].double() + (1 - b1) * g).to(p.dtype)
            v = (b2 * self.v[name].double() + (1 - b2) * g * g).to(p.dtype)
            self.m[name], self.v[name] = m, v
            decay = lr * self.wd if decayed else 0.0
            w = p.double()
            upd = w - decay * w - lr * (m.double() / c1) / (torch.sqrt(v.double() / c2) + self.eps)
            p.copy_(upd.to(p.dtype))


@torch.no_grad()
def clip_grad_norm(params, max_norm):
    """rg_clip_grad_norm: the global norm (summed in float64); gradients are
    scaled by max_norm / (norm + 1e-6) when the norm exceeds max_norm."""
    grads = [p.grad for p in params if p.grad is not None]
    norm = math.sqrt(sum(float((g.double() ** 2).sum()) for g in grads))
    if max_norm > 0 and norm > max_norm:
        scale = torch.tensor(max_norm / (norm + 1e-6), dtype=grads[0].dtype)
        for g in grads:
            g.mul_(scale)
    return norm


# --------------------------------------------------------------------------
# Training and evaluation.
# --------------------------------------------------------------------------

def train(model, cfg, log=None, progress=True):
    """relgrad's training loop (src/train/train.c) in PyTorch. Returns the losses."""
    rng = Rng(train_seed(cfg["seed"]))
    opt = AdamW(model.named_parameters(), cfg["weight_decay"])
    params = list(model.parameters())
    losses = []
    t0 = time.time()
    for s in range(cfg["steps"]):
        lr = lr_at(s, cfg["steps"], cfg["warmup"], cfg["lr"])
        tok, tgt, mask, _ = make_batch(cfg["task"], cfg["n_symbols"], cfg["batch_size"], 1,
                                       cfg["train_len"], rng)
        logits = model.forward_segments(torch.from_numpy(tok))
        loss = relgrad.masked_ce(logits, torch.from_numpy(tgt), torch.from_numpy(mask).to(logits.dtype))
        for p in params:
            p.grad = None
        loss.backward()
        if not math.isfinite(float(loss)):
            raise RuntimeError("step %d: loss is %g" % (s + 1, float(loss)))
        norm = clip_grad_norm(params, cfg["grad_clip"])
        opt.step(lr)
        losses.append(float(loss))
        if log is not None:
            log.write("%d,%.9g,%.6g,%.6g\n" % (s + 1, float(loss), lr, norm))
        if progress and ((s + 1) % max(1, cfg["steps"] // 20) == 0 or s + 1 == cfg["steps"]):
            print("step %d/%d  loss %.4f  %.1f s" % (s + 1, cfg["steps"], float(loss), time.time() - t0),
                  flush=True)
    return losses


@torch.no_grad()
def greedy_correct(model, tokens, targets, n, m):
    """Greedy decoding from the prompt BOS x_1..x_n SEP, m + 1 tokens (y and
    EOS), recomputing the full forward each step. -> bool [B], whole answer right."""
    P = n + 2
    seq = tokens[:, :P]
    ok = torch.ones(tokens.shape[0], dtype=torch.bool)
    for j in range(m + 1):
        nxt = model.forward_segments(seq)[:, -1].argmax(-1)
        ok &= nxt == targets[:, P - 1 + j]
        seq = torch.cat([seq, nxt[:, None]], dim=1)
    return ok


@torch.no_grad()
def evaluate_length(model, task, n_symbols, n, eval_n, stream_seed):
    """Exact match and token accuracy at input length n on eval_n examples
    drawn (in batches of 64, as src/train/eval.c) from the stream `stream_seed`."""
    rng = Rng(stream_seed)
    exact = right = total = 0
    for done in range(0, eval_n, EVAL_BATCH):
        B = min(EVAL_BATCH, eval_n - done)
        tok, tgt, mask, _ = make_batch(task, n_symbols, B, n, n, rng)
        tok, tgt, mask = torch.from_numpy(tok), torch.from_numpy(tgt), torch.from_numpy(mask)
        pred = model.forward_segments(tok).argmax(-1)
        hit = (pred == tgt) & (mask != 0)
        right += int(hit.sum())
        total += int((mask != 0).sum())
        exact += int(greedy_correct(model, tok, tgt, n, out_len(task, n)).sum())
    return exact / eval_n, (right / total if total else 0.0)


def evaluate(model, cfg, lens, eval_n, stream_seeds):
    """[(n, exact_match, token_acc)] for every length."""
    model.eval()
    return [(n, *evaluate_length(model, cfg["task"], cfg["n_symbols"], n, eval_n, s))
            for n, s in zip(lens, stream_seeds)]


def save_checkpoint(path, model, cfg):
    """The model as a relgrad checkpoint (SPEC section 4; /params float32, root
    attributes for the config keys relgrad knows) that `relgrad eval` and
    relgrad.Model.from_checkpoint read. No /optim and /rng."""
    keys = ("d_model", "n_heads", "n_layers", "d_ff", "pos", "max_positions", "rope_base", "rope_scale",
            "t5_buckets", "t5_max_distance", "deberta_span", "mem_len", "segment_len", "init_std",
            "task", "n_symbols", "train_len", "steps", "batch_size", "lr", "warmup", "weight_decay",
            "grad_clip", "seed")
    with h5py.File(path, "w") as f:
        for k in keys:
            v = cfg[k]
            f.attrs[k] = np.bytes_(v) if isinstance(v, str) else v
        f.attrs["format"] = np.bytes_("relgrad-checkpoint")
        f.attrs["format_version"] = np.int64(1)
        for name, t in model.state_dict().items():
            f["params/" + name] = t.detach().to(torch.float32).numpy()


# --------------------------------------------------------------------------
# Command line.
# --------------------------------------------------------------------------

def parse_lens(text):
    """'8,16,20..24,32..64:16' -> [8, 16, 20, 21, 22, 23, 24, 32, 48, 64]."""
    out = []
    for item in text.split(","):
        if ".." in item:
            a, rest = item.split("..")
            b, s = (rest.split(":") + ["1"])[:2]
            out += list(range(int(a), int(b) + 1, int(s)))
        else:
            out.append(int(item))
    return out


def build_config(args):
    """The run's config dict (model keys via relgrad.make_config)."""
    cfg = {"task": args.task, "pos": args.pos, "train_len": args.train_len, "steps": args.steps,
           "batch_size": args.batch, "lr": args.lr, "warmup": args.warmup, "d_model": args.d_model,
           "n_heads": args.heads, "n_layers": args.layers, "d_ff": args.d_ff, "init_std": args.init_std,
           "seed": args.seed, "weight_decay": args.weight_decay, "grad_clip": args.grad_clip,
           "n_symbols": args.n_symbols, "max_positions": args.max_positions}
    for kv in args.set:
        k, v = kv.split("=", 1)
        cfg[k] = v
    return relgrad.make_config(cfg)


def main(argv=None):
    ap = argparse.ArgumentParser(description="Train the SPEC model in PyTorch with relgrad's data and schedule.")
    a = ap.add_argument
    a("--task", default="copy", choices=TASKS)
    a("--pos", default="t5")
    a("--train-len", type=int, default=16)
    a("--eval-lens", default="8,16,17,18,20,24,32")
    a("--eval-n", type=int, default=200)
    a("--eval-stream-seeds", default=None, help="explicit 64-bit stream seeds, one per eval length")
    a("--steps", type=int, default=4000)
    a("--batch", type=int, default=32)
    a("--lr", type=float, default=3e-3)
    a("--warmup", type=int, default=100)
    a("--weight-decay", type=float, default=0.1)
    a("--grad-clip", type=float, default=1.0)
    a("--d-model", type=int, default=64)
    a("--heads", type=int, default=4)
    a("--layers", type=int, default=2)
    a("--d-ff", type=int, default=256)
    a("--n-symbols", type=int, default=16)
    a("--max-positions", type=int, default=256)
    a("--init-std", type=float, default=0.1)
    a("--init", choices=("relgrad", "normal"), default="relgrad")
    a("--init-from", metavar="CKPT.h5", help="start from a relgrad checkpoint's weights (its model config wins)")
    a("--set", action="append", default=[], metavar="KEY=VALUE", help="any other model config key")
    a("--seed", type=int, default=1)
    a("--threads", type=int, default=1)
    a("--dtype", choices=("float32", "float64"), default="float32")
    a("--out", help="CSV of per-length exact match and token accuracy")
    a("--log", help="per-step CSV step,loss,lr,grad_norm (like relgrad's train_log.csv)")
    a("--save", help="write the trained weights as a relgrad checkpoint")
    a("--quiet", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    dtype = getattr(torch, args.dtype)
    t_start = time.time()

    cfg = build_config(args)
    if args.init_from:
        ck_cfg, state = relgrad.load_checkpoint(args.init_from)
        for k in relgrad.MODEL_DEFAULTS:
            cfg[k] = ck_cfg[k]
        model = relgrad.Model(cfg, dtype=dtype)
        model.load_state_dict({n: t.to(dtype) for n, t in state.items()}, strict=True)
        how = "weights of " + args.init_from
    else:
        model = relgrad.Model(cfg, dtype=dtype)
        if args.init == "relgrad":
            vals = relgrad_init_values(cfg, cfg["seed"], np.float32 if dtype == torch.float32 else np.float64)
            model.load_state_dict({n: torch.from_numpy(v).to(dtype) for n, v in vals.items()}, strict=True)
            how = "relgrad's init (seed %d)" % cfg["seed"]
        else:
            model.init_normal_(cfg["init_std"], torch.Generator().manual_seed(cfg["seed"]))
            how = "torch normal(0, %g) (seed %d)" % (cfg["init_std"], cfg["seed"])
    if not args.quiet:
        print("torch_train: %s %s, %d steps, %s, %s, %d thread(s)" % (
            cfg["task"], cfg["pos"], cfg["steps"], how, args.dtype, args.threads), flush=True)

    log = open(args.log, "w") if args.log else None
    if log:
        log.write("step,loss,lr,grad_norm\n")
    model.train()
    losses = train(model, cfg, log, progress=not args.quiet)
    if log:
        log.close()
    t_train = time.time() - t_start

    lens = parse_lens(args.eval_lens)
    if args.eval_stream_seeds:
        seeds = [int(s, 0) for s in args.eval_stream_seeds.split(",")]
        if len(seeds) != len(lens):
            ap.error("--eval-stream-seeds needs one seed per eval length (%d)" % len(lens))
    else:
        seeds = [eval_seed(n) for n in lens]
    results = evaluate(model, cfg, lens, args.eval_n, seeds)
    t_all = time.time() - t_start
    print("torch_train: train %.1f s, total %.1f s, final loss %s" % (
        t_train, t_all, "%.6f" % losses[-1] if losses else "-"))
    print("len  exact_match  token_acc")
    for n, em, acc in results:
        print("%3d  %11.3f  %9.3f" % (n, em, acc))
    if args.out:
        with open(args.out, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["task", "pos", "seed", "eval_len", "exact_match", "token_acc", "eval_n",
                        "steps", "final_train_loss", "wall_seconds"])
            for n, em, acc in results:
                w.writerow([cfg["task"], cfg["pos"], cfg["seed"], n, em, acc, args.eval_n, cfg["steps"],
                            losses[-1] if losses else "", "%.1f" % t_all])
    if args.save:
        save_checkpoint(args.save, model, cfg)
    return 0


if __name__ == "__main__":
    sys.exit(main())
