#!/usr/bin/env bash
# run-experiment.sh: the README's main command. Installs what is missing,
# builds, and runs the default length-generalization experiment
# (experiments/quick.ini: all eight schemes on copy and reverse, trained at
# lengths 1..16, evaluated up to 64). Extra key=value arguments are passed on,
# e.g. `tools/run-experiment.sh seeds=1,2 out_dir=out/quick2`.
# Writes out/quick/results.h5, out/quick/table.md and out/quick/plot.png;
# run again to resume an interrupted experiment.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
tools/build.sh build
build/relgrad experiment experiments/quick.ini "$@"
