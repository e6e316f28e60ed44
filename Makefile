# Gatehouse. `make test` runs everything CI runs; `make demo` shows a deny
# and an allow on a local control plane.

GO        ?= go
BIN       := bin
TOOLS_DIR := $(CURDIR)/.cache/bin
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
NETNS     := e2e/tools/netns.sh
export GATEHOUSE_TOOLS := $(TOOLS_DIR)
# go test inside the network namespace must not try the module proxy.
OFFLINE   := GOFLAGS=-mod=readonly GOPROXY=off
LOAD_REQUESTS ?= 2000
LOAD_WORKERS  ?= 8

.PHONY: all build test unit e2e tools demo bench lint fmt image clean

all: build

build:
	$(GO) build -trimpath -ldflags "-s -w -X main.version=$(VERSION)" -o $(BIN)/gatehouse ./cmd/gatehouse

## test: unit tests, then the e2e suite against real components.
test: lint unit e2e

## unit: every package except the e2e suite, with the race detector. No network.
unit:
	$(GO) test -race -count=1 $$($(GO) list ./... | grep -v '^gatehouse.dev/gatehouse/e2e')
	cd manifests/monitoring/check && $(GO) test -count=1 ./...

## tools: install and build what e2e and demo need, cached in .cache/bin.
tools:
	bash e2e/tools/install.sh

## e2e: real kube-apiserver, etcd, registry, cosign and gatehouse, in a private network namespace.
e2e: tools build
	$(GO) test -count=1 -run '^$$' ./e2e/... >/dev/null
	$(NETNS) env $(OFFLINE) GATEHOUSE_E2E=1 GATEHOUSE_BIN=$(CURDIR)/$(BIN)/gatehouse \
		$(GO) test -count=1 -timeout 20m ./e2e/...

## demo: bring up a local control plane, registry and gatehouse; show a deny and an allow.
demo: tools build
	$(GO) build -o $(BIN)/demo ./e2e/demo
	$(NETNS) $(BIN)/demo -gatehouse $(CURDIR)/$(BIN)/gatehouse

## bench: Go benchmarks, then the load generator against the gatehouse binary
## and a real registry. docs/benchmarks.md records results and how they were made.
bench: tools build
	@mkdir -p $(BIN)
	$(GO) test -run '^$$' -bench . -benchmem -count 6 ./webhook/ ./verify/... ./policy/... | tee $(BIN)/bench.txt
	$(GO) build -o $(BIN)/load ./e2e/load
	$(NETNS) $(BIN)/load -gatehouse $(CURDIR)/$(BIN)/gatehouse -requests $(LOAD_REQUESTS) -workers $(LOAD_WORKERS) | tee $(BIN)/load.txt

lint:
	@big=$$(git ls-files -z | xargs -0 du -k 2>/dev/null | awk '$$1 > 1024 { print $$2 }'); test -z "$$big" || { echo "files over 1 MiB are tracked (built binaries?): $$big"; exit 1; }
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

## image: container image (needs a Docker or BuildKit engine, not present on CI machines).
image:
	docker build --build-arg VERSION=$(VERSION) --build-arg REVISION=$$(git rev-parse HEAD) \
		--build-arg CREATED=$$(date -u +%Y-%m-%dT%H:%M:%SZ) -t gatehouse:$(VERSION) .

clean:
	rm -rf $(BIN)
