#!/usr/bin/env bash
# run-experiment.sh: the README's main command. Installs what is missing,
# builds, and runs the default length-generalization experiment.
# (Until the trainer lands this runs the API example.)
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
tools/build.sh build
build/example_mlp
