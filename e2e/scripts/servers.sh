#!/usr/bin/env bash
# servers.sh start|stop|status|clean [SERVER...]: the real servers the
# end-to-end tests run against, on 127.0.0.1, with their data, logs and pid
# files in ${ODBACKUP_E2E_DIR:-/tmp/odbackup-e2e}/<server>/.
#
#   start   starts every SERVER that is not running yet (all by default), waits
#           until each is ready, and writes $ODBACKUP_E2E_DIR/env.sh, which the
#           tests source (see e2e/README.md for the variables). A server whose
#           data directory was never initialised gets a fresh one; a stopped
#           server keeps its data and starts again with it. Exits non-zero,
#           with the tail of the server's log, when one does not come up.
#   stop    stops the running SERVERs by PID (apiserver before etcd), waiting
#           for each to exit; a server that is not running is skipped.
#   status  prints one line per SERVER; exit 0 when all of them run, 3 if not.
#   clean   stops everything and removes $ODBACKUP_E2E_DIR.
#
# SERVER is one of: etcd apiserver postgres mariadb redis ldap s3.
#
# Ports (override with the variables): ODBACKUP_E2E_PG_PORT=25432,
# ODBACKUP_E2E_MARIADB_PORT=23306, ODBACKUP_E2E_REDIS_PORT=26379,
# ODBACKUP_E2E_LDAP_PORT=23389, ODBACKUP_E2E_S3_PORT=27070,
# ODBACKUP_E2E_ETCD_PORT=22379 (and ODBACKUP_E2E_ETCD_PEER_PORT=22380),
# ODBACKUP_E2E_APISERVER_PORT=26443. They lie below Linux's ephemeral port
# range (32768-60999), so an outgoing connection never holds one first.
# The etcd, kube-apiserver, kubectl, versitygw and restic binaries come from
# ODBACKUP_E2E_BIN, or else from e2e/scripts/build-tools.sh (cached).
# Needs root: PostgreSQL and MariaDB run as the postgres and mysql users.
set -euo pipefail

scripts=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

DIR=${ODBACKUP_E2E_DIR:-/tmp/odbackup-e2e}
PG_PORT=${ODBACKUP_E2E_PG_PORT:-25432}
MARIADB_PORT=${ODBACKUP_E2E_MARIADB_PORT:-23306}
REDIS_PORT=${ODBACKUP_E2E_REDIS_PORT:-26379}
LDAP_PORT=${ODBACKUP_E2E_LDAP_PORT:-23389}
S3_PORT=${ODBACKUP_E2E_S3_PORT:-27070}
ETCD_PORT=${ODBACKUP_E2E_ETCD_PORT:-22379}
ETCD_PEER_PORT=${ODBACKUP_E2E_ETCD_PEER_PORT:-22380}
APISERVER_PORT=${ODBACKUP_E2E_APISERVER_PORT:-26443}
READY_TIMEOUT=${ODBACKUP_E2E_READY_TIMEOUT:-90}
PG_BIN=${ODBACKUP_E2E_PG_BIN:-/usr/lib/postgresql/15/bin}

# Fixed test credentials: these servers only ever listen on loopback and hold
# throwaway test data.
PG_USER=postgres
PG_PASSWORD=odbackup-e2e-pg
MARIADB_USER=root
MARIADB_PASSWORD=odbackup-e2e-mariadb
REDIS_PASSWORD=odbackup-e2e-redis
LDAP_BASE=dc=swp-ldap,dc=internal
LDAP_ROOTDN=cn=admin,$LDAP_BASE
LDAP_PASSWORD=odbackup-e2e-ldap
S3_ACCESS_KEY=odbackupe2e
S3_SECRET_KEY=odbackup-e2e-s3-secret
S3_REGION=us-east-1
KUBE_TOKEN=odbackup-e2e-admin-token

# Start order; stop goes in reverse, so the apiserver stops before etcd.
ALL=(etcd apiserver postgres mariadb redis ldap s3)
# The process name (/proc/PID/comm) of each server, checked before a PID is
# trusted or signalled, so a stale pid file never hits an unrelated process.
declare -A COMM=(
	[etcd]=etcd [apiserver]=kube-apiserver [postgres]=postgres
	[mariadb]=mariadbd [redis]=redis-server [ldap]=slapd [s3]=versitygw
)
declare -A PORT=(
	[etcd]=$ETCD_PORT [apiserver]=$APISERVER_PORT [postgres]=$PG_PORT
	[mariadb]=$MARIADB_PORT [redis]=$REDIS_PORT [ldap]=$LDAP_PORT [s3]=$S3_PORT
)
declare -A EXTRA_PORTS=([etcd]=$ETCD_PEER_PORT)

log() { printf 'servers: %s\n' "$*" >&2; }

die() {
	log "$*"
	exit 1
}

# fail NAME MESSAGE: reports a server that did not come up, with its log
# tail, stops what is left of it and exits 1.
fail() {
	local name=$1 f
	shift
	log "$name: $*"
	for f in "$DIR/$name"/*.log; do
		[[ -f $f ]] || continue
		printf -- '--- last lines of %s ---\n' "$f" >&2
		tail -n 40 "$f" >&2
	done
	stop_one "$name" || true
	exit 1
}

# pid NAME: prints the PID recorded for NAME (empty when there is none).
pid() {
	local f=$DIR/$1/server.pid
	[[ $1 == postgres ]] && f=$DIR/postgres/data/postmaster.pid
	if [[ -f $f ]]; then
		head -n 1 "$f"
	fi
}

# state NAME: prints the /proc state letter of NAME's recorded PID (R, S, D,
# Z, ...) and fails when there is no such process. A zombie (Z) counts as
# gone: PID 1 of a container may take a while to reap an orphan.
state() {
	local p stat
	p=$(pid "$1")
	[[ $p =~ ^[0-9]+$ ]] || return 1
	stat=$(cat "/proc/$p/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	echo "${stat:0:1}"
}

# alive NAME: is the recorded PID running, and is it really that server?
alive() {
	local st comm
	st=$(state "$1") || return 1
	[[ $st != Z ]] || return 1
	comm=$(cat "/proc/$(pid "$1")/comm" 2>/dev/null) || return 1
	[[ $comm == "${COMM[$1]}" ]]
}

# running NAME: like alive, but true also in the moment between fork and
# exec of a launch, when the process does not have its final name yet.
running() {
	local st
	st=$(state "$1") || return 1
	[[ $st != Z ]]
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_ready NAME CMD...: polls CMD until it succeeds; fails loudly when the
# server exits or READY_TIMEOUT seconds pass.
wait_ready() {
	local name=$1 deadline=$((SECONDS + READY_TIMEOUT))
	shift
	until "$@" >/dev/null 2>&1; do
		running "$name" || fail "$name" "exited while starting"
		((SECONDS < deadline)) || fail "$name" "not ready after ${READY_TIMEOUT} s: $*"
		sleep 0.1
	done
}

# launch NAME CMD...: starts CMD in the background in its own session (so a
# Ctrl-C in the terminal does not kill it behind stop's back), with output
# appended to NAME's server.log, and records its PID.
launch() {
	local name=$1
	shift
	(cd "$DIR/$name" && exec setsid "$@" </dev/null >>"$DIR/$name/server.log" 2>&1) &
	echo $! >"$DIR/$name/server.pid"
}

need_bin() {
	if [[ -z ${BIN:-} ]]; then
		BIN=${ODBACKUP_E2E_BIN:-$("$scripts/build-tools.sh")}
	fi
	local b
	for b in "$@"; do
		[[ -x $BIN/$b ]] || die "$BIN/$b is missing; run e2e/scripts/build-tools.sh"
	done
}

kubectl_() { "$BIN/kubectl" --kubeconfig "$DIR/kubeconfig" "$@"; }

start_etcd() {
	local d=$DIR/etcd url=http://127.0.0.1:$ETCD_PORT peer=http://127.0.0.1:$ETCD_PEER_PORT
	need_bin etcd
	launch etcd "$BIN/etcd" --name default --data-dir "$d/data" \
		--listen-client-urls "$url" --advertise-client-urls "$url" \
		--listen-peer-urls "$peer" --initial-advertise-peer-urls "$peer" \
		--initial-cluster "default=$peer" --unsafe-no-fsync --log-level warn
	wait_ready etcd curl -fsS "$url/health"
}

start_apiserver() {
	local d=$DIR/apiserver
	need_bin kube-apiserver kubectl
	alive etcd || die "apiserver: etcd is not running; start etcd first"
	if [[ ! -f $d/sa.pub ]]; then
		openssl genrsa -out "$d/sa.key" 2048 2>/dev/null
		openssl rsa -in "$d/sa.key" -pubout -out "$d/sa.pub" 2>/dev/null
	fi
	printf '%s,admin,admin-uid,"system:masters"\n' "$KUBE_TOKEN" >"$d/tokens.csv"
	chmod 600 "$d/tokens.csv" "$d/sa.key"
	# No controller-manager runs: namespaces get no default ServiceAccount and
	# there is no token controller, hence no ServiceAccount admission plugin.
	launch apiserver "$BIN/kube-apiserver" \
		--etcd-servers="http://127.0.0.1:$ETCD_PORT" \
		--bind-address=127.0.0.1 --secure-port="$APISERVER_PORT" --cert-dir="$d/certs" \
		--service-account-issuer=https://kubernetes.default.svc.cluster.local \
		--service-account-key-file="$d/sa.pub" --service-account-signing-key-file="$d/sa.key" \
		--service-cluster-ip-range=10.96.0.0/24 --token-auth-file="$d/tokens.csv" \
		--authorization-mode=RBAC --disable-admission-plugins=ServiceAccount
	write_kubeconfig
	wait_ready apiserver kubectl_ get --raw /readyz
	local crds=$BIN/../crds names=() f
	for f in "$crds"/*.yaml; do
		names+=("crd/$(basename "$f" .yaml | sed 's/^\(snapshot\.storage\.k8s\.io\)_\(.*\)$/\2.\1/')")
	done
	[[ ${#names[@]} -eq 3 ]] || fail apiserver "expected 3 snapshot CRDs in $crds"
	kubectl_ apply --server-side --field-manager=odbackup-e2e -f "$crds" >>"$d/crds.log" 2>&1 ||
		fail apiserver "applying the CSI snapshot CRDs failed"
	kubectl_ wait --for condition=established --timeout=60s "${names[@]}" >>"$d/crds.log" 2>&1 ||
		fail apiserver "the CSI snapshot CRDs are not established"
}

write_kubeconfig() {
	cat >"$DIR/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: odbackup-e2e
  cluster:
    server: https://127.0.0.1:$APISERVER_PORT
    insecure-skip-tls-verify: true
users:
- name: admin
  user:
    token: $KUBE_TOKEN
contexts:
- name: odbackup-e2e
  context:
    cluster: odbackup-e2e
    user: admin
    namespace: default
current-context: odbackup-e2e
EOF
	chmod 600 "$DIR/kubeconfig"
}

start_postgres() {
	local d=$DIR/postgres
	[[ -x $PG_BIN/initdb ]] || die "postgres: $PG_BIN/initdb is missing (install postgresql-15)"
	if [[ ! -f $d/initialized ]]; then
		rm -rf "$d"
		mkdir -p "$d"
		chown postgres: "$d"
		printf '%s\n' "$PG_PASSWORD" >"$d/pwfile"
		chown postgres: "$d/pwfile"
		# Local socket connections are trusted (for this script); TCP needs
		# the password, so a wrong one fails as it would in a cluster.
		runuser -u postgres -- "$PG_BIN/initdb" -D "$d/data" -U "$PG_USER" --pwfile="$d/pwfile" \
			--auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 \
			>"$d/initdb.log" 2>&1 || fail postgres "initdb failed"
		rm -f "$d/pwfile"
		touch "$d/initialized"
	fi
	runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$d/data" -l "$d/server.log" -w -t "$READY_TIMEOUT" \
		-o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $d -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
		start >>"$d/pg_ctl.log" 2>&1 || fail postgres "pg_ctl start failed"
	wait_ready postgres env PGPASSWORD="$PG_PASSWORD" psql -X -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d postgres -c 'SELECT 1'
}

start_mariadb() {
	local d=$DIR/mariadb fresh=
	if [[ ! -f $d/initialized ]]; then
		rm -rf "$d"
		mkdir -p "$d"
		chown mysql: "$d"
		mariadb-install-db --no-defaults --user=mysql --datadir="$d/data" \
			--auth-root-authentication-method=normal --skip-test-db \
			>"$d/install.log" 2>&1 || fail mariadb "mariadb-install-db failed"
		fresh=1
	fi
	# --skip-name-resolve: TCP clients match root@'127.0.0.1', the socket
	# matches root@localhost. Durability is traded for speed (test data).
	launch mariadb mariadbd --no-defaults --user=mysql --datadir="$d/data" \
		--socket="$d/mysqld.sock" --port="$MARIADB_PORT" --bind-address=127.0.0.1 \
		--skip-name-resolve --pid-file="$d/mariadbd.pid" --skip-log-bin \
		--innodb-buffer-pool-size=64M --innodb-flush-log-at-trx-commit=0 --innodb-doublewrite=0
	wait_ready mariadb mariadb-admin --no-defaults --socket="$d/mysqld.sock" ping
	if [[ -n $fresh ]]; then
		mariadb --no-defaults --socket="$d/mysqld.sock" -uroot >>"$d/install.log" 2>&1 <<EOF || fail mariadb "setting the root password failed"
ALTER USER root@localhost IDENTIFIED BY '$MARIADB_PASSWORD';
CREATE OR REPLACE USER root@'127.0.0.1' IDENTIFIED BY '$MARIADB_PASSWORD';
GRANT ALL PRIVILEGES ON *.* TO root@'127.0.0.1' WITH GRANT OPTION;
FLUSH PRIVILEGES;
EOF
		touch "$d/initialized"
	fi
	wait_ready mariadb env MYSQL_PWD="$MARIADB_PASSWORD" mariadb --no-defaults -h 127.0.0.1 -P "$MARIADB_PORT" -u "$MARIADB_USER" -e 'SELECT 1'
}

start_redis() {
	local d=$DIR/redis
	launch redis redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$d" \
		--dbfilename dump.rdb --save '' --appendonly no --daemonize no \
		--requirepass "$REDIS_PASSWORD"
	wait_ready redis redis_ping
}

redis_ping() {
	[[ $(REDISCLI_AUTH=$REDIS_PASSWORD redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping) == PONG ]]
}

start_ldap() {
	local d=$DIR/ldap url=ldap://127.0.0.1:$LDAP_PORT/ fresh=
	if [[ ! -f $d/initialized ]]; then
		find "$d" -mindepth 1 -maxdepth 1 ! -name server.log -exec rm -rf {} +
		mkdir -p "$d/db"
		fresh=1
	fi
	# The layout of openDesk's Nubus directory: an mdb database with the
	# suffix dc=swp-ldap,dc=internal, so tests can slapcat and slapadd it with
	# this same file (slapcat -f $ODBACKUP_E2E_LDAP_CONF -b $LDAP_BASE).
	cat >"$d/slapd.conf" <<EOF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/nis.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile $d/slapd.pid
argsfile $d/slapd.args
database mdb
maxsize 1073741824
suffix "$LDAP_BASE"
rootdn "$LDAP_ROOTDN"
rootpw $LDAP_PASSWORD
directory $d/db
index objectClass eq
EOF
	# -d keeps slapd in the foreground (its PID is ours) and logs to stderr.
	launch ldap slapd -d 0 -h "$url" -f "$d/slapd.conf"
	wait_ready ldap ldapsearch -x -LLL -H "$url" -s base -b '' namingContexts
	if [[ -n $fresh ]]; then
		ldapadd -x -H "$url" -D "$LDAP_ROOTDN" -w "$LDAP_PASSWORD" >>"$d/init.log" 2>&1 <<EOF || fail ldap "adding the base entry failed"
dn: $LDAP_BASE
objectClass: dcObject
objectClass: organization
dc: swp-ldap
o: openDesk e2e
EOF
		touch "$d/initialized"
	fi
}

start_s3() {
	local d=$DIR/s3
	need_bin versitygw
	mkdir -p "$d/data"
	launch s3 "$BIN/versitygw" --quiet --access "$S3_ACCESS_KEY" --secret "$S3_SECRET_KEY" \
		--region "$S3_REGION" --port "127.0.0.1:$S3_PORT" posix "$d/data"
	# Any HTTP answer (an anonymous request is refused) means it is serving.
	wait_ready s3 curl -sS -o /dev/null "http://127.0.0.1:$S3_PORT/"
}

write_env() {
	need_bin restic kubectl versitygw etcd kube-apiserver
	local f=$DIR/env.sh
	{
		echo "# Written by e2e/scripts/servers.sh start; source it before the e2e tests."
		echo "unset AWS_CA_BUNDLE  # the sandbox's CA bundle is not the tests' business (it broke rclone 1.60)"
		local kv
		for kv in \
			"ODBACKUP_E2E_DIR=$DIR" \
			"ODBACKUP_E2E_BIN=$BIN" \
			"ODBACKUP_E2E_PG_HOST=127.0.0.1" \
			"ODBACKUP_E2E_PG_PORT=$PG_PORT" \
			"ODBACKUP_E2E_PG_USER=$PG_USER" \
			"ODBACKUP_E2E_PG_PASSWORD=$PG_PASSWORD" \
			"ODBACKUP_E2E_PG_BIN=$PG_BIN" \
			"ODBACKUP_E2E_PG_DATA=$DIR/postgres/data" \
			"ODBACKUP_E2E_MARIADB_HOST=127.0.0.1" \
			"ODBACKUP_E2E_MARIADB_PORT=$MARIADB_PORT" \
			"ODBACKUP_E2E_MARIADB_USER=$MARIADB_USER" \
			"ODBACKUP_E2E_MARIADB_PASSWORD=$MARIADB_PASSWORD" \
			"ODBACKUP_E2E_MARIADB_SOCKET=$DIR/mariadb/mysqld.sock" \
			"ODBACKUP_E2E_REDIS_HOST=127.0.0.1" \
			"ODBACKUP_E2E_REDIS_PORT=$REDIS_PORT" \
			"ODBACKUP_E2E_REDIS_PASSWORD=$REDIS_PASSWORD" \
			"ODBACKUP_E2E_REDIS_DIR=$DIR/redis" \
			"ODBACKUP_E2E_LDAP_URL=ldap://127.0.0.1:$LDAP_PORT/" \
			"ODBACKUP_E2E_LDAP_BASE=$LDAP_BASE" \
			"ODBACKUP_E2E_LDAP_ROOTDN=$LDAP_ROOTDN" \
			"ODBACKUP_E2E_LDAP_PASSWORD=$LDAP_PASSWORD" \
			"ODBACKUP_E2E_LDAP_CONF=$DIR/ldap/slapd.conf" \
			"ODBACKUP_E2E_S3_ENDPOINT=http://127.0.0.1:$S3_PORT" \
			"ODBACKUP_E2E_S3_ACCESS_KEY=$S3_ACCESS_KEY" \
			"ODBACKUP_E2E_S3_SECRET_KEY=$S3_SECRET_KEY" \
			"ODBACKUP_E2E_S3_REGION=$S3_REGION" \
			"KUBECONFIG=$DIR/kubeconfig" \
			"ODBACKUP_E2E_KUBE_SERVER=https://127.0.0.1:$APISERVER_PORT" \
			"ODBACKUP_E2E_KUBE_TOKEN=$KUBE_TOKEN" \
			"ODBACKUP_E2E_CRD_DIR=$(cd "$BIN/../crds" && pwd)" \
			"ODBACKUP_E2E_KUBECTL=$BIN/kubectl" \
			"ODBACKUP_E2E_RESTIC=$BIN/restic" \
			"ODBACKUP_E2E_VERSITYGW=$BIN/versitygw"; do
			printf 'export %s=%q\n' "${kv%%=*}" "${kv#*=}"
		done
		# The pinned restic, kubectl, etcd and versitygw come first on PATH.
		# shellcheck disable=SC2016 # $PATH expands when env.sh is sourced
		printf 'export PATH=%q:"$PATH"\n' "$BIN"
	} >"$f.tmp"
	mv "$f.tmp" "$f"
}

# select_servers ARGS...: sets SEL to the servers named (validated, in start
# order whatever order they come in), or to all of them.
select_servers() {
	local s a
	SEL=()
	for a in "$@"; do
		for s in "${ALL[@]}"; do
			[[ $a == "$s" ]] && continue 2
		done
		echo "servers: unknown server '$a' (one of: ${ALL[*]})" >&2
		exit 2
	done
	for s in "${ALL[@]}"; do
		if [[ $# -eq 0 ]]; then
			SEL+=("$s")
			continue
		fi
		for a in "$@"; do
			if [[ $a == "$s" ]]; then
				SEL+=("$s")
				break
			fi
		done
	done
}

cmd_start() {
	local s t p
	[[ $DIR == /* && $DIR != *[[:space:]]* ]] || die "ODBACKUP_E2E_DIR must be an absolute path without spaces: $DIR"
	mkdir -p "$DIR"
	touch "$DIR/.odbackup-e2e"
	chmod 755 "$DIR"
	runuser -u postgres -- test -x "$DIR" || die "$DIR is not reachable for the postgres user; choose another ODBACKUP_E2E_DIR"
	for s in "$@"; do
		if alive "$s"; then
			log "$s already running (pid $(pid "$s"))"
			continue
		fi
		for p in "${PORT[$s]}" ${EXTRA_PORTS[$s]:-}; do
			port_open "$p" && die "$s: port $p is taken by another process"
		done
		mkdir -p "$DIR/$s"
		rm -f "$DIR/$s/server.pid"
		t=$SECONDS
		"start_$s"
		log "$s ready on 127.0.0.1:${PORT[$s]} (pid $(pid "$s"), $((SECONDS - t)) s)"
	done
	write_env
	log "environment in $DIR/env.sh"
}

# stop_one NAME: SIGTERM (SIGINT for PostgreSQL: fast shutdown), wait, and
# SIGKILL only when it does not exit in time.
stop_one() {
	local name=$1 p sig=TERM i
	if ! alive "$name"; then
		rm -f "$DIR/$name/server.pid"
		return 0
	fi
	p=$(pid "$name")
	[[ $name == postgres ]] && sig=INT
	kill "-$sig" "$p" 2>/dev/null || true
	for ((i = 0; i < 600; i++)); do
		alive "$name" || break
		sleep 0.1
	done
	if alive "$name"; then
		log "$name (pid $p) did not stop in 60 s; killing it"
		kill -KILL "$p" 2>/dev/null || true
		while alive "$name"; do sleep 0.1; done
	fi
	rm -f "$DIR/$name/server.pid"
	log "$name stopped (pid $p)"
}

cmd_stop() {
	local i servers=("$@")
	for ((i = ${#servers[@]} - 1; i >= 0; i--)); do
		stop_one "${servers[i]}"
	done
}

cmd_status() {
	local s rc=0
	for s in "$@"; do
		if alive "$s"; then
			printf '%-10s running  pid %-8s 127.0.0.1:%s\n' "$s" "$(pid "$s")" "${PORT[$s]}"
		else
			printf '%-10s stopped\n' "$s"
			rc=3
		fi
	done
	return "$rc"
}

cmd_clean() {
	cmd_stop "${ALL[@]}"
	if [[ -d $DIR ]]; then
		[[ -f $DIR/.odbackup-e2e ]] || die "$DIR was not created by servers.sh; not removing it"
		rm -rf "$DIR"
		log "removed $DIR"
	fi
}

main() {
	local cmd=${1:-}
	[[ $# -gt 0 ]] && shift
	case $cmd in
	start | stop | status)
		select_servers "$@"
		"cmd_$cmd" "${SEL[@]}"
		;;
	clean)
		[[ $# -eq 0 ]] || die "clean takes no arguments"
		cmd_clean
		;;
	*)
		echo "usage: $0 start|stop|status [SERVER...] | clean" >&2
		echo "SERVER: ${ALL[*]}" >&2
		exit 2
		;;
	esac
}

main "$@"
