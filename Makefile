# strata: `make run` starts it on this machine, `make test` tests it (what CI runs).
GO        ?= go
BIN       := bin
PKGS      := ./...
RUN_ARGS  ?=

.PHONY: all build test run bench golden lint fuzz clean

all: build

build:
	$(GO) build -o $(BIN)/strata-exporter ./cmd/strata-exporter
	$(GO) build -o $(BIN)/strata ./cmd/strata

# The tests use real parts (podman, runc, prometheus-node-exporter); .ci/run installs them.
test: build
	$(GO) test -count=1 -timeout 20m $(PKGS)

# strata up: this host's facts, local load balancers, the graph and its API on 127.0.0.1:9730.
run: build
	$(BIN)/strata up $(RUN_ARGS)

bench: build
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 3s ./exporter/...
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 3x -timeout 30m ./topology/...
	./scripts/bench-vs-node-exporter.sh

golden:
	$(GO) test ./exporter/collector -run Golden -update

lint:
	$(GO) vet $(PKGS)
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 $(PKGS)
	test -z "$$(gofmt -l .)"

fuzz:
	$(GO) test ./exporter/collector -run '^$$' -fuzz FuzzParseOSRelease -fuzztime 20s
	$(GO) test ./exporter/collector -run '^$$' -fuzz FuzzParseProcNetTCP -fuzztime 20s
	$(GO) test ./exporter/collector -run '^$$' -fuzz FuzzParseCgroupPath -fuzztime 20s
	$(GO) test ./exporter/collector -run '^$$' -fuzz FuzzCPUInfo -fuzztime 20s

clean:
	rm -rf $(BIN)
