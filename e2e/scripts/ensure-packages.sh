#!/usr/bin/env bash
# ensure-packages.sh PKG...: installs the Debian packages among PKG that are
# not installed yet, with apt-get install -y --no-install-recommends. A no-op
# (no apt call at all) when every package is already installed. Runs
# apt-get update once, only when the first install fails (for example
# because the package lists are missing on a fresh machine).
#
# Needs root (or sudo) only when something is missing. Exit status: 0 when
# every package is installed afterwards, non-zero otherwise.
set -euo pipefail

if [[ $# -eq 0 ]]; then
	echo "usage: $0 PKG..." >&2
	exit 2
fi

installed() {
	[[ $(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null) == installed ]]
}

missing=()
for p in "$@"; do
	installed "$p" || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

sudo=()
if [[ $(id -u) -ne 0 ]]; then
	if ! command -v sudo >/dev/null; then
		echo "ensure-packages: missing ${missing[*]}; run as root to install them" >&2
		exit 1
	fi
	sudo=(sudo)
fi

echo "ensure-packages: installing ${missing[*]}" >&2
apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q -y -o Dpkg::Use-Pty=0)
if ! "${apt[@]}" install --no-install-recommends "${missing[@]}" >&2; then
	echo "ensure-packages: install failed; running apt-get update and retrying" >&2
	"${apt[@]}" update >&2
	"${apt[@]}" install --no-install-recommends "${missing[@]}" >&2
fi

for p in "${missing[@]}"; do
	if ! installed "$p"; then
		echo "ensure-packages: $p is still not installed" >&2
		exit 1
	fi
done
