# Build the release binary in the full toolchain image, ship it alone on a slim base.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY entity entity
COPY migration migration
COPY src src
COPY policy policy
COPY assets assets
# Declared in Cargo.toml ([[bench]]): the manifest needs it even to build the binary.
COPY benches benches
RUN cargo build --release --locked --bin salesgraph

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /data --create-home salesgraph
COPY --from=build /src/target/release/salesgraph /usr/local/bin/salesgraph
USER salesgraph
WORKDIR /data
ENV SALESGRAPH_LISTEN=0.0.0.0:8080 \
    SALESGRAPH_SQL_LISTEN=0.0.0.0:5433 \
    DATABASE_URL=sqlite:///data/salesgraph.db
EXPOSE 8080 5433
# The binary asks its own /healthz (the slim image has no curl).
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 CMD ["salesgraph", "health"]
ENTRYPOINT ["salesgraph"]
CMD ["serve"]
