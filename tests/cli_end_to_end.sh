#!/usr/bin/env bash
# End-to-end over the real binaries: synth → train → serve on loopback → client, plus CLI error paths.
set -euo pipefail
BIN=${EDLAE_BIN:?set EDLAE_BIN to the build directory}
TRAIN=$BIN/trainer/edlae-train
SERVER=$BIN/server/edlae-server
CLIENT=$BIN/client/edlae-client
WORK=$(mktemp -d)
SERVER_PID=""
cleanup() {
  [ -n "$SERVER_PID" ] && kill -9 "$SERVER_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
expect_exit() {  # expect_exit CODE CMD... : run CMD, require exit status CODE
  local want=$1; shift
  set +e; "$@" > "$WORK/out" 2> "$WORK/err"; local got=$?; set -e
  [ "$got" -eq "$want" ] || { cat "$WORK/err" >&2; fail "'$*' exited $got, want $want"; }
}

# Training, and its refusals.
"$TRAIN" synth --users 800 --items 300 --seed 7 --out "$WORK/ratings.csv"
"$TRAIN" train --input "$WORK/ratings.csv" --format movielens-csv --model edlae \
  --lambda 10 --dropout 0.2 --out "$WORK/model.edlae" 2> "$WORK/train.log"
grep -q "peak memory" "$WORK/train.log" || fail "no peak-memory line"
[ -s "$WORK/model.edlae" ] || fail "no model written"
printf 'userId,movieId,rating,timestamp\n1,2,5,0\n1,3\n' > "$WORK/bad.csv"
expect_exit 1 "$TRAIN" train --input "$WORK/bad.csv" --format movielens-csv --lambda 1 --out "$WORK/bad.edlae"
grep -q "bad.csv:3" "$WORK/err" || fail "malformed line not named: $(cat "$WORK/err")"
[ ! -e "$WORK/bad.edlae" ] || fail "output written despite bad input"
expect_exit 2 "$TRAIN" train --input "$WORK/ratings.csv" --model slim --out "$WORK/x.edlae"
expect_exit 2 "$TRAIN" frobnicate

# Evaluation protocol: split → tune → evaluate (the model tune wrote, and one trained on the split).
"$TRAIN" split --input "$WORK/ratings.csv" --heldout-users 10% --out "$WORK/split" > "$WORK/split.txt"
for f in train validation_tr validation_te test_tr test_te; do
  [ "$(head -1 "$WORK/split/$f.csv")" = "uid,sid" ] || fail "$f.csv header"
done
[ -s "$WORK/split/unique_sid.txt" ] || fail "no unique_sid.txt"
"$TRAIN" tune --split "$WORK/split" --model ease,edlae --lambda 5,50 --dropout 0.25 \
  --out "$WORK/best.edlae" > "$WORK/tune.txt" 2> "$WORK/tune.log"
grep -q "best overall" "$WORK/tune.txt" || fail "tune table: $(cat "$WORK/tune.txt")"
grep -q "ETA" "$WORK/tune.log" || fail "tune progress has no ETA"
"$TRAIN" evaluate --split "$WORK/split" --model-file "$WORK/best.edlae" --json > "$WORK/eval.json" \
  2> "$WORK/eval.err"
grep -q '"ndcg@100":{"mean":0\.[0-9]*[1-9]' "$WORK/eval.json" || fail "evaluate json: $(cat "$WORK/eval.json")"
! grep -q warning "$WORK/eval.err" || fail "tune's model flagged as foreign: $(cat "$WORK/eval.err")"
"$TRAIN" evaluate --split "$WORK/split" --model-file "$WORK/model.edlae" > /dev/null 2> "$WORK/eval.err" || true
grep -q "not trained on this split" "$WORK/eval.err" || fail "model trained on all users not flagged"
"$TRAIN" evaluate --split "$WORK/split" --model edlae --lambda 50 --dropout 0.25 --on validation \
  | grep -q "nDCG@100" || fail "evaluate with training flags"
expect_exit 2 "$TRAIN" evaluate --split "$WORK/split" --on training
expect_exit 1 "$TRAIN" evaluate --split "$WORK/nowhere" --model ease --lambda 1
# Weak generalization (--fold-in/--targets): on the split's own test users it ranks exactly as --split does, so
# nDCG@100 agrees to the last digit; Recall@20 divides by |targets| instead.
WEAK=(--fold-in "$WORK/split/test_tr.csv" --targets "$WORK/split/test_te.csv" --format csv --header)
"$TRAIN" evaluate "${WEAK[@]}" --model-file "$WORK/best.edlae" --threads 2 --json > "$WORK/weak.json"
ndcg_split=$(grep -o '"ndcg@100":{"mean":[0-9.]*' "$WORK/eval.json")
ndcg_weak=$(grep -o '"ndcg@100":{"mean":[0-9.]*' "$WORK/weak.json")
[ -n "$ndcg_weak" ] && [ "$ndcg_split" = "$ndcg_weak" ] || fail "weak nDCG@100 $ndcg_weak != split $ndcg_split"
grep -q '"ndcg@20":{"mean":0\.[0-9]*[1-9]' "$WORK/weak.json" || fail "weak json: $(cat "$WORK/weak.json")"
grep -q '"unknown_targets":0,' "$WORK/weak.json" || fail "weak json counts: $(cat "$WORK/weak.json")"
"$TRAIN" evaluate "${WEAK[@]}" --model-file "$WORK/best.edlae" | grep -q "nDCG@50" || fail "weak text output"
expect_exit 2 "$TRAIN" evaluate --fold-in "$WORK/split/test_tr.csv" --model-file "$WORK/best.edlae"
expect_exit 2 "$TRAIN" evaluate "${WEAK[@]}"
expect_exit 2 "$TRAIN" evaluate "${WEAK[@]}" --model-file "$WORK/best.edlae" --split "$WORK/split"
expect_exit 2 "$TRAIN" evaluate "${WEAK[@]}" --model-file "$WORK/best.edlae" --on validation
expect_exit 2 "$TRAIN" evaluate --split "$WORK/split" --model-file "$WORK/best.edlae" --format lines
expect_exit 2 "$TRAIN" evaluate --model-file "$WORK/best.edlae"
expect_exit 1 "$TRAIN" evaluate --fold-in "$WORK/nowhere.txt" --targets "$WORK/split/test_te.csv" \
  --model-file "$WORK/best.edlae"
expect_exit 2 "$TRAIN" split --input "$WORK/ratings.csv" --heldout-users 60% --out "$WORK/s2"
expect_exit 1 "$TRAIN" split --input "$WORK/ratings.csv" --heldout-users 100000 --out "$WORK/s2"
expect_exit 2 "$TRAIN" tune --split "$WORK/split" --lambda 1,x

# Low-rank models: each method trains, writes rank/method, and inspect reads it.
for spec in "edlae closed-form" "edlae admm" "dlae closed-form" "zero-diag als"; do
  set -- $spec
  "$TRAIN" train --input "$WORK/ratings.csv" --format movielens-csv --model "$1" --method "$2" \
    --rank 12 --epochs 3 --lambda 10 --dropout 0.2 --out "$WORK/lr-$1.edlae" 2> "$WORK/lr.log" \
    || { cat "$WORK/lr.log"; fail "low-rank $spec"; }
  "$TRAIN" inspect "$WORK/lr-$1.edlae" > "$WORK/inspect.txt" || fail "inspect $spec"
  grep -q "kind: *low_rank" "$WORK/inspect.txt" || fail "inspect kind ($spec)"
  grep -q "method *$2" "$WORK/inspect.txt" || fail "inspect method ($spec)"
  grep -q "cos(U" "$WORK/inspect.txt" || fail "inspect cosine ($spec)"
done
"$TRAIN" inspect "$WORK/model.edlae" | grep -q "diag(B)" || fail "inspect dense"
# Low-rank evaluation and the rank sweep on the split.
"$TRAIN" train --input "$WORK/split/train.csv" --format csv --header --model edlae --rank 8 \
  --lambda 10 --dropout 0.2 --out "$WORK/lr-split.edlae" 2> /dev/null || fail "low-rank train on split"
"$TRAIN" evaluate --split "$WORK/split" --model-file "$WORK/lr-split.edlae" --json 2> /dev/null \
  | grep -q '"ndcg@100":{"mean":0\.[0-9]*[1-9]' || fail "evaluate low-rank model"
# Low-rank and sparse model files through both protocols: the same rankings, so the same nDCG@100.
"$TRAIN" train --input "$WORK/split/train.csv" --format csv --header --model ease --lambda 10 --sparse \
  --density 0.1 --out "$WORK/sparse-split.edlae" 2> /dev/null || fail "sparse train on split"
for m in lr-split sparse-split; do
  a=$("$TRAIN" evaluate --split "$WORK/split" --model-file "$WORK/$m.edlae" --json 2> /dev/null \
    | grep -o '"ndcg@100":{"mean":0\.[0-9]*') || fail "evaluate --split $m"
  b=$("$TRAIN" evaluate "${WEAK[@]}" --model-file "$WORK/$m.edlae" --json | grep -o '"ndcg@100":{"mean":0\.[0-9]*') \
    || fail "evaluate --fold-in $m"
  [ "$a" = "$b" ] || fail "$m: weak nDCG@100 $b != split $a"
done
expect_exit 2 "$TRAIN" evaluate "${WEAK[@]}" --model-file "$WORK/sparse-split.edlae" --scorer gemm
"$TRAIN" sweep --split "$WORK/split" --ranks 4,16,full --methods closed-form,dlae --lambda 10 \
  --dropout 0.2 --threads 1 --out-dir "$WORK/sweep" > "$WORK/sweep.md" 2> /dev/null || fail "sweep"
grep -q "^| 16 |" "$WORK/sweep.md" || fail "sweep table: $(cat "$WORK/sweep.md")"
for f in ndcg_vs_rank cosine_u cosine_v; do
  head -c 4 "$WORK/sweep/$f.svg" | grep -q "<svg" || fail "sweep $f.svg"
done
expect_exit 2 "$TRAIN" sweep --split "$WORK/split" --ranks 4,x
expect_exit 2 "$TRAIN" sweep --split "$WORK/split" --methods pca
expect_exit 2 "$TRAIN" train --input "$WORK/ratings.csv" --model zero-diag --out "$WORK/x.edlae"
expect_exit 2 "$TRAIN" train --input "$WORK/ratings.csv" --rank 5 --method svd --out "$WORK/x.edlae"
# Refused before any data is read (issue 12: checks run before the work): a usage error.
expect_exit 2 "$TRAIN" train --input "$WORK/ratings.csv" --model ease --rank 5 --out "$WORK/x.edlae"
expect_exit 2 "$TRAIN" inspect
expect_exit 1 "$TRAIN" inspect "$WORK/missing.edlae"

# Reduced precision: train --dtype and convert; halves score within rounding of float32.
"$TRAIN" train --input "$WORK/ratings.csv" --format movielens-csv --model edlae --lambda 10 \
  --dropout 0.2 --dtype bf16 --out "$WORK/model-bf16.edlae" 2> /dev/null || fail "train --dtype bf16"
"$TRAIN" inspect "$WORK/model-bf16.edlae" | grep -q "dtype: *bfloat16" || fail "inspect bf16 dtype"
"$TRAIN" convert --model-file "$WORK/model.edlae" --dtype f16 --out "$WORK/model-f16.edlae" 2> "$WORK/convert.log" \
  || { cat "$WORK/convert.log"; fail "convert"; }
grep -q "float32.*float16" "$WORK/convert.log" || fail "convert log: $(cat "$WORK/convert.log")"
"$TRAIN" inspect "$WORK/model-f16.edlae" > "$WORK/inspect.txt"
grep -q "dtype: *float16" "$WORK/inspect.txt" || fail "inspect f16 dtype"
grep -q "converted_from_dtype *float32" "$WORK/inspect.txt" || fail "convert provenance"
[ "$(stat -c %s "$WORK/model-f16.edlae")" -lt "$(stat -c %s "$WORK/model.edlae")" ] || fail "f16 not smaller"
"$TRAIN" convert --model-file "$WORK/best.edlae" --dtype f16 --out "$WORK/best-f16.edlae" 2> /dev/null
"$TRAIN" convert --model-file "$WORK/best.edlae" --dtype int8 --out "$WORK/best-int8.edlae" 2> /dev/null \
  || fail "convert to int8"
"$TRAIN" inspect "$WORK/best-int8.edlae" | grep -q "dtype: *int8" || fail "inspect int8 dtype"
"$TRAIN" convert --model-file "$WORK/lr-split.edlae" --dtype bf16 --out "$WORK/lr-split-bf16.edlae" 2> /dev/null
"$TRAIN" convert --model-file "$WORK/lr-split.edlae" --dtype int8 --out "$WORK/lr-split-int8.edlae" 2> /dev/null \
  || fail "convert low-rank to int8"
"$TRAIN" inspect "$WORK/lr-split-int8.edlae" | grep -q "dtype: *int8" || fail "inspect low-rank int8 dtype"
for pair in "best best-f16" "best best-int8" "lr-split lr-split-bf16" "lr-split lr-split-int8"; do
  set -- $pair
  a=$("$TRAIN" evaluate --split "$WORK/split" --model-file "$WORK/$1.edlae" --json 2> /dev/null \
      | sed 's/.*"ndcg@100":{"mean":\([0-9.]*\).*/\1/')
  b=$("$TRAIN" evaluate --split "$WORK/split" --model-file "$WORK/$2.edlae" --json 2> /dev/null \
      | sed 's/.*"ndcg@100":{"mean":\([0-9.]*\).*/\1/')
  awk -v a="$a" -v b="$b" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a > 0 && d <= 0.01) }' \
    || fail "nDCG@100 of $2 ($b) strays from $1 ($a)"
done
expect_exit 2 "$TRAIN" convert --model-file "$WORK/model.edlae" --dtype int4 --out "$WORK/x.edlae"
expect_exit 2 "$TRAIN" convert --model-file "$WORK/sparse-split.edlae" --dtype int8 --out "$WORK/x.edlae"
expect_exit 2 "$TRAIN" convert --model-file "$WORK/model.edlae"
expect_exit 1 "$TRAIN" convert --model-file "$WORK/missing.edlae" --dtype f16 --out "$WORK/x.edlae"
expect_exit 2 "$TRAIN" train --input "$WORK/ratings.csv" --dtype f8 --out "$WORK/x.edlae"
[ ! -e "$WORK/x.edlae" ] || fail "output written by a failed command"

# Batch recommendations to a file (recommend): every user of the file, CSV and JSONL, and its refusals.
printf 'u1 1 2 3\nu2 4 nosuchitem\nu3 nosuchitem\n' > "$WORK/users.txt"
"$TRAIN" recommend --model-file "$WORK/model.edlae" --input "$WORK/users.txt" --format lines -n 5 \
  --exclude-history --threads 2 --out "$WORK/recs.csv" 2> "$WORK/recs.log" || { cat "$WORK/recs.log"; fail "recommend"; }
[ "$(head -1 "$WORK/recs.csv")" = "user_id,rank,item_id,score" ] || fail "recs.csv header"
[ "$(grep -c '^u[123],' "$WORK/recs.csv")" -eq 15 ] || fail "recs.csv rows: $(cat "$WORK/recs.csv")"
grep -qE '^u1,[0-9],(1|2|3),' "$WORK/recs.csv" && fail "history recommended with --exclude-history"
grep -q "2 interactions named items the model lacks" "$WORK/recs.log" || fail "unknown items: $(cat "$WORK/recs.log")"
"$TRAIN" recommend --model-file "$WORK/model.edlae" --input "$WORK/users.txt" --format lines -n 5 \
  --out "$WORK/recs.jsonl" --progress never 2> /dev/null || fail "recommend jsonl"
[ "$(grep -c '^{"user_id":"u[123]","items":\[{"item_id":' "$WORK/recs.jsonl")" -eq 3 ] || fail "recs.jsonl: $(cat "$WORK/recs.jsonl")"
expect_exit 2 "$TRAIN" recommend --model-file "$WORK/model.edlae" --input "$WORK/users.txt" --format lines \
  --out "$WORK/no/such/dir/recs.csv"
grep -q -- "--out" "$WORK/err" || fail "bad --out not named: $(cat "$WORK/err")"
expect_exit 2 "$TRAIN" recommend --model-file "$WORK/model.edlae" --input "$WORK/users.txt" --format lines \
  --out "$WORK/recs.txt"
expect_exit 2 "$TRAIN" recommend --model-file "$WORK/model.edlae" --input "$WORK/users.txt" -n 0 --out "$WORK/r.csv"
expect_exit 1 "$TRAIN" recommend --model-file "$WORK/missing.edlae" --input "$WORK/users.txt" --format lines \
  --out "$WORK/r.csv"
expect_exit 1 "$TRAIN" recommend --model-file "$WORK/model.edlae" --input "$WORK/nowhere.txt" --format lines \
  --out "$WORK/r.csv"
[ ! -e "$WORK/r.csv" ] && [ ! -e "$WORK/recs.txt" ] || fail "output written by a failed recommend"

# A corrupt model never starts a server.
head -c 1000 "$WORK/model.edlae" > "$WORK/truncated.edlae"
expect_exit 1 "$SERVER" --model "$WORK/truncated.edlae" --host 127.0.0.1 --port 0 --metrics_address=

# Serve (the f16 model: halves go through the same kernels) and query.
"$SERVER" --model "$WORK/model-f16.edlae" --host 127.0.0.1 --port 0 --metrics_address 127.0.0.1:0 --port_file "$WORK/port" \
  2> "$WORK/server.log" &
SERVER_PID=$!
for _ in $(seq 200); do [ -s "$WORK/port" ] && break; sleep 0.05; done
[ -s "$WORK/port" ] || { cat "$WORK/server.log"; fail "server did not start"; }
TARGET=127.0.0.1:$(cat "$WORK/port")

"$CLIENT" health --target "$TARGET" | grep -q SERVING || fail "health"
"$CLIENT" recommend --target "$TARGET" --items 1,2,3 -n 10 > "$WORK/rec.txt"
rows=$(grep -cE '^ *[0-9]+ ' "$WORK/rec.txt" || true)
[ "$rows" -eq 10 ] || { cat "$WORK/rec.txt"; fail "expected 10 rows, got $rows"; }
for item in 1 2 3; do
  if awk 'NR>1 && $1 ~ /^[0-9]+$/ {print $2}' "$WORK/rec.txt" | grep -qx "$item"; then
    fail "history item $item recommended"
  fi
done
"$CLIENT" recommend --target "$TARGET" --items 1,2,3 -n 5 --json | grep -q '"items"' || fail "json"
# Items like 1 and 2, explained: the query items never come back, each row is followed by its contributions.
"$CLIENT" similar --target "$TARGET" --items 1,2 -n 4 --explain > "$WORK/similar.txt" \
  || { cat "$WORK/similar.txt"; fail "similar"; }
[ "$(grep -cE '^ *[0-9]+ ' "$WORK/similar.txt")" -eq 4 ] || fail "similar rows: $(cat "$WORK/similar.txt")"
grep -qE '^ +<- (1|2) ' "$WORK/similar.txt" || fail "similar --explain: $(cat "$WORK/similar.txt")"
if awk '$1 ~ /^[0-9]+$/ {print $2}' "$WORK/similar.txt" | grep -qxE '1|2'; then fail "query item returned"; fi
"$CLIENT" info --target "$TARGET" > "$WORK/info.txt"
grep -q edlae "$WORK/info.txt" || fail "info lacks the algorithm"
grep -q "dtype: float16" "$WORK/info.txt" || fail "info dtype: $(cat "$WORK/info.txt")"
# Load generator: bounded count, every call OK, percentiles reported.
"$CLIENT" bench --target "$TARGET" --concurrency 3 --requests 300 --history_len 5 > "$WORK/bench.txt" \
  || { cat "$WORK/bench.txt"; fail "bench"; }
grep -q "calls=300 .*p99_us=.* OK=300" "$WORK/bench.txt" || fail "bench report: $(cat "$WORK/bench.txt")"
expect_exit 1 "$CLIENT" recommend --target "$TARGET" --items 1 -n 0
grep -q INVALID_ARGUMENT "$WORK/err" || fail "top_n 0 not INVALID_ARGUMENT"

# recommend-batch (C++ and Python clients): each user's answer equals its own recommend call; a failed call is
# written with its status and makes the exit status 1.
printf 'u1 1 2 3\nu2 2 4 5\nu3 1 6 7\nu4 nosuchitem\n' > "$WORK/batch.txt"
printf 'user,item\nu1,1\nu1,2\nu1,3\nu2,2\nu2,4\nu2,5\nu3,1\nu3,6\nu3,7\nu4,nosuchitem\n' > "$WORK/batch.csv"
for u in "u1 1,2,3" "u2 2,4,5" "u3 1,6,7" "u4 nosuchitem"; do
  set -- $u
  "$CLIENT" recommend --target "$TARGET" --items "$2" -n 7 --json > "$WORK/single-$1.json" || fail "recommend $1"
done
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3
PYCLIENT=(env PYTHONPATH="$BIN/client/python" "$PY" -m edlae_client)
if ! "$PY" -c "import grpc" 2> /dev/null; then  # no grpcio: the C++ client's output stands in for the Python one's
  echo "cli_end_to_end: $PY has no grpc module; the Python client's recommend-batch is not checked" >&2
  PYCLIENT=("$CLIENT")
elif [ ! -d "$BIN/client/python/edlae_client" ]; then  # target edlae_python_client not built
  echo "cli_end_to_end: $BIN/client/python/edlae_client is not built; the Python client's recommend-batch is not checked" >&2
  PYCLIENT=("$CLIENT")
fi
"$CLIENT" recommend-batch --target "$TARGET" --input "$WORK/batch.txt" -n 7 --concurrency 3 \
  --out "$WORK/batch-cc.jsonl" 2> "$WORK/batch.log" || { cat "$WORK/batch.log"; fail "recommend-batch"; }
"$CLIENT" recommend-batch --target "$TARGET" --input "$WORK/batch.csv" --format csv --header -n 7 \
  --out "$WORK/batch-cc.csv" 2> "$WORK/batch.log" || { cat "$WORK/batch.log"; fail "recommend-batch csv"; }
"${PYCLIENT[@]}" recommend-batch --target "$TARGET" --input "$WORK/batch.txt" -n 7 --concurrency 3 \
  --out "$WORK/batch-py.jsonl" 2> "$WORK/batch.log" || { cat "$WORK/batch.log"; fail "python recommend-batch"; }
"${PYCLIENT[@]}" recommend-batch --target "$TARGET" --input "$WORK/batch.csv" --format csv --header -n 7 \
  > "$WORK/batch-py-stdout.jsonl" 2> "$WORK/batch.log" || { cat "$WORK/batch.log"; fail "python recommend-batch csv"; }
"$PY" - "$WORK" <<'PY' || fail "recommend-batch output differs from per-user recommend"
import csv, json, struct, sys
work = sys.argv[1]
f32 = lambda x: struct.unpack("f", struct.pack("f", float(x)))[0]
want = {u: [(i["item_id"], f32(i["score"])) for i in json.load(open(f"{work}/single-{u}.json"))["items"]]
        for u in ("u1", "u2", "u3", "u4")}
assert all(len(v) == 7 for v in want.values()), want
def jsonl(name):
    rows = [json.loads(line) for line in open(f"{work}/{name}")]
    assert [r["user_id"] for r in rows] == ["u1", "u2", "u3", "u4"], rows
    return {r["user_id"]: [(i["item_id"], f32(i["score"])) for i in r["items"]] for r in rows}
def csv_rows(name):
    rows = list(csv.DictReader(open(f"{work}/{name}", newline="")))
    got = {}
    for r in rows:
        got.setdefault(r["user_id"], []).append((int(r["rank"]), r["item_id"], f32(r["score"])))
    return {u: [(i, s) for _, i, s in sorted(v)] for u, v in got.items()}
for name, got in (("batch-cc.jsonl", jsonl("batch-cc.jsonl")), ("batch-py.jsonl", jsonl("batch-py.jsonl")),
                  ("batch-py-stdout.jsonl", jsonl("batch-py-stdout.jsonl")), ("batch-cc.csv", csv_rows("batch-cc.csv"))):
    assert got == want, (name, got, want)
PY
expect_exit 1 "$CLIENT" recommend-batch --target "$TARGET" --input "$WORK/batch.txt" -n 0 --out "$WORK/failed.jsonl"
[ "$(grep -c '"error":"INVALID_ARGUMENT: ' "$WORK/failed.jsonl")" -eq 4 ] || fail "failed users: $(cat "$WORK/failed.jsonl")"
expect_exit 1 "${PYCLIENT[@]}" recommend-batch --target "$TARGET" --input "$WORK/batch.txt" -n 0 --out "$WORK/failed-py.jsonl"
[ "$(grep -c '"error":"INVALID_ARGUMENT: ' "$WORK/failed-py.jsonl")" -eq 4 ] || fail "python failed users: $(cat "$WORK/failed-py.jsonl")"
expect_exit 2 "$CLIENT" recommend-batch --target "$TARGET" --input "$WORK/batch.txt" --out "$WORK/no/such/dir/r.jsonl"
expect_exit 2 "${PYCLIENT[@]}" recommend-batch --target "$TARGET" --input "$WORK/batch.txt" --out "$WORK/no/such/dir/r.jsonl"
expect_exit 2 "$CLIENT" recommend-batch --target "$TARGET" --input "$WORK/nowhere.txt"

# Graceful stop on SIGTERM: exit status 0.
kill -TERM "$SERVER_PID"
set +e; wait "$SERVER_PID"; status=$?; set -e
SERVER_PID=""
[ "$status" -eq 0 ] || fail "server exited $status after SIGTERM"
expect_exit 1 "$CLIENT" recommend --target "$TARGET" --items 1 -n 5 --timeout_ms 2000
echo "cli_end_to_end: all checks passed"
