#!/usr/bin/env bash
# Builds the accounts binary and the bench command into a scratch directory
# and runs the benchmark: `bench/run.sh` (the full run RESULTS.md records) or
# `bench/run.sh --quick` (a short check: smaller tables and shorter loads).
# The database server is BENCH_DATABASE_URL, else 127.0.0.1:5432, else a
# private cluster in .data/bench-postgres. The table and the CPU profile of
# the last run are kept in .data/bench/.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(mktemp -d "${TMPDIR:-/tmp}/accounts-bench-bin.XXXXXX")
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/accounts" ./cmd/accounts
go build -o "$bin/bench" ./bench/cmd/bench
"$bin/bench" run --accounts "$bin/accounts" "$@"
