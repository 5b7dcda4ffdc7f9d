# Working Tracker API. Two commands set everything up on a fresh machine:
#   make run    serve the API and the playground on :8080 (private local PostgreSQL, demo data)
#   make test   provision PostgreSQL and Redis for tests and run every test with -race
GO        ?= go
BIN       := bin/workingtracker
export DATA_DIR ?= $(CURDIR)/.data
# The binary defaults to production; everything the Makefile runs is development.
export APP_ENV ?= development

.PHONY: all build run test bench generate check-generated lint deps e2e federation clean

all: build

# deps installs system packages the cgo build needs (libyuv-dev is not on a fresh machine), so
# everything that compiles internal/imaging depends on it.
deps:
	@scripts/ensure-deps.sh

build: deps
	$(GO) build -o $(BIN) ./cmd/workingtracker

run: deps build
	$(BIN) serve

test: deps
	@scripts/test.sh

bench: deps build
	@scripts/bench.sh

# gqlgen, then tools/rewritelists, which rewrites graph/generated.go where gqlgen's per-object
# machinery was most of a nested page's CPU: lists marshal their elements through internal/lists
# (goroutines only once an element waits for a batch), deferred groups are built only for @defer,
# and plain scalar reads skip graphql.ResolveField while no field middleware is installed (see
# tools/rewritelists; it fails when gqlgen's output drifts, and pins_test.go pins its counts).
generate:
	$(GO) run github.com/99designs/gqlgen generate
	$(GO) run ./tools/rewritelists graph/generated.go

# CI: the committed generated code must be what `make generate` produces.
check-generated: deps generate
	@git diff --exit-code --stat -- graph resolvers gqlgen.yml schema || \
		(echo "generated code is stale: run 'make generate' and commit the result" >&2; exit 1)
	@test -z "$$(git status --porcelain -- graph resolvers)" || \
		(git status --porcelain -- graph resolvers; echo "make generate created untracked files: commit them" >&2; exit 1)

lint: deps
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); echo "gofmt needed" >&2; exit 1)
	$(GO) vet ./...
	$(GO) vet -tags e2e ./internal/playground/
	$(GO) vet -tags bench ./bench/

# Headless Chromium loads the embedded playground from a running server and runs a query; then
# graphql-http's audits check GraphQL over HTTP conformance against the same server.
e2e: deps build
	@scripts/e2e.sh

# An Apollo gateway (@apollo/gateway from npm) composes this subgraph with a second one that
# extends Employee, and queries cross the two in both directions.
federation: deps build
	@scripts/federation-check.sh

clean:
	rm -rf bin
	-$(BIN) devdb stop
