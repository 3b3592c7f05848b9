# Firebreak container image.
#
#   docker build -t firebreak .
#   docker run --rm -p 8480:8480 firebreak run --kafka-brokers ... --clickhouse-dsn ...
#
# The image holds the firebreak binary only. The embedded storage engine (chDB, a
# ~570 MB shared library) is not baked in: in a container firebreak runs against an
# external Kafka and ClickHouse server, as docker-compose.yml wires it.

# ---- build ---------------------------------------------------------------------
FROM golang:1.26-bookworm AS build

WORKDIR /src

# Module downloads get their own layer, so editing code does not refetch them.
COPY go.mod go.sum ./
RUN go mod download

COPY . .

# No cgo toolchain is needed (the chDB binding uses purego). The binary still
# links the C library dynamically, so the runtime stage is the same Debian release.
RUN CGO_ENABLED=0 go build -trimpath -buildvcs=false -ldflags="-s -w" \
        -o /out/firebreak ./cmd/firebreak

# ---- runtime -------------------------------------------------------------------
FROM debian:bookworm-slim

# ca-certificates: TLS to Kafka, ClickHouse, Alertmanager and webhooks.
# wget: the HEALTHCHECK below (a few hundred KB, unlike curl and its libraries).
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates wget \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 firebreak \
    && useradd --system --uid 10001 --gid firebreak \
        --home-dir /var/lib/firebreak --shell /usr/sbin/nologin firebreak \
    && install -d -o firebreak -g firebreak -m 0750 /var/lib/firebreak

COPY --from=build /out/firebreak /usr/local/bin/firebreak

# Numeric, so that orchestrators enforcing "run as non-root" can verify it.
USER 10001:10001
WORKDIR /var/lib/firebreak

# firebreak reads every flag also from FIREBREAK_<FLAG>; flags on the command line
# win. Listen on all interfaces (the built-in default is loopback, unreachable
# from outside the container) and keep data under the user's home.
ENV FIREBREAK_HTTP_ADDR=:8480 \
    FIREBREAK_OTLP_GRPC_ADDR=:4317 \
    FIREBREAK_SYSLOG_UDP_ADDR=:1514 \
    FIREBREAK_SYSLOG_TCP_ADDR=:1514 \
    FIREBREAK_DATA_DIR=/var/lib/firebreak/data

# Default --http-addr: /healthz, /metrics, /api/v1/... (remote_write, query API).
EXPOSE 8480 4317 1514/tcp 1514/udp

# Assumes the default HTTP port; override the healthcheck if --http-addr changes.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8480/healthz"]

ENTRYPOINT ["firebreak"]
CMD ["run"]
