# strata: `make run` starts it on this machine, `make test` tests it (what CI runs).
# go on the PATH, else where its tarball installs it (sudo's PATH leaves /usr/local/go/bin out).
GO        ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)
BIN       := bin
PKGS      := ./...
RUN_ARGS  ?=
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
REVISION  ?= $(shell git rev-parse HEAD 2>/dev/null)
BRANCH    ?= $(shell git rev-parse --abbrev-ref HEAD 2>/dev/null)
LDFLAGS   := -X github.com/prometheus/common/version.Version=$(VERSION) \
             -X github.com/prometheus/common/version.Revision=$(REVISION) \
             -X github.com/prometheus/common/version.Branch=$(BRANCH)

# Static binaries without build paths, as the container image (deploy/Containerfile) ships
# them; the tests and deploy/build-image.sh build the same way and share one build cache.
export CGO_ENABLED := 0
export GOFLAGS := -trimpath $(filter-out -trimpath,$(GOFLAGS))

.PHONY: all build test deps run bench golden docs lint fuzz clean dashboards packages

all: build

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/strata-exporter ./cmd/strata-exporter
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/strata ./cmd/strata

# The tests use real parts (podman, runc, HAProxy, a kube-apiserver, …: scripts/deps lists
# them) and root (containers, other processes' sockets): as root, what is missing is installed
# first (make deps); otherwise make test stops at once and says so. `go test ./...` runs as
# anyone, its tests of a missing part skipped with the reason.
test: build
	@if [ "$$(id -u)" -ne 0 ]; then \
		echo "make test runs containers and reads other processes' sockets: run it as root (sudo make test), which installs what this machine lacks first (sudo make deps alone does that)" >&2; \
		exit 1; \
	fi
	@PATH="$$(dirname $(GO)):$$PATH"; ./scripts/deps check 2>/dev/null || ./scripts/deps all
# The timeout covers a test that waits for a real part still being built (the Kubernetes
# binaries take half an hour cold). Packages run as many at a time as there are cores: four on
# two cores made the Alertmanager test miss its alert once in four runs.
	PATH="$$(dirname $(GO)):$$PATH" $(GO) test -count=1 -timeout 45m $(PKGS)

# Install the real parts the tests use: Debian packages, Go modules, and the Kubernetes, Hydra
# and Thanos binaries built into ~/.cache/strata (about 20 minutes the first time). As root.
deps:
	PATH="$$(dirname $(GO)):$$PATH" ./scripts/deps all

# dist/strata_<version>_<arch>.deb and .rpm, and strata-exporter's (scripts/packages, nfpm).
# PKG_VERSION=1.2.3 names their version (default: the release tag's, else a snapshot's).
packages: build
	./scripts/packages

# strata up: this host's facts, local load balancers, the graph and its API on 127.0.0.1:9730.
run: build
	$(BIN)/strata up $(RUN_ARGS)

bench: build
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 3s ./exporter/...
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 3x -timeout 30m ./topology/join
# One process per fleet benchmark, so that each peak RSS is its own; GOGC as the strata binary sets it.
# The rebuilds run unbounded, then with the soft memory limit strata sets in the shipped 2 GiB pod.
	GOGC=75 $(GO) test -run '^$$' -bench 'RebuildFleet' -benchtime 8x -timeout 30m ./topology
	GOGC=75 GOMEMLIMIT=1843MiB $(GO) test -run '^$$' -bench 'RebuildFleet' -benchtime 8x -timeout 30m ./topology
	GOGC=75 $(GO) test -run '^$$' -bench 'RefreshFleet$$' -benchtime 8x -timeout 30m ./topology
	GOGC=75 GOMEMLIMIT=1843MiB $(GO) test -run '^$$' -bench 'RefreshFleet$$' -benchtime 8x -timeout 30m ./topology
	GOGC=75 $(GO) test -run '^$$' -bench 'RefreshFleetChurn' -benchtime 6x -timeout 30m ./topology
	GOGC=75 $(GO) test -run '^$$' -bench 'RefreshFleetTraffic' -benchtime 6x -timeout 30m ./topology
	GOGC=75 $(GO) test -run '^$$' -bench 'MissionQueryFleet' -benchtime 1x -timeout 30m ./server
	GOGC=75 $(GO) test -run '^$$' -bench 'GraphAtFleet' -benchtime 3x -timeout 30m ./topology
	GOGC=75 $(GO) test -run '^$$' -bench 'PlanFleet' -benchmem -benchtime 10x -timeout 30m ./topology/plan
# 200 seeded trials each of a planted kernel, a planted pair and none (about 4 minutes).
	GOGC=75 $(GO) test -run '^$$' -bench 'CompareFleet' -benchmem -benchtime 1x -timeout 30m ./query
	GOGC=75 $(GO) test -run '^$$' -bench 'GlobalFleet' -benchtime 3x -timeout 30m ./topology
# How one site's cost grows (docs/design.md, "Targets"): one process per size, beside
# Prometheus's own head on the same series. Then ten sites in a real Thanos, side by side with
# the same questions in PromQL on Thanos (about 6 minutes, most of it Thanos's).
	for hosts in 1000 10000 30000; do GOGC=75 STRATA_COST_HOSTS=$$hosts $(GO) test -run '^$$' -bench 'SiteCost' -benchtime 3x -timeout 30m ./topology || exit 1; done
	GOGC=75 CI=true $(GO) test -run '^$$' -bench 'GlobalOverThanos' -benchtime 1x -timeout 30m ./server
	GOGC=75 $(GO) test -run '^$$' -bench 'UIPagesFleet' -benchtime 1x -timeout 30m ./server
	GOGC=75 $(GO) test -run '^$$' -bench 'ScopeFleet' -benchtime 1x -timeout 30m ./server
# The load test on the design's fleet for a minute: 50 clients and one sending the worst queries.
	GOGC=75 GOMEMLIMIT=1843MiB STRATA_LOAD_HOSTS=10000 STRATA_LOAD_SECONDS=60 $(GO) test -run '^TestLoadFleet$$' -count=1 -v -timeout 30m ./server
	./scripts/bench-vs-node-exporter.sh

# Grafana dashboards as code (dashboards/*.go) to the JSON checked in under dashboards/json.
dashboards:
	$(GO) run ./dashboards/cmd/gen-dashboards -out dashboards/json

golden:
	$(GO) test ./exporter/collector -run Golden -update
	$(GO) test ./topology/join -update
	$(GO) test ./ui -update

# The tables of docs/metrics.md and docs/topology.md, generated from the code that declares the
# series; their tests fail when a table is out of date.
docs:
	$(GO) test ./exporter/collector ./topology ./server -run '^TestDocs' -count=1 -update

lint:
	$(GO) vet $(PKGS)
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 $(PKGS)
	test -z "$$(gofmt -l .)"

# Each fuzzer for FUZZTIME; -fuzzminimizetime keeps a loaded machine fuzzing, not minimizing.
FUZZTIME ?= 20s
FUZZ = $(GO) test -run '^$$' -fuzzminimizetime 2s -fuzztime $(FUZZTIME)
fuzz:
	$(FUZZ) -fuzz '^FuzzParseOSRelease$$' ./exporter/collector
	$(FUZZ) -fuzz '^FuzzParseProcNetTCP$$' ./exporter/collector
	$(FUZZ) -fuzz '^FuzzParseCgroupPath$$' ./exporter/collector
	$(FUZZ) -fuzz '^FuzzCPUInfo$$' ./exporter/collector
	$(FUZZ) -fuzz '^FuzzParseTokens$$' ./topology/auth
	$(FUZZ) -fuzz '^FuzzSafeNext$$' ./topology/auth
	$(FUZZ) -fuzz '^FuzzCheckCLIRedirect$$' ./topology/auth
	$(FUZZ) -fuzz '^FuzzParseScope$$' ./topology/auth
	$(FUZZ) -fuzz '^FuzzParseStat$$' ./topology/source/haproxy
	$(FUZZ) -fuzz '^FuzzParseServersState$$' ./topology/source/haproxy
	$(FUZZ) -fuzz '^FuzzParseConfig$$' ./topology/source/caddy
	$(FUZZ) -fuzz '^FuzzParseUpstreamsAndMetrics$$' ./topology/source/caddy
	$(FUZZ) -fuzz '^FuzzParse$$' ./topology/source/nginx
	$(FUZZ) -fuzz '^FuzzParse$$' ./topology/source/inventory
	$(FUZZ) -fuzz '^FuzzParse$$' ./topology/config
	$(FUZZ) -fuzz '^FuzzParse$$' ./query
	$(FUZZ) -fuzz '^FuzzParseTime$$' ./query
	$(FUZZ) -fuzz '^FuzzParseTime$$' ./query/promql
	$(FUZZ) -fuzz '^FuzzParseDuration$$' ./query/promql
	$(FUZZ) -fuzz '^FuzzParseLimit$$' ./query/promql

clean:
	rm -rf $(BIN)
