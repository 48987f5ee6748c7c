#!/bin/bash
# SPDX-License-Identifier: MIT
#
# test_web_outage.sh - the web service when what it depends on fails,
# and what reaches it through a proxy.
#
# Checks: with PostgreSQL stopped (a private cluster, really stopped and
# started again) a signed-in user is told the service is in trouble, not
# that they are signed out; sign-out then clears the cookie and says the
# session could not be ended on the server, and that session is still
# there afterwards (and can then be ended). A provider that accepts and
# never answers does not hold the service: /healthz answers while
# /login requests are pending, and /login fails with a 503 page.
# Several X-Forwarded-For headers are read together (a proxy appends its
# own after the client's). A body declared too large is refused before
# it is read; a chunked one by its running count. With trusted_proxies
# set, direct peers still have a per-address connection limit.
#
# Ports: MG_WEB_OUTAGE_PG_PORT (25482) for the private cluster,
# MG_WEB_SLOW_PORT (9427) for the silent provider, and the usual
# MG_WEB_IDP_PORT, MG_WEB_PORT_A, MG_WEB_PORT_B.
set -euo pipefail
# shellcheck source=test_web_lib.bash
. "$(dirname "$0")/test_web_lib.bash"

: "${MG_WEB_OUTAGE_PG_PORT:=25482}"
: "${MG_WEB_SLOW_PORT:=9427}"
# A cluster of our own: this test stops it.
export MG_PG_DIR=$MG_TB/web_outage_pg MG_PG_PORT=$MG_WEB_OUTAGE_PG_PORT
if [ -f "$MG_PG_DIR/data/postmaster.pid" ]; then
	tb_pg_stop "$MG_PG_DIR"
fi
tb_pg_start "$MG_PG_DIR" "$MG_PG_PORT" >/dev/null
web_setup web_outage RS256
web_conf a "$MG_WEB_PORT_A"
mg()
{
	"$MG_BUILD/mailgate" -c "$W/a.conf" "$@"
}
mg db migrate >/dev/null
web_start a "$MG_WEB_PORT_A"

# --- database outage ----------------------------------------------------
J=$W/bob.jar
expect "sign-in" "$(web_signin "$J" bob)" "303 $WEB_A/"
expect "account page" "$(web_get "$J" "$WEB_A/")" "200 "
expect_grep "signed in" "Signed in as <strong>bob@" "$W/body"
C=$(web_csrf)
cp "$J" "$W/bob-kept.jar"

tb_pg_stop "$MG_PG_DIR"
expect "account page, database down" "$(web_get "$J" "$WEB_A/")" "503 "
expect_grep "still signed in" "You are still signed in" "$W/body"
expect_no_grep "not shown as signed out" "Sign in with" "$W/body"
expect "revoke, database down" \
    "$(web_post "$J" "$WEB_A/tokens/revoke" "csrf=$C" "id=abcdefghijkl")" \
    "503 "
expect_grep "revoke: still signed in" "You are still signed in" "$W/body"
expect_no_grep "revoke: no 'session ended'" "session has ended" "$W/body"
expect "sign-out, database down" "$(web_post "$J" "$WEB_A/logout" "csrf=$C")" \
    "503 "
expect_grep "sign-out clears the cookie" \
    "^[Ss]et-[Cc]ookie: __Host-mailgate_session=; .*Max-Age=0" "$W/headers"
expect_grep "sign-out says the server kept it" \
    "could not end the session on the server" "$W/body"
expect_grep "sign-out failure logged" "event=logout result=tempfail" "$W/a.log"

tb_pg_start "$MG_PG_DIR" "$MG_PG_PORT" >/dev/null
st=
for ((i = 0; i < 100; i++)); do
	st=$(web_get "$W/bob-kept.jar" "$WEB_A/")
	[ "$st" != "200 " ] || break
	sleep 0.2
done
expect "database back: the old cookie's session is live" "$st" "200 "
expect_grep "database back: signed in" "Signed in as <strong>bob@" "$W/body"
expect "session row still there" "$(web_sql 'SELECT count(*) FROM web_sessions')" 1
expect "this browser is signed out" "$(web_get "$J" "$WEB_A/")" "200 "
expect_grep "this browser: sign-in page" "Sign in with" "$W/body"
web_get "$W/bob-kept.jar" "$WEB_A/" >/dev/null
C=$(web_csrf)
expect "sign-out once the database is back" \
    "$(web_post "$W/bob-kept.jar" "$WEB_A/logout" "csrf=$C")" "303 $WEB_A/"
expect "session row gone" "$(web_sql 'SELECT count(*) FROM web_sessions')" 0

# --- bodies -------------------------------------------------------------
# Content-Length above the limit and no body sent: the answer must come
# without waiting for the body, and the connection is closed.
out=$(python3 - "$MG_WEB_PORT_A" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
s.sendall(b"POST /logout HTTP/1.1\r\nHost: 127.0.0.1\r\n"
          b"Content-Type: application/x-www-form-urlencoded\r\n"
          b"Content-Length: 100000000\r\n\r\n")
data = b""
try:
    while True:
        b = s.recv(4096)
        if not b:
            break
        data += b
except socket.timeout:
    print("timeout " + data[:12].decode())
    sys.exit(0)
print("closed " + data[:12].decode())
EOF
)
expect "declared large body: 413 at once, connection closed" "$out" \
    "closed HTTP/1.1 413"
head -c 20000 /dev/zero | tr '\0' a >"$W/big"
expect "chunked large body: 413" "$(curl -sS -o /dev/null -w '%{http_code}' \
    -H 'Transfer-Encoding: chunked' -H "Origin: $WEB_A" \
    --data-binary @"$W/big" "$WEB_A/logout")" 413

# --- behind a proxy -----------------------------------------------------
web_conf b "$MG_WEB_PORT_B" $'[http]\ntrusted_proxies = 127.0.0.1'
web_start b "$MG_WEB_PORT_B"
# The client forged the first header; the proxy appended the second.
curl -sS -o /dev/null -H 'X-Forwarded-For: 10.9.9.9' \
    -H 'X-Forwarded-For: 198.51.100.8' "$WEB_B/healthz?xff=1"
expect_grep "second X-Forwarded-For header read" \
    "ip=198\.51\.100\.8 method=GET path=/healthz" "$W/b.log"
expect_no_grep "forged first header not believed" "ip=10\.9\.9\.9" "$W/b.log"

# A direct peer (127.0.0.2, not a proxy) gets WEB_PER_IP_MAX (32)
# connections; the proxy (127.0.0.1) gets more.
out=$(python3 - "$MG_WEB_PORT_B" <<'EOF'
import socket, sys
port = int(sys.argv[1])

def conn(src):
    s = socket.socket()
    s.settimeout(20)
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    return s

def served(s):
    """One keep-alive request; True when it was answered."""
    try:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while b"\r\n\r\nok\n" not in data:
            b = s.recv(4096)
            if not b:
                return False
            data += b
        return True
    except OSError:
        return False

for src, n in (("127.0.0.2", 33), ("127.0.0.1", 40)):
    socks, ok = [], 0
    for i in range(n):
        s = conn(src)
        socks.append(s)
        ok += served(s)
    print("%s %d/%d" % (src, ok, n))
    for s in socks:
        s.close()
EOF
)
expect "per-address limit for direct peers, none for the proxy" "$out" \
    $'127.0.0.2 32/33\n127.0.0.1 40/40'
web_stop b

# --- a provider that accepts and never answers ---------------------------
cat >"$W/silent.py" <<'EOF'
import socket, sys, threading, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(100)
held = []
while True:
    c, _ = s.accept()
    held.append(c)
EOF
python3 "$W/silent.py" "$MG_WEB_SLOW_PORT" &
echo $! >"$W/silent.pid"
tb_started pid "$W/silent.pid"
tb_wait_listen "$MG_WEB_SLOW_PORT" 20
ISSUER=http://127.0.0.1:$MG_WEB_SLOW_PORT/application/o/mail/
web_conf b "$MG_WEB_PORT_B"
web_start b "$MG_WEB_PORT_B"
for i in 1 2 3 4 5 6 7 8; do
	curl -sS -o "$W/login$i.body" -w '%{http_code}' --max-time 60 \
	    "$WEB_B/login" >"$W/login$i.code" 2>/dev/null &
done
# Generous bounds: these say "answered at all", they time nothing.
expect "healthz while /login waits on the provider" \
    "$(curl -sS -o /dev/null -w '%{http_code}' --max-time 8 "$WEB_B/healthz" || true)" 200
expect "readyz says the provider is down" \
    "$(curl -sS -o /dev/null -w '%{http_code}' --max-time 30 "$WEB_B/readyz" || true)" 503
wait_logins=0
for i in 1 2 3 4 5 6 7 8; do
	while [ ! -s "$W/login$i.code" ] && ((wait_logins < 700)); do
		sleep 0.1
		wait_logins=$((wait_logins + 1))
	done
	expect "login $i answered 503" "$(cat "$W/login$i.code")" 503
	expect_grep "login $i: a clear page" "identity provider cannot be reached" \
	    "$W/login$i.body"
done
expect "healthz afterwards" \
    "$(curl -sS -o /dev/null -w '%{http_code}' --max-time 8 "$WEB_B/healthz" || true)" 200
web_stop b

expect_no_grep "no cookie value in the log" "mailgate_session=[A-Za-z0-9_-]{20}" "$W/a.log"
web_done
