# tryst: rendezvous and notification gateway.
#   make run     build and start the gateway on 127.0.0.1:8080
#   make test    vet, then every test with the race detector
#   make bench   every benchmark, with allocations
#   make fuzz    a short run of every fuzz target (FUZZTIME=10s to change)
#   make timing  the statistical check that token auth takes as long for
#                existing, unknown and malformed ids (also part of make bench)

GO       ?= go
BIN      := bin/tryst
FUZZTIME ?= 5s

.PHONY: build run test vet lint bench fuzz clean jsdeps timing

build:
	$(GO) build -o $(BIN) ./cmd/tryst

run: build
	./$(BIN) serve

vet:
	$(GO) vet ./...

# test runs through gotestsum: one line a package as go test prints them,
# then every skipped test with its reason (a plain run without
# TRYST_TEST_POSTGRES_URL/TRYST_TEST_REDIS_URL skips the database tests and
# says so), and a closing "DONE N tests, N skipped" line.
GOTESTSUM ?= gotest.tools/gotestsum@v1.13.0
test: vet jsdeps
	$(GO) run $(GOTESTSUM) --format pkgname --format-hide-empty-pkg -- -race ./...

# jsdeps installs the matrix-js-sdk releases the compatibility test drives
# and the ts-mls release of the MLS interop test, when npm is there (the
# tests explain themselves when they are missing).
jsdeps:
	@if command -v npm >/dev/null 2>&1; then \
		(cd test/matrix-js-sdk && npm ci --no-audit --no-fund --loglevel=error) && \
		(cd test/ts-mls && npm ci --no-audit --no-fund --loglevel=error); \
	else echo "npm not found: the matrix-js-sdk and ts-mls tests will be skipped"; fi

# lint adds staticcheck and the import rules, checked on the dependency graph.
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
lint: vet
	$(GO) run $(STATICCHECK) ./...
	scripts/check-imports.sh

# bench runs every benchmark; the MLS and DS benchmarks get a fixed count,
# since building their 10,000-member groups dominates a timed run (the DS
# ones run on SQLite, and on PostgreSQL when TRYST_TEST_POSTGRES_URL is set).
bench:
	$(GO) test -run '^$$' -bench . -benchmem -timeout 60m $$($(GO) list ./... | grep -v -e '/mls$$' -e '/ds$$')
	$(GO) test -run '^$$' -bench 'BenchmarkCommit' -benchtime 50x -timeout 30m ./ds
	$(GO) test -run '^$$' -bench 'BenchmarkAppMessage|BenchmarkQueueFetchAck' -benchtime 2000x -timeout 30m ./ds
	$(GO) test -run '^$$' -bench 'BenchmarkFanOutLatency' -benchtime 200x -timeout 30m ./ds
	$(GO) test -run '^$$' -bench 'BenchmarkCommit' -benchmem -benchtime 300x -timeout 30m ./mls
	$(GO) test -run '^$$' -bench 'BenchmarkImportGroup' -benchmem -benchtime 3x -timeout 30m ./mls

fuzz:
	FUZZTIME=$(FUZZTIME) scripts/fuzz.sh

# timing times a few thousand token requests of each kind and fails when
# a Mann-Whitney comparison tells two kinds apart (|z| > 4).
timing:
	$(GO) test -run '^$$' -bench 'BenchmarkTokenAuthTiming' -benchtime 1x ./cmd/tryst

clean:
	rm -rf bin
