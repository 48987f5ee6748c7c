#!/bin/bash
# SPDX-License-Identifier: MIT
#
# tests/bench/web_bench.sh - what a web sign-in costs. A benchmark, not a
# test: nothing here passes or fails on timing. As root, Debian 12, after
# a build with tests (MG_BUILD, default build/; needs mailgate, mailgated
# and tests/oidc_probe) and `npm ci` in tests/idp.
#
#	tests/bench/web_bench.sh [N [P]]      N sign-ins (50), P at once (4)
#	MG_BUILD=$PWD/build-web tests/bench/web_bench.sh 100 4
#
# Starts on loopback, under $MG_BENCH_ROOT (/tmp/mg-webbench), and stops
# at the end: a private PostgreSQL (MG_BENCH_PG_PORT, 25472), the test
# provider of tests/idp (MG_BENCH_IDP_PORT, 9470; RS256) and one
# mailgated with the web service (MG_BENCH_WEB_PORT, 8097; [log] level
# debug, required_groups and create_mailboxes as in the tests). Each
# sign-in is a new person: mailgated's /login, the provider's login and
# consent forms (tests/testbed/oidc_login.py), mailgated's /callback
# (code exchange, ID token check, mapping, new mailbox, link, session,
# audit row). Reports:
#  1. completed sign-ins per second, N one after another, then N more
#     with P in flight (end to end: client, provider and mailgated);
#  2. CPU per sign-in of mailgated, the provider (node) and PostgreSQL
#     over the sequential part, from /proc/<pid>/stat;
#  3. mailgated's own time per /callback without the provider's: the
#     debug line "web: callback ms= idp_ms= own_ms=" gives the handler's
#     total and the time spent in oidc_login_finish() (token endpoint,
#     JWKS, userinfo and the ID token check); own_ms is the rest (state,
#     mapping, mailbox, link, session, audit: PostgreSQL round trips);
#     and the time of /login and /callback from the access log;
#  4. ID token verification per algorithm (RS256, ES256, and HS256 with
#     an empty JWKS as Authentik serves without a signing key):
#     tests/oidc_probe bench verifies one real token MG_BENCH_VERIFY
#     (2000) times with the JWKS cached.
set -euo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export MG_SRC=$SRC
export MG_BUILD=${MG_BUILD:-$SRC/build}
export MG_TB=${MG_BENCH_ROOT:-/tmp/mg-webbench}
export MG_PG_PORT=${MG_BENCH_PG_PORT:-25472}
export MG_WEB_IDP_PORT=${MG_BENCH_IDP_PORT:-9470}
export MG_WEB_PORT_A=${MG_BENCH_WEB_PORT:-8097}
export MG_WEB_PORT_B=$((MG_WEB_PORT_A + 1))
unset MG_PG_DIR # a cluster of our own, never the test suite's
N=${1:-50}
P=${2:-4}
V=${MG_BENCH_VERIFY:-2000}
PROBE=$MG_BUILD/tests/oidc_probe
[ -x "$PROBE" ] || { echo "web_bench.sh: no $PROBE" >&2; exit 1; }

rm -rf "$MG_TB"
# shellcheck source=tests/integration/test_web_lib.bash
. "$SRC/tests/integration/test_web_lib.bash"
tb_mkroot "$MG_TB"

say()
{
	printf '\n== %s\n' "$*"
}

say "machine"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- |
    sed 's/^ *//'), $(nproc) cores online; kernel $(uname -r)"
changes=
git -C "$SRC" diff --quiet HEAD -- src include || changes=" (with local changes)"
echo "mailgate $(git -C "$SRC" rev-parse --short HEAD)$changes, build type" \
    "$(grep -s CMAKE_BUILD_TYPE:STRING "$MG_BUILD/CMakeCache.txt" |
    cut -d= -f2); node $(node --version)"
echo "load before start: $(cut -d' ' -f1-3 /proc/loadavg)"

web_setup web_bench RS256
web_conf a "$MG_WEB_PORT_A"
"$MG_BUILD/mailgate" -c "$W/a.conf" db migrate >/dev/null
web_start a "$MG_WEB_PORT_A"
web_signin "$W/warm.jar" warm@example.org >/dev/null # discovery, JWKS

# ticks PID...: CPU ticks (utime + stime, all threads) of these processes.
ticks()
{
	local pid sum=0 f
	for pid in "$@"; do
		f=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
		f=${f##*) }
		# shellcheck disable=SC2086
		set -- $f
		sum=$((sum + ${12} + ${13}))
	done
	echo "$sum"
}
pg_pids()
{
	local pm
	pm=$(tb_read_pid "$MG_PG_DIR/data/postmaster.pid")
	# shellcheck disable=SC2046
	echo "$pm" $(pgrep -P "$pm" || true)
}
MGD=${MGD_PIDS[a]}
IDP=$(cat "$W/idp/pid")

one()
{
	local i=$1 st
	st=$(web_signin "$W/b$i.jar" "user$i@example.org") || st="error"
	if [ "${st%% *}" != 303 ]; then
		echo "sign-in $i: $st" >&2
		return 1
	fi
}

# one_apart DIR I: one() with its own body and header files (bash's
# dynamic scope hands the local W to web_signin), for parallel runs.
one_apart()
{
	local W=$1
	mkdir -p "$W"
	one "$2"
}

say "$N sign-ins one after another, then $N with $P in flight"
m0=$(ticks "$MGD")
i0=$(ticks "$IDP")
# shellcheck disable=SC2046
p0=$(ticks $(pg_pids))
t0=$(date +%s.%N)
for ((i = 0; i < N; i++)); do
	one "$i" || true
done
t1=$(date +%s.%N)
m1=$(ticks "$MGD")
i1=$(ticks "$IDP")
# shellcheck disable=SC2046
p1=$(ticks $(pg_pids))
for ((i = N; i < 2 * N; i += P)); do
	pids=()
	for ((j = i; j < i + P && j < 2 * N; j++)); do
		one_apart "$W/p$j" "$j" &
		pids+=($!)
	done
	wait "${pids[@]}" || true # not a bare wait: the provider is a child
done
t2=$(date +%s.%N)
OK=$(web_sql "SELECT count(*) FROM audit_log WHERE action = 'web.login'
    AND mailbox LIKE 'user%'")

hz=$(getconf CLK_TCK)
awk -v n="$N" -v p="$P" -v t0="$t0" -v t1="$t1" -v t2="$t2" \
    -v m="$((m1 - m0))" -v i="$((i1 - i0))" -v pg="$((p1 - p0))" \
    -v hz="$hz" -v ok="$OK" 'BEGIN {
	printf "sequential: %d in %.2f s, %.2f sign-ins/s, %.0f ms each\n",
	    n, t1 - t0, n / (t1 - t0), (t1 - t0) * 1000 / n
	printf "%d in flight: %d in %.2f s, %.2f sign-ins/s\n",
	    p, n, t2 - t1, n / (t2 - t1)
	printf "completed (audit rows web.login): %d of %d\n", ok, 2 * n
	printf "CPU per sign-in (sequential): mailgated %.2f ms, provider " \
	    "%.2f ms, PostgreSQL %.2f ms\n", m * 1000 / hz / n,
	    i * 1000 / hz / n, pg * 1000 / hz / n }'

stats()
{
	sort -n | awk '{ v[NR] = $1; s += $1 }
	    END { if (NR == 0) { print "no samples"; exit }
		  printf "n=%d mean=%.2f median=%.2f p90=%.2f max=%.2f ms\n",
		      NR, s / NR, v[int((NR + 1) / 2)], v[int(NR * 0.9 + 0.5)],
		      v[NR] }'
}
say "mailgated's time, all $((2 * N)) sign-ins (from its debug log)"
echo -n "/callback, mailgated's own part (own_ms): "
sed -n 's/.*web: callback .* own_ms=\([0-9.]*\).*/\1/p' "$W/a.log" |
    tail -n "$((2 * N))" | stats
echo -n "/callback, in oidc_login_finish (idp_ms): "
sed -n 's/.*web: callback .* idp_ms=\([0-9.]*\) .*/\1/p' "$W/a.log" |
    tail -n "$((2 * N))" | stats
echo -n "/callback, whole request: "
sed -n 's/.*path=\/callback status=303 ms=\([0-9.]*\).*/\1/p' "$W/a.log" |
    tail -n "$((2 * N))" | stats
echo -n "/login, whole request: "
sed -n 's/.*path=\/login status=302 ms=\([0-9.]*\).*/\1/p' "$W/a.log" |
    tail -n "$((2 * N))" | stats
web_stop a

# verify ALG [JWKS]: one real ID token of ALG verified $V times.
export PROBE_ISSUER=$ISSUER PROBE_CLIENT_ID=mailgate
export PROBE_CLIENT_SECRET=$IDP_SECRET PROBE_REDIRECT=$WEB_A/callback
verify()
{
	local alg=$1 jwks=${2:-} url cb
	curl -fsS -X POST -o /dev/null \
	    "http://127.0.0.1:$MG_WEB_IDP_PORT/_test/alg?alg=$alg&jwks=$jwks"
	url=$("$PROBE" begin "$W/probe.state" | sed -n 's/^url=//p')
	cb=$(python3 "$MG_SRC/tests/testbed/oidc_login.py" --login bench \
	    --password pw --stop-prefix "$PROBE_REDIRECT" \
	    --jar "$W/probe.$alg.jar" "$url" | sed -n 's/^url=//p')
	echo "$alg${jwks:+ (JWKS $jwks)}:" \
	    "$("$PROBE" bench "$W/probe.state" "$cb" "$V" | tr '\n' ' ')"
}
say "ID token verification, $V times each, JWKS cached (oidc_probe)"
verify RS256
verify ES256
verify HS256 empty
