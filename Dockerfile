# syntax=docker/dockerfile:1

# The accounts service as a small static image:
#   docker build --build-arg VERSION=$(git describe --always --dirty) \
#     --build-arg COMMIT=$(git rev-parse --short=12 HEAD) -t accounts .
# The default command is `serve`; any other subcommand runs the same binary:
#   docker run --rm accounts migrate apply

ARG GO_VERSION=1.26

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
# Modules first, so that a change of source code reuses the download layer.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG VERSION=dev
# .git is not in the build context, so the commit comes as an argument.
ARG COMMIT=unknown
# CGO_ENABLED=0: a static binary with no libc, so it runs on distroless/static.
# -trimpath and -s -w: no local paths and no symbol tables in the image.
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" \
      -o /out/accounts ./cmd/accounts

# distroless/static: CA certificates, tzdata and /etc/passwd with a nonroot
# user (65532), and nothing else: no shell, no package manager.
FROM gcr.io/distroless/static-debian12:nonroot
# OCI annotations: what the image is and its licence (LICENSE, Apache-2.0).
LABEL org.opencontainers.image.title="accounts" \
      org.opencontainers.image.description="User-account service: REST API, migrations and developer tools" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /out/accounts /usr/local/bin/accounts
USER nonroot:nonroot
# The migration directory is embedded in the binary; there is no migrations/
# folder in the image, so migrate.dir falls back to the embedded copy.
WORKDIR /home/nonroot
# 8080: the API (http.addr). 3097: /metrics (metrics.addr), which listens
# on 127.0.0.1:3097 by default, inside the container: the image keeps it
# off every network until asked. A plain `docker run` reaches it with
#   docker run -e ACCOUNTS_METRICS_ADDR=:3097 -p 127.0.0.1:3097:3097 -p 8080:8080 accounts
# (listen on the container's interfaces, publish on the host's loopback
# only); docker-compose.yml does the same.
EXPOSE 8080 3097
# The image has no shell or curl: the binary probes its own /readyz (on
# http.addr, via 127.0.0.1) and exits 1 with the reason unless it is 200.
HEALTHCHECK --interval=10s --timeout=10s --start-period=10s --retries=3 \
  CMD ["/usr/local/bin/accounts", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/accounts"]
CMD ["serve"]
