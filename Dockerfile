# syntax=docker/dockerfile:1

# Build a static gatehouse binary on the build host's platform, for the target's.
FROM --platform=$BUILDPLATFORM golang:1.26-bookworm AS build
WORKDIR /src
# Modules first: this layer is reused until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG TARGETOS
ARG TARGETARCH
# Only VERSION enters the binary; REVISION and CREATED are declared in the
# final stage so that a new timestamp does not invalidate the build layer.
ARG VERSION=dev
# cmd/gatehouse is package main, so -X names its variable main.version.
RUN --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/gatehouse ./cmd/gatehouse

# Distroless static: no shell, no package manager, runs as nonroot (65532).
FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="gatehouse" \
      org.opencontainers.image.description="Kubernetes admission webhook that admits only images signed by trusted keys" \
      org.opencontainers.image.source="https://gatehouse.dev/gatehouse" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}"
COPY --from=build /out/gatehouse /gatehouse
USER 65532:65532
ENTRYPOINT ["/gatehouse"]
