#!/usr/bin/env bash
# One run of the low-rank benchmark: edlae vs FAISS (same binary), then vs NumPy on the same V and z.
set -euo pipefail
BUILD=${1:-build}
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT
"$BUILD/bench/lowrank_benchmark" --dump_dir "$DIR" "${@:2}"
for t in 1 2; do
  OPENBLAS_NUM_THREADS=$t OMP_NUM_THREADS=$t /usr/bin/python3 "$(dirname "$0")/numpy_topn.py" "$DIR" 20000 1000 "$t"
done
