#!/usr/bin/env bash
# Builds the edlae image with podman from locally bootstrapped Debian bases, then trains, serves and queries with
# the image's own binaries in its root filesystem (podman image mount + chroot, as the image's non-root user).
#
# Needs root (debootstrap, chroot, mounts) and Debian's package mirror; no Docker engine and no registry.
#   bash deploy/container-test.sh            # reuses base images from an earlier run when present
#   bash deploy/container-test.sh --fresh    # bootstraps the bases again
# State (podman storage, bootstrap root) lives in $EDLAE_CONTAINER_WORK (default /var/tmp/edlae-container);
# `rm -rf` it to reclaim the disk. The mirror is read from /etc/apt/sources.list{,.d/*}; EDLAE_DEBIAN_MIRROR
# overrides it. JOBS (default: nproc) is passed to the image build.
set -euo pipefail

IMAGE=localhost/edlae:test
BASE_FULL=docker.io/library/debian:bookworm        # what `FROM debian:bookworm` resolves to
BASE_SLIM=docker.io/library/debian:bookworm-slim   # what `FROM debian:bookworm-slim` resolves to
SUITE=bookworm
IMAGE_UID=10001

phase_start=0
declare -a TIMINGS=()
begin() { phase_start=$(date +%s); echo "== $*"; }
end() { TIMINGS+=("$(printf '%-34s %5ds' "$1" $(($(date +%s) - phase_start)))"); }
fail() { echo "container-test: FAIL: $*" >&2; exit 1; }

# The first enabled Debian source for SUITE ("" when none): one-line .list files and deb822 .sources files.
# $1: the suite to look for (bookworm or bookworm-security).
debian_source() {
  local suite=$1 f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    sed -E 's/#.*//; s/\[[^]]*\]//' "$f" |
      awk -v s="$suite" '$1 == "deb" && $3 == s { print $2; exit }'
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk -v s="$suite" 'BEGIN { RS = ""; FS = "\n" }
      {
        types = ""; uris = ""; suites = ""; enabled = "yes"
        for (i = 1; i <= NF; i++) {
          line = $i; sub(/#.*/, "", line)
          if (line ~ /^Types:/) types = line
          else if (line ~ /^URIs:/) { sub(/^URIs:[ \t]*/, "", line); uris = line }
          else if (line ~ /^Suites:/) suites = line " "
          else if (line ~ /^Enabled:/) enabled = tolower(line)
        }
        if (types ~ /[ \t]deb([ \t]|$)/ && suites ~ ("[ \t]" s " ") && enabled !~ /no/) {
          split(uris, u, /[ \t]+/); print u[1]; exit
        }
      }' "$f"
  done | head -n 1
}

# Bootstraps a minimal bookworm root and imports it twice: as debian:bookworm and, with documentation, manuals
# and locales removed and excluded from later installs (as Debian's official slim image does), as -slim.
make_bases() {
  local mirror security root=$WORK/bootstrap
  mirror=${EDLAE_DEBIAN_MIRROR:-$(debian_source "$SUITE")}
  [ -n "$mirror" ] || fail "no Debian '$SUITE' source in /etc/apt/sources.list{,.d/*}; set EDLAE_DEBIAN_MIRROR"
  security=$(debian_source "$SUITE-security")
  echo "mirror: $mirror${security:+, security: $security}"
  rm -rf "$root"
  debootstrap --variant=minbase "$SUITE" "$root" "$mirror" > "$WORK/debootstrap.log" 2>&1 ||
    { tail -n 30 "$WORK/debootstrap.log"; fail "debootstrap"; }
  {
    echo "deb $mirror $SUITE main"
    echo "deb $mirror $SUITE-updates main"
    [ -z "$security" ] || echo "deb $security $SUITE-security main"
  } > "$root/etc/apt/sources.list"
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/archives/*.deb "$root"/etc/resolv.conf
  tar --numeric-owner -C "$root" -cf - . |
    podman "${PODMAN_GLOBAL[@]}" import --quiet --change 'CMD ["bash"]' - "$BASE_FULL" > /dev/null

  rm -rf "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/locale/*
  cat > "$root/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
EOF
  tar --numeric-owner -C "$root" -cf - . |
    podman "${PODMAN_GLOBAL[@]}" import --quiet --change 'CMD ["bash"]' - "$BASE_SLIM" > /dev/null
  rm -rf "$root"
}

# Asserts the image's configuration: non-root user, ports, model volume, server entrypoint.
check_image_config() {
  local user ports volumes entrypoint
  user=$(podman "${PODMAN_GLOBAL[@]}" image inspect --format '{{.Config.User}}' "$IMAGE")
  ports=$(podman "${PODMAN_GLOBAL[@]}" image inspect --format '{{json .Config.ExposedPorts}}' "$IMAGE")
  volumes=$(podman "${PODMAN_GLOBAL[@]}" image inspect --format '{{json .Config.Volumes}}' "$IMAGE")
  entrypoint=$(podman "${PODMAN_GLOBAL[@]}" image inspect --format '{{json .Config.Entrypoint}}' "$IMAGE")
  echo "user=$user ports=$ports volumes=$volumes entrypoint=$entrypoint"
  [ "$user" = "$IMAGE_UID" ] || [ "$user" = "$IMAGE_UID:$IMAGE_UID" ] || fail "image user is '$user'"
  grep -q '"8500/tcp"' <<< "$ports" || fail "gRPC port 8500 not exposed"
  grep -q '"9464/tcp"' <<< "$ports" || fail "metrics port 9464 not exposed"
  grep -q '"/models"' <<< "$volumes" || fail "/models is not a volume"
  grep -q 'edlae-server' <<< "$entrypoint" || fail "entrypoint is not edlae-server"
}

# Runs in a private mount namespace (mounts vanish with it): the image's binaries in its mounted root, as the
# image's user. $1: image root, $2: host folder mounted at /tmp inside.
runtime_phase() {
  local root=$1 scratch=$2
  mount --bind "$scratch" "$root/tmp"
  mount -t proc proc "$root/proc"
  mount --rbind /dev "$root/dev"
  in_image() { chroot --userspec="$IMAGE_UID:$IMAGE_UID" "$root" "$@"; }

  for bin in edlae-server edlae-client edlae-train; do
    if chroot "$root" ldd "/usr/local/bin/$bin" | grep -q 'not found'; then
      chroot "$root" ldd "/usr/local/bin/$bin" >&2
      fail "$bin misses a shared library in the runtime image"
    fi
  done
  in_image /usr/local/bin/edlae-train synth --users 1000 --items 400 --seed 3 --out /tmp/ratings.csv
  mkdir -p "$scratch/models/1" && chown -R "$IMAGE_UID:$IMAGE_UID" "$scratch/models"
  in_image /usr/local/bin/edlae-train train --input /tmp/ratings.csv --format movielens-csv --model edlae \
    --lambda 10 --dropout 0.2 --out /tmp/models/1/model.edlae 2> "$scratch/train.log" ||
    { cat "$scratch/train.log" >&2; fail "training in the image"; }

  # chroot execs the server, so $! is the server itself (a function would leave a subshell in between).
  chroot --userspec="$IMAGE_UID:$IMAGE_UID" "$root" /usr/local/bin/edlae-server --model /tmp/models/1/model.edlae \
    --host 127.0.0.1 --port 0 --metrics_address 127.0.0.1:0 --port_file /tmp/port --shutdown_grace 5s \
    2> "$scratch/server.log" &
  local pid=$! target
  trap 'kill -9 "$pid" 2> /dev/null || true' EXIT
  for _ in $(seq 200); do
    [ -s "$scratch/port" ] && break
    kill -0 "$pid" 2> /dev/null || { cat "$scratch/server.log" >&2; fail "server exited at start"; }
    sleep 0.05
  done
  [ -s "$scratch/port" ] || { kill -9 "$pid"; fail "server did not write its port"; }
  target=127.0.0.1:$(cat "$scratch/port")
  local ok=1
  in_image /usr/local/bin/edlae-client health --target "$target" | grep -q SERVING || ok=0
  in_image /usr/local/bin/edlae-client recommend --target "$target" --items 1,2,3 -n 5 > "$scratch/rec.txt" || ok=0
  [ "$(grep -cE '^ *[0-9]+ ' "$scratch/rec.txt")" -eq 5 ] || ok=0
  in_image /usr/local/bin/edlae-client info --target "$target" | grep -q edlae || ok=0
  cat "$scratch/rec.txt"
  kill -TERM "$pid"
  local status=0
  wait "$pid" || status=$?
  trap - EXIT
  [ "$ok" -eq 1 ] || { cat "$scratch/server.log" >&2; fail "querying the server in the image"; }
  [ "$status" -eq 0 ] || { cat "$scratch/server.log" >&2; fail "server exited $status after SIGTERM"; }
  echo "train, serve, query and SIGTERM in the image root: ok"
}

if [ "${1:-}" = "--runtime-phase" ]; then
  runtime_phase "$2" "$3"
  exit 0
fi

[ "$(id -u)" -eq 0 ] || fail "run as root (debootstrap, chroot and mounts need it)"
cd "$(dirname "$0")/.."
SRC=$PWD
WORK=${EDLAE_CONTAINER_WORK:-/var/tmp/edlae-container}
FRESH=0
[ "${1:-}" = "--fresh" ] && FRESH=1
# A storage of its own keeps the machine's podman images untouched and the run reproducible.
PODMAN_GLOBAL=(--root "$WORK/storage" --runroot "$WORK/run")
total_start=$(date +%s)

begin "install podman and debootstrap"
bash "$SRC/scripts/install-deps.sh" --container
end "install packages"

mkdir -p "$WORK"
if [ "$FRESH" -eq 1 ]; then
  podman "${PODMAN_GLOBAL[@]}" rmi -f "$IMAGE" "$BASE_FULL" "$BASE_SLIM" > /dev/null 2>&1 || true
fi
if podman "${PODMAN_GLOBAL[@]}" image exists "$BASE_FULL" && podman "${PODMAN_GLOBAL[@]}" image exists "$BASE_SLIM"; then
  echo "== base images present (--fresh bootstraps them again)"
else
  begin "debootstrap $SUITE and podman import as debian:$SUITE{,-slim}"
  make_bases
  end "debootstrap + import"
fi

begin "podman build (build stage compiles and runs ctest)"
podman "${PODMAN_GLOBAL[@]}" build --isolation=chroot --network=host --pull=never \
  --build-arg JOBS="${JOBS:-$(nproc)}" -t "$IMAGE" -f "$SRC/Dockerfile" "$SRC" 2>&1 |
  tee "$WORK/build.log" | grep -E '^(STEP|COMMIT|[0-9]+% tests passed|Total Test time)|tests failed' || true
[ "${PIPESTATUS[0]}" -eq 0 ] || { tail -n 60 "$WORK/build.log"; fail "podman build"; }
end "podman build"

begin "check the image and run its binaries"
check_image_config
size=$(podman "${PODMAN_GLOBAL[@]}" image inspect --format '{{.Size}}' "$IMAGE")
root=$(podman "${PODMAN_GLOBAL[@]}" image mount "$IMAGE")
scratch=$(mktemp -d "$WORK/scratch.XXXXXX")
chown "$IMAGE_UID:$IMAGE_UID" "$scratch"
status=0
unshare --mount --propagation private bash "$SRC/deploy/container-test.sh" --runtime-phase "$root" "$scratch" ||
  status=$?
podman "${PODMAN_GLOBAL[@]}" image unmount "$IMAGE" > /dev/null || true
rm -rf "$scratch"
[ "$status" -eq 0 ] || fail "runtime checks"
end "image checks + train/serve/query"

TIMINGS+=("$(printf '%-34s %5ds' total $(($(date +%s) - total_start)))")
echo "== timings"
printf '%s\n' "${TIMINGS[@]}"
echo "runtime image $IMAGE: $((size / 1024 / 1024)) MiB"
echo "container-test: passed"
