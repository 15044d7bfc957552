#!/usr/bin/env bash
# Runs every native fuzz target of the module for $FUZZTIME (default 60s).
# New inputs are minimised for at most 10s so the budget goes to fuzzing.
# A failure stops the run; Go writes the failing input under the package's
# testdata/fuzz/ directory, from where it belongs in ../testdata/fuzz/<target>/
# as a plain seed file.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-60s}
for pkg in $(go list ./...); do
  for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
    echo "== $pkg $target ($fuzztime)"
    go test -run='^$' -fuzz="^${target}\$" -fuzztime="$fuzztime" -fuzzminimizetime=10s "$pkg"
  done
done
