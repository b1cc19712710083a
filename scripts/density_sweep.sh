#!/usr/bin/env bash
# Accuracy against density: EASE and EDLAE trained sparse at densities 1e-4 … 1e-1 and exactly (dense), evaluated
# on held-out users (strong generalization); writes docs/figures/density-*.svg and the "Accuracy against density"
# section of docs/results.md (between its density-sweep markers).
#
#   bash scripts/density_sweep.sh                  # every dataset below; needs build/trainer/edlae-train and
#                                                  # build/bench/density_plot (-DEDLAE_BUILD_BENCHMARKS=ON)
#   ONLY=movielens-100k,groceries-arules THREADS=2 MAX_SECONDS=600 WORK=/tmp/d bash scripts/density_sweep.sh
#   BUILD=out DATASETS=/data bash scripts/density_sweep.sh     # defaults: ./build, ../shared/datasets
#   REPORT_ONLY=1 WORK=/tmp/d bash scripts/density_sweep.sh   # rewrite the tables and plots from an earlier run
#
# A run (train, or its evaluate) that takes longer than MAX_SECONDS is stopped and recorded as skipped; runs
# already recorded in WORK are not repeated (delete WORK/<dataset>/<model>-<density>.json to redo one).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="${BUILD:-$ROOT/build}"
DATASETS="${DATASETS:-$ROOT/../shared/datasets}"
WORK="${WORK:-/tmp/edlae-density}"
THREADS="${THREADS:-2}"
MAX_SECONDS="${MAX_SECONDS:-600}"
DENSITIES="${DENSITIES:-1e-4 1e-3 1e-2 1e-1}"
RESULTS="${RESULTS:-$ROOT/docs/results.md}"
FIGURES="${FIGURES:-$ROOT/docs/figures}"
REPORT_ONLY="${REPORT_ONLY:-0}"
ONLY="${ONLY:-}"
TRAIN="$BUILD/trainer/edlae-train"
PLOT="$BUILD/bench/density_plot"
SEED=98765

[[ "$REPORT_ONLY" == 1 || -x "$TRAIN" ]] || { echo "density_sweep.sh: $TRAIN not built" >&2; exit 1; }
[[ -x "$PLOT" ]] || {
  echo "density_sweep.sh: $PLOT not built (cmake -DEDLAE_BUILD_BENCHMARKS=ON; --target density_plot)" >&2
  exit 1
}
[[ -x /usr/bin/time ]] || { echo "density_sweep.sh: needs /usr/bin/time (peak RSS)" >&2; exit 1; }
command -v python3 > /dev/null || { echo "density_sweep.sh: needs python3" >&2; exit 1; }
mkdir -p "$WORK" "$FIGURES"

# name | split input flags | EASE λ | EDLAE λ | EDLAE p | exact precision  (λ, p: the tuned values of docs/results.md)
TABLE=(
  "movielens-100k|--input $DATASETS/movielens-100k/u.data|500|50|0.67|float64"
  "groceries-arules|--input $DATASETS/groceries-arules/groceries_baskets.tsv --format tsv --header --min-rating none|500|100|0.5|float64"
  "movielens-latest-small|--input $DATASETS/movielens-latest-small/ratings.csv|200|200|0.5|float32"
  "movielens-1m-implicit-ge3|--format lines --input $DATASETS/movielens-1m-implicit-ge3/train.txt,$DATASETS/movielens-1m-implicit-ge3/valid.txt,$DATASETS/movielens-1m-implicit-ge3/test.txt|1000|500|0.5|float64"
  "lastfm-hetrec2011|--input $DATASETS/lastfm-hetrec2011/user_artists.dat|100|20|0.5|float32"
  "citeulike-a|--format count-lines --input $DATASETS/citeulike-a/users.dat|20|20|0.5|float32"
)

wanted() { [[ -z "$ONLY" || ",$ONLY," == *",$1,"* ]]; }

# run_point DATASET_DIR MODEL λ p DENSITY|exact PRECISION: train + evaluate, one JSON record.
run_point() {
  local dir=$1 model=$2 lambda=$3 dropout=$4 density=$5 precision=$6
  local tag="$model-$density" record="$dir/$model-$density.json"
  [[ -s "$record" ]] && return 0
  local flags=(--model "$model" --lambda "$lambda" --threads "$THREADS")
  [[ "$model" == ease ]] || flags+=(--dropout "$dropout")
  if [[ "$density" == exact ]]; then flags+=(--precision "$precision"); else flags+=(--sparse --density "$density"); fi
  echo "density_sweep.sh: $(basename "$dir") $tag" >&2
  local rc=0
  /usr/bin/time -f '%e %M' -o "$dir/$tag.time" timeout "$MAX_SECONDS" "$TRAIN" train \
    --input "$dir/split/train.csv" --format csv --header "${flags[@]}" --out "$dir/$tag.edlae" \
    > /dev/null 2> "$dir/$tag.train.log" || rc=$?
  if [[ $rc -ne 0 ]]; then
    local why="failed (exit $rc)"
    [[ $rc -eq 124 ]] && why="skipped: training > $MAX_SECONDS s"
    printf '{"model":"%s","density":"%s","error":"%s"}\n' "$model" "$density" "$why" > "$record"
    rm -f "$dir/$tag.edlae"
    return 0
  fi
  rc=0
  timeout "$MAX_SECONDS" "$TRAIN" evaluate --split "$dir/split" --model-file "$dir/$tag.edlae" --threads "$THREADS" \
    --json > "$dir/$tag.eval.json" 2> "$dir/$tag.eval.log" || rc=$?
  local bytes items nnz method=dense
  bytes=$(stat -c %s "$dir/$tag.edlae")
  grep -q "sparse B by neighborhoods" "$dir/$tag.train.log" && method=neighborhoods
  grep -q "sparse .*complete factor\|sparse .*incomplete factor" "$dir/$tag.train.log" && method=factor
  "$TRAIN" inspect --model-file "$dir/$tag.edlae" > "$dir/$tag.inspect.txt"
  items=$(awk '$1 == "items:" {print $2}' "$dir/$tag.inspect.txt")
  nnz=$(awk '$1 == "nnz" {print $2}' "$dir/$tag.inspect.txt")
  [[ -n "$nnz" ]] || nnz=$(( items * items ))  # dense: every weight stored
  read -r seconds peak_kib < "$dir/$tag.time"
  if [[ $rc -ne 0 ]]; then
    printf '{"model":"%s","density":"%s","error":"evaluate failed (exit %d)"}\n' "$model" "$density" "$rc" > "$record"
  else
    printf '{"model":"%s","density":"%s","method":"%s","lambda":%s,"dropout":%s,"train_seconds":%s,"peak_kib":%s,"bytes":%s,"items":%s,"nnz":%s,"eval":%s}\n' \
      "$model" "$density" "$method" "$lambda" "$([[ $model == ease ]] && echo 0 || echo "$dropout")" "$seconds" "$peak_kib" \
      "$bytes" "$items" "$nnz" "$(cat "$dir/$tag.eval.json")" > "$record"
  fi
  rm -f "$dir/$tag.edlae"  # only the records are kept
}

for row in "${TABLE[@]}"; do
  [[ "$REPORT_ONLY" == 1 ]] && break
  IFS='|' read -r name input ease_lambda edlae_lambda edlae_p precision <<< "$row"
  wanted "$name" || continue
  if [[ ! -d "$DATASETS/$name" ]]; then
    echo "density_sweep.sh: skipping $name (not in $DATASETS)" >&2
    continue
  fi
  dir="$WORK/$name"
  mkdir -p "$dir"
  if [[ ! -s "$dir/split/train.csv" ]]; then
    # shellcheck disable=SC2086  # $input holds several flags
    "$TRAIN" split $input --heldout-users 10% --seed "$SEED" --out "$dir/split" --overwrite > "$dir/split.txt"
  fi
  for density in $DENSITIES exact; do
    run_point "$dir" ease "$ease_lambda" 0 "$density" "$precision"
    run_point "$dir" edlae "$edlae_lambda" "$edlae_p" "$density" "$precision"
  done
done

# Tables (Markdown) and one SVG per dataset, spliced into docs/results.md between the markers.
python3 - "$WORK" "$RESULTS" "$FIGURES" "$PLOT" "$DENSITIES" "$THREADS" "$MAX_SECONDS" "$DATASETS" <<'PY'
import glob, json, os, subprocess, sys

work, results, figures, plot, densities, threads, max_seconds, datasets = sys.argv[1:]
datasets = os.path.realpath(datasets)
order = ["movielens-100k", "groceries-arules", "movielens-latest-small", "movielens-1m-implicit-ge3",
         "lastfm-hetrec2011", "citeulike-a"]
names = sorted((os.path.basename(os.path.dirname(p)) for p in glob.glob(f"{work}/*/split")),
               key=lambda n: order.index(n) if n in order else len(order))
density_order = densities.split() + ["exact"]
lines = ["<!-- density-sweep:begin (written by scripts/density_sweep.sh; edit the script, not this) -->", ""]
w = lines.append
w("## Accuracy against density")
w("")
w("EASE and EDLAE trained by the sparse solver (`edlae-train train --sparse --density D`, K = D·n weights, at least "
  "one: by its default method, each column the exact regression of its item on its neighbors keeping K weights, "
  "each row at most 2·K, or, where that would cost more than a tenth of a dense solve, the factor method, each "
  "row's K largest; the method column says which ran) at D = " + ", ".join(densities.split()) + ", and the exact dense model "
  "(`train` without `--sparse`) as the reference, each with the dataset's tuned λ (and p) from the tables above. "
  "Strong generalization: the split of `scripts/results.sh` (`edlae-train split --heldout-users 10% --seed 98765`), "
  "trained on its `train.csv`, scored by `edlae-train evaluate --split` on the test users. Realized density = "
  "stored weights / n² (the `nnz` that `edlae-train inspect` reports); train s and peak "
  f"RSS are `/usr/bin/time` of the whole `train` process (`--threads {threads}`, on a 2-core machine shared "
  "with other jobs, so times carry ±50 % noise). Regenerate with:")
w("")
w("```sh")
w("cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DEDLAE_BUILD_BENCHMARKS=ON")
w("cmake --build build -j2 --target edlae-train density_plot")
w("bash scripts/density_sweep.sh        # ONLY=name,name to restrict; MAX_SECONDS (600) bounds each run")
w("```")
w("")
def cell(m):
    return f"{m['mean']:.4f} ± {m['se']:.4f}"
for name in names:
    records = {}
    for p in glob.glob(f"{work}/{name}/*-*.json"):
        base = os.path.basename(p)
        if base.endswith(".eval.json"):
            continue
        with open(p) as f:
            r = json.load(f)
        records[(r["model"], r["density"])] = r
    if not records:
        continue
    split_txt = open(f"{work}/{name}/split.txt").read().strip().splitlines() if os.path.exists(
        f"{work}/{name}/split.txt") else []
    w(f"### {name}")
    w("")
    if split_txt:
        w("```")
        lines.extend(t.replace(datasets + "/", "datasets/") for t in split_txt[:3])
        w("```")
        w("")
    w("| model | density | method | realized density | model MiB | train s | peak RSS MiB | Recall@20 | nDCG@100 |")
    w("|---|---|---|---|---|---|---|---|---|")
    tsv = []
    for model in ["ease", "edlae"]:
        for d in density_order:
            r = records.get((model, d))
            if r is None:
                continue
            label = model.upper()
            if "lambda" in r:
                label += f" λ={r['lambda']:g}" + (f" p={r['dropout']:g}" if model != "ease" else "")
            if "error" in r:
                w(f"| {model.upper()} | {d} | | {r['error']} | | | | | |")
                continue
            m = r["eval"]["metrics"]
            realized = "1 (dense)" if d == "exact" else f"{r['nnz'] / r['items'] ** 2:.2g}"
            w(f"| {label} | {d} | {r.get('method', '–')} | {realized} | {r['bytes'] / 2**20:.2f} | "
              f"{r['train_seconds']:.1f} | "
              f"{r['peak_kib'] / 1024:.0f} | {cell(m['recall@20'])} | {cell(m['ndcg@100'])} |")
            tsv.append(f"{label}\t{d}\t{m['ndcg@100']['mean']:.6f}")
    w("")
    tsv_path = f"{work}/{name}/density.tsv"
    with open(tsv_path, "w") as f:
        f.write("\n".join(tsv) + "\n")
    svg = f"{figures}/density-{name}.svg"
    subprocess.run([plot, f"--input={tsv_path}", f"--out={svg}",
                    f"--title=nDCG@100 (test) against density, {name}"], check=True)
    w(f"![nDCG@100 against density, {name}](figures/density-{name}.svg)")
    w("")
w("<!-- density-sweep:end -->")
block = "\n".join(lines) + "\n"
text = open(results).read()
begin, end = text.find("<!-- density-sweep:begin"), text.find("<!-- density-sweep:end -->")
if begin >= 0 and end > begin:
    text = text[:begin] + block + text[end + len("<!-- density-sweep:end -->\n"):]
else:
    text = text.rstrip("\n") + "\n\n" + block
with open(results + ".tmp", "w") as f:
    f.write(text)
os.replace(results + ".tmp", results)
print(f"density_sweep.sh: wrote {results} and {figures}/density-*.svg", file=sys.stderr)
PY
