#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test_authsock_lockout_shared.sh - two mailgated on one database share
# their failure counters (sql/0004_auth_failures.sql). With
# lockout_failures = 4, two failures on each instance lock the address
# (and, spread over addresses, the mailbox) on both; a restarted
# instance knows the locks in force; a success clears the shared count;
# "mailgate lockout list|clear" shows and lifts locks on every instance.
# Waits are bounded polls (the batches run once a second), not timings.
set -euo pipefail

: "${MG_SRC:?run via tests/run or ctest}"
. "$MG_SRC/tests/testbed/lib.sh"
. "$MG_SRC/tests/proto/authsock_lib.sh"
trap tb_stop_all EXIT

D=$MG_TB/authsock-lockshare
rm -rf "$D" && tb_mkroot "$D"
DB=authsock_lockshare
URL=$(tb_newdb "$DB")
mkdir -p "$D/a" "$D/b"
tb_keyfile "$D/token.key"
cp "$D/token.key" "$D/a/token.key"
cp "$D/token.key" "$D/b/token.key"
CA=$(as_conf "$D/a" "$URL" "$D/a/auth.sock" "$MG_AUTHSOCK_PORT" \
    "lockout_time = 10m")
CB=$(as_conf "$D/b" "$URL" "$D/b/auth.sock" "$MG_AUTHSOCK_PORT2" \
    "lockout_time = 10m")
sed -i 's/^lockout_failures = .*/lockout_failures = 4/' "$CA" "$CB"
"$MG_MAILGATE" -c "$CA" db migrate >/dev/null
for m in alice carol dave; do
	"$MG_MAILGATE" -c "$CA" mailbox add "$m@example.org" >/dev/null 2>&1
done
ALICE=$(as_token "$CA" alice@example.org smtp)
CAROL=$(as_token "$CA" carol@example.org smtp)
DAVE=$(as_token "$CA" dave@example.org smtp)
as_start "$CA" "$D/a"
as_start "$CB" "$D/b"

psql_db()
{
	tb_pg_psql "$MG_PG_DIR" "$MG_PG_PORT" -d "$DB" -tA "$@"
}

# auth INSTANCE RIP USER PASS: OK or FAIL over that instance's socket.
auth()
{
	AS_RIP=$2 as_auth "$D/$1/auth.sock" smtp "$3" "$4"
}

# until_true SQL: poll (every 100 ms, at most 5 s) until SQL prints t.
until_true()
{
	local i

	for i in $(seq 1 50); do
		[ "$(psql_db -c "$1")" = t ] && return 0
		sleep 0.1
	done
	echo "FAIL: never true: $1" >&2
	return 1
}

# locked_on INSTANCE RIP USER PASS: the valid PASS is refused as locked
# within 3 s (each instance learns others' locks once a second).
locked_on()
{
	local i

	for i in $(seq 1 30); do
		if [ "$(auth "$@")" = FAIL ] &&
		    grep -q "mailbox=$3 rip=$2 .*result=locked" \
		    "$D/$1/mailgated.log"; then
			return 0
		fi
		sleep 0.1
	done
	echo "FAIL: $3 from $2 not locked on instance $1" >&2
	return 1
}

# 1. Two failures from one address on each instance: neither alone
#    reaches 4, together they lock the address everywhere.
for i in a a b b; do
	[ "$(auth $i 192.0.2.1 bob@example.org wrong)" = FAIL ]
done
until_true "SELECT coalesce(bool_and(locked_until > now()), false)
    FROM auth_failures WHERE kind = 'address' AND key = '192.0.2.1'"
[ "$(psql_db -c "SELECT failures FROM auth_failures
    WHERE kind = 'address' AND key = '192.0.2.1'")" = 4 ]
locked_on a 192.0.2.1 alice@example.org "$ALICE"
locked_on b 192.0.2.1 alice@example.org "$ALICE"
# Another address is not locked.
[ "$(auth a 192.0.2.2 alice@example.org "$ALICE")" = OK ]
[ "$(auth b 192.0.2.2 alice@example.org "$ALICE")" = OK ]

# 2. A mailbox: four failures from four addresses over two instances,
#    under another case; carol is locked on both, from a fresh address.
for i in 11 12; do
	[ "$(auth a 192.0.2.$i CAROL@example.org wrong)" = FAIL ]
done
for i in 13 14; do
	[ "$(auth b 192.0.2.$i carol@example.org wrong)" = FAIL ]
done
until_true "SELECT coalesce(bool_and(locked_until > now()), false)
    FROM auth_failures WHERE kind = 'mailbox' AND key = 'carol@example.org'"
locked_on a 192.0.2.20 carol@example.org "$CAROL"
locked_on b 192.0.2.21 carol@example.org "$CAROL"

# 3. A restarted instance knows the locks in force from its first batch.
kill -TERM "$(cat "$D/a/pid")"
tb_wait_gone "$(cat "$D/a/pid")" 10
: >"$D/a/mailgated.log"
as_start "$CA" "$D/a"
locked_on a 192.0.2.1 alice@example.org "$ALICE"
locked_on a 192.0.2.22 carol@example.org "$CAROL"

# 4. A success clears the shared count (a lock is never cleared).
for _ in 1 2 3; do
	[ "$(auth a 192.0.2.50 dave@example.org wrong)" = FAIL ]
done
until_true "SELECT count(*) = 1 FROM auth_failures
    WHERE kind = 'mailbox' AND key = 'dave@example.org' AND failures = 3
    AND locked_until IS NULL"
[ "$(auth a 192.0.2.50 dave@example.org "$DAVE")" = OK ]
until_true "SELECT count(*) = 0 FROM auth_failures
    WHERE key IN ('dave@example.org', '192.0.2.50')"
[ "$(psql_db -c "SELECT count(*) FROM auth_failures
    WHERE key IN ('192.0.2.1', 'carol@example.org')
    AND locked_until > now()")" = 2 ]

# 5. The admin's view: "mailgate lockout list" shows the locks, and
#    "lockout clear" lifts carol's on both instances. (Step 1's four
#    failures as bob locked bob's mailbox too.)
mg()
{
	"$MG_MAILGATE" -c "$CA" "$@"
}
mg lockout list --json | python3 -c '
import json, sys
rows = {(r["kind"], r["key"]): r for r in json.load(sys.stdin)}
assert set(rows) == {("address", "192.0.2.1"), ("mailbox", "bob@example.org"),
                     ("mailbox", "carol@example.org")}, rows
assert all(r["locked_until"] and r["failures"] >= 4 for r in rows.values())'
mg lockout list | grep -Eq '^mailbox +carol@example.org +4 '
# --all adds counters that are not locked, after the locks.
[ "$(mg lockout list --all --json | python3 -c '
import json, sys
locked = [bool(r["locked_until"]) for r in json.load(sys.stdin)]
assert locked == sorted(locked, reverse=True), locked
print(locked.count(False))')" -ge 1 ]
mg lockout clear Carol@Example.org | grep -q '^cleared carol@example.org'
[ "$(psql_db -c "SELECT count(*) FROM audit_log WHERE action =
    'lockout.clear' AND mailbox = 'carol@example.org'")" = 1 ]
# unlocked_on INSTANCE RIP: carol's valid token is accepted within 3 s.
unlocked_on()
{
	local i

	for i in $(seq 1 30); do
		[ "$(auth "$1" "$2" carol@example.org "$CAROL")" = OK ] &&
		    return 0
		sleep 0.1
	done
	echo "FAIL: carol still locked on instance $1" >&2
	return 1
}
unlocked_on a 192.0.2.60
unlocked_on b 192.0.2.61
# The address lock was not touched.
[ "$(auth b 192.0.2.1 alice@example.org "$ALICE")" = FAIL ]
rc=0
mg lockout clear 192.0.2.99 2>"$D/err" || rc=$?
[ "$rc" = 67 ] && grep -q 'no failed logins counted for 192.0.2.99' "$D/err"
rc=0
mg lockout clear not-an-address 2>"$D/err" || rc=$?
[ "$rc" = 65 ]

for i in a b; do
	if grep -E '\[(err|fatal)\]|failure counter' "$D/$i/mailgated.log"; then
		echo "FAIL: instance $i logged the lines above" >&2
		exit 1
	fi
done
echo "test_authsock_lockout_shared: ok"
