#!/usr/bin/env bash
# Installs the comparison baselines used only by bench/ (FAISS, oneDNN, NumPy, SciPy); not needed to build, test or serve.
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
  libfaiss-dev libdnnl-dev python3-numpy python3-scipy libbenchmark-dev
