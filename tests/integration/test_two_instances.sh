#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test_two_instances.sh - two mailgated on one database, each caching
# token records (cache_ttl = 60s). A token works on both; after
# "mailgate token revoke" both refuse it within 1 s, and after
# "mailgate mailbox disable" both refuse that mailbox's tokens within 1 s
# (polled every 100 ms: a correctness bound of the design, not a
# benchmark).
set -euo pipefail

: "${MG_SRC:?run via tests/run or ctest}"
. "$MG_SRC/tests/testbed/lib.sh"
. "$MG_SRC/tests/proto/authsock_lib.sh"
trap tb_stop_all EXIT

D=$MG_TB/authsock-two
rm -rf "$D" && tb_mkroot "$D"
URL=$(tb_newdb authsock_two)
mkdir -p "$D/a" "$D/b"
tb_keyfile "$D/token.key"
cp "$D/token.key" "$D/a/token.key"
cp "$D/token.key" "$D/b/token.key"
CA=$(as_conf "$D/a" "$URL" "$D/a/auth.sock" "$MG_AUTHSOCK_PORT" \
    "cache_ttl = 60s")
CB=$(as_conf "$D/b" "$URL" "$D/b/auth.sock" "$MG_AUTHSOCK_PORT2" \
    "cache_ttl = 60s")
"$MG_MAILGATE" -c "$CA" db migrate >/dev/null
"$MG_MAILGATE" -c "$CA" mailbox add alice@example.org >/dev/null 2>&1
as_start "$CA" "$D/a"
as_start "$CB" "$D/b"

# refused_within CMD...: run CMD (the CLI), then poll both instances
# every 100 ms; both must refuse $TOK within 1 s of CMD returning.
refused_within()
{
	python3 - "$D/a/auth.sock" "$D/b/auth.sock" "$TOK" "$@" <<'EOPY'
import base64, socket, subprocess, sys, time

def auth(path, token):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    s.settimeout(5)
    resp = base64.b64encode(b"\0alice@example.org\0" + token.encode())
    s.sendall(b"VERSION\t1\t2\nCPID\t1\nAUTH\t1\tPLAIN\tservice=smtp\t"
              b"rip=203.0.113.5\tresp=" + resp + b"\n")
    buf = b""
    while b"OK\t1" not in buf and b"FAIL\t1" not in buf:
        d = s.recv(4096)
        if not d:
            break
        buf += d
    s.close()
    return b"OK\t1" in buf

a, b, token = sys.argv[1:4]
assert auth(a, token) and auth(b, token), "token must work on both first"
subprocess.run(sys.argv[4:], check=True, stdout=subprocess.DEVNULL,
               stderr=subprocess.DEVNULL)
t0 = time.monotonic()
while True:
    ok_a, ok_b = auth(a, token), auth(b, token)
    elapsed = time.monotonic() - t0
    if not ok_a and not ok_b:
        print("refused by both after %.2f s" % elapsed)
        break
    if elapsed > 1.0:
        sys.exit("still accepted after %.2f s (a=%s b=%s)"
                 % (elapsed, ok_a, ok_b))
    time.sleep(0.1)
EOPY
}

TOK=$(as_token "$CA" alice@example.org smtp)
for i in 1 2 3; do # later rounds come from each instance's cache
	[ "$(as_auth "$D/a/auth.sock" smtp alice@example.org "$TOK")" = OK ]
	[ "$(as_auth "$D/b/auth.sock" smtp alice@example.org "$TOK")" = OK ]
done
refused_within "$MG_MAILGATE" -c "$CA" token revoke "$(as_id "$TOK")"

TOK=$(as_token "$CA" alice@example.org smtp)
refused_within "$MG_MAILGATE" -c "$CB" mailbox disable alice@example.org
"$MG_MAILGATE" -c "$CA" mailbox enable alice@example.org >/dev/null 2>&1
[ "$(as_auth "$D/a/auth.sock" smtp alice@example.org "$TOK")" = OK ]
[ "$(as_auth "$D/b/auth.sock" smtp alice@example.org "$TOK")" = OK ]

# Last uses are written in batches (every 5 s), never per login.
for _ in $(seq 1 40); do
	used=$(tb_pg_psql "$MG_PG_DIR" "$MG_PG_PORT" -d authsock_two -tAc \
	    "SELECT count(*) FROM app_tokens WHERE last_used_at IS NOT NULL")
	[ "$used" -ge 1 ] && break
	sleep 0.25
done
[ "$used" -ge 1 ]
echo "test_two_instances: ok"
