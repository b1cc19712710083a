# edlae container: build and test on Debian 12, then a slim runtime image with the three binaries.
FROM debian:bookworm AS build
WORKDIR /src
COPY scripts/install-deps.sh scripts/install-deps.sh
RUN bash scripts/install-deps.sh && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DEDLAE_BUILD_TESTS=ON \
 && cmake --build build -j"$(nproc)" \
 && (cd build && ctest --output-on-failure -j"$(nproc)")

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libgrpc++1.51 libprotobuf32 libabsl20220623 libopenblas0-pthread libxxhash0 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home edlae
COPY --from=build /src/build/server/edlae-server /src/build/client/edlae-client \
     /src/build/trainer/edlae-train /usr/local/bin/
USER 10001
VOLUME /models
EXPOSE 8500
ENTRYPOINT ["/usr/local/bin/edlae-server"]
CMD ["--model", "/models/model.edlae", "--port", "8500"]
