# Every target is a thin call of go or of the accounts binary; `make` alone
# lists them. The README and CI call `make test`.

.DEFAULT_GOAL := help

# Version stamped into the binary by `make build` (main.version).
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
# Commit stamped beside it (main.commit), shown by `accounts version`.
COMMIT ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
# Upper bound for the whole test run; go test fails the run past it.
TEST_TIMEOUT ?= 20m
# How long `make fuzz` runs each fuzz target: short in CI, longer by hand.
FUZZTIME ?= 5s
# golangci-lint at the version pinned in tools/lint/go.mod, a tool module kept
# apart from go.mod so the service's dependency graph does not carry it.
GOLANGCI_LINT := go tool -modfile=tools/lint/go.mod golangci-lint

.PHONY: help run test fuzz generate migrate-diff lint bench build

help: ## List the targets (the default)
	@echo "Usage: make TARGET [NAME=...]; TARGET is one of:"
	@awk 'BEGIN {FS = ":.*## "} /^[a-z][a-z-]*:.*## / {printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# `make run` listens on 127.0.0.1:8080 (accounts dev's default, loopback as
# a dev server should); `make run ADDR=:8080` exposes it on every interface.
ADDR ?=

# run builds through build, so the binary it leaves in bin/ is stamped like
# make build's (bin/accounts version names the version and commit).
run: build ## Serve the API on 127.0.0.1:8080 (ADDR=:8080 for every interface), on a private PostgreSQL when none is configured or answers
	@# Run the binary itself, not `go run`, which exits 1 when it is
	@# interrupted even though the server stopped cleanly on Ctrl-C.
	bin/accounts dev$(if $(ADDR), --addr $(ADDR))

test: ## Run every test against a real PostgreSQL
	go test -count=1 -timeout $(TEST_TIMEOUT) ./...

fuzz: ## Run each fuzz target for FUZZTIME (default 5s; e.g. make fuzz FUZZTIME=10m by hand)
	@set -e; for dir in $$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do \
	  for target in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go | sed 's/^func //' | sort -u); do \
	    echo "==> $$dir $$target ($(FUZZTIME))"; \
	    if ! out=$$(go test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) $$dir 2>&1); then \
	      echo "$$out"; \
	      echo "$$out" | grep -q 'context deadline exceeded' && ! echo "$$out" | grep -q 'Failing input written' || exit 1; \
	      echo "(the fuzz engine's own deadline at the end of FUZZTIME, not a finding: once more)"; \
	      go test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) $$dir; \
	    else echo "$$out"; fi; \
	  done; \
	done

generate: ## Regenerate the Ent code from ent/schema
	go generate ./ent

migrate-diff: ## Write the migration for a schema change: make migrate-diff NAME=add_user_email
	$(if $(NAME),,$(error NAME is required: make migrate-diff NAME=short_description_of_the_change))
	go run ./cmd/accounts migrate diff $(NAME)

lint: ## Check formatting (gofmt), run go vet and golangci-lint (.golangci.yml)
	@unformatted=$$(gofmt -l .); if [ -n "$$unformatted" ]; then echo "gofmt would change:" >&2; echo "$$unformatted" >&2; exit 1; fi
	go vet ./...
	$(GOLANGCI_LINT) run ./...

bench: ## Benchmark against baselines (bench/RESULTS.md); QUICK=1 is a short check of the harness
	bench/run.sh $(if $(QUICK),--quick)

build: ## Build a static bin/accounts stamped with VERSION
	CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)" -o bin/accounts ./cmd/accounts
