# syntax=docker/dockerfile:1
# The rater as a Socotra App Marketplace image: linux/amd64, non-root, the manifest at the
# image root, the bundled plans in the working directory. `make publish-app` builds and
# publishes it; `.ci/run` builds the binary with the same cargo flags.

# --- build -------------------------------------------------------------------------------
FROM --platform=linux/amd64 rust:1.95-slim-bookworm AS build
WORKDIR /src
# The whole tree (minus .dockerignore): every target Cargo.toml declares must exist.
# BuildKit cache mounts keep the registry and compiled dependencies between builds.
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin rater \
    && cp target/release/rater /rater && strip /rater

# --- run ---------------------------------------------------------------------------------
# distroless/cc: glibc and libgcc only (mimalloc is linked in); no shell, no package manager.
FROM --platform=linux/amd64 gcr.io/distroless/cc-debian12:nonroot
WORKDIR /app
COPY --from=build /rater /usr/local/bin/rater
COPY rating-tables /app/rating-tables
COPY socotra-app.json /socotra-app.json
ENV SMP_PORT=10101 \
    RATER_PLANS_DIR=/app/rating-tables \
    RATER_LOG_FORMAT=json
EXPOSE 10101
# The distroless `nonroot` user (uid 65532).
USER nonroot:nonroot
ENTRYPOINT ["/usr/local/bin/rater"]
