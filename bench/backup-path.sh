#!/usr/bin/env bash
# The backup path (make bench, part 2): the PostgreSQL backup and restore
# scripts odbackup generates, run against a local PostgreSQL 15 with a
# pgbench database of 5 GiB (issue 19; ODBACKUP_BENCH_PG_SCALE=70 gives the
# 1 GiB of the first round) and restic on a local S3 server, timed side by
# side with a bare pg_dump --format=custom and a pg_restore from a local
# file in the same run, and the parallel restore of a store with
# restoreScratch against the streaming one and bare pg_restore -j 2. The
# scripts are taken from the generated manifests (bench/extract), never
# copied.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh
D=${BENCH_DIR:?BENCH_DIR must be set}/backup-path
SCALE=${ODBACKUP_BENCH_PG_SCALE:-340} # pgbench scale 340 is about 5 GiB (issue 19); 70 is about 1.05 GiB
RUNS=${ODBACKUP_BENCH_RUNS:-5}
mkdir -p "$D"

# Servers of our own, on ports of our own, so a running e2e suite is not
# disturbed (bench/backup-path/site.cue names these ports).
export ODBACKUP_E2E_DIR=$D/srv ODBACKUP_E2E_PG_PORT=15432 ODBACKUP_E2E_S3_PORT=17070
ODBACKUP_E2E_BIN=$(e2e/scripts/build-tools.sh)
export ODBACKUP_E2E_BIN
# PostgreSQL 15 from Debian when its server is missing (a fresh machine;
# e2e/scripts/run.sh installs it the same way): servers.sh and pgbench need it.
packages=(hyperfine)
[[ -x ${ODBACKUP_E2E_PG_BIN:-/usr/lib/postgresql/15/bin}/initdb ]] || packages+=(postgresql-15)
e2e/scripts/ensure-packages.sh "${packages[@]}"
trap 'e2e/scripts/servers.sh stop postgres s3 || true' EXIT
e2e/scripts/servers.sh start postgres s3
# shellcheck source=/dev/null # written by servers.sh start
. "$D/srv/env.sh"

# shellcheck disable=SC2153 # env.sh exports them
export PGHOST=$ODBACKUP_E2E_PG_HOST PGPORT=$ODBACKUP_E2E_PG_PORT PGUSER=$ODBACKUP_E2E_PG_USER
export PGPASSWORD=$ODBACKUP_E2E_PG_PASSWORD
if [[ $(psql -d postgres -Atc "SELECT count(*) FROM pg_database WHERE datname = 'bench'") != 1 || $(cat "$D/scale" 2>/dev/null) != "$SCALE" ]]; then
	echo "backup-path: creating the pgbench database (scale $SCALE)" >&2
	rm -f "$D/scale"
	dropdb --if-exists bench
	createdb bench
	/usr/lib/postgresql/15/bin/pgbench -i -s "$SCALE" -q bench
	echo "$SCALE" >"$D/scale"
fi
size=$(psql -d bench -Atc "SELECT pg_database_size('bench')")
echo "$size" >"$D/database.bytes"

# The generated scripts, and the literal part of their environment.
"$GO" run ./cmd/odbackup build bench/backup-path/site.cue -o "$D/out"
site=$D/out/bench-backup-path
"$GO" run ./bench/extract -file "$site/cronjobs/odbackup-pgbench.yaml" -container postgresql-bench -script "$D/backup.sh" >"$D/backup.env"
"$GO" run ./bench/extract -file "$site/restore/pgbench/postgresql-bench.yaml" -container restore -script "$D/restore.sh" >"$D/restore.env"
# What the Secrets would hold.
export RESTIC_PASSWORD=odbackup-bench
export AWS_ACCESS_KEY_ID=$ODBACKUP_E2E_S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$ODBACKUP_E2E_S3_SECRET_KEY

# Each round runs the baseline and the generated script once, in turns
# (rounds, bench/lib.sh). Before each timed command the server is made
# quiet: VACUUM ANALYZE leaves autovacuum nothing to do after a restore,
# and CHECKPOINT writes out what the last command left.
quiet="psql -q -d bench -c 'VACUUM ANALYZE' && psql -q -d postgres -c CHECKPOINT"

# 1. Backup: every timed run goes into an empty repository (the worst
#    case, all data uploaded), against bare pg_dump. The repository is
#    removed and created again before each run, outside the timing.
load=". $D/backup.env"
backup="$load && sh $D/backup.sh >/dev/null"
fresh="rm -rf $D/srv/s3/data/odbackup-bench && $load && restic init >/dev/null && $quiet"
rounds backup "$fresh" "pg_dump --format=custom --dbname=bench >/dev/null" "$backup"

# 2. A second run of an unchanged database: what it adds to the repository
#    after a first run into an empty one (added_bytes, bench/lib.sh). The
#    rounds above cannot be that first run: with an even number of them the
#    last command is the baseline, whose --prepare emptied the repository.
added_bytes "$D/backup.env" "$backup"

# 3. Restore: the generated restore script against pg_restore from a file.
#    A restore Job's environment says ODBACKUP_SNAPSHOT=list (applied as it
#    is, it restores nothing); the runbook sets latest, and so does this.
pg_dump --format=custom --dbname=bench --file="$D/bench.dump"
stream=". $D/restore.env && ODBACKUP_SNAPSHOT=latest sh $D/restore.sh >/dev/null"
rounds restore "$quiet" \
	"pg_restore --clean --if-exists --no-owner --single-transaction --dbname=bench $D/bench.dump" \
	"$stream"

# 4. Parallel restore (issue 19 item 2): the same site with restoreScratch
#    (2 jobs, as many as the machine has cores). Its restore Job stages the
#    dump on the scratch volume, here a folder on the local disk, and runs
#    pg_restore --jobs=2; against the streaming Job of section 3, against
#    bare pg_restore -j 2 from the pg_dump file of section 3, and against
#    bare pg_restore -j 2 from the very file the Job stages (restic dump of
#    the snapshot: a dump written to a pipe, whose archive has no data
#    offsets, unlike pg_dump --file's), which separates staging from
#    restoring. vmstat records the load while the rounds run.
{
	cat bench/backup-path/site.cue
	echo 'stores: "pgbench/postgresql/bench": restoreScratch: {size: "20Gi", jobs: 2}'
} >"$D/parallel.cue"
"$GO" run ./cmd/odbackup build "$D/parallel.cue" -o "$D/out-parallel"
"$GO" run ./bench/extract -file "$D/out-parallel/bench-backup-path/restore/pgbench/postgresql-bench.yaml" -container restore -script "$D/prestore.sh" >"$D/prestore.env"
mkdir -p "$D/scratch"
# shellcheck disable=SC1091 # written by bench/extract
(. "$D/restore.env" && restic dump --no-lock latest bench.pgdump >"$D/piped.dump")
uptime >"$D/prestore-load.txt"
vmstat 5 >"$D/prestore-vmstat.txt" &
vmstat=$!
rotate prestore "$quiet" \
	"streaming restore Job" "$stream" \
	"parallel restore Job (--jobs=2, staged on local disk)" ". $D/prestore.env && ODBACKUP_SNAPSHOT=latest ODBACKUP_SCRATCH=$D/scratch sh $D/prestore.sh >/dev/null" \
	"pg_restore -j 2 from the pg_dump file" "pg_restore --clean --if-exists --no-owner --jobs=2 --dbname=bench $D/bench.dump" \
	"pg_restore -j 2 from the file the Job stages" "pg_restore --clean --if-exists --no-owner --jobs=2 --dbname=bench $D/piped.dump"
kill "$vmstat"
uptime >>"$D/prestore-load.txt"
rm -f "$D/piped.dump"
