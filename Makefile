# strata: `make run` starts it on this machine, `make test` tests it (what CI runs).
GO        ?= go
BIN       := bin
PKGS      := ./...
RUN_ARGS  ?= --web.listen-address=127.0.0.1:9731

.PHONY: all build test run bench golden lint fuzz clean

all: build

build:
	$(GO) build -o $(BIN)/strata-exporter ./cmd/strata-exporter

# The tests use real parts (podman, runc, prometheus-node-exporter); .ci/run installs them.
test: build
	$(GO) test -count=1 -timeout 20m $(PKGS)

run: build
	$(BIN)/strata-exporter $(RUN_ARGS)

bench: build
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 3s ./exporter/...
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
