#!/usr/bin/python3
"""copy_probe.py: look inside a model trained on `copy` (the T5
investigation, docs/t5_investigation.md).

    /usr/bin/python3 tools/copy_probe.py CKPT.h5 [--lens 16,17,18] [--n 200]
        [--attention 16:17,17:17]

For every length n it evaluates n-symbol examples of relgrad's evaluation
stream rg_eval_seed(n) (the same for every model seed) with
teacher forcing and prints, per answer index k = 1 .. n+1 (k = n+1 is the
EOS step):
    acc   the share of examples whose argmax at that step is right
    eos   the share whose argmax is EOS
and the share with y_1 .. y_min(n, train_len) all right. The query that
predicts answer index k sits at position n + k; SEP is k - 1 positions back,
the source symbol x_k exactly n positions back.
--attention n:k,... prints, for the query predicting index k at length n,
each head's four most attended keys (mean over examples) with their
distance and T5 bucket. The model's T5 table (if any) is printed last.
"""
import argparse
import os
import signal
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import relgrad  # noqa: E402
import torch_train as tt  # noqa: E402


def examples(cfg, n, count, key):
    """count copy examples of length n from the evaluation stream."""
    tok, tgt, _, _ = tt.make_batch("copy", cfg["n_symbols"], count, n, n, tt.Rng(tt.eval_seed(n)))
    return torch.from_numpy(tok), torch.from_numpy(tgt)


def per_index(model, cfg, n, count, key):
    """Accuracy and EOS rate per answer index, and the y_1..y_16 exact share."""
    tok, tgt = examples(cfg, n, count, key)
    with torch.no_grad():
        pred = model(tok).argmax(-1)
    eos = cfg["n_symbols"] + 3
    q = range(n + 1, 2 * n + 2)  # the queries predicting y_1 .. y_n, EOS
    acc = [float((pred[:, t] == tgt[:, t]).float().mean()) for t in q]
    eos_rate = [float((pred[:, t] == eos).float().mean()) for t in q]
    head = min(n, cfg["train_len"])
    prefix = float((pred[:, n + 1:n + 1 + head] == tgt[:, n + 1:n + 1 + head]).all(1).float().mean())
    return acc, eos_rate, prefix


def token_name(n, j):
    return "BOS" if j == 0 else "x%d" % j if j <= n else "SEP" if j == n + 1 else "y%d" % (j - n - 1)


def attention_report(model, cfg, n, k, count, key):
    """Each head's top keys for the query predicting answer index k."""
    tok, _ = examples(cfg, n, count, key)
    with torch.no_grad():
        _, probs = model(tok, return_probs=True)
    t = n + k
    print("n=%d, query at position %d predicting %s:" % (n, t, "EOS" if k == n + 1 else "y%d" % k))
    for l, P in enumerate(probs):
        for h in range(P.shape[1]):
            mean = P[:, h, t, :t + 1].mean(0)
            top = torch.argsort(mean, descending=True)[:4].tolist()
            print("  L%dH%d  " % (l, h) + "   ".join(
                "%-4s d=%-2d b=%-2d %.2f" % (token_name(n, j), t - j,
                                             relgrad.t5_bucket(t - j, cfg["t5_buckets"], cfg["t5_max_distance"]),
                                             mean[j]) for j in top))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("checkpoint")
    ap.add_argument("--lens", default="16,17,18")
    ap.add_argument("--n", type=int, default=200, help="examples per length")
    ap.add_argument("--attention", default="", help="n:k pairs, e.g. 16:17,17:17")
    args = ap.parse_args()
    torch.set_num_threads(1)
    model = relgrad.Model.from_checkpoint(args.checkpoint)
    cfg = model.cfg
    key = None  # evaluation sets no longer depend on the model seed
    for n in tt.parse_lens(args.lens):
        acc, eos, prefix = per_index(model, cfg, n, args.n, key)
        print("n=%d  y_1..y_%d all right: %.3f" % (n, min(n, cfg["train_len"]), prefix))
        print("  k    " + " ".join("%4d" % k for k in range(1, n + 2)))
        print("  acc  " + " ".join("%4.2f" % a for a in acc))
        print("  eos  " + " ".join("%4.2f" % e for e in eos))
    for item in filter(None, args.attention.split(",")):
        n, k = map(int, item.split(":"))
        attention_report(model, cfg, n, k, args.n, key)
    if hasattr(model, "t5_bias"):
        print("t5_bias.weight (bucket: one value per head):")
        for b, row in enumerate(model.t5_bias.weight.tolist()):
            print("  %2d: %s" % (b, " ".join("%+.2f" % v for v in row)))
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # quiet `| head`
    sys.exit(main())
