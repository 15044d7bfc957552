# cpimgw — build, test, fuzz and benchmark targets. `make test` is the one
# command CI runs (.ci/run); it must pass on a fresh clone.

GO       ?= go
FUZZTIME ?= 60s
BENCHTIME ?= 1s

.PHONY: all build test lint unit fuzz bench

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

# bench: the Go micro-benchmarks (ns/op, B/op, allocs/op).
bench:
	$(GO) test -run='^$$' -bench=. -benchmem -benchtime=$(BENCHTIME) ./...
