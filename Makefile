# cpimgw — build, test, fuzz and benchmark targets. `make test` is the one
# command CI runs (.ci/run); it must pass on a fresh clone.

GO        ?= go
FUZZTIME  ?= 60s
BENCHTIME ?= 1s
VERSION   ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X main.version=$(VERSION)

.PHONY: all build demo run test peers lint unit fuzz bench bench-go bench-e2e bench-presence

all: build

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o bin/cpimgw ./cmd/cpimgw
	$(GO) build -o bin/cpimgw-demo ./cmd/cpimgw-demo

# demo: a self-contained gateway on loopback (throwaway Prosody, sipp as the
# SIP side); sends one message each way, then runs until Ctrl-C.
demo: peers build
	bin/cpimgw-demo -gateway bin/cpimgw

# run: the gateway against real servers, e.g. make run CONFIG=/etc/cpimgw/cpimgw.yaml
run: build
	@if [ -z "$(CONFIG)" ]; then echo "usage: make run CONFIG=path/to/cpimgw.yaml" >&2; exit 2; fi
	bin/cpimgw -config $(CONFIG)

# test: installs the real peers if missing (Prosody, sipp), then
# formatting, vet, and every test with the race detector.
test: peers lint unit

peers:
	.ci/install-peers.sh

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
# end-to-end pager benchmark, then the presence scale benchmark.
# Throughput is a benchmark, never a test threshold: no target fails on a
# slow machine.
bench:
	$(MAKE) bench-go
	$(MAKE) bench-e2e
	$(MAKE) bench-presence

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
bench-e2e: peers build
	$(GO) build -o bin/cpimgw-bench ./cmd/cpimgw-bench
	bin/cpimgw-bench -gateway bin/cpimgw -out $(BENCH_OUT) $(BENCH_FLAGS)

# bench-presence: the presence scale benchmark (cmd/cpimgw-bench
# -presence): the real cpimgw restores 10 000 and 100 000 generated
# subscription pairs (one XMPP user, N SIP contacts, authorized and
# subscribed both ways); restore time, memory per pair, presence→NOTIFY
# and NOTIFY→presence throughput in steps, and a restart after SIGKILL
# (about four minutes). The Markdown report goes to stdout and to
# BENCH_PRESENCE_OUT (under bin/, not tracked); docs/benchmarks.md quotes a
# run. BENCH_PRESENCE_FLAGS passes more flags, e.g.
# BENCH_PRESENCE_FLAGS='-pairs 10000 -presence-rates 500,1000,2000'.
BENCH_PRESENCE_OUT   ?= bin/bench-presence.md
BENCH_PRESENCE_FLAGS ?=
bench-presence: peers build
	$(GO) build -o bin/cpimgw-bench ./cmd/cpimgw-bench
	bin/cpimgw-bench -presence -gateway bin/cpimgw -out $(BENCH_PRESENCE_OUT) $(BENCH_PRESENCE_FLAGS)
