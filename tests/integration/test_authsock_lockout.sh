#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test_authsock_lockout.sh - brute-force limits: after lockout_failures
# failures from one address, that address is locked out even with a
# valid token (result=locked); another address still gets in; failures
# spread over addresses lock the mailbox. SIGHUP reloads the limits.
set -euo pipefail

: "${MG_SRC:?run via tests/run or ctest}"
. "$MG_SRC/tests/testbed/lib.sh"
. "$MG_SRC/tests/proto/authsock_lib.sh"
trap tb_stop_all EXIT

D=$MG_TB/authsock-lock
rm -rf "$D" && tb_mkroot "$D"
URL=$(tb_newdb authsock_lock)
CONF=$(as_conf "$D" "$URL" "$D/auth.sock" "$MG_AUTHSOCK_PORT")
sed -i 's/^lockout_failures = .*/lockout_failures = 3/' "$CONF"
"$MG_MAILGATE" -c "$CONF" db migrate >/dev/null
"$MG_MAILGATE" -c "$CONF" mailbox add alice@example.org >/dev/null 2>&1
TOK=$(as_token "$CONF" alice@example.org smtp)
as_start "$CONF" "$D"

# auth RIP USER PASS: OK or FAIL over the unix socket.
auth()
{
	AS_RIP=$1 as_auth "$D/auth.sock" smtp "$2" "$3"
}

for _ in 1 2 3; do
	[ "$(auth 192.0.2.1 bob@example.org wrong)" = FAIL ]
done
[ "$(auth 192.0.2.1 alice@example.org "$TOK")" = FAIL ]
grep -q 'rip=192.0.2.1 token_id=- result=locked' "$D/mailgated.log"
[ "$(auth 192.0.2.2 alice@example.org "$TOK")" = OK ]

for i in 11 12 13; do
	[ "$(auth 192.0.2.$i alice@example.org wrong)" = FAIL ]
done
[ "$(auth 192.0.2.20 alice@example.org "$TOK")" = FAIL ]
grep -q 'mailbox=alice@example.org rip=192.0.2.20 .*result=locked' \
    "$D/mailgated.log"

# SIGHUP: no lockouts from now on; the counters already locked stay.
sed -i 's/^lockout_failures = .*/lockout_failures = 0/' "$CONF"
kill -HUP "$(cat "$D/pid")"
for _ in $(seq 1 50); do
	grep -q 'reloaded configuration' "$D/mailgated.log" && break
	sleep 0.1
done
for _ in 1 2 3 4; do
	[ "$(auth 192.0.2.30 carol@example.org wrong)" = FAIL ]
done
[ "$(auth 192.0.2.30 bob@example.org wrong)" = FAIL ]
if grep -q 'mailbox=carol@example.org rip=192.0.2.30 .*result=locked' \
    "$D/mailgated.log"; then
	echo "FAIL: locked out after lockouts were turned off" >&2
	exit 1
fi
# bob's mailbox was locked before the reload and stays locked.
grep -q 'mailbox=bob@example.org rip=192.0.2.30 .*result=locked' \
    "$D/mailgated.log"
echo "test_authsock_lockout: ok"
