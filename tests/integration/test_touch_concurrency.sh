#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test_touch_concurrency.sh - two mailgated on one database (A caches
# token records, B fetches every one) and the batched last-use writes:
#  1. many concurrent logins over the same tokens on both instances, in
#     opposite orders, so that both write overlapping batches;
#  2. while another session holds row locks on some token rows, logins
#     over those tokens still succeed on both instances, and A's final
#     batch at stop does not wait for the locks (it skips those rows);
#  3. after the locks are gone, B's logins and final batch write the
#     rest.
# Then: every login was answered OK, neither log has a warning or error
# (deadlock, statement timeout, failed or dropped update), and every
# token used has last_used_at, last_used_ip and last_used_service.
set -euo pipefail

: "${MG_SRC:?run via tests/run or ctest}"
. "$MG_SRC/tests/testbed/lib.sh"
. "$MG_SRC/tests/proto/authsock_lib.sh"
trap tb_stop_all EXIT

D=$MG_TB/touch-conc
rm -rf "$D" && tb_mkroot "$D"
DB=touch_conc
URL=$(tb_newdb "$DB")
NBOX=20 PER_BOX=6 NLOCK=30
mkdir -p "$D/a" "$D/b"
tb_keyfile "$D/token.key"
cp "$D/token.key" "$D/a/token.key"
cp "$D/token.key" "$D/b/token.key"
CA=$(as_conf "$D/a" "$URL" "$D/a/auth.sock" "$MG_AUTHSOCK_PORT")
CB=$(as_conf "$D/b" "$URL" "$D/b/auth.sock" "$MG_AUTHSOCK_PORT2" \
    "cache_ttl = 0")
"$MG_MAILGATE" -c "$CA" db migrate >/dev/null

psql_db()
{
	tb_pg_psql "$MG_PG_DIR" "$MG_PG_PORT" -d "$DB" -tA "$@"
}

: >"$D/creds"
for ((m = 1; m <= NBOX; m++)); do
	"$MG_MAILGATE" -c "$CA" mailbox add "u$m@example.org" >/dev/null 2>&1
	for ((k = 1; k <= PER_BOX; k++)); do
		printf 'u%d@example.org\t%s\n' "$m" \
		    "$(as_token "$CA" "u$m@example.org" imap,smtp)" >>"$D/creds"
	done
done
NTOK=$((NBOX * PER_BOX))
[ "$(wc -l <"$D/creds")" -eq "$NTOK" ]
[ "$(psql_db -c "SELECT count(*) FROM app_tokens
    WHERE last_used_at IS NULL")" -eq "$NTOK" ]

as_start "$CA" "$D/a"
as_start "$CB" "$D/b"

# logins PASSES SOCKET:ORDER...: per socket, 8 connections each logging
# in PASSES times with every token, one AUTH in flight per connection;
# ORDER fwd or rev. Prints "ok=N other=N" and exits 1 on any other
# answer than OK.
logins()
{
	python3 - "$D/creds" "$@" <<'EOPY'
import base64, socket, sys, threading

creds = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
passes = int(sys.argv[2])
targets = [a.rsplit(":", 1) for a in sys.argv[3:]]
counts = {"ok": 0, "other": 0}
lock = threading.Lock()

def reply(s, buf, rid):
    """The answer to request rid: (OK?, bytes after its line)."""
    ok, fail = b"OK\t%d\t" % rid, b"FAIL\t%d\t" % rid
    while True:
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            if line.startswith((ok, fail)):
                return line.startswith(ok), buf
        d = s.recv(65536)
        if not d:
            return False, b""
        buf += d

def worker(path, order, start):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    s.settimeout(30)
    s.sendall(b"VERSION\t1\t2\nCPID\t%d\n" % (start + 1))
    seq = creds if order == "fwd" else creds[::-1]
    buf, rid, ok, other = b"", 0, 0, 0
    for p in range(passes):
        for i in range(len(seq)):
            user, tok = seq[(i + start * 7) % len(seq)]
            rid += 1
            resp = base64.b64encode(b"\0" + user.encode() + b"\0" +
                                    tok.encode())
            s.sendall(b"AUTH\t%d\tPLAIN\tservice=imap\trip=198.51.100.7\t"
                      b"resp=%s\n" % (rid, resp))
            good, buf = reply(s, buf, rid)
            if good:
                ok += 1
            else:
                other += 1
    s.close()
    with lock:
        counts["ok"] += ok
        counts["other"] += other

threads = [threading.Thread(target=worker, args=(p, o, n))
           for p, o in targets for n in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print("ok=%d other=%d" % (counts["ok"], counts["other"]))
want = passes * len(creds) * 8 * len(targets)
sys.exit(0 if counts["ok"] == want and counts["other"] == 0 else 1)
EOPY
}

# stop_instance DIR: SIGTERM; mailgated writes its last batch and exits 0.
stop_instance()
{
	local pid

	pid=$(cat "$1/pid")
	kill -TERM "$pid"
	wait "$pid"
	grep -q 'main: stopped' "$1/mailgated.log"
}

# 1. Both instances, overlapping tokens, opposite orders.
logins 3 "$D/a/auth.sock:fwd" "$D/b/auth.sock:rev"

# 2. Another session holds the first NLOCK token rows (FOR UPDATE, as an
# admin's revoke would) until told to commit.
LOCKED="SELECT id FROM app_tokens WHERE id IN (SELECT id FROM app_tokens
    ORDER BY id LIMIT $NLOCK)"
coproc LOCKER { psql_db -q >/dev/null; }
printf 'BEGIN;\n%s FOR UPDATE;\n' "$LOCKED" >&"${LOCKER[1]}"
# Held once nobody else can lock any of them.
for _ in $(seq 1 100); do
	free=$(psql_db -c "SELECT count(*) FROM ($LOCKED
	    FOR UPDATE SKIP LOCKED) x")
	[ "$free" -eq 0 ] && break
	sleep 0.1
done
[ "$free" -eq 0 ]
logins 1 "$D/a/auth.sock:rev" "$D/b/auth.sock:fwd"
stop_instance "$D/a" # its batch holds locked rows: skipped, not awaited
printf 'COMMIT;\n\\q\n' >&"${LOCKER[1]}"
wait "$LOCKER_PID"

# 3. The rest through B, whose final batch finds no locks.
logins 1 "$D/b/auth.sock:rev"
stop_instance "$D/b"

for i in a b; do
	if grep -E '\[(warn|err|fatal)\]|deadlock|timeout|failed|dropped' \
	    "$D/$i/mailgated.log"; then
		echo "FAIL: instance $i logged the lines above" >&2
		exit 1
	fi
	[ "$(grep -c 'result=ok' "$D/$i/mailgated.log")" -gt 0 ]
done
unused=$(psql_db -c "SELECT count(*) FROM app_tokens
    WHERE last_used_at IS NULL OR last_used_ip <> '198.51.100.7'
    OR last_used_service <> 'imap'")
[ "$unused" -eq 0 ] || {
	echo "FAIL: $unused of $NTOK tokens lack their last use" >&2
	exit 1
}
echo "test_touch_concurrency: ok"
