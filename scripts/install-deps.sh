#!/usr/bin/env bash
# Installs the Debian 12 packages edlae builds and tests with (skips apt when all are present).
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc
  libabsl-dev libopenblas-dev libxxhash-dev libhwy-dev libcli11-dev libsuitesparse-dev libeigen3-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  python3 python3-yaml python3-grpcio python3-protobuf nginx
  pybind11-dev python3-dev python3-numpy python3-scipy
  prometheus-cpp-dev openssl libssl-dev clang-14 libclang-rt-14-dev
)
# Only deploy/container-test.sh needs these: `install-deps.sh --container` installs them instead of the list above.
CONTAINER_PACKAGES=(podman debootstrap)
if [ "${1:-}" = "--container" ]; then PACKAGES=("${CONTAINER_PACKAGES[@]}"); fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
