#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# tests/bench/run.sh - mailgated's Dovecot-auth socket against Dovecot's
# own auth service, same client, same run, same machine. Not a test:
# nothing here passes or fails on timing. As root, Debian 12, after a
# build (MG_BUILD, default build/).
#
#	tests/bench/run.sh            full run (about 7 minutes)
#	MG_BENCH_SECS=2 MG_BENCH_REPS=1 tests/bench/run.sh     quick look
#
# Starts on loopback, under $MG_BENCH_ROOT (/tmp/mg-bench), and stops at
# the end: a private PostgreSQL, mailgated with MG_BENCH_TOKENS valid
# tokens (one per mailbox), with its token cache on ([auth] cache_ttl =
# 5m, the default) and off (0), Dovecot's auth-only instance (passwd-file
# with the same user/password pairs, first {PLAIN}, then {SHA512-CRYPT}),
# and two Dovecot IMAP instances (checkpassword -> mailgate-checkpassword
# -> mailgated, and passwd-file {PLAIN}). Measures:
#  1. auths/s, p50/p99 and server CPU per auth at 1, 8 and 64
#     connections (tests/bench/authbench.c: epoll, one AUTH in flight per
#     connection), median of MG_BENCH_REPS runs by rate; and wrong
#     passwords at 8 connections (failure counting and its sharing
#     through PostgreSQL; Dovecot's wrong-password row is shown, but it
#     answers FAILs on a 500 ms timer, so ratios use its {PLAIN} OK path);
#  2. the cost of one IMAP login through each Dovecot (sequential
#     logins with Python's imaplib, median and p90 ms);
#  3. mailgated's RSS with 1,000 idle handshaken connections;
#  4. health: warnings in mailgated's log, deadlocks in PostgreSQL's.
#
# Ports (override by environment): MG_BENCH_PG_PORT 25462,
# MG_BENCH_MG_TCP 9163, MG_BENCH_DV_AUTH_PORT 12365,
# MG_BENCH_IMAP_PORT 10163, MG_BENCH_IMAP2_PORT 10164.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
SRC=$(pwd)
BUILD=${MG_BUILD:-$SRC/build}
ROOT=${MG_BENCH_ROOT:-/tmp/mg-bench}
SECS=${MG_BENCH_SECS:-5}
REPS=${MG_BENCH_REPS:-3}
NTOK=${MG_BENCH_TOKENS:-500}
LOGINS=${MG_BENCH_LOGINS:-200}
PG_PORT=${MG_BENCH_PG_PORT:-25462}
MG_TCP=${MG_BENCH_MG_TCP:-9163}
IMAP_PORT=${MG_BENCH_IMAP_PORT:-10163}
IMAP2_PORT=${MG_BENCH_IMAP2_PORT:-10164}
export MG_DOVECOT_AUTH_PORT=${MG_BENCH_DV_AUTH_PORT:-12365}
export MG_TB=$ROOT MG_SRC=$SRC
unset MG_POP3_PORT

# shellcheck source=../testbed/lib.sh
. "$SRC/tests/testbed/lib.sh"

for p in mailgate mailgated mailgate-checkpassword; do
	[ -x "$BUILD/$p" ] || { echo "run.sh: no $BUILD/$p" >&2; exit 1; }
done

MGD_PID=
stop_mailgated()
{
	if [ -n "$MGD_PID" ]; then
		kill "$MGD_PID" 2>/dev/null || true
		wait "$MGD_PID" 2>/dev/null || true
		MGD_PID=
	fi
}
cleanup()
{
	stop_mailgated
	tb_stop_all || true
}
trap cleanup EXIT

rm -rf "$ROOT"
tb_mkroot "$ROOT"
ulimit -n 8192
BENCH=$("$SRC/tests/bench/build.sh" "$ROOT/bin")

say()
{
	printf '\n== %s\n' "$*" >&2
}

# --- machine ---------------------------------------------------------------
say "machine"
{
	echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- |
	    sed 's/^ *//'), $(nproc) cores online"
	echo "mem: $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' \
	    /proc/meminfo); kernel $(uname -r)"
	echo "dovecot $(dovecot --version | cut -d' ' -f1)," \
	    "postgresql $("$(tb_pg_bin)/postgres" --version | awk '{print $3}')"
	echo "mailgate $(git -C "$SRC" rev-parse --short HEAD)" \
	    "$(git -C "$SRC" diff --quiet HEAD -- src include ||
	    echo '(with local changes)')," \
	    "build type $(grep -s CMAKE_BUILD_TYPE:STRING \
	    "$BUILD/CMakeCache.txt" | cut -d= -f2)"
	echo "load before start: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$ROOT/machine.txt"

# --- PostgreSQL, mailboxes, tokens ------------------------------------------
say "PostgreSQL on 127.0.0.1:$PG_PORT, $NTOK mailboxes and tokens"
export MG_PG_DIR=$ROOT/pg MG_PG_PORT=$PG_PORT
tb_pg_start "$MG_PG_DIR" "$PG_PORT"
DB_URL=$(tb_newdb mg_bench)
tb_keyfile "$ROOT/token.key"
mkdir -p "$ROOT/mg"
chmod 755 "$ROOT/mg"
SOCK=$ROOT/mg/auth

# write_conf CACHE_TTL [LOCKOUT_FAILURES]: mailgated's configuration for
# one run (lockouts at 10 failures unless told otherwise).
write_conf()
{
	(umask 077 && cat >"$ROOT/mailgate.conf" <<EOF
[database]
url = $DB_URL

[tokens]
key_file = $ROOT/token.key

[auth]
socket = $SOCK
socket_mode = 0666
tcp_listen = 127.0.0.1:$MG_TCP
cache_ttl = $1
failure_delay = 0
lockout_failures = ${2:-10}
max_connections = 4096

[http]
listen =

[log]
level = warn
EOF
	)
}
write_conf 0
MG=("$BUILD/mailgate" -c "$ROOT/mailgate.conf")
"${MG[@]}" db migrate >/dev/null
tb_pg_psql "$MG_PG_DIR" "$PG_PORT" -d mg_bench -c \
    "INSERT INTO mailboxes (address, created_by)
     SELECT 'u' || i || '@example.org', 'bench'
     FROM generate_series(1, $NTOK) AS i" >/dev/null
: >"$ROOT/creds"
for ((i = 1; i <= NTOK; i++)); do
	tok=$("${MG[@]}" token issue "u$i@example.org" --scopes imap,smtp \
	    2>/dev/null)
	printf 'u%d@example.org\t%s\n' "$i" "$tok" >>"$ROOT/creds"
done
chmod 600 "$ROOT/creds"

# The same pairs for Dovecot: {PLAIN} and {SHA512-CRYPT} passwd-files.
awk -F'\t' '{printf "%s:{PLAIN}%s::::::\n", $1, $2}' "$ROOT/creds" \
    >"$ROOT/users.plain"
while IFS=$'\t' read -r u t; do
	printf '%s:%s::::::\n' "$u" "$(doveadm pw -s SHA512-CRYPT -p "$t")"
done <"$ROOT/creds" >"$ROOT/users.sha512"
chmod 644 "$ROOT"/users.*

start_mailgated()
{
	write_conf "$@"
	rm -f "$SOCK"
	"$BUILD/mailgated" -c "$ROOT/mailgate.conf" </dev/null \
	    >>"$ROOT/mailgated.log" 2>&1 &
	MGD_PID=$!
	tb_wait_file "$SOCK" 20
	tb_wait_listen "$MG_TCP" 20 "$MGD_PID"
}

# pg_ticks: CPU ticks of every process of the private cluster.
pg_ticks()
{
	local pm pid sum=0 f
	pm=$(tb_read_pid "$MG_PG_DIR/data/postmaster.pid")
	for pid in $pm $(pgrep -P "$pm" || true); do
		f=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
		f=${f##*) }
		set -- $f
		sum=$((sum + ${12} + ${13}))
	done
	echo "$sum"
}

# measure LABEL TARGET-ARGS PID CONNS [CREDS]: median-by-rate of REPS
# runs (CREDS: $ROOT/creds).
RESULTS=$ROOT/results.txt
: >"$RESULTS"
measure()
{
	local label=$1 target=$2 pid=$3 conns=$4 creds=${5:-$ROOT/creds}
	local r line pg0 pg1 pgus auths
	local -a lines=()
	for ((r = 0; r < REPS; r++)); do
		pg0=$(pg_ticks)
		# shellcheck disable=SC2086
		# Exit 3: some FAILs, which the table shows; not fatal.
		line=$("$BENCH" $target -c "$conns" -d "$SECS" -w 1 \
		    -f "$creds" --pid "$pid") || [ $? = 3 ]
		pg1=$(pg_ticks)
		auths=$(sed -E 's/.* auths=([0-9]+).*/\1/' <<<"$line")
		pgus=$(awk -v t=$((pg1 - pg0)) -v n="$auths" \
		    -v hz="$(getconf CLK_TCK)" \
		    'BEGIN {printf "%.2f", t * 1e6 / hz / n}')
		lines+=("$line pg_cpu_us_per_auth=$pgus")
	done
	line=$(printf '%s\n' "${lines[@]}" | awk '{
	    for (i = 1; i <= NF; i++) if ($i ~ /^rate=/) {
	        split($i, a, "="); print a[2], $0 } }' | sort -n |
	    sed -n "$(((REPS + 1) / 2))p" | cut -d' ' -f2-)
	printf '%s %s\n' "$label" "$line" | tee -a "$RESULTS" >&2
}

CONNS=(1 8 64)

# --- 1. auth throughput ------------------------------------------------------
for ttl in 5m 0; do
	say "mailgated, cache_ttl=$ttl"
	start_mailgated "$ttl"
	if [ "$ttl" = 5m ]; then
		# On a fresh daemon, so no freed heap from earlier load hides
		# what the connections cost.
		say "mailgated RSS with 1,000 idle connections"
		"$BENCH" --unix "$SOCK" --idle 1000 -d 3 --pid "$MGD_PID" |
		    tee -a "$ROOT/idle.txt" >&2
	fi
	for c in "${CONNS[@]}"; do
		measure "mailgated-ttl$ttl-unix" "--unix $SOCK" "$MGD_PID" "$c"
	done
	measure "mailgated-ttl$ttl-tcp" "--tcp 127.0.0.1:$MG_TCP" \
	    "$MGD_PID" 8
	stop_mailgated
done

# Wrong passwords (each token with its last character changed, so its
# checksum fails): what a guesser costs, failure counting and its
# sharing through PostgreSQL included (one batch a second: the address
# and every mailbox guessed at). Lockouts off, as for Dovecot.
awk -F'\t' '{ t = $2; c = substr(t, length(t)); c = (c == "A") ? "B" : "A";
    printf "%s\t%s%s\n", $1, substr(t, 1, length(t) - 1), c }' \
    "$ROOT/creds" >"$ROOT/creds.wrong"
chmod 600 "$ROOT/creds.wrong"
say "mailgated, wrong passwords"
start_mailgated 5m 0
measure "mailgated-wrong-unix" "--unix $SOCK" "$MGD_PID" 8 \
    "$ROOT/creds.wrong"
stop_mailgated
echo "shared failure counters after it: $(tb_pg_psql "$MG_PG_DIR" "$PG_PORT" \
    -d mg_bench -tA -c "SELECT count(*) || ' keys, ' || sum(failures) ||
    ' failures' FROM auth_failures")" | tee "$ROOT/shared.txt" >&2

# auth_pid DIR: the "auth" child of a Dovecot master.
auth_pid()
{
	local master
	master=$(tb_read_pid "$1/pid")
	for _ in $(seq 50); do
		p=$(ps -o pid=,comm= --ppid "$master" | awk '$2 == "auth" {print $1}')
		[ -n "$p" ] && { echo "$p"; return 0; }
		sleep 0.1
	done
	return 1
}

for scheme in plain sha512; do
	say "Dovecot auth, passwd-file {$scheme}"
	tb_dovecot_auth_start "$ROOT/dv-$scheme" "$ROOT/users.$scheme"
	# The auth process starts on the first connection: make one.
	"$BENCH" --unix "$ROOT/dv-$scheme/run/auth-client" -c 1 -d 0.2 -w 0 \
	    -f "$ROOT/creds" >/dev/null
	APID=$(auth_pid "$ROOT/dv-$scheme")
	for c in "${CONNS[@]}"; do
		measure "dovecot-$scheme-unix" \
		    "--unix $ROOT/dv-$scheme/run/auth-client" "$APID" "$c"
	done
	if [ "$scheme" = plain ]; then
		measure "dovecot-plain-tcp" \
		    "--tcp 127.0.0.1:$MG_DOVECOT_AUTH_PORT" "$APID" 8
		measure "dovecot-plain-wrong-unix" \
		    "--unix $ROOT/dv-$scheme/run/auth-client" "$APID" 8 \
		    "$ROOT/creds.wrong"
	fi
	tb_dovecot_stop "$ROOT/dv-$scheme"
done

# --- 2. one IMAP login -------------------------------------------------------
say "IMAP logins: checkpassword -> mailgated vs passwd-file {PLAIN}"
start_mailgated 5m
PROG=$(tb_install_prog "$BUILD/mailgate-checkpassword" "$ROOT/bin")
tb_dovecot_imap_start "$ROOT/imap-cpw" "$IMAP_PORT" "$PROG --socket $SOCK"
# The passwd-file twin: the same instance with another passdb.
cat >"$ROOT/imap-pf.auth.conf" <<EOF
passdb {
  driver = passwd-file
  args = $ROOT/users.plain
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$ROOT/imap-pf/home/%u
}
EOF
tb_dovecot_imap_start "$ROOT/imap-pf" "$IMAP2_PORT" "" \
    "$ROOT/imap-pf.auth.conf"

cat >"$ROOT/logins.py" <<'EOF'
import imaplib, sys, time
port, n, creds = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
pairs = [l.rstrip("\n").split("\t") for l in open(creds)]
ms = []
for i in range(n):
    u, p = pairs[i % len(pairs)]
    t = time.perf_counter()
    c = imaplib.IMAP4("127.0.0.1", port)
    c.login(u, p)
    c.logout()
    ms.append((time.perf_counter() - t) * 1000)
ms.sort()
print("logins=%d median_ms=%.2f p90_ms=%.2f min_ms=%.2f" %
      (n, ms[n // 2], ms[n * 9 // 10], ms[0]))
EOF
for spec in "imap-checkpassword-mailgated $IMAP_PORT" \
    "imap-passwdfile-plain $IMAP2_PORT"; do
	set -- $spec
	python3 "$ROOT/logins.py" "$2" 20 "$ROOT/creds" >/dev/null # warm-up
	printf '%s %s\n' "$1" "$(python3 "$ROOT/logins.py" "$2" "$LOGINS" \
	    "$ROOT/creds")" | tee -a "$ROOT/logins.txt" >&2
done

# --- table ---------------------------------------------------------------------
say "results (also in $ROOT)"
awk -v secs="$SECS" -v reps="$REPS" '
function f(k,   i, a) { for (i = 2; i <= NF; i++) { split($i, a, "=");
    if (a[1] == k) return a[2] } return "" }
{ key = $1 "@" f("conns"); rate[key] = f("rate"); p50[key] = f("p50_ms");
  p99[key] = f("p99_ms"); cpu[key] = f("cpu_us_per_auth");
  # PostgreSQL serves only mailgated; for Dovecot rows it is noise.
  pg[key] = $1 ~ /^mailgated/ ? f("pg_cpu_us_per_auth") : "-";
  fails[key] = f("fail");
  if (!($1 in seen)) { seen[$1] = 1; order[n++] = $1 } }
END {
  printf "%d s runs, median of %d; rate in auths/s, latency in ms, CPU in us per auth\n\n", secs, reps
  print "| server | conns | auths/s | p50 | p99 | server CPU | PostgreSQL CPU | FAILs | vs Dovecot {PLAIN} |"
  print "|---|---|---|---|---|---|---|---|---|"
  for (i = 0; i < n; i++) for (c = 1; c <= 64; c *= 8) {
    k = order[i] "@" c; if (!(k in rate)) continue
    # Wrong passwords too: Dovecot releases its FAILs on a 500 ms timer,
    # so its own wrong-password rate measures that timer, not its work.
    base = (order[i] ~ /tcp$/) ? "dovecot-plain-tcp@" c : "dovecot-plain-unix@" c
    ratio = (base in rate && rate[base] > 0) ? sprintf("%.2f", rate[k] / rate[base]) : "-"
    printf "| %s | %d | %d | %s | %s | %s | %s | %s | %s |\n", order[i], c,
      rate[k], p50[k], p99[k], cpu[k], pg[k], fails[k], ratio } }' \
    "$RESULTS" | tee "$ROOT/table.md"
echo
cat "$ROOT/logins.txt" "$ROOT/idle.txt" "$ROOT/shared.txt"
# Every mailgated run appends to one log; PostgreSQL keeps its own.
echo "mailgated warnings/errors: $(grep -cE '\[(warn|err)\]' \
    "$ROOT/mailgated.log" || true)," \
    "PostgreSQL deadlocks: $(grep -c 'deadlock detected' \
    "$MG_PG_DIR/server.log" || true)" | tee "$ROOT/health.txt"
grep -hE '\[(warn|err)\]' "$ROOT/mailgated.log" | cut -d' ' -f2- |
    sort | uniq -c | sort -rn | head -n 5 || true
