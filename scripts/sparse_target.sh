#!/usr/bin/env bash
# Issue 13's target: the sparse default against the exact dense model (time, memory, nDCG@100).
#
#   bash scripts/sparse_target.sh [BUILD_DIR]       # Amazon-Book (../shared/datasets/amazon-book-kgat)
#   SYNTH=1 bash scripts/sparse_target.sh           # also the 40,000-item synthetic set (dense: ~7 min, 6 GiB)
#
# Each model is trained by `edlae-train train` under /usr/bin/time (2 threads) and evaluated by `edlae-train
# evaluate`; the table in docs/performance.md §6 "Sparse training by neighborhoods" comes from this output.
set -euo pipefail
BUILD=${1:-build}
TRAIN="$BUILD/trainer/edlae-train"
DATASETS=${DATASETS:-$(cd "$(dirname "$0")/../.." && pwd)/shared/datasets}
AB="$DATASETS/amazon-book-kgat"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
[[ -x "$TRAIN" ]] || { echo "build $TRAIN first" >&2; exit 2; }
export OPENBLAS_NUM_THREADS=2

# train NAME ARGS...: trains $WORK/NAME.edlae, printing the trainer's phase lines, wall time and peak RSS.
train() {
  local name=$1
  shift
  echo "== $name"
  /usr/bin/time -f "wall %e s, peak RSS %M KiB" "$TRAIN" train "$@" --threads 2 --progress never \
    --out "$WORK/$name.edlae" 2>&1 | grep -E "sparse B|sparse .*factor|factorize|total|wall"
}

if [[ -f "$AB/train.txt" ]]; then
  ab=(--input "$AB/train.txt" --format lines --model ease --lambda 100)
  train ab-dense-f32 "${ab[@]}" --precision float32
  train ab-sparse-factor "${ab[@]}" --sparse --sparse-method factor
  train ab-sparse "${ab[@]}" --sparse
  for name in ab-dense-f32 ab-sparse-factor ab-sparse; do
    echo "$name: $("$TRAIN" evaluate --model-file "$WORK/$name.edlae" --fold-in "$AB/train.txt" \
      --targets "$AB/test.txt" --format lines --json 2>/dev/null |
      grep -oE '"(recall@20|ndcg@100)":\{"mean":[0-9.]+' | tr '\n' ' ')"
  done
else
  echo "skipped Amazon-Book: $AB/train.txt not found" >&2
fi

if [[ "${SYNTH:-0}" == 1 ]]; then
  "$TRAIN" synth --items 40000 --users 200000 --mean-items 15 --out "$WORK/s40k.csv" >/dev/null
  "$TRAIN" split --input "$WORK/s40k.csv" --min-rating none --heldout-users 10% --out "$WORK/s40k" >/dev/null
  s40=(--input "$WORK/s40k/train.csv" --model ease --lambda 200)
  train s40k-dense-f32 "${s40[@]}" --precision float32
  train s40k-sparse "${s40[@]}" --sparse
  for name in s40k-dense-f32 s40k-sparse; do
    echo "$name: $("$TRAIN" evaluate --split "$WORK/s40k" --model-file "$WORK/$name.edlae" --on test 2>&1 |
      grep nDCG)"
  done
fi
