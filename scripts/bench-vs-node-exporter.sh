#!/usr/bin/env bash
# Side-by-side cost of a scrape: strata-exporter (all default collectors) against Debian's
# prometheus-node-exporter (its default collectors) on this host, measured in the same run.
# Reports CPU time per scrape of each server process (utime+stime from /proc/<pid>/stat),
# the ratio, and peak RSS. Target (docs/design.md, "Targets"): strata ≤ 0.5 × node_exporter.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${SCRAPES:-300}
NODE_EXPORTER=${NODE_EXPORTER:-$(command -v prometheus-node-exporter || true)}
if [[ -z "$NODE_EXPORTER" ]]; then
	echo "prometheus-node-exporter is not installed (apt-get install prometheus-node-exporter)" >&2
	exit 1
fi
[[ -x bin/strata-exporter ]] || go build -o bin/strata-exporter ./cmd/strata-exporter

# A port of 127.0.0.1 that nothing listens on, from the range below the ephemeral one.
free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 10000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
}
SP=$(free_port); NP=$(free_port)
bin/strata-exporter --web.listen-address=127.0.0.1:$SP --log.level=warn & SPID=$!
"$NODE_EXPORTER" --web.listen-address=127.0.0.1:$NP --log.level=warn 2>/dev/null & NPID=$!
trap 'kill $SPID $NPID 2>/dev/null || true' EXIT
for p in $SP $NP; do
	for _ in $(seq 50); do curl -sf -o /dev/null "http://127.0.0.1:$p/metrics" && break; sleep 0.1; done
done

ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)

measure() { # pid port → CPU ms per scrape, bytes per answer
	local pid=$1 port=$2
	for _ in $(seq 10); do curl -s -o /dev/null "http://127.0.0.1:$port/metrics"; done # warm caches
	local before after
	before=$(ticks "$pid")
	for _ in $(seq "$N"); do curl -s -o /dev/null "http://127.0.0.1:$port/metrics"; done
	after=$(ticks "$pid")
	echo "scale=3; ($after - $before) * 1000 / $HZ / $N" | bc
}

S_MS=$(measure $SPID $SP)
N_MS=$(measure $NPID $NP)
S_SERIES=$(curl -s "http://127.0.0.1:$SP/metrics" | grep -c '^strata_' || true)
N_SERIES=$(curl -s "http://127.0.0.1:$NP/metrics" | grep -c '^node_' || true)
hwm() { awk '/VmHWM/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }

printf '%-26s %14s %10s %12s\n' "exporter" "CPU ms/scrape" "series" "peak RSS MB"
printf '%-26s %14s %10s %12s\n' "strata-exporter" "$S_MS" "$S_SERIES" "$(hwm $SPID)"
printf '%-26s %14s %10s %12s\n' "prometheus-node-exporter" "$N_MS" "$N_SERIES" "$(hwm $NPID)"
if [[ $(echo "$N_MS > 0" | bc) == 1 ]]; then
	echo "ratio strata/node_exporter CPU per scrape: $(echo "scale=3; $S_MS / $N_MS" | bc) (target ≤ 0.5), $N scrapes each"
fi
