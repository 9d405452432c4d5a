#!/usr/bin/env bash
# The off-site copy path (make bench): the script of the copy pod that the
# generated off-site step of XWiki's attachments volume creates (taken out
# of the step's here-document by bench/extract -pod, never copied), run as
# in e2e/offsite_test.go against a directory that stands in for the mounted
# clone, timed against a bare `restic backup` of the same directory. The
# directory (bench/gendata tree) holds 1.1 GiB in 24,000 files of mixed
# sizes; both go into restic on a local S3 server.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh
D=${BENCH_DIR:?BENCH_DIR must be set}/offsite
RUNS=${ODBACKUP_BENCH_RUNS:-5}
TREE_BYTES=${ODBACKUP_BENCH_TREE_BYTES:-$((1100 << 20))}
mkdir -p "$D"

data_servers s3
site=$(data_site)

tree=$D/tree
if [[ $(cat "$tree.bytes" 2>/dev/null) != "$TREE_BYTES" ]]; then
	echo "offsite-path: writing the volume's files ($TREE_BYTES bytes)" >&2
	rm -rf "$tree" "$tree.bytes"
	"$GO" run ./bench/gendata tree -o "$tree" -bytes "$TREE_BYTES"
	echo "$TREE_BYTES" >"$tree.bytes"
fi
find "$tree" -type f -printf '%s\n' | awk '{n++; s += $1} END {print s; print n}' >"$D/tree.stats"

extract "$site/cronjobs/odbackup-xwiki.yaml" offsite-xwiki-data-xwiki-0 copy copy
# The pod's environment, with the clone at $tree, and its /tmp (where the
# restic cache is) an emptyDir: every night's pod starts without a cache.
cat >"$D/job.env" <<ENV
. $D/copy.env
export ODBACKUP_SOURCE=$tree ODBACKUP_SAMPLE_DIR=$D/pod-tmp/odbackup-sample RESTIC_CACHE_DIR=$D/pod-tmp/restic-cache
ENV
# restic as one runs it by hand: the same repository, a cache that stays.
cat >"$D/bare.env" <<ENV
. $D/copy.env
export RESTIC_CACHE_DIR=$D/bare-cache
ENV
job="rm -rf $D/pod-tmp && . $D/job.env && sh $D/copy.sh >/dev/null"
bare=". $D/bare.env && restic backup $tree >/dev/null"

# 1. The worst case: every timed run copies into an empty repository.
rounds backup "$(fresh_repo "$D/bare.env") && rm -rf $D/bare-cache" "$bare" "$job" \
	"restic backup DIR (empty repository)" "generated copy pod (empty repository)"

# 2. A second run of the unchanged volume: what it adds to the repository,
#    then its time, each side with its own previous snapshot as parent.
added_bytes "$D/bare.env" "$job"
sh -c "$bare"
rounds second : "$bare" "$job" \
	"restic backup DIR (second run)" "generated copy pod (second run)"
