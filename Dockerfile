# edlae container: build and test on Debian 12, then a slim runtime image with the three binaries.
# Build: podman build --isolation=chroot --network=host -t edlae . (deploy/container-test.sh does it end to end).

# --- build: Debian's -dev packages (scripts/install-deps.sh), compile, run every test ---
FROM debian:bookworm AS build
# Parallel jobs for the compile and ctest (empty: nproc).
ARG JOBS=
WORKDIR /src
COPY scripts/install-deps.sh scripts/install-deps.sh
RUN bash scripts/install-deps.sh && rm -rf /var/lib/apt/lists/*
COPY . .
RUN jobs="${JOBS:-$(nproc)}" \
 && cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DEDLAE_BUILD_TESTS=ON \
 && cmake --build build -j"$jobs" \
 && ctest --test-dir build --output-on-failure -j"$jobs"
# The runtime stage installs exactly the Debian packages that own the binaries' shared libraries.
RUN mkdir -p /out/bin \
 && install -s build/server/edlae-server build/client/edlae-client build/trainer/edlae-train /out/bin/ \
 && for bin in /out/bin/*; do ldd "$bin"; done \
  | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' | sort -u \
  | while read -r lib; do dpkg -S "$lib" 2>/dev/null || dpkg -S "$(readlink -f "$lib")"; done \
  | cut -d: -f1 | sort -u > /out/runtime-packages.txt \
 && cat /out/runtime-packages.txt

# --- runtime: bookworm-slim, runtime libraries, three binaries, non-root ---
FROM debian:bookworm-slim AS runtime
COPY --from=build /out/runtime-packages.txt /tmp/runtime-packages.txt
RUN apt-get update \
 && xargs -a /tmp/runtime-packages.txt env DEBIAN_FRONTEND=noninteractive \
      apt-get install -y --no-install-recommends \
 && rm -rf /var/lib/apt/lists/* /tmp/runtime-packages.txt \
 && groupadd --system --gid 10001 edlae \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin edlae \
 && mkdir -p /models && chown 10001:10001 /models
COPY --from=build /out/bin/ /usr/local/bin/
LABEL org.opencontainers.image.title="edlae" \
      org.opencontainers.image.description="EASE/DLAE/EDLAE recommender: edlae-server (gRPC), edlae-client, edlae-train"
USER 10001:10001
# Versioned model folders: /models/<version>/model.edlae; the server serves the highest version.
VOLUME /models
# gRPC (edlae.v1.Recommender, grpc.health.v1, reflection) and Prometheus metrics (/metrics).
EXPOSE 8500 9464
ENTRYPOINT ["/usr/local/bin/edlae-server"]
CMD ["--model_dir=/models", "--port=8500", "--metrics_address=0.0.0.0:9464"]
