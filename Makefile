# authsvc — see README.md.
BINARY  := authsvc
PKG     := github.com/authsvc/authsvc
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo none)
DATE    ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS := -s -w -X $(PKG)/cmd.version=$(VERSION) -X $(PKG)/cmd.commit=$(COMMIT) -X $(PKG)/cmd.date=$(DATE)
GORELEASER_VERSION := v2.15.1

.PHONY: build run test lint bench bench-scale bench-scale-clean release-check clean

## build: a static binary in ./bin
build:
	CGO_ENABLED=0 go build -trimpath -ldflags '$(LDFLAGS)' -o bin/$(BINARY) .

## run: serve on the embedded SQLite default (./authsvc.db). The binary runs
## as a job of its own (bash job control gives it the terminal), so Ctrl-C
## reaches authsvc alone: it shuts down cleanly and make exits 0. (With
## `go run`, go reported the stop as exit status 1 and make as an error.)
run:
	@go build -o bin/$(BINARY) . && bash -c "set -m; ./bin/$(BINARY) serve $(ARGS); exit \$$?"

## test: every test, with the race detector
test:
	go test -race -count=1 ./...

## lint: formatting, vet, and golangci-lint (its version pinned by go.mod's tool
## directive; the linters it runs are in .golangci.yml)
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	go vet ./...
	go tool golangci-lint run ./...

## bench: the benchmarks of docs/performance.md (PostgreSQL at 127.0.0.1:5432)
bench:
	go test -run '^$$' -bench . -benchtime 2s ./pkg/...

## bench-scale: p50 of each request at 10k users / 100k ledger rows vs 1M / 10M,
## through a real serve (loads two PostgreSQL databases once: minutes, a few GB;
## they are kept for the next run)
bench-scale:
	AUTHSVC_BENCH_SCALE=1 go test -run '^$$' -bench BenchmarkScale -benchtime 1x -timeout 60m -v ./internal/scalebench/

## bench-scale-clean: drop the databases bench-scale loaded
bench-scale-clean:
	for db in authsvc_scale_10k authsvc_scale_1m; do psql -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $$db WITH (FORCE)"; done

## release-check: validate goreleaser.yaml, build a snapshot of every target and
## check that the host's binary reports the injected version. (GoReleaser reads
## the commit only in a clone with a remote; a remote-less copy gets one for
## this run through GIT_CONFIG_*, which changes no git state.)
release-check:
	go run github.com/goreleaser/goreleaser/v2@$(GORELEASER_VERSION) check
	$(if $(shell git remote 2>/dev/null),,GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=remote.origin.url GIT_CONFIG_VALUE_0=https://github.com/authsvc/authsvc.git) \
	  go run github.com/goreleaser/goreleaser/v2@$(GORELEASER_VERSION) build --snapshot --clean $(RELEASE_BUILD_FLAGS)
	@out=$$(./dist/$(BINARY)_$$(go env GOOS)_$$(go env GOARCH)*/$(BINARY) version) && echo "$$out" && \
	  case "$$out" in *"commit none"*|*-snapshot+none*) ;; *-snapshot+*) exit 0;; esac; \
	  echo "release-check: version or commit not injected"; exit 1

clean:
	rm -rf bin dist authsvc.db authsvc.db-wal authsvc.db-shm authsvc.db.secret
