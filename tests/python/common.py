"""common.py: what the Python tests share: the repository paths, the relgrad
binaries (RELGRAD_BIN float32, RELGRAD_F64_BIN float64; default build/), a
runner for them, and a small pass/fail recorder. Exit 77 = skipped (ctest's
SKIP_RETURN_CODE) when a binary is missing."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))
SKIP = 77


def binary(env, default):
    """Path of a relgrad binary from the environment or build/; exits 77 if absent."""
    path = os.environ.get(env, os.path.join(ROOT, default))
    if not os.access(path, os.X_OK):
        print("skip: %s not found (build first, or set %s)" % (path, env))
        sys.exit(SKIP)
    return path


def run(cmd):
    """Run a command from the repository root; raise with its stderr if it fails."""
    p = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       env=dict(os.environ, OMP_NUM_THREADS="1"))
    if p.returncode != 0:
        raise RuntimeError("%s exited %d:\n%s" % (" ".join(cmd), p.returncode, p.stderr))
    return p.stdout


class Checks:
    """Records named checks; finish() prints a summary and returns the exit status."""

    def __init__(self):
        self.failed = []

    def __call__(self, cond, what):
        print("  %-4s %s" % ("ok" if cond else "FAIL", what))
        if not cond:
            self.failed.append(what)

    def finish(self, name):
        print("%s: %s" % (name, "PASS" if not self.failed else "FAIL (%d failed)" % len(self.failed)))
        return 0 if not self.failed else 1
