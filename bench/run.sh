#!/usr/bin/env bash
# make bench: times whole commands with hyperfine (warm-up, several runs,
# medians and ratios against a baseline measured in the same run) and runs
# the Go benchmarks per stage. Not a pass/fail gate; see BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
D=${BENCH_DIR:-$(mktemp -d /tmp/odbackup-bench.XXXXXX)}
mkdir -p "$D"
# The output trees (about 760 MiB and 65,000 files per 1,000 sites) go to a
# tmpfs: on the ext4 disk of the machine BENCHMARKS.md was measured on,
# writing and deleting them run after run grew the build's system time
# from 6 s to 73 s, a cost of the filesystem that would drown odbackup's.
if [[ -z ${BENCH_OUT:-} && -d /dev/shm && -w /dev/shm ]]; then
	BENCH_OUT=$(mktemp -d /dev/shm/odbackup-bench.XXXXXX)
	trap 'rm -rf "$BENCH_OUT"' EXIT
fi
O=${BENCH_OUT:-$D}
mkdir -p "$O"
echo "bench: working in $D, output trees in $O" >&2

e2e/scripts/ensure-packages.sh hyperfine time

# The tools under test: odbackup, and the upstream cue CLI at the version of
# the cuelang.org/go library odbackup embeds (a tool dependency in go.mod).
"$GO" build -o "$D/odbackup" ./cmd/odbackup
"$GO" build -o "$D/cue" cuelang.org/go/cmd/cue
"$GO" run ./bench/gensites -n 1000 -o "$D/sites1000"
mkdir -p "$D/sites100"
cp "$D"/sites1000/site-00[0-9][0-9].cue "$D/sites100/"

# 1. One site against the floor: cue export of the same policy unified with
#    the same schema and catalog.
hyperfine --warmup 2 --runs 15 --export-json "$D/single.json" \
	--prepare "rm -rf $O/one" \
	"$D/odbackup build examples/ee-full/site.cue -o $O/one" \
	"cd cue && $D/cue export ./policy ../examples/ee-full/site.cue --out json >/dev/null"

# 2. Many sites in one process: 100 and 1,000 sites, and --check of the
#    up-to-date 1,000-site tree.
"$D/odbackup" build "$D"/sites1000/*.cue -o "$O/out1000"
hyperfine --warmup 1 --runs 5 --export-json "$D/batch.json" \
	--prepare "rm -rf $O/out100 $O/out1000b" \
	"$D/odbackup build $D/sites100/*.cue -o $O/out100" \
	"$D/odbackup build $D/sites1000/*.cue -o $O/out1000b" \
	"$D/odbackup build $D/sites1000/*.cue -o $O/out1000 --check"
rm -rf "$O/out1000b"
/usr/bin/time -f '%M' -o "$D/rss1000.kb" "$D/odbackup" build "$D"/sites1000/*.cue -o "$O/out1000b"

# The batch gives the same bytes as building the sites one by one (the Go
# test TestBatchEqualsSingleBuilds asserts it on the examples; here on 20
# generated sites).
for i in $(seq -w 0 19); do
	"$D/odbackup" build "$D/sites1000/site-00$i.cue" -o "$O/singles"
done
for s in "$O"/singles/*; do
	diff -r "$s" "$O/out1000/$(basename "$s")" >/dev/null || { echo "bench: batch output differs for $s" >&2; exit 1; }
done

BENCH_DIR="$D" bench/backup-path.sh
BENCH_DIR="$D" bench/offsite-path.sh
BENCH_DIR="$D" bench/mariadb-path.sh
BENCH_DIR="$D" bench/redis-path.sh
BENCH_DIR="$D" bench/ldap-path.sh
BENCH_DIR="$D" bench/s3-path.sh
"$GO" run ./bench/report -dir "$D"

# 3. Go benchmarks per stage: load, validate (Evaluate), plan, emit, write.
"$GO" test -run '^$' -bench . -benchmem -count 5 ./schema ./generator ./internal/writetree | tee "$D/go-bench.txt"
