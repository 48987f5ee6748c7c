#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test_authsock_idle.sh - connections that never send VERSION and CPID
# cannot lock Postfix out: at max_connections the oldest connection
# without a handshake makes room for the new one, and such connections
# are closed after the handshake timeout (10 s). A handshaken connection
# that stays idle is never closed by mailgated (Postfix keeps its
# connection for life).
set -euo pipefail

: "${MG_SRC:?run via tests/run or ctest}"
. "$MG_SRC/tests/testbed/lib.sh"
. "$MG_SRC/tests/proto/authsock_lib.sh"
trap tb_stop_all EXIT

D=$MG_TB/authsock-idle
rm -rf "$D" && tb_mkroot "$D"
URL=$(tb_newdb authsock_idle)
CONF=$(as_conf "$D" "$URL" "$D/auth.sock" "$MG_AUTHSOCK_PORT" \
    "max_connections = 5")
"$MG_MAILGATE" -c "$CONF" db migrate >/dev/null
"$MG_MAILGATE" -c "$CONF" mailbox add alice@example.org >/dev/null 2>&1
TOK=$(as_token "$CONF" alice@example.org smtp)
as_start "$CONF" "$D"

python3 - "$D/auth.sock" "$MG_AUTHSOCK_PORT" "$TOK" <<'EOPY'
import base64, socket, sys, time
path, port, token = sys.argv[1], int(sys.argv[2]), sys.argv[3]
resp = base64.b64encode(b"\0alice@example.org\0" + token.encode())

def unix():
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    s.settimeout(12)
    return s

def until(s, want):
    buf = b""
    while want not in buf:
        d = s.recv(4096)
        if not d:
            sys.exit("closed while waiting for %r (have %r)" % (want, buf))
        buf += d
    return buf

def login(s, rid):
    s.sendall(b"AUTH\t%d\tPLAIN\tservice=smtp\tresp=%s\n" % (rid, resp))
    got = until(s, b"\t%d\t" % rid)
    assert b"OK\t%d\tuser=alice@example.org\n" % rid in got, got

def is_open(s):
    s.setblocking(False)
    try:
        return s.recv(1) != b""
    except BlockingIOError:
        return True
    except ConnectionResetError:
        return False
    finally:
        s.settimeout(12)

# One Postfix-like connection: handshake, a login, then idle.
postfix = unix()
until(postfix, b"DONE\n")
postfix.sendall(b"VERSION\t1\t0\nCPID\t42\n")
login(postfix, 1)
# Four connections that never handshake fill max_connections = 5.
idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(4)]
for s in idle:
    s.settimeout(12)
    until(s, b"DONE\n")
# A fifth client still gets in: an unfinished connection makes room.
c = unix()
until(c, b"DONE\n")
c.sendall(b"VERSION\t1\t2\nCPID\t43\n")
login(c, 1)
c.close()
closed = [s for s in idle if not is_open(s)]
assert len(closed) == 1, "%d unfinished connections closed" % len(closed)
# The rest are closed by the handshake timeout (10 s; the bound here is
# only a liveness check), the idle Postfix connection is not.
deadline = time.monotonic() + 60
while any(is_open(s) for s in idle):
    if time.monotonic() > deadline:
        sys.exit("connections without a handshake were never closed")
    time.sleep(0.5)
assert is_open(postfix), "a handshaken idle connection was closed"
login(postfix, 2)
print("authsock idle: unfinished handshakes closed, Postfix still served")
EOPY
grep -q 'closing cuid=[0-9]*, which has not finished its handshake' \
    "$D/mailgated.log"
echo "test_authsock_idle: ok"
