# nomadic: the two commands a new machine needs are `make dev` and `make test`.
GO      ?= go
BIN     := bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/nomadic-project/nomadic/pkg/version.Version=$(VERSION)

.PHONY: all build dev test test-deps vet fmt-check mod-check deps-check prom-check screenshots bench clean

all: build

## build: compile bin/nomadic and bin/nctl
build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/ ./cmd/nomadic ./cmd/nctl

## dev: build, then run a dev agent (embedded etcd, a server and a node agent)
dev: build
	./$(BIN)/nomadic agent -dev

## test: install missing test dependencies, vet, run every test with -race, fuzz the job parser and the API bodies
test: test-deps vet fmt-check mod-check deps-check prom-check
	NOMADIC_REQUIRE_CONTAINERD=1 $(GO) test -race -count=1 -timeout 25m ./...
	./hack/fuzz.sh ./pkg/jobspec FuzzParse $(FUZZTIME)
	./hack/fuzz.sh ./pkg/httpapi FuzzEndpoints $(APIFUZZTIME)
	./hack/fuzz.sh ./pkg/nomadapi FuzzEndpoints $(APIFUZZTIME)
	./hack/fuzz.sh ./pkg/acl FuzzParse 10s
	./hack/fuzz.sh ./pkg/access FuzzTheGateAnswersEveryRequestWithoutA5xx 10s

# hack/fuzz.sh minimises each new input for at most 2 s (Go's default is 60 s,
# which spent most of a run minimising instead of exploring).
FUZZTIME ?= 60s
APIFUZZTIME ?= 20s

test-deps:
	./hack/install-test-deps.sh

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

# mod-check: go.mod and go.sum are what `go mod tidy` makes of them.
mod-check:
	@$(GO) mod tidy -diff || { echo "go.mod or go.sum is not tidy: run go mod tidy"; exit 1; }

# deps-check: nctl validates jobs without linking a driver's runtime.
deps-check:
	@out=$$($(GO) list -deps ./cmd/nctl | grep -E 'containerd|grpc'); \
	if [ -n "$$out" ]; then echo "nctl links packages it must not:"; echo "$$out"; exit 1; fi

# prom-check: the Prometheus configuration and alert rules of deploy/prometheus
# are valid, and the rules' unit tests pass (promtool, Debian's prometheus).
prom-check:
	promtool check config deploy/prometheus/prometheus.yml
	promtool test rules deploy/prometheus/alerts_test.yml

## screenshots: retake the web UI's screenshots in docs/ui/ (the browser test takes them)
screenshots:
	NOMADIC_UI_SCREENSHOTS=1 $(GO) test -count=1 -run 'WebUI' ./e2e

## bench: run the benchmarks (results go to docs/benchmarks.md by hand)
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

clean:
	rm -rf $(BIN)
