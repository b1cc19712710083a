#!/usr/bin/env bash
# Accuracy cost of reduced-precision model files: train once, convert to f16, bf16 and int8, evaluate every file on the same test users.
# Usage: bench/precision_accuracy.sh [BUILD_DIR] [DATASETS_DIR]   (defaults: build, ../shared/datasets)
# Prints one markdown table row per (dataset, model, dtype[, kernel path]): file size, Recall@20/@50, nDCG@100 and its change.
set -euo pipefail
BUILD=${1:-build}
DATASETS=${2:-$(cd "$(dirname "$0")/../.." && pwd)/shared/datasets}
TRAIN=$BUILD/trainer/edlae-train
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# name | split input flags | model flags (the tuned λ, p of docs/results.md; the split's defaults as there)
ML1M="--format lines --input $DATASETS/movielens-1m-implicit-ge3/train.txt,$DATASETS/movielens-1m-implicit-ge3/valid.txt,$DATASETS/movielens-1m-implicit-ge3/test.txt"
CASES=(
  "movielens-1m-implicit-ge3|$ML1M|--model edlae --lambda 500 --dropout 0.5"
  "movielens-1m-implicit-ge3|$ML1M|--model ease --lambda 1000"
  "movielens-1m-implicit-ge3|$ML1M|--model edlae --lambda 500 --dropout 0.5 --rank 1000"
  "movielens-1m-implicit-ge3|$ML1M|--model edlae --lambda 500 --dropout 0.5 --rank 100"
  "movielens-100k|--input $DATASETS/movielens-100k/u.data|--model edlae --lambda 50 --dropout 0.67"
  "movielens-latest-small|--input $DATASETS/movielens-latest-small/ratings.csv|--model edlae --lambda 200 --dropout 0.5"
)

# Where the CPU has AMX tiles, bf16 low-rank models score on them by default (z rounded to bf16):
# "bf16@AVX3" evaluates the same file on Highway alone (float32 z) beside it.
HIGHWAY=AVX2
grep -qw avx512f /proc/cpuinfo && HIGHWAY=AVX3
HIGHWAY_BF16=""
grep -qw amx_bf16 /proc/cpuinfo && HIGHWAY_BF16="bf16@$HIGHWAY"

metric() {  # metric JSON KEY → mean
  sed "s/.*\"$2\":{\"mean\":\([0-9.]*\).*/\1/" "$1"
}

echo "| dataset | model | dtype | file MiB | Recall@20 | Recall@50 | nDCG@100 | Δ nDCG@100 |"
echo "|---|---|---|---:|---:|---:|---:|---:|"
i=0
for case in "${CASES[@]}"; do
  IFS='|' read -r name input model <<< "$case"
  i=$((i + 1))
  dir=$WORK/$i
  mkdir -p "$dir"
  if ! "$TRAIN" split $input --heldout-users 10% --seed 98765 --out "$dir/split" > /dev/null 2> "$dir/split.log"; then
    echo "| $name | split failed: $(tail -1 "$dir/split.log") |" && continue
  fi
  "$TRAIN" train --input "$dir/split/train.csv" --format csv --header $model --out "$dir/f32.edlae" 2> "$dir/train.log" \
    || { echo "| $name | train failed: $(tail -1 "$dir/train.log") |"; continue; }
  base=""
  for label in f32 f16 bf16 int8 $HIGHWAY_BF16; do
    dtype=${label%%@*}
    target=""
    [ "$label" = "$dtype" ] || target=$HIGHWAY
    [ "$dtype" = f32 ] || [ -f "$dir/$dtype.edlae" ] ||
      "$TRAIN" convert --model-file "$dir/f32.edlae" --dtype "$dtype" --out "$dir/$dtype.edlae" 2> /dev/null
    EDLAE_SIMD_TARGET=$target "$TRAIN" evaluate --split "$dir/split" --model-file "$dir/$dtype.edlae" --on test --json \
      > "$dir/$label.json" 2> /dev/null
    ndcg=$(metric "$dir/$label.json" 'ndcg@100')
    [ -n "$base" ] || base=$ndcg
    mib=$(awk -v b="$(stat -c %s "$dir/$dtype.edlae")" 'BEGIN { printf "%.1f", b / 1048576 }')
    delta=$(awk -v a="$ndcg" -v b="$base" 'BEGIN { printf "%+.5f", a - b }')
    echo "| $name | ${model//--/} | ${label/@/ on } | $mib | $(metric "$dir/$label.json" 'recall@20') | $(metric "$dir/$label.json" 'recall@50') | $ndcg | $delta |"
  done
done
