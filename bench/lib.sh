# shellcheck shell=bash
# What the data-path benchmarks (bench/*-path.sh) share; sourced by each,
# with the working directory at the repository's root, D set to the
# benchmark's own folder and RUNS to the number of rounds.

GO=${GO:-go}

# rounds NAME PREPARE BASELINE GENERATED [BASELINE_LABEL GENERATED_LABEL]:
# each round runs the baseline and the generated script once, in turns
# (hyperfine would run all of one command first, and drift in the page
# cache or the server's background work would then favour one side);
# PREPARE runs, untimed, before each. The labels name the commands in the
# exports. The report takes the median over the rounds ($D/NAME-<round>.json).
# ROUND_PREPARE, when set, runs once per round before both commands (a
# change of the data both then back up).
rounds() {
	local name=$1 prepare=$2 baseline=$3 generated=$4 bl=${5:-} gl=${6:-} i labels=()
	rm -f "$D/$name"-*.json
	for i in $(seq "$RUNS"); do
		if ((i % 2)); then
			set -- "$baseline" "$generated"
			[[ -z $bl ]] || labels=(-n "$bl" -n "$gl")
		else
			set -- "$generated" "$baseline"
			[[ -z $bl ]] || labels=(-n "$gl" -n "$bl")
		fi
		[[ -z ${ROUND_PREPARE:-} ]] || sh -c "$ROUND_PREPARE"
		hyperfine --runs 1 --style basic --export-json "$D/$name-$i.json" --prepare "$prepare" "${labels[@]}" "$@"
	done
}

# rotate NAME PREPARE LABEL COMMAND [LABEL COMMAND]...: rounds of several
# commands, as rounds does for two: each round runs every command once,
# round i starting with the i-th, so that no command always comes first
# after PREPARE or last in a warm cache. The labels name the commands in
# the exports ($D/NAME-<round>.json).
rotate() {
	local name=$1 prepare=$2 i j k n labels=() cmds=() names args
	shift 2
	while (($#)); do
		labels+=("$1")
		cmds+=("$2")
		shift 2
	done
	n=${#cmds[@]}
	rm -f "$D/$name"-*.json
	for i in $(seq "$RUNS"); do
		names=()
		args=()
		for ((j = 0; j < n; j++)); do
			k=$(((i - 1 + j) % n))
			names+=(-n "${labels[k]}")
			args+=("${cmds[k]}")
		done
		hyperfine --runs 1 --style basic --export-json "$D/$name-$i.json" --prepare "$prepare" "${names[@]}" "${args[@]}"
	done
}

# repo_bytes ENV_FILE: the bytes the restic repository named in ENV_FILE
# holds (raw data, after deduplication and compression).
repo_bytes() {
	# shellcheck disable=SC1090 # written by the benchmark
	(. "$1" && restic stats --mode raw-data --json) | sed 's/.*"total_size":\([0-9]*\).*/\1/'
}

# added_bytes ENV_FILE JOB: what a second run of JOB (a command) adds to the
# repository of ENV_FILE after a first run into an empty one, in
# $D/added.bytes: for unchanged data, almost nothing.
added_bytes() {
	local before after
	sh -c "$(fresh_repo "$1") && $2"
	before=$(repo_bytes "$1")
	sh -c "$2"
	after=$(repo_bytes "$1")
	echo $((after - before)) >"$D/added.bytes"
}

# data_servers SERVER...: starts the e2e servers named (e2e/scripts/servers.sh)
# for the data paths, on ports of their own so that a running e2e suite or
# the PostgreSQL benchmark is not disturbed (bench/data-paths/site.cue names
# them), and loads their env.sh. When the script exits, the servers stop
# and the restic repository (a GiB or more) is removed; the servers' data
# stays in $BENCH_DIR/data-paths/srv, so a second run reuses the databases.
data_servers() {
	export ODBACKUP_E2E_DIR=$BENCH_DIR/data-paths/srv ODBACKUP_E2E_MARIADB_PORT=13306 \
		ODBACKUP_E2E_REDIS_PORT=16379 ODBACKUP_E2E_LDAP_PORT=13389 ODBACKUP_E2E_S3_PORT=17071
	ODBACKUP_E2E_BIN=$(e2e/scripts/build-tools.sh)
	export ODBACKUP_E2E_BIN
	local s packages=(hyperfine)
	for s in "$@"; do
		case $s in
		mariadb) packages+=(mariadb-server mariadb-client) ;;
		redis) packages+=(redis-server) ;;
		ldap) packages+=(slapd ldap-utils) ;;
		esac
	done
	e2e/scripts/ensure-packages.sh "${packages[@]}"
	# shellcheck disable=SC2064 # the servers of this call
	trap "e2e/scripts/servers.sh stop $* || true; rm -rf $ODBACKUP_E2E_DIR/s3/data/odbackup-bench" EXIT
	e2e/scripts/servers.sh start "$@"
	# shellcheck source=/dev/null # written by servers.sh start
	. "$ODBACKUP_E2E_DIR/env.sh"
	# What the Secrets would hold.
	export RESTIC_PASSWORD=odbackup-bench
	export AWS_ACCESS_KEY_ID=$ODBACKUP_E2E_S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$ODBACKUP_E2E_S3_SECRET_KEY
}

# data_site: builds bench/data-paths/site.cue and prints the site's folder.
data_site() {
	local out=$BENCH_DIR/data-paths/out
	"$GO" run ./cmd/odbackup build bench/data-paths/site.cue -o "$out" >&2
	echo "$out/bench-data-paths"
}

# extract FILE CONTAINER NAME [POD_CONTAINER]: the generated script of a
# container as $D/NAME.sh and its literal environment as $D/NAME.env.
extract() {
	"$GO" run ./bench/extract -file "$1" -container "$2" -script "$D/$3.sh" ${4:+-pod "$4"} >"$D/$3.env"
}

# fresh_repo ENV_FILE: an empty repository, made outside the timing; the
# worst case, all data uploaded. S3 buckets are folders of versitygw.
fresh_repo() {
	echo "rm -rf $ODBACKUP_E2E_DIR/s3/data/odbackup-bench && . $1 && restic init >/dev/null"
}
