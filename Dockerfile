# syntax=docker/dockerfile:1
# authsvc container image, built from source:
#
#   docker build -t authsvc --build-arg VERSION=$(git describe --tags --always) .
#   docker run -p 8080:8080 -v authsvc-data:/data authsvc
#
# Releases build their image from Dockerfile.goreleaser instead, which copies
# the binaries GoReleaser has already cross-compiled (same runtime stage).

# ---- build: a static, trimmed binary for the target platform ----
FROM --platform=$BUILDPLATFORM golang:1.26 AS build
ARG TARGETOS
ARG TARGETARCH
ARG VERSION=dev
ARG COMMIT=none
ARG DATE=unknown
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X github.com/authsvc/authsvc/cmd.version=${VERSION} -X github.com/authsvc/authsvc/cmd.commit=${COMMIT} -X github.com/authsvc/authsvc/cmd.date=${DATE}" \
      -o /out/authsvc . \
 && mkdir -p /out/data

# ---- runtime: distroless static, no shell, runs as nonroot (65532) ----
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/authsvc /usr/local/bin/authsvc
# The SQLite default (and its generated development secret) live in /data.
COPY --from=build --chown=65532:65532 /out/data /data
ENV AUTHSVC_DATABASE_URL=sqlite:/data/authsvc.db
WORKDIR /data
VOLUME ["/data"]
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["authsvc"]
CMD ["serve"]
