#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test_authsock_proto.sh - every tests/proto/*.auth conversation against a
# live mailgated on a fresh database of the shared cluster, over the unix
# socket, then the TCP listener; plus 1000 idle connections that must
# neither be closed nor keep another client from being served.
set -euo pipefail

: "${MG_SRC:?run via tests/run or ctest}"
. "$MG_SRC/tests/testbed/lib.sh"
. "$MG_SRC/tests/proto/authsock_lib.sh"
trap tb_stop_all EXIT

D=$MG_TB/authsock-proto
rm -rf "$D" && tb_mkroot "$D"
URL=$(tb_newdb authsock_proto)
CONF=$(as_conf "$D" "$URL" "$D/auth.sock" "$MG_AUTHSOCK_PORT" \
    "cache_ttl = 30s")
"$MG_MAILGATE" -c "$CONF" db migrate >/dev/null
"$MG_MAILGATE" -c "$CONF" mailbox add alice@example.org >/dev/null 2>&1
USER=alice@example.org
TOKEN=$(as_token "$CONF" "$USER" smtp)
TOKEN_IMAP=$(as_token "$CONF" "$USER" imap)
F=012345678901234567890123456789
TOKEN_UNKNOWN=$(python3 "$AS_SCRIPT" --forge zzzzzzzzzzzz $F)
TOKEN_TAMPERED=$(python3 "$AS_SCRIPT" --forge "$(as_id "$TOKEN")" $F)
export USER TOKEN TOKEN_IMAP TOKEN_UNKNOWN TOKEN_TAMPERED

as_start "$CONF" "$D"
python3 "$AS_SCRIPT" "$D/auth.sock" "$MG_SRC"/tests/proto/*.auth
python3 "$AS_SCRIPT" "127.0.0.1:$MG_AUTHSOCK_PORT" \
    "$MG_SRC"/tests/proto/happy_*.auth

# Each decision is one log line; the token itself never appears.
grep -q "result=ok reason=ok" "$D/mailgated.log"
grep -q "result=fail reason=mismatch" "$D/mailgated.log"
# bad_unread_replies.auth reached the limit on unsent replies.
grep -q "does not read its replies; disconnecting" "$D/mailgated.log"
if grep -qF -e "$TOKEN" -e "${TOKEN:17}" "$D/mailgated.log"; then
	echo "FAIL: a token reached the log" >&2
	exit 1
fi

# 1000 idle connections: all stay open, and a login still works.
python3 - "$D/auth.sock" "$TOKEN" "$D/pid" <<'EOPY'
import base64, resource, socket, sys, time
path, token, pidfile = sys.argv[1:4]
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
idle = []
for _ in range(1000):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    idle.append(s)
for s in idle:
    s.settimeout(10)
    got = b""
    while b"DONE\n" not in got:
        got += s.recv(4096)
pid = open(pidfile).read().strip()
rss = [l for l in open("/proc/%s/status" % pid) if l.startswith("VmRSS")]
print("authsock: 1000 idle connections,", rss[0].strip())
c = socket.socket(socket.AF_UNIX)
c.connect(path)
c.settimeout(10)
resp = base64.b64encode(b"\0alice@example.org\0" + token.encode())
c.sendall(b"VERSION\t1\t2\nCPID\t1\nAUTH\t1\tPLAIN\tservice=smtp\tresp=" +
          resp + b"\n")
got = b""
while b"OK\t1\t" not in got and b"FAIL\t1" not in got:
    got += c.recv(4096)
assert b"OK\t1\tuser=alice@example.org\n" in got, got
time.sleep(0.5)
for s in idle:
    s.setblocking(False)
    try:
        if s.recv(1) == b"":
            sys.exit("an idle connection was closed")
    except BlockingIOError:
        pass
print("authsock: login ok with 1000 idle connections open")
EOPY

# A second mailgated must refuse the socket that is in use...
if "$MG_MAILGATED" -c "$CONF" >"$D/second.log" 2>&1; then
	echo "FAIL: a second instance started on a busy socket" >&2
	exit 1
fi
grep -q "another process listens" "$D/second.log"
# ...and SIGTERM stops cleanly (exit 0), removing the socket.
pid=$(cat "$D/pid")
kill -TERM "$pid"
wait "$pid"
[ ! -e "$D/auth.sock" ]
# A stale socket file left behind is replaced.
python3 -c "import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])" \
    "$D/auth.sock"
as_start "$CONF" "$D"
[ "$(as_auth "$D/auth.sock" smtp "$USER" "$TOKEN")" = OK ]
echo "test_authsock_proto: ok"
