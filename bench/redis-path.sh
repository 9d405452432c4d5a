#!/usr/bin/env bash
# The Redis path (make bench): the generated backup step of OX App Suite's
# Redis (opted in), taken out of the generated manifest, run against a local
# Redis whose RDB is about 1 GiB (bench/gendata redis: sessions as random
# strings, distributed maps as hashes, queues as lists), timed against a
# bare `redis-cli --rdb FILE`; the job's restic goes to a local S3 server.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh
D=${BENCH_DIR:?BENCH_DIR must be set}/redis
RUNS=${ODBACKUP_BENCH_RUNS:-5}
DATA_BYTES=${ODBACKUP_BENCH_REDIS_BYTES:-$((1740 << 20))} # values of 1,740 MiB make an RDB of about 1.05 GiB
mkdir -p "$D"

data_servers redis s3
site=$(data_site)
# shellcheck disable=SC2153 # env.sh exports them
export REDISCLI_AUTH=$ODBACKUP_E2E_REDIS_PASSWORD
# shellcheck disable=SC2153
cli="redis-cli -h $ODBACKUP_E2E_REDIS_HOST -p $ODBACKUP_E2E_REDIS_PORT --no-auth-warning"

# The data lives in memory only (the e2e Redis saves nothing): filled when
# the server does not hold it yet.
if [[ $($cli GET odbackup-bench:bytes) != "$DATA_BYTES" ]]; then
	echo "redis-path: filling Redis with $DATA_BYTES bytes of values" >&2
	$cli FLUSHALL >/dev/null
	"$GO" run ./bench/gendata redis -bytes "$DATA_BYTES" | $cli --pipe >/dev/null
	$cli SET odbackup-bench:bytes "$DATA_BYTES" >/dev/null
fi
$cli CONFIG GET repl-diskless-sync-delay | tail -n 1 >"$D/diskless-delay.seconds"

extract "$site/cronjobs/odbackup-ox-appsuite.yaml" redis-redis-headless redis
# The pod's /tmp is an emptyDir (the step's status file goes there), so
# the job below gives it a TMPDIR of its own.
job="rm -rf $D/pod-tmp && mkdir $D/pod-tmp && . $D/redis.env && export TMPDIR=$D/pod-tmp RESTIC_CACHE_DIR=$D/pod-tmp/restic-cache && sh $D/redis.sh >/dev/null 2>&1"

# 1. Backup, every timed run into an empty repository, against redis-cli
#    writing the RDB into a file.
rounds backup "$(fresh_repo "$D/redis.env") && rm -f $D/bare.rdb" \
	"$cli --rdb $D/bare.rdb >/dev/null 2>&1" "$job" \
	"redis-cli --rdb FILE" "generated backup step"
$cli --rdb "$D/bare.rdb" >/dev/null 2>&1
stat -c %s "$D/bare.rdb" >"$D/rdb.bytes"
rm -f "$D/bare.rdb"

# 2. A second run of the unchanged data: what it adds.
added_bytes "$D/redis.env" "$job"
