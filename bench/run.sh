#!/usr/bin/env bash
# make bench: times whole commands with hyperfine (warm-up, several runs,
# medians and ratios against a baseline measured in the same run) and runs
# the Go benchmarks per stage. Not a pass/fail gate; see BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
D=${BENCH_DIR:-$(mktemp -d /tmp/odbackup-bench.XXXXXX)}
mkdir -p "$D"
echo "bench: working in $D" >&2

# 1. and 2.: odbackup build of one site against cue export, and of 100,
#    1,000 and 10,000 sites in one process.
BENCH_DIR="$D" GO="$GO" bench/batch.sh
BENCH_DIR="$D" bench/backup-path.sh
BENCH_DIR="$D" bench/offsite-path.sh
BENCH_DIR="$D" bench/mariadb-path.sh
BENCH_DIR="$D" bench/redis-path.sh
BENCH_DIR="$D" bench/ldap-path.sh
BENCH_DIR="$D" bench/s3-path.sh
"$GO" run ./bench/report -dir "$D"

# 3. Go benchmarks per stage: load, validate (Evaluate), plan, emit, write.
"$GO" test -run '^$' -bench . -benchmem -count 5 ./schema ./generator ./internal/writetree | tee "$D/go-bench.txt"
