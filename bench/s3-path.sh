#!/usr/bin/env bash
# The S3 mirror path (make bench): the generated step that mirrors OX App
# Suite's bucket (rclone sync into an rclone crypt remote, what it replaces
# or deletes moved to a dated archive, then the archive's pruning), taken
# out of the generated manifest, run against a bucket on a local S3 server
# (versitygw) holding 1.1 GiB in 24,021 objects of mixed sizes (bench/gendata
# tree), timed against a bare `rclone sync` of the same bucket into an
# unencrypted remote on the same server, with the same rclone: first into
# an empty mirror, then an incremental night with 1% of the objects changed.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh
D=${BENCH_DIR:?BENCH_DIR must be set}/s3
RUNS=${ODBACKUP_BENCH_RUNS:-5}
TREE_BYTES=${ODBACKUP_BENCH_TREE_BYTES:-$((1100 << 20))}
mkdir -p "$D"

data_servers s3
e2e/scripts/ensure-packages.sh rclone
site=$(data_site)
data=$ODBACKUP_E2E_DIR/s3/data
# The mirrors (about 1.1 GiB each) go when the script ends; the bucket stays
# for the next run.
trap 'e2e/scripts/servers.sh stop s3 || true; rm -rf "$data/odbackup-bench" "$data/odbackup-bench-mirror" "$data/odbackup-bench-plain"' EXIT

extract "$site/cronjobs/odbackup-ox-appsuite.yaml" s3-openxchange mirror
bucket=$(sed -n "s/^export ODBACKUP_BUCKET='\{0,1\}\([^']*\)'\{0,1\}$/\1/p" "$D/mirror.env")
# What the Secrets would hold; the bucket's own key stands in for OX's user
# (the test server has one account).
cat >>"$D/mirror.env" <<ENV
export RCLONE_CONFIG_SOURCE_ACCESS_KEY_ID=$ODBACKUP_E2E_S3_ACCESS_KEY RCLONE_CONFIG_SOURCE_SECRET_ACCESS_KEY=$ODBACKUP_E2E_S3_SECRET_KEY
export RCLONE_CONFIG_MIRROR_ACCESS_KEY_ID=$ODBACKUP_E2E_S3_ACCESS_KEY RCLONE_CONFIG_MIRROR_SECRET_ACCESS_KEY=$ODBACKUP_E2E_S3_SECRET_KEY
export ODBACKUP_CRYPT_PASSWORD=odbackup-bench-crypt ODBACKUP_CRYPT_SALT=odbackup-bench-salt
ENV

# The bucket, once (a second run reuses it): the files of bench/gendata
# tree, uploaded with rclone.
if [[ $(cat "$D/bucket.bytes" 2>/dev/null) != "$TREE_BYTES" ]]; then
	echo "s3-path: filling bucket $bucket ($TREE_BYTES bytes)" >&2
	rm -rf "$D/tree" "$D/bucket.bytes" "${data:?}/$bucket"
	"$GO" run ./bench/gendata tree -o "$D/tree" -bytes "$TREE_BYTES"
	# shellcheck source=/dev/null # written above
	(. "$D/mirror.env" && rclone copy "$D/tree" "source:$bucket" --transfers=8)
	rm -rf "$D/tree"
	echo "$TREE_BYTES" >"$D/bucket.bytes"
fi
# shellcheck source=/dev/null
(. "$D/mirror.env" && rclone size --json "source:$bucket") >"$D/bucket.json"
sed 's/.*"count":\([0-9]*\).*"bytes":\([0-9]*\).*/\2 \1/' "$D/bucket.json" | tr ' ' '\n' >"$D/bucket.stats"

job=". $D/mirror.env && sh $D/mirror.sh >/dev/null 2>&1"
bare=". $D/mirror.env && rclone sync source:$bucket mirror:odbackup-bench-plain/current --fast-list >/dev/null 2>&1"
# rclone creates a missing bucket.
empty="rm -rf $data/odbackup-bench-mirror $data/odbackup-bench-plain"

# 1. Into empty mirrors: every object copied.
rounds full "$empty" "$bare" "$job" \
	"rclone sync BUCKET plain:current (empty mirror)" "generated mirror step (empty mirror)"

# 2. An incremental night: before each round 1% of the objects get new
#    contents (the same size, random bytes: a changed photo or document),
#    a different 1% every round; both mirrors hold the last round's state.
count=$(sed -n 2p "$D/bucket.stats")
# shellcheck source=/dev/null
(. "$D/mirror.env" && rclone lsf -R --files-only --format sp --separator ' ' "source:$bucket") >"$D/objects"
cat >"$D/change.sh" <<SH
set -eu
round=\$(cat $D/round 2>/dev/null || echo 0)
round=\$((round + 1))
echo "\$round" >$D/round
rm -rf $D/changed && mkdir $D/changed
awk -v r="\$round" 'NR % 100 == r % 100 {print}' $D/objects | while read -r size path; do
	mkdir -p "$D/changed/\$(dirname "\$path")"
	head -c "\$size" /dev/urandom >"$D/changed/\$path"
done
. $D/mirror.env && rclone copy $D/changed source:$bucket --transfers=8
rm -rf $D/changed
SH
echo $((count / 100)) >"$D/changed.count"
rm -f "$D/round"
ROUND_PREPARE="sh $D/change.sh" rounds incremental : "$bare" "$job" \
	"rclone sync BUCKET plain:current (1% changed)" "generated mirror step (1% changed)"
