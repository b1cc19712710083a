#!/bin/sh
# Mirrors the newest $KEEP complete model versions of the shared store $SRC ($SRC/<version>/model.edlae) into the
# pod-local $DST that `edlae-server --model_dir` polls; versions gone from the store (a rollback) go from $DST.
#   model-sync.sh --once   one pass; fails when the store holds no complete version (init container)
#   model-sync.sh          a pass every $SYNC_INTERVAL_SECONDS, keeping $DST as it is while the store fails (sidecar)
# Versions are immutable: a new model is a new, higher number. A version appears in $DST only whole (copied to
# $DST/.incoming-<v>, then renamed), and the server ignores non-numeric names, so it never sees a partial file.
set -eu
SRC=${SRC:-/store}
DST=${DST:-/models}
KEEP=${KEEP:-2}
INTERVAL=${SYNC_INTERVAL_SECONDS:-30}

# The numeric folder names under $1 that hold a model.edlae, ascending.
versions() {
  for path in "$1"/*; do
    v=${path##*/}
    case "$v" in '' | *[!0-9]*) continue ;; esac
    if [ -f "$path/model.edlae" ]; then echo "$v"; fi
  done | sort -n
}

sync_once() {
  wanted=$(versions "$SRC" | tail -n "$KEEP")
  if [ -z "$wanted" ]; then
    echo "model-sync: no complete version in $SRC; $DST left as it is" >&2
    return 1
  fi
  rm -rf "$DST"/.incoming-*  # left by an interrupted copy
  for v in $wanted; do
    [ -d "$DST/$v" ] && continue
    mkdir "$DST/.incoming-$v"
    cp "$SRC/$v/model.edlae" "$DST/.incoming-$v/model.edlae"
    mv "$DST/.incoming-$v" "$DST/$v"
    echo "model-sync: version $v ready"
  done
  for path in "$DST"/*; do
    v=${path##*/}
    case "$v" in '' | *[!0-9]*) continue ;; esac
    case " $(echo $wanted) " in
      *" $v "*) ;;
      *) rm -rf "$path" && echo "model-sync: version $v removed" ;;
    esac
  done
}

case "${1:-}" in
  --once) sync_once ;;
  "") while :; do sync_once || true; sleep "$INTERVAL"; done ;;
  *) echo "usage: model-sync.sh [--once]" >&2; exit 2 ;;
esac
