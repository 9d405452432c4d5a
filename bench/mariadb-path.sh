#!/usr/bin/env bash
# The MariaDB path (make bench): the generated backup steps of OX App
# Suite's databases (configdb, and PRIMARYDB_*, resolved at run time) and
# their restore Jobs' scripts, taken out of the generated manifests, run
# against a local MariaDB holding 1.1 GiB in five databases as OX has them
# (one configdb, four PRIMARYDB_*), timed against a bare mariadb-dump of the
# same databases into /dev/null and `mariadb < file` of each database.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh
D=${BENCH_DIR:?BENCH_DIR must be set}/mariadb
RUNS=${ODBACKUP_BENCH_RUNS:-5}
RESTORE_RUNS=${ODBACKUP_BENCH_RESTORE_RUNS:-3}
mkdir -p "$D"

data_servers mariadb s3
site=$(data_site)
# shellcheck disable=SC2153 # env.sh exports them
export MYSQL_PWD=$ODBACKUP_E2E_MARIADB_PASSWORD
# shellcheck disable=SC2153
client=(--host="$ODBACKUP_E2E_MARIADB_HOST" --port="$ODBACKUP_E2E_MARIADB_PORT" --user="$ODBACKUP_E2E_MARIADB_USER")
sql() { mariadb "${client[@]}" --batch --skip-column-names "$@"; }
databases="configdb PRIMARYDB_1 PRIMARYDB_2 PRIMARYDB_3 PRIMARYDB_4"

# The data, once (a second run reuses it): configdb maps contexts and
# logins to schemas; each context database holds contacts (text, with
# their photos: random bytes) and the users' JSON settings, as OX's
# prg_contacts, prg_contacts_image and jsonStorage do.
if [[ $(sql -e "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA IN ('${databases// /\',\'}')") != 11 ]]; then
	echo "mariadb-path: creating the databases" >&2
	for db in $databases; do sql -e "DROP DATABASE IF EXISTS \`$db\`"; done
	sql <<'SQL'
CREATE DATABASE configdb CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
USE configdb;
CREATE TABLE context (cid INT UNSIGNED PRIMARY KEY, name VARCHAR(128) NOT NULL, enabled BOOLEAN NOT NULL, filestore_name VARCHAR(32), quota_max BIGINT) ENGINE=InnoDB;
CREATE TABLE login2context (login_info VARCHAR(128) PRIMARY KEY, cid INT UNSIGNED NOT NULL, KEY (cid)) ENGINE=InnoDB;
CREATE TABLE context_server2db_pool (cid INT UNSIGNED PRIMARY KEY, server_id INT UNSIGNED NOT NULL, write_db_pool_id INT UNSIGNED NOT NULL, db_schema VARCHAR(32) NOT NULL) ENGINE=InnoDB;
INSERT INTO context SELECT seq, CONCAT('kontext-', seq, '.schule.example.org'), 1, CONCAT(seq, '_ctx_store'), 1073741824 FROM seq_1_to_200000;
INSERT INTO login2context SELECT CONCAT('admin', seq, '@schule-', seq, '.example.org'), seq FROM seq_1_to_200000;
INSERT INTO context_server2db_pool SELECT seq, 3, 4, CONCAT('PRIMARYDB_', 1 + seq % 4) FROM seq_1_to_200000;
SQL
	for db in ${databases#configdb }; do
		sql <<SQL
CREATE DATABASE \`$db\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
USE \`$db\`;
CREATE TABLE prg_contacts (cid INT UNSIGNED NOT NULL, intfield01 INT UNSIGNED NOT NULL, field01 VARCHAR(320), field02 VARCHAR(128),
  field03 VARCHAR(128), field65 VARCHAR(512), field18 VARCHAR(256), field19 TEXT, changing_date BIGINT NOT NULL,
  PRIMARY KEY (cid, intfield01), KEY mail (field65(191))) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE prg_contacts_image (cid INT UNSIGNED NOT NULL, intfield01 INT UNSIGNED NOT NULL, image1 MEDIUMBLOB NOT NULL,
  mime_type VARCHAR(32) NOT NULL, PRIMARY KEY (cid, intfield01)) ENGINE=InnoDB;
CREATE TABLE jsonStorage (cid INT UNSIGNED NOT NULL, user INT UNSIGNED NOT NULL, serviceId VARCHAR(64) NOT NULL, id VARCHAR(128) NOT NULL,
  data MEDIUMTEXT NOT NULL, PRIMARY KEY (cid, user, serviceId, id)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
INSERT INTO prg_contacts SELECT 1 + seq % 300, seq, CONCAT('Müller-', seq, ', Jürgen'), CONCAT('Müller-', seq), 'Jürgen',
  CONCAT('juergen.mueller', seq, '@schule-', seq % 300, '.example.org'), CONCAT('Schulstraße ', seq % 200, ', 12345 Musterstadt'),
  CONCAT(REPEAT('Elternvertretung der Klasse 7b, Förderverein; ', 1 + seq % 5), SHA2(CONCAT('$db', seq), 512)), 1700000000000 + seq
  FROM seq_1_to_215000;
INSERT INTO prg_contacts_image SELECT 1 + seq % 300, seq,
  LEFT(CONCAT(RANDOM_BYTES(1024), RANDOM_BYTES(1024), RANDOM_BYTES(1024), RANDOM_BYTES(1024), RANDOM_BYTES(1024), RANDOM_BYTES(1024),
    RANDOM_BYTES(1024), RANDOM_BYTES(1024), RANDOM_BYTES(1024), RANDOM_BYTES(1024), RANDOM_BYTES(1024), RANDOM_BYTES(1024),
    RANDOM_BYTES(1024), RANDOM_BYTES(1024), RANDOM_BYTES(1024), RANDOM_BYTES(1024), RANDOM_BYTES(1024), RANDOM_BYTES(1024),
    RANDOM_BYTES(1024), RANDOM_BYTES(1024), RANDOM_BYTES(1024), RANDOM_BYTES(1024), RANDOM_BYTES(1024), RANDOM_BYTES(1024),
    RANDOM_BYTES(1024), RANDOM_BYTES(1024), RANDOM_BYTES(1024), RANDOM_BYTES(1024), RANDOM_BYTES(1024), RANDOM_BYTES(1024),
    RANDOM_BYTES(1024), RANDOM_BYTES(1024)), 2048 + seq * 7919 % 30720), 'image/jpeg'
  FROM seq_1_to_5000;
INSERT INTO jsonStorage SELECT 1 + seq % 300, seq, 'io.ox/core', 'settings',
  JSON_OBJECT('language', 'de_DE', 'timezone', 'Europe/Berlin', 'theme', CONCAT('schule-', seq % 7),
    'folders', JSON_ARRAY(seq, seq + 1, seq + 2), 'signature', CONCAT(REPEAT('Mit freundlichen Grüßen, ', 1 + seq % 3), MD5(seq)),
    'favorites', JSON_ARRAY(SHA2(seq, 256), SHA2(seq + 1, 256), SHA2(seq + 2, 256), SHA2(seq + 3, 256)))
  FROM seq_1_to_60000;
SQL
	done
fi
sql -e "SELECT SUM(DATA_LENGTH + INDEX_LENGTH) FROM information_schema.TABLES WHERE TABLE_SCHEMA IN ('${databases// /\',\'}')" >"$D/database.bytes"

# The generated steps and restore scripts, with the pod's environment: its
# /tmp an emptyDir (no restic cache from the last night).
extract "$site/cronjobs/odbackup-ox-appsuite.yaml" mariadb-configdb configdb
extract "$site/cronjobs/odbackup-ox-appsuite.yaml" mariadb-primarydb-fa1c7f primarydb
extract "$site/restore/ox-appsuite/mariadb-configdb.yaml" restore configdb-restore
extract "$site/restore/ox-appsuite/mariadb-primarydb.yaml" restore primarydb-restore
pod="export TMPDIR=$D/pod-tmp RESTIC_CACHE_DIR=$D/pod-tmp/restic-cache"
run() { # run NAME...: the scripts in turn, as the Job's containers run
	local s cmd="rm -rf $D/pod-tmp && mkdir $D/pod-tmp"
	for s in "$@"; do
		cmd="$cmd && (. $D/$s.env && $pod ODBACKUP_SNAPSHOT=latest && sh $D/$s.sh >/dev/null)"
	done
	echo "$cmd"
}
job=$(run configdb primarydb)

# 1. Backup, every timed run into an empty repository, against one
#    mariadb-dump of the same databases. Before each, the server writes
#    out its dirty pages and finishes purging, so that no run pays for the
#    one before.
quiet=$D/quiet.sh
cat >"$quiet" <<SH
set -eu
sql() { mariadb ${client[*]} --batch --skip-column-names "\$@"; }
sql -e "SET GLOBAL innodb_max_dirty_pages_pct = 0"
for i in \$(seq 600); do
	dirty=\$(sql -e "SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_pages_dirty'" | cut -f 2)
	history=\$(sql -e "SHOW GLOBAL STATUS LIKE 'Innodb_history_list_length'" | cut -f 2)
	[ "\$dirty" -le 8 ] && [ "\$history" -le 1000 ] && break
	sleep 0.5
done
sql -e "SET GLOBAL innodb_max_dirty_pages_pct = DEFAULT"
SH
rounds backup "$(fresh_repo "$D/configdb.env") && sh $quiet" \
	"mariadb-dump ${client[*]} --single-transaction --databases $databases >/dev/null" "$job" \
	"mariadb-dump --single-transaction --databases <5 databases> >/dev/null" "generated job (configdb and PRIMARYDB_* steps)"

# 2. A second run of the unchanged databases: what it adds.
added_bytes "$D/configdb.env" "$job"

# 3. Restore: the generated restore Jobs (snapshot latest) against the
#    mariadb client reading each database's dump from a local file.
mkdir -p "$D/dumps"
files=
for db in $databases; do
	mariadb-dump "${client[@]}" --single-transaction --routines --events --triggers --databases "$db" >"$D/dumps/$db.sql"
	files="$files $D/dumps/$db.sql"
done
cat "$D"/dumps/*.sql | wc -c >"$D/dump.bytes"
RUNS=$RESTORE_RUNS rounds restore "sh $quiet" \
	"for f in $files; do mariadb ${client[*]} <\$f || exit; done" "$(run configdb-restore primarydb-restore)" \
	"mariadb <DB.sql, for each of the 5 databases" "generated restore Jobs (configdb, PRIMARYDB_*; snapshot latest)"
rm -rf "$D/dumps"
