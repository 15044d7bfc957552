# cpimgw — build, test, fuzz and benchmark targets. `make test` is the one
# command CI runs (.ci/run); it must pass on a fresh clone.

GO       ?= go
FUZZTIME ?= 60s
BENCHTIME ?= 1s

.PHONY: all build test lint unit fuzz bench bench-go bench-e2e

all: build

build:
	$(GO) build -o bin/cpimgw ./cmd/cpimgw

# test: formatting, vet, and every test with the race detector.
test: lint unit

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

unit:
	$(GO) test -race -count=1 ./...

# fuzz: every native fuzz target of the module for FUZZTIME each.
fuzz:
	FUZZTIME=$(FUZZTIME) .ci/fuzz.sh

# bench: the Go micro-benchmarks (ns/op, B/op, allocs/op), then the
# end-to-end pager benchmark. Throughput is a benchmark, never a test
# threshold: neither target fails on a slow machine.
bench:
	$(MAKE) bench-go
	$(MAKE) bench-e2e

bench-go:
	$(GO) test -run='^$$' -bench=. -benchmem -benchtime=$(BENCHTIME) ./...

# bench-e2e: the real cpimgw binary between a throwaway Prosody and sipp on
# loopback, stepped rates both ways beside Prosody alone and sipp alone
# (cmd/cpimgw-bench; about five minutes). The Markdown report goes to
# stdout and to BENCH_OUT, which is under bin/ and so not tracked;
# docs/benchmarks.md quotes a run. BENCH_FLAGS passes more flags, e.g.
# BENCH_FLAGS='-step 2s -rates 100,1000'.
BENCH_OUT   ?= bin/bench-results.md
BENCH_FLAGS ?=
bench-e2e: build
	$(GO) build -o bin/cpimgw-bench ./cmd/cpimgw-bench
	bin/cpimgw-bench -gateway bin/cpimgw -out $(BENCH_OUT) $(BENCH_FLAGS)
