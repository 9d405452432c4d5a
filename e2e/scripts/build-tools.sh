#!/usr/bin/env bash
# build-tools.sh: builds the pinned server and client binaries the end-to-end
# tests run (kube-apiserver, kubectl, etcd, versitygw, restic, rclone) from the tool
# modules in e2e/tools/*, and copies the CSI snapshot CRDs next to them.
#
# The result lives outside the repository, in a cache directory keyed by a
# hash of every e2e/tools/*/go.sum and go.mod (and BUILD_REV below):
#
#   ${ODBACKUP_E2E_CACHE:-$HOME/.cache/odbackup-e2e}/<key>/bin    the binaries
#   ${ODBACKUP_E2E_CACHE:-$HOME/.cache/odbackup-e2e}/<key>/crds   the CRD YAMLs
#
# A warm cache makes this a no-op. Prints the bin directory on stdout (and
# nothing else); progress goes to stderr. A cold build takes about 10 minutes
# on 2 cores and about 3 GB of Go build cache (see e2e/README.md).
#
# Usage: e2e/scripts/build-tools.sh [--key]   (--key: print the cache key only)
set -euo pipefail

# Bump when the build commands below change in a way that changes the binaries.
BUILD_REV=2

K8S_VERSION=v1.37.2
# The version kube-apiserver and kubectl report; without it the server says
# v0.0.0-master and `kubectl version` fails to parse it.
K8S_LDFLAGS="-X k8s.io/component-base/version.gitVersion=${K8S_VERSION}"
K8S_LDFLAGS+=" -X k8s.io/component-base/version.gitMajor=1"
K8S_LDFLAGS+=" -X k8s.io/component-base/version.gitMinor=37"
K8S_LDFLAGS+=" -X k8s.io/client-go/pkg/version.gitVersion=${K8S_VERSION}"
SNAPSHOTTER_MODULE=github.com/kubernetes-csi/external-snapshotter/client/v8
SNAPSHOT_CRDS=(
	snapshot.storage.k8s.io_volumesnapshotclasses.yaml
	snapshot.storage.k8s.io_volumesnapshotcontents.yaml
	snapshot.storage.k8s.io_volumesnapshots.yaml
)

GO=${GO:-go}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
tools=$root/e2e/tools

log() { printf 'build-tools: %s\n' "$*" >&2; }

# The cache key: every tool module's go.sum and go.mod (without comment
# lines, so editing a comment does not force a rebuild), in a fixed order.
key=$(
	cd "$tools"
	{
		echo "rev=$BUILD_REV"
		for f in */go.mod */go.sum; do
			echo "== $f"
			grep -v '^[[:space:]]*//' "$f"
		done
	} | sha256sum | cut -c1-16
)
if [[ ${1:-} == --key ]]; then
	echo "$key"
	exit 0
fi

cache=${ODBACKUP_E2E_CACHE:-${HOME:?}/.cache/odbackup-e2e}
out=$cache/$key
binaries=(kube-apiserver kubectl etcd versitygw restic rclone)

warm() {
	[[ -f $out/complete ]] || return 1
	local b
	for b in "${binaries[@]}"; do
		[[ -x $out/bin/$b ]] || return 1
	done
}

if warm; then
	echo "$out/bin"
	exit 0
fi

mkdir -p "$cache"
# One build at a time per cache: a second caller waits, then finds it warm.
exec 9>"$cache/.lock"
flock 9
if warm; then
	echo "$out/bin"
	exit 0
fi

tmp=$cache/.build-$key-$$
rm -rf "$tmp"
mkdir -p "$tmp/bin" "$tmp/crds"
trap 'rm -rf "$tmp"' EXIT

# GOWORK=off: a go.work elsewhere must not pull these modules together.
# -mod=readonly: the build uses exactly what go.mod/go.sum pin.
export GOWORK=off GOFLAGS="${GOFLAGS:+$GOFLAGS }-mod=readonly"

build() { # build MODULE_DIR OUTPUT PACKAGE [EXTRA_LDFLAGS]
	local dir=$1 name=$2 pkg=$3 ldflags="-s -w ${4:-}" start=$SECONDS
	log "building $name ($pkg)"
	(cd "$tools/$dir" && "$GO" build -trimpath -ldflags="$ldflags" -o "$tmp/bin/$name" "$pkg")
	log "built $name in $((SECONDS - start)) s"
}

total=$SECONDS
(cd "$tools/kubernetes" && "$GO" mod download)
build kubernetes kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver "$K8S_LDFLAGS"
build kubernetes kubectl k8s.io/kubernetes/cmd/kubectl "$K8S_LDFLAGS"
build etcd etcd go.etcd.io/etcd/server/v3
build versitygw versitygw github.com/versity/versitygw/cmd/versitygw "-X main.Version=v1.8.0"
build restic restic github.com/restic/restic/cmd/restic
# rclone's version suffix defaults to "DEV"; the release builds set it empty.
build rclone rclone github.com/rclone/rclone "-X github.com/rclone/rclone/fs.VersionSuffix="

# The CRDs ship inside the snapshotter client module (config/crd is not a Go
# package, so it cannot be embedded); copy the three snapshot CRDs out of the
# module cache into the build cache, never into the repository.
crd_src=$(cd "$tools/kubernetes" && "$GO" list -m -f '{{.Dir}}' "$SNAPSHOTTER_MODULE")/config/crd
for f in "${SNAPSHOT_CRDS[@]}"; do
	cp "$crd_src/$f" "$tmp/crds/$f"
done
chmod -R u+w "$tmp/crds"

"$tmp/bin/kube-apiserver" --version >&2
"$tmp/bin/restic" version >&2
"$tmp/bin/rclone" version | head -n 1 >&2
date -u +%Y-%m-%dT%H:%M:%SZ >"$tmp/complete"
rm -rf "$out"
mv "$tmp" "$out"
trap - EXIT
# Builds for other keys stay: a server started from one of them (another
# checkout, another session) still uses its binaries. Remove old ones by hand.
log "tools built in $((SECONDS - total)) s into $out"
echo "$out/bin"
