#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test_authsock_lockout_poll.sh - lockouts end: a refusal during a
# lockout is not counted as another failure, so a mail client that keeps
# polling with the right token gets in once lockout_time has passed (it
# used to re-arm the lockout with every try). Requests without an
# address (doveadm, checkpassword without TCPREMOTEIP) do not share one
# address counter: failures for one mailbox do not lock out another.
set -euo pipefail

: "${MG_SRC:?run via tests/run or ctest}"
. "$MG_SRC/tests/testbed/lib.sh"
. "$MG_SRC/tests/proto/authsock_lib.sh"
trap tb_stop_all EXIT

D=$MG_TB/authsock-lockpoll
rm -rf "$D" && tb_mkroot "$D"
URL=$(tb_newdb authsock_lockpoll)
CONF=$(as_conf "$D" "$URL" "$D/auth.sock" "$MG_AUTHSOCK_PORT")
sed -i -e 's/^lockout_failures = .*/lockout_failures = 3/' \
    -e 's/^\[auth\]$/[auth]\nlockout_time = 2s/' "$CONF"
"$MG_MAILGATE" -c "$CONF" db migrate >/dev/null
"$MG_MAILGATE" -c "$CONF" mailbox add alice@example.org >/dev/null 2>&1
TOK=$(as_token "$CONF" alice@example.org smtp)
as_start "$CONF" "$D"

# auth RIP USER PASS: OK or FAIL over the unix socket; RIP "-" sends none.
auth()
{
	python3 - "$D/auth.sock" "$@" <<'EOPY'
import base64, socket, sys
path, rip, user, pw = sys.argv[1:5]
s = socket.socket(socket.AF_UNIX)
s.connect(path)
s.settimeout(12)
resp = base64.b64encode(b"\0" + user.encode() + b"\0" + pw.encode())
params = b"" if rip == "-" else b"\trip=" + rip.encode()
s.sendall(b"VERSION\t1\t2\nCPID\t1\nAUTH\t1\tPLAIN\tservice=smtp" +
          params + b"\tresp=" + resp + b"\n")
buf = b""
while b"OK\t1" not in buf and b"FAIL\t1" not in buf:
    buf += s.recv(4096)
print("OK" if b"OK\t1" in buf else "FAIL")
EOPY
}

# No address: failures for carol lock carol, not every address-less client.
for _ in 1 2 3; do
	[ "$(auth - carol@example.org wrong)" = FAIL ]
done
[ "$(auth - alice@example.org "$TOK")" = OK ]
[ "$(auth - carol@example.org wrong)" = FAIL ]
grep -q 'mailbox=carol@example.org rip=- .*result=locked' "$D/mailgated.log"
if grep -q 'mailbox=alice@example.org rip=- .*result=locked' \
    "$D/mailgated.log"; then
	echo "FAIL: carol's failures locked alice out" >&2
	exit 1
fi

# Lock alice's mailbox, then poll with her token from another address.
for i in 11 12 13; do
	[ "$(auth 192.0.2.$i alice@example.org wrong)" = FAIL ]
done
tries=0
while [ "$(auth 192.0.2.20 alice@example.org "$TOK")" = FAIL ]; do
	tries=$((tries + 1))
	# Liveness bound only: the lockout is 2 s, polled every 0.3 s.
	if [ "$tries" -ge 100 ]; then
		echo "FAIL: still locked out after $tries polls" >&2
		exit 1
	fi
	sleep 0.3
done
[ "$tries" -ge 1 ]
grep -q 'mailbox=alice@example.org rip=192.0.2.20 .*result=locked' \
    "$D/mailgated.log"
grep -q 'mailbox=alice@example.org rip=192.0.2.20 .*result=ok' \
    "$D/mailgated.log"
echo "test_authsock_lockout_poll: ok"
