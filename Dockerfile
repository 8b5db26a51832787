# The relief service. Build: docker build -t relief .   Run: see docker-compose.yml and README.md.

FROM rust:1-bookworm AS builder
WORKDIR /src
COPY . .
# The bundled SQLite, libpq and OpenSSL are compiled from source here (gcc, make and perl are in the image).
RUN cargo build --release --locked -p server

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --system --uid 10001 --user-group --create-home --home-dir /var/lib/relief relief
COPY --from=builder /src/target/release/relief /usr/local/bin/relief
USER relief
# Without DATABASE_URL the service uses the SQLite file /var/lib/relief/relief.db.
WORKDIR /var/lib/relief
ENV RELIEF_BIND=0.0.0.0:8080
EXPOSE 8080
CMD ["relief", "serve"]
