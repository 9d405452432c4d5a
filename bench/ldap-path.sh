#!/usr/bin/env bash
# The LDAP path (make bench): the generated slapcat export of Nubus' LDAP
# primary and its restore (the restore Job, which copies the LDIF into the
# pod, then the runbook's own load commands: slapadd into a new directory,
# a count of what it loaded, the swap), taken out of the generated
# manifests and runbook, against a directory of 100,000 entries (bench/gendata
# ldif), timed against a bare slapcat in the pod into /dev/null and a bare
# slapadd of the same LDIF from a local file. The job's restic goes to a
# local S3 server.
#
# No Kubernetes here: kubectl is a stand-in ($D/bin/kubectl) whose exec
# runs the command on this host, in a mount namespace where the pod's
# /etc/ldap and /var/lib are folders of $D/pod (as e2e/testdata/shim/kubectl
# does, without asking an API server first), so what is measured is the
# job's own work around slapcat and slapadd, not the API server's exec
# stream. Needs root (unshare --mount).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh
D=${BENCH_DIR:?BENCH_DIR must be set}/ldap
RUNS=${ODBACKUP_BENCH_RUNS:-5}
RESTORE_RUNS=${ODBACKUP_BENCH_RESTORE_RUNS:-3}
ENTRIES=${ODBACKUP_BENCH_LDAP_ENTRIES:-100000}
mkdir -p "$D"

e2e/scripts/ensure-packages.sh slapd ldap-utils busybox # busybox: the kubectl image's tools, below
data_servers s3
site=$(data_site)

# The pod's file system: openDesk's layout (the catalog's slapd.conf and
# directory, univention/container-ldap), an mdb database as the e2e slapd
# has it (e2e/scripts/servers.sh).
pod=$D/pod
lib=/var/lib/univention-ldap
mkdir -p "$pod/etc/ldap" "$pod/var/lib/univention-ldap/ldap"
cp -r /etc/ldap/schema "$pod/etc/ldap/"
cat >"$pod/etc/ldap/slapd.conf" <<CONF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/nis.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
database mdb
maxsize 4294967296
suffix "dc=swp-ldap,dc=internal"
rootdn "cn=admin,dc=swp-ldap,dc=internal"
directory $lib/ldap
index objectClass eq
CONF
mkdir -p "$D/bin"
cat >"$D/bin/kubectl" <<'SH'
#!/bin/sh
# kubectl for bench/ldap-path.sh: exec runs its command here, as the pod
# would (see the script's header); everything else (delete pod) does nothing.
set -eu
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
case " $* " in *" exec "*) ;; *) exit 0 ;; esac
while [ "$1" != -- ]; do shift; done
shift
exec unshare --mount --propagation private sh -c '
	for d in etc/ldap var/lib; do mount --bind "$0/$d" "/$d"; done
	exec "$@"' "$ODBACKUP_BENCH_POD" "$@"
SH
chmod +x "$D/bin/kubectl"
export ODBACKUP_BENCH_POD=$pod PATH=$D/bin:$PATH
inpod() { kubectl exec ums-ldap-server-primary-0 -- "$@"; }

# The directory, once (a second run reuses it).
if [[ $(cat "$D/entries" 2>/dev/null) != "$ENTRIES" ]]; then
	echo "ldap-path: loading $ENTRIES entries" >&2
	rm -rf "$pod/var/lib/univention-ldap/ldap" "$D/entries"
	mkdir -p "$pod/var/lib/univention-ldap/ldap"
	"$GO" run ./bench/gendata ldif -entries "$ENTRIES" >"$D/gen.ldif"
	inpod slapadd -q -f /etc/ldap/slapd.conf -l "$D/gen.ldif"
	rm -f "$D/gen.ldif"
	echo "$ENTRIES" >"$D/entries"
fi

extract "$site/cronjobs/odbackup-nubus.yaml" export-shared-data-ums-ldap-server-primary-0 export
extract "$site/restore/nubus/export-ldap-primary.yaml" restore restore
# The runbook's load commands, as an operator pastes them: the sh block
# that runs slapadd.
awk '/^```sh$/ {block = ""; inblock = 1; next} /^```$/ {if (inblock && block ~ /slapadd -f/) print block; inblock = 0; next} inblock {block = block $0 "\n"}' \
	"$site/runbooks/nubus.md" >"$D/load.sh"
grep -q 'slapadd -f' "$D/load.sh" || { echo "ldap-path: no slapadd commands in the runbook" >&2; exit 1; }
# The job's pod: the kubectl image's busybox tools (the step runs in
# /tools/sh), restic, and the stand-in kubectl first.
mkdir -p "$D/busybox"
busybox --install -s "$D/busybox"
tools="PATH=$D/bin:$(dirname "$(command -v restic)"):$D/busybox"
job="rm -rf $D/pod-tmp && mkdir $D/pod-tmp && . $D/export.env && export TMPDIR=$D/pod-tmp RESTIC_CACHE_DIR=$D/pod-tmp/restic-cache $tools && $D/busybox/sh $D/export.sh >/dev/null"

# 1. The export, every timed run into an empty repository.
rounds backup "$(fresh_repo "$D/export.env")" \
	"kubectl exec ums-ldap-server-primary-0 -- slapcat >/dev/null" "$job" \
	"slapcat in the pod >/dev/null" "generated export step"
inpod slapcat | grep -c '^dn: ' >"$D/entries.count"
inpod slapcat | wc -c >"$D/ldif.bytes"

# 2. A second run of the unchanged directory: what it adds.
added_bytes "$D/export.env" "$job"

# 3. Restore: the restore Job (snapshot latest) and the runbook's load
#    commands, against slapadd of the same LDIF from a local file into an
#    empty directory. Before each, the pod's directory is as before a
#    restore (the runbook keeps the replaced one as ldap.before-restore).
inpod slapcat >"$D/bare.ldif"
cat >"$D/bare-load.sh" <<SH
set -e
rm -rf $lib/bare && mkdir $lib/bare
sed 's#$lib/ldap\$#$lib/bare#' /etc/ldap/slapd.conf >$lib/bare.conf
slapadd -f $lib/bare.conf -q -l $D/bare.ldif
SH
reset="rm -rf $pod$lib/ldap.before-restore $pod$lib/odbackup-restore $pod$lib/bare $pod$lib/bare.conf"
restore=". $D/restore.env && export TMPDIR=$D/pod-tmp ODBACKUP_SNAPSHOT=latest $tools && rm -rf $D/pod-tmp && mkdir $D/pod-tmp && $D/busybox/sh $D/restore.sh >/dev/null && sh $D/load.sh >/dev/null"
RUNS=$RESTORE_RUNS rounds restore "$reset" \
	"kubectl exec ums-ldap-server-primary-0 -- sh $D/bare-load.sh" "$restore" \
	"slapadd -q of the LDIF from a local file" "generated restore Job and the runbook's load commands"
sh -c "$reset"
rm -f "$D/bare.ldif"
