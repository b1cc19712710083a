#!/usr/bin/env bash
# The test command: install dependencies, build, run every test with ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
cd build
ctest --output-on-failure --timeout 900 -j"$(nproc)"
