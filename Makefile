# authsvc — see README.md.
BINARY  := authsvc
PKG     := github.com/authsvc/authsvc
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo none)
DATE    ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS := -s -w -X $(PKG)/cmd.version=$(VERSION) -X $(PKG)/cmd.commit=$(COMMIT) -X $(PKG)/cmd.date=$(DATE)
GORELEASER_VERSION := v2.15.1

.PHONY: build run test lint bench release-check clean

## build: a static binary in ./bin
build:
	CGO_ENABLED=0 go build -trimpath -ldflags '$(LDFLAGS)' -o bin/$(BINARY) .

## run: serve on the embedded SQLite default (./authsvc.db)
run:
	go run . serve

## test: every test, with the race detector
test:
	go test -race -count=1 ./...

## lint: formatting and vet
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	go vet ./...

## bench: the benchmarks named in the README (PostgreSQL at 127.0.0.1:5432)
bench:
	go test -run '^$$' -bench . -benchtime 2s ./pkg/...

## release-check: validate goreleaser.yaml and build a snapshot of every target
release-check:
	go run github.com/goreleaser/goreleaser/v2@$(GORELEASER_VERSION) check
	go run github.com/goreleaser/goreleaser/v2@$(GORELEASER_VERSION) build --snapshot --clean

clean:
	rm -rf bin dist authsvc.db authsvc.db-wal authsvc.db-shm authsvc.db.secret
