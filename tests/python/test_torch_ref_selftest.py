#!/usr/bin/python3
"""tools/torch_ref.py --selftest: scheme helpers, causality, positions as
data, memory, FIRE by hand, hybrid parameter sets, the make-dump -> check
round trip (every scheme, memory, random positions, hybrids, legacy dumps)
and that the checker catches mutations. Exit 0 = all passed."""
import sys

import common  # noqa: F401  (puts tools/ on sys.path)
import torch_ref

if __name__ == "__main__":
    sys.exit(torch_ref.selftest())
