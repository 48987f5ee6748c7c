#!/bin/bash
# SPDX-License-Identifier: MIT
#
# test_checkpw_input.sh - mailgate-checkpassword driven directly, the
# way Dovecot 2.3 runs it (request on fd 3, reply program as the last
# argument), against a small stand-in for mailgated that speaks the
# auth-client protocol: malformed requests, hostile environment values,
# a missing, silent, closing or confused server, and the exec on OK.
# Needs no other service. Expected exit codes: 1 wrong credentials,
# 111 temporary failure (Dovecot: internal error, client told to retry).
set -euo pipefail

: "${MG_BUILD:?run through ctest (MG_BUILD)}"
PROG=$MG_BUILD/mailgate-checkpassword
[ -x "$PROG" ] || { echo "no $PROG" >&2; exit 1; }

T=$(mktemp -d /tmp/mg-cpw.XXXXXX)
SRV_PID=
cleanup()
{
	if [ -n "$SRV_PID" ]; then
		kill "$SRV_PID" 2>/dev/null || true
		wait "$SRV_PID" 2>/dev/null || true
	fi
	rm -rf "$T"
}
trap cleanup EXIT

SOCK=$T/auth
SENTINEL=pw_SENTINEL_c0ffee_must_not_leak

# The stand-in: the Dovecot handshake, then an answer chosen by the
# password: good -> OK (user lower-cased), temp -> FAIL code=temp_fail,
# silent -> never answers, close -> hangs up, garbage -> not the
# protocol, anything else -> FAIL. Every AUTH line goes to $T/auth.log.
cat >"$T/server.py" <<'EOF'
import base64, os, socket, sys, threading

path, log = sys.argv[1], sys.argv[2]
HS = (b"VERSION\t1\t2\nMECH\tPLAIN\tplaintext\nMECH\tLOGIN\tplaintext\n"
      b"SPID\t1\nCUID\t1\nCOOKIE\t" + b"0" * 32 + b"\nDONE\n")
held = []

def serve(c):
    c.sendall(HS)
    buf = b""
    while not any(l.startswith(b"AUTH") for l in buf.split(b"\n")[:-1]):
        d = c.recv(4096)
        if not d:
            return
        buf += d
    line = [l for l in buf.split(b"\n") if l.startswith(b"AUTH")][0]
    with open(log, "ab") as f:
        f.write(line + b"\n")
    resp = [x for x in line.split(b"\t") if x.startswith(b"resp=")][0]
    _, user, pw = base64.b64decode(resp[5:], validate=True).split(b"\0")
    if pw == b"good":
        c.sendall(b"OK\t1\tuser=" + user.lower() + b"\n")
    elif pw == b"temp":
        c.sendall(b"FAIL\t1\tcode=temp_fail\treason=down\n")
    elif pw == b"silent":
        held.append(c)
        return
    elif pw == b"garbage":
        c.sendall(b"HELLO\tWORLD\n")
    elif pw != b"close":
        c.sendall(b"FAIL\t1\tuser=" + user + b"\n")
    c.close()

s = socket.socket(socket.AF_UNIX)
s.bind(path)
s.listen(16)
open(path + ".ready", "w").close()
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
EOF
python3 "$T/server.py" "$SOCK" "$T/auth.log" &
SRV_PID=$!
for _ in $(seq 100); do [ -e "$SOCK.ready" ] && break; sleep 0.05; done
[ -e "$SOCK.ready" ] || { echo "stand-in server did not start" >&2; exit 1; }

# The reply program: records what it was given instead of answering.
cat >"$T/reply" <<EOF
#!/bin/bash
{ echo "USER=\${USER-unset}"; echo "EXTRA=\${EXTRA-unset}";
  echo "USERDB_UID=\${USERDB_UID-unset}"; echo "HOME=\${HOME-unset}";
  echo "INSECURE_SETUID=\${INSECURE_SETUID-unset}";
  echo "ARGS=\$*"; } >"$T/reply.out"
exit 0
EOF
chmod 755 "$T/reply"

FAILS=0
RC=0

# run NAME PRINTF-FORMAT [ENV=VAL...] -- [OPTIONS...]: feed the request
# on fd 3 with the environment Dovecot would give (plus ENV), record rc.
run()
{
	local fmt=$1 envs=() opts=()
	shift
	while [ $# -gt 0 ] && [ "$1" != -- ]; do envs+=("$1"); shift; done
	[ $# -gt 0 ] && shift
	opts=("$@")
	rm -f "$T/reply.out"
	set +e
	# shellcheck disable=SC2059
	timeout 20 env -i ORIG_UID="$(id -u)" PROTO=TCP SERVICE=imap \
	    TCPREMOTEIP=192.0.2.7 TCPLOCALIP=127.0.0.1 "${envs[@]}" \
	    "$PROG" "${opts[@]}" 3< <(printf "$fmt") 2>"$T/stderr"
	RC=$?
	set -e
	if grep -q "$SENTINEL" "$T/stderr" "$T/reply.out" 2>/dev/null; then
		echo "FAIL: the password reached stderr or the reply program"
		FAILS=$((FAILS + 1))
	fi
	if [ "$(wc -l <"$T/stderr")" -gt 1 ]; then
		echo "FAIL: more than one line on stderr:"; cat "$T/stderr"
		FAILS=$((FAILS + 1))
	fi
}

expect()
{
	local name=$1 want=$2
	if [ "$RC" = "$want" ]; then
		echo "ok: $name (exit $RC)"
	else
		echo "FAIL: $name: exit $RC, want $want; stderr:"
		cat "$T/stderr"
		FAILS=$((FAILS + 1))
	fi
}

# expect_err NAME PATTERN: the one stderr line names the problem.
expect_err()
{
	if grep -q -- "$2" "$T/stderr"; then
		echo "ok: $1 says '$2'"
	else
		echo "FAIL: $1: stderr lacks '$2':"; cat "$T/stderr"
		FAILS=$((FAILS + 1))
	fi
}

S=(--socket "$SOCK")
R=$T/reply

# --- malformed requests: never from Dovecot, so internal errors ---------
run 'alice@example.org' -- "${S[@]}" "$R"
expect "no NUL" 111
expect_err "no NUL" "no NUL after the user"
run "alice@example.org\\0$SENTINEL" -- "${S[@]}" "$R"
expect "one NUL" 111
run '' -- "${S[@]}" "$R"
expect "empty request" 111
expect_err "empty request" "empty request"
run "\\0$SENTINEL\\0\\0" -- "${S[@]}" "$R"
expect "empty user" 111
LONG=$(head -c 600 /dev/zero | tr '\0' a)
run "alice@example.org\\0${LONG}\\0\\0" -- "${S[@]}" "$R"
expect "overlong request (> 512 bytes)" 111
expect_err "overlong request" "over 512 bytes"
[ ! -e "$T/reply.out" ] || { echo "FAIL: reply ran"; FAILS=$((FAILS+1)); }

# --- requests no mailbox can satisfy: wrong credentials ----------------
run "ali\\001ce@example.org\\0good\\0\\0" -- "${S[@]}" "$R"
expect "user with a control byte" 1
run "ali\\033[2Jce\\0good\\0\\0" -- "${S[@]}" "$R"
expect "user with an escape sequence" 1
run "alice@example.org\\0\\0\\0" -- "${S[@]}" "$R"
expect "empty password" 1
run "alice@example.org\\0go\\002od\\0\\0" -- "${S[@]}" "$R"
expect "password with a control byte" 1
run "alice@example.org\\0good\\0\\0" SERVICE=doveadm -- "${S[@]}" "$R"
expect "service no token covers" 1

# --- lookups: the helper cannot vouch for a user without a password ----
run "alice@example.org\\0\\0\\0" AUTHORIZED=1 -- "${S[@]}" "$R"
expect "userdb lookup refused" 111
expect_err "userdb lookup" "refusing a userdb or credentials lookup"
run "alice@example.org\\0good\\0\\0" CREDENTIALS_LOOKUP=1 -- "${S[@]}" "$R"
expect "credentials lookup refused" 111

# --- argv: only options, then an absolute reply program ----------------
run "alice@example.org\\0good\\0\\0" -- "${S[@]}"
expect "missing reply program" 111
expect_err "missing reply program" "no absolute reply program"
run "alice@example.org\\0good\\0\\0" -- "${S[@]}" reply
expect "relative reply program (no PATH use)" 111
run "alice@example.org\\0good\\0\\0" -- --socket relative/auth "$R"
expect "relative socket path" 111
run "alice@example.org\\0good\\0\\0" -- --tcp localhost:9 "$R"
expect "host name instead of an IP" 111
run "alice@example.org\\0good\\0\\0" -- --timeout 0 "${S[@]}" "$R"
expect "timeout 0" 111
run "alice@example.org\\0good\\0\\0" -- --uid 5000 "${S[@]}" "$R"
expect "--uid without --gid" 111
run "alice@example.org\\0good\\0\\0" -- --config /etc/x "${S[@]}" "$R"
expect "unknown option" 111

# --- mailgated missing, slow, closing, confused: temporary -------------
run "alice@example.org\\0$SENTINEL\\0\\0" -- --socket "$T/nothing" "$R"
expect "socket missing" 111
expect_err "socket missing" "No such file or directory"
run "alice@example.org\\0$SENTINEL\\0\\0" -- --tcp 127.0.0.1:1 "$R"
expect "TCP port closed" 111
run "alice@example.org\\0silent\\0\\0" -- --timeout 1 "${S[@]}" "$R"
expect "server accepts and never answers" 111
expect_err "silent server" "no answer in time"
run "alice@example.org\\0close\\0\\0" -- "${S[@]}" "$R"
expect "server hangs up" 111
expect_err "server hangs up" "closed the connection"
run "alice@example.org\\0garbage\\0\\0" -- "${S[@]}" "$R"
expect "server speaks something else" 111
run "alice@example.org\\0temp\\0\\0" -- "${S[@]}" "$R"
expect "server says temp_fail" 111
expect_err "temp_fail" "temporary failure"

# --- the answer ---------------------------------------------------------
run "alice@example.org\\0$SENTINEL\\0\\0" -- "${S[@]}" "$R"
expect "wrong password" 1
[ ! -s "$T/stderr" ] || { echo "FAIL: stderr on a wrong password";
	FAILS=$((FAILS + 1)); }
run "Alice@Example.org\\0good\\0\\0" HOME=/root INSECURE_SETUID=1 \
    EXTRA=HOME -- "${S[@]}" "$R"
expect "right password: reply program runs" 0
if grep -qx 'USER=alice@example.org' "$T/reply.out" &&
    grep -qx 'EXTRA=unset' "$T/reply.out" &&
    grep -qx 'HOME=unset' "$T/reply.out" &&
    grep -qx 'INSECURE_SETUID=unset' "$T/reply.out"; then
	echo "ok: USER is mailgated's user=, EXTRA/HOME/INSECURE_SETUID gone"
else
	echo "FAIL: reply environment:"; cat "$T/reply.out"
	FAILS=$((FAILS + 1))
fi
run "alice@example.org\\0good\\0\\0" -- --uid 5000 --gid 5001 "${S[@]}" \
    "$R" extra-arg
expect "prefetch ids" 0
if grep -qx 'EXTRA=USERDB_UID USERDB_GID' "$T/reply.out" &&
    grep -qx 'USERDB_UID=5000' "$T/reply.out" &&
    grep -qx 'ARGS=extra-arg' "$T/reply.out"; then
	echo "ok: --uid/--gid reach checkpassword-reply through EXTRA"
else
	echo "FAIL: prefetch environment:"; cat "$T/reply.out"
	FAILS=$((FAILS + 1))
fi

# --- hostile environment values: dropped, never forwarded --------------
HUGE=$(head -c 100000 /dev/zero | tr '\0' 1)
: >"$T/auth.log"
run "alice@example.org\\0good\\0\\0" TCPREMOTEIP="$HUGE" \
    TCPLOCALIP=$'127.0.0.1\tsecured' AUTH_SESSION="$HUGE" \
    AUTH_SECURED=$'secured\tno-penalty' -- "${S[@]}" "$R"
expect "huge and forged environment values" 0
if [ "$(wc -l <"$T/auth.log")" = 1 ] &&
    ! grep -q -e 'rip=' -e 'lip=' -e 'session=' -e 'secured' \
    -e 'no-penalty' "$T/auth.log"; then
	echo "ok: bad rip/lip/session/secured were not forwarded"
else
	echo "FAIL: forwarded:"; cat "$T/auth.log"; FAILS=$((FAILS + 1))
fi
: >"$T/auth.log"
run "alice@example.org\\0good\\0\\0" SERVICE=pop3 AUTH_SESSION=s3ss+ID \
    AUTH_SECURED=secured TCPREMOTEIP=2001:DB8::7 -- "${S[@]}" "$R"
expect "pop3 login" 0
if grep -q $'^AUTH\t1\tPLAIN\tservice=pop3\trip=2001:db8::7\tlip=127.0.0.1\tsession=s3ss+ID\tsecured\tresp=' \
    "$T/auth.log"; then
	echo "ok: AUTH line carries service, canonical IPs, session, secured"
else
	echo "FAIL: AUTH line:"; cat "$T/auth.log"; FAILS=$((FAILS + 1))
fi
run "alice@example.org\\0good\\0\\0" SERVICE="$HUGE" -- "${S[@]}" "$R"
expect "huge SERVICE" 1

if [ "$FAILS" -ne 0 ]; then
	echo "$FAILS check(s) failed"
	exit 1
fi
echo "all checks passed"
