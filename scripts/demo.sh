#!/usr/bin/env bash
# The main job on a built-in default: synthesize data, train EDLAE, serve it on loopback, ask for recommendations.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/build.sh
BIN=build
WORK=${EDLAE_DEMO_DIR:-$(mktemp -d /tmp/edlae-demo.XXXXXX)}
mkdir -p "$WORK"

echo "== 1. synthetic interactions (3,000 users × 1,500 items)"
"$BIN/trainer/edlae-train" synth --users 3000 --items 1500 --out "$WORK/ratings.csv"

echo "== 2. train EDLAE (λ = 20, p = 0.25)"
"$BIN/trainer/edlae-train" train --input "$WORK/ratings.csv" --format movielens-csv \
  --model edlae --lambda 20 --dropout 0.25 --out "$WORK/model.edlae"

echo "== 3. serve on loopback"
"$BIN/server/edlae-server" --model "$WORK/model.edlae" --host 127.0.0.1 --port 0 --metrics_address 127.0.0.1:0 \
  --port_file "$WORK/port" 2> "$WORK/server.log" &
SERVER_PID=$!
trap 'kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  [ -s "$WORK/port" ] && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.log"; exit 1; }
  sleep 0.1
done
TARGET="127.0.0.1:$(cat "$WORK/port")"
"$BIN/client/edlae-client" health --target "$TARGET"

echo "== 4. recommendations for a user who liked items 1, 2, 3, 10 and 42"
"$BIN/client/edlae-client" recommend --target "$TARGET" --items 1,2,3,10,42 -n 10
"$BIN/client/edlae-client" info --target "$TARGET"

echo "== 5. stop the server"
kill -TERM "$SERVER_PID"
wait "$SERVER_PID"
trap - EXIT
echo "demo finished; files in $WORK"
