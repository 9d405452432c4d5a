#!/usr/bin/env bash
# run.sh [GO TEST FLAGS...]: the whole end-to-end run, what `make e2e` does.
#
#   1. builds the pinned tools (cached; e2e/scripts/build-tools.sh),
#   2. installs missing Debian packages (e2e/scripts/ensure-packages.sh),
#   3. starts every server from a clean data directory (e2e/scripts/servers.sh),
#   4. runs ODBACKUP_E2E=1 go test -count=1 -timeout 30m [FLAGS] ./e2e/... with env.sh sourced,
#   5. stops the servers on every exit path (also on failure and Ctrl-C) and
#      exits with go test's status.
#
# The data directory (${ODBACKUP_E2E_DIR:-/tmp/odbackup-e2e}) stays after the
# run, with every server's log, for a look after a failure; the next run
# removes it.
set -euo pipefail

scripts=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$scripts/../.." && pwd)
GO=${GO:-go}
export GO

# What the servers and the tests use from Debian.
# chromium: e2e/browser opens the HTML export of odbackup docs in it.
packages=(mariadb-server mariadb-client redis-server slapd ldap-utils shellcheck curl openssl busybox chromium)
[[ -x ${ODBACKUP_E2E_PG_BIN:-/usr/lib/postgresql/15/bin}/initdb ]] || packages+=(postgresql-15)

t0=$SECONDS
ODBACKUP_E2E_BIN=$("$scripts/build-tools.sh")
export ODBACKUP_E2E_BIN
t1=$SECONDS
"$scripts/ensure-packages.sh" "${packages[@]}"
t2=$SECONDS

trap '"$scripts/servers.sh" stop || true' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$scripts/servers.sh" clean
"$scripts/servers.sh" start
t3=$SECONDS

# shellcheck source=/dev/null # written by servers.sh start
. "${ODBACKUP_E2E_DIR:-/tmp/odbackup-e2e}/env.sh"
rc=0
(cd "$root" && ODBACKUP_E2E=1 "$GO" test -count=1 -timeout 30m "$@" ./e2e/...) || rc=$?
t4=$SECONDS

browser=${ODBACKUP_E2E_DIR:-/tmp/odbackup-e2e}/browser
[[ -d $browser ]] && echo "e2e: screenshots of the HTML docs (e2e/browser) in $browser" >&2
echo "e2e: tools $((t1 - t0)) s, packages $((t2 - t1)) s, servers $((t3 - t2)) s, tests $((t4 - t3)) s; go test exit $rc" >&2
exit "$rc"
