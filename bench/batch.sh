#!/usr/bin/env bash
# bench/batch.sh: sections 1 and 2 of make bench (BENCHMARKS.md), the
# odbackup CLI: one site against cue export of the same policy, and 100,
# 1,000 and 10,000 generated sites in one process, with each run's peak
# memory. Writes hyperfine exports and rss*.kb into BENCH_DIR, which
# `go run ./bench/report -dir BENCH_DIR` prints. Runs on its own too:
#
#	BENCH_DIR=/tmp/b bench/batch.sh && go run ./bench/report -dir /tmp/b
#
# ODBACKUP_BENCH_BATCH_RUNS (default 3) runs of each 100- and 1,000-site command;
# ODBACKUP_BENCH_10K_RUNS (default 1) of the 10,000-site build, 13 minutes on
# 2 otherwise idle cores at b2f5f89 (BENCHMARKS.md, section 2).
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
D=${BENCH_DIR:-$(mktemp -d /tmp/odbackup-bench.XXXXXX)}
mkdir -p "$D"
# The output trees (about 1.7 MiB and 115 files per site: 17 GiB for the
# 10,000-site build) go to a tmpfs if it has room for them: on the ext4
# disk of the machine BENCHMARKS.md was measured on, writing and deleting
# them run after run grew the build's system time from 6 s to 73 s, a cost
# of the filesystem that would drown odbackup's. Without the room, all of
# them go to the working folder, so every build here is measured on the
# same filesystem.
if [[ -z ${BENCH_OUT:-} && -d /dev/shm && -w /dev/shm ]] &&
	(($(df --output=avail -k /dev/shm | tail -1) >= 20 * 1024 * 1024)); then
	BENCH_OUT=$(mktemp -d /dev/shm/odbackup-bench.XXXXXX)
	trap 'rm -rf "$BENCH_OUT"' EXIT
fi
O=${BENCH_OUT:-$D/trees}
mkdir -p "$O"
echo "bench: output trees in $O" >&2

e2e/scripts/ensure-packages.sh hyperfine time

# The tools under test: odbackup, and the upstream cue CLI at the version of
# the cuelang.org/go library odbackup embeds (a tool dependency in go.mod).
"$GO" build -o "$D/odbackup" ./cmd/odbackup
"$GO" build -o "$D/cue" cuelang.org/go/cmd/cue
if [[ ! -f $D/sites10000/site-9999.cue ]]; then
	"$GO" run ./bench/gensites -n 10000 -seed 7 -o "$D/sites10000"
fi
sites=("$D"/sites10000/site-*.cue)
for n in 100 1000; do
	rm -rf "$D/sites$n" && mkdir "$D/sites$n"
	cp -t "$D/sites$n/" "${sites[@]:0:n}"
done

# 1. One site against the floor: cue export of the same policy unified with
#    the same schema and catalog.
hyperfine --warmup 2 --runs 15 --export-json "$D/single.json" \
	--prepare "rm -rf $O/one" \
	"$D/odbackup build examples/ee-full/site.cue -o $O/one" \
	"cd cue && $D/cue export ./policy ../examples/ee-full/site.cue --out json >/dev/null"

# 2. Many sites in one process: 100 and 1,000 sites, --check of the
#    up-to-date 1,000-site tree, and 10,000 sites. Every timed build writes
#    a fresh tree (--prepare removes it), and /usr/bin/time appends each
#    run's peak memory (max RSS, KiB) to rss<n>.kb.
rss() { echo "/usr/bin/time -f %M -a -o $D/rss$1.kb"; }
rm -f "$D"/rss*.kb
"$D/odbackup" build "$D"/sites1000/*.cue -o "$O/out1000"
hyperfine --runs "${ODBACKUP_BENCH_BATCH_RUNS:-3}" --export-json "$D/batch.json" \
	--prepare "rm -rf $O/out100 $O/out1000b" \
	"$(rss 100) $D/odbackup build $D/sites100/*.cue -o $O/out100" \
	"$(rss 1000) $D/odbackup build $D/sites1000/*.cue -o $O/out1000b" \
	"$(rss 1000check) $D/odbackup build $D/sites1000/*.cue -o $O/out1000 --check"

# The batch gives the same bytes as building the sites one by one (the Go
# test TestBatchEqualsSingleBuilds asserts it on the examples; here on 20
# generated sites on both sides of the first chunk boundary, at 500).
rm -rf "$O/singles"
for i in $(seq 490 509); do
	"$D/odbackup" build "$D/sites1000/site-0$i.cue" -o "$O/singles"
done
for s in "$O"/singles/*; do
	diff -r "$s" "$O/out1000/$(basename "$s")" >/dev/null || { echo "bench: batch output differs for $s" >&2; exit 1; }
done
rm -rf "$O/out100" "$O/out1000" "$O/out1000b" "$O/singles"

hyperfine --runs "${ODBACKUP_BENCH_10K_RUNS:-1}" --export-json "$D/batch10000.json" \
	--prepare "rm -rf $O/out10000" \
	"$(rss 10000) $D/odbackup build $D/sites10000/*.cue -o $O/out10000"
rm -rf "$O/out10000" "$O/one"
