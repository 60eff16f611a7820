#!/usr/bin/env bash
# setup.sh: install the Debian packages relgrad needs, only those missing.
# Idempotent and quick (one dpkg query) when everything is present.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config
  libblis-dev libblis4-openmp libblis-openmp-dev   # BLIS, OpenMP build: every matrix product
  libomp-dev                                       # OpenMP runtime headers (gcc uses libgomp)
  libhdf5-dev hdf5-tools                           # checkpoints, dumps, results
  libcriterion-dev                                 # test framework
  libinih-dev                                      # INI config parser
  libopenmpi-dev openmpi-bin                       # MPI: grids over ranks, data-parallel training
  python3-torch python3-h5py python3-numpy python3-matplotlib  # cross-check and plots (/usr/bin/python3)
  clang libclang-rt-14-dev                         # libFuzzer targets
  valgrind strace time                             # memcheck run; kills injected at system calls; peak RSS
  graphviz                                         # relgrad graph: dot draws the tape's SVG
  chromium                                         # the report's test opens it headless
)

missing=()
for p in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [[ $(id -u) -eq 0 ]] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Debian's libblis4-openmp must be the active BLIS (alternatives pick the
# highest priority, which is it; say so if someone switched it).
blis=$(readlink -f /usr/lib/x86_64-linux-gnu/libblis.so.4 2>/dev/null || true)
case "$blis" in
  *openmp*) ;;
  *) echo "setup: warning: libblis.so.4 resolves to '$blis', not the OpenMP build;" \
          "run: update-alternatives --config libblis.so.4-x86_64-linux-gnu" >&2 ;;
esac
