#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test_postfix.sh - real Postfix 3.7 (smtpd_sasl_type = dovecot) against
# mailgated, in the layout that deploy/ ships and docs/postfix.md shows:
# the directory made from deploy/systemd/mailgate-tmpfiles.conf, the
# [auth] section of deploy/mailgate.conf.example, mailgated as user
# mailgate (as deploy/systemd/mailgated.service runs it), a chrooted
# smtpd configured with deploy/postfix/main.cf.snippet (only
# /var/spool/postfix and ports are replaced):
#  - with socket_user set, mailgated (not root) stops and says why;
#  - the socket is 0660 mailgate:postfix although mailgated is not in
#    group postfix (setgid directory), and a user outside the group
#    cannot connect; smtpd runs chrooted, as postfix, groups postfix only;
#  - swaks PLAIN and LOGIN succeed with a valid smtp token (unix socket
#    inside the queue directory, then inet:127.0.0.1:PORT);
#  - wrong token, wrong mailbox, revoked, expired, imap-only and
#    disabled-mailbox tokens get 535;
#  - with PostgreSQL stopped the valid token gets a 4xx, and after it is
#    back the same mailgated (never restarted) accepts the token again;
#  - the fail2ban filter matches the failures mailgated logged.
# It runs its OWN PostgreSQL cluster, so stopping it harms no other test.
set -euo pipefail

: "${MG_SRC:?run via tests/run or ctest}"
. "$MG_SRC/tests/testbed/lib.sh"
. "$MG_SRC/tests/proto/authsock_lib.sh"
: "${MG_AUTHSOCK_PG_PORT:=25452}"
: "${MG_AUTHSOCK_SMTP_PORT:=10035}"
trap tb_stop_all EXIT

D=$MG_TB/authsock-pf
P=$D/pf
for pid in "$D/pg/data/postmaster.pid" "$P/spool/pid/master.pid"; do
	[ ! -f "$pid" ] || tb_stop_pid "$pid" || true
done
rm -rf "$D" && tb_mkroot "$D"
tb_pg_start "$D/pg" "$MG_AUTHSOCK_PG_PORT" >/dev/null
URL=$(tb_pg_url "$D/pg" "$MG_AUTHSOCK_PG_PORT" mailgate)

# mailgated's socket directory inside the queue directory, made before
# Postfix exists, from the shipped tmpfiles line: 2750 mailgate:postfix.
tb_mailgate_sockdir "$P/spool"
SOCK=$P/spool/mailgate/auth
tb_check_sun_path "$SOCK"
tb_keyfile "$D/token.key"
{
	printf '[database]\nurl = %s\nconnect_timeout = 2\n' "$URL"
	printf '[tokens]\nkey_file = %s\n' "$D/token.key"
	tb_mailgate_auth_conf "$P/spool"
	printf 'tcp_listen = 127.0.0.1:%s\nfailure_delay = 10ms\n' \
	    "$MG_AUTHSOCK_PORT"
} >"$D/mailgate.conf"
CONF=$D/mailgate.conf
grep -qx "socket = $SOCK" "$CONF"
# Readable by mailgated (group mailgate), as the docs ask.
chgrp mailgate "$CONF" "$D/token.key" && chmod 640 "$CONF" "$D/token.key"
MG_MAILGATED=$(tb_mailgated_as_mailgate "$D/bin")
"$MG_MAILGATE" -c "$CONF" db migrate >/dev/null
for m in alice carol; do
	"$MG_MAILGATE" -c "$CONF" mailbox add $m@example.org >/dev/null 2>&1
done
A=alice@example.org
TOK=$(as_token "$CONF" $A smtp)
TOK_IMAP=$(as_token "$CONF" $A imap)
TOK_REVOKED=$(as_token "$CONF" $A smtp)
TOK_EXPIRED=$(as_token "$CONF" $A smtp)
TOK_CAROL=$(as_token "$CONF" carol@example.org smtp,submission)
"$MG_MAILGATE" -c "$CONF" token revoke "$(as_id "$TOK_REVOKED")" \
    >/dev/null 2>&1
"$MG_MAILGATE" -c "$CONF" mailbox disable carol@example.org >/dev/null 2>&1
tb_pg_psql "$D/pg" "$MG_AUTHSOCK_PG_PORT" -d mailgate -qc \
    "UPDATE app_tokens SET expires_at = now() - interval '1 minute'
     WHERE public_id = '$(as_id "$TOK_EXPIRED")'"

# socket_user/socket_group would need root: mailgated says so and stops.
sed 's/^socket_mode = .*/&\nsocket_user = postfix/' "$CONF" >"$D/owner.conf"
chgrp mailgate "$D/owner.conf" && chmod 640 "$D/owner.conf"
rc=0
timeout 30 "$MG_MAILGATED" -c "$D/owner.conf" </dev/null >"$D/owner.log" 2>&1 ||
    rc=$?
if [ "$rc" = 0 ] || [ "$rc" = 124 ] || ! grep -q \
    "authsock: cannot apply \[auth\] socket_user/socket_group to $SOCK as uid $(id -u mailgate): Operation not permitted" \
    "$D/owner.log"; then
	echo "FAIL: socket_user as user mailgate: exit $rc" >&2
	cat "$D/owner.log" >&2
	exit 1
fi
echo "ok: socket_user refused as non-root, with the reason (exit $rc)"

as_start "$CONF" "$D"

# mailgated runs as mailgate, without group postfix; its socket still
# has group postfix, inherited from the setgid directory.
MGD=$(cat "$D/pid")
PF_GID=$(getent group postfix | cut -d: -f3)
[ "$(awk '/^Uid:/ {print $2}' "/proc/$MGD/status")" = "$(id -u mailgate)" ]
if awk '/^Groups:/' "/proc/$MGD/status" | grep -qw "$PF_GID" ||
    [ "$(awk '/^Gid:/ {print $2}' "/proc/$MGD/status")" = "$PF_GID" ]; then
	echo "FAIL: mailgated has group postfix" >&2
	exit 1
fi
got=$(stat -c '%a %U %G' "$SOCK")
[ "$got" = '660 mailgate postfix' ] ||
    { echo "FAIL: socket is '$got', want '660 mailgate postfix'" >&2; exit 1; }
echo "ok: socket 0660 mailgate:postfix, mailgated uid mailgate, not in group postfix"
# Someone outside group postfix is turned away by the file system.
got=$(cd / && setpriv --reuid=nobody --regid=nogroup --clear-groups -- \
    /usr/bin/python3 -c 'import socket, sys
try:
    socket.socket(socket.AF_UNIX).connect(sys.argv[1])
    print("connected")
except PermissionError:
    print("denied")' "$SOCK")
[ "$got" = denied ] ||
    { echo "FAIL: user nobody: $got, want denied" >&2; exit 1; }
echo "ok: user nobody cannot connect to the socket"

# Postfix: the shipped main.cf lines as they are, smtpd chrooted.
SNIPPET=$MG_SRC/deploy/postfix/main.cf.snippet
SASL_PATH=$(sed -n 's/^smtpd_sasl_path = //p' "$SNIPPET")
[ "$SASL_PATH" = mailgate/auth ]
tb_postfix_start "$P" "$MG_AUTHSOCK_SMTP_PORT" "$SASL_PATH" y
grep -v '^#' "$SNIPPET" |
    while IFS= read -r line; do postconf -c "$P/etc" -e "$line"; done
postfix -c "$P/etc" reload >/dev/null 2>&1
grep -Eq '^127\.0\.0\.1:[0-9]+ +inet +n +- +y ' "$P/etc/master.cf"

# smtp MECH USER PASS: swaks' transcript of one AUTH.
smtp()
{
	swaks --server "127.0.0.1:$MG_AUTHSOCK_SMTP_PORT" --auth "$1" \
	    --auth-user "$2" --auth-password "$3" --quit-after AUTH \
	    --timeout 30 2>&1 || true
}

# want CODE MECH USER PASS WHAT: the AUTH reply must start with CODE.
want()
{
	local code=$1 out

	out=$(smtp "$2" "$3" "$4")
	if ! grep -qE "^<[-~*]+ *$code" <<<"$out"; then
		echo "FAIL: $5: want $code" >&2
		grep -E '^<' <<<"$out" | tail -3 >&2
		echo "--- maillog" >&2 && tail -5 "$P/maillog" >&2
		return 1
	fi
	echo "ok: $5 -> $code"
}

want 235 PLAIN $A "$TOK" "PLAIN, valid smtp token, unix socket"
want 235 LOGIN $A "$TOK" "LOGIN, valid smtp token"
# The smtpd that answered runs as postfix, chrooted into the queue
# directory, with no supplementary groups (Postfix's set_ugid drops
# them): it reaches mailgate/auth through its primary group alone.
PF_MASTER=$(tb_read_pid "$P/spool/pid/master.pid")
SMTPD=$(pgrep -P "$PF_MASTER" -x smtpd | head -n 1 || true)
[ -n "$SMTPD" ] || { echo "FAIL: no smtpd process" >&2; exit 1; }
got=$(readlink "/proc/$SMTPD/root")
[ "$got" = "$(cd "$P/spool" && pwd)" ] ||
    { echo "FAIL: smtpd's root is '$got', not the queue directory" >&2; exit 1; }
got=$(awk '/^Uid:/ {u = $2} /^Groups:/ {$1 = ""; g = $0}
    END {print u ":" g}' "/proc/$SMTPD/status")
[ "$got" = "$(id -u postfix): $PF_GID" ] ||
    { echo "FAIL: smtpd uid:groups '$got'" >&2; exit 1; }
echo "ok: smtpd chrooted to the queue directory, uid postfix, groups $PF_GID"

want 535 PLAIN $A "${TOK}x" "wrong token"
want 535 PLAIN carol@example.org "$TOK" "token of another mailbox"
want 535 PLAIN $A "$TOK_REVOKED" "revoked token"
want 535 LOGIN $A "$TOK_EXPIRED" "expired token"
want 535 PLAIN $A "$TOK_IMAP" "imap-only token"
want 535 PLAIN carol@example.org "$TOK_CAROL" "disabled mailbox"

postconf -c "$P/etc" -e "smtpd_sasl_path = inet:127.0.0.1:$MG_AUTHSOCK_PORT"
postfix -c "$P/etc" reload >/dev/null 2>&1
sleep 1 # reload replaces smtpd processes after their current session
want 235 PLAIN $A "$TOK" "PLAIN over inet:127.0.0.1"
postconf -c "$P/etc" -e "smtpd_sasl_path = $SASL_PATH"
postfix -c "$P/etc" reload >/dev/null 2>&1
sleep 1

# The database goes away: a valid token is a temporary failure (4xx).
tb_pg_stop "$D/pg"
want 4 PLAIN $A "$TOK" "database down: valid token"
want 4 LOGIN $A "$TOK" "database down: LOGIN, valid token"
tb_pg_start "$D/pg" "$MG_AUTHSOCK_PG_PORT" >/dev/null
# mailgated reconnects by itself (backoff of at most 2 s per worker).
for _ in $(seq 1 20); do
	if smtp PLAIN $A "$TOK" | grep -qE '^<[-~*]+ *235'; then
		break
	fi
	sleep 0.5
done
want 235 PLAIN $A "$TOK" "database back, same mailgated"
kill -0 "$(cat "$D/pid")"

# The fail2ban filter sees every failure mailgated logged (rip 127.0.0.1).
FILTER=$MG_SRC/deploy/fail2ban/filter.d/mailgate.conf
fails=$(grep -cE 'result=(fail|locked)' "$D/mailgated.log")
[ "$fails" -ge 6 ]
grep 'result=' "$D/mailgated.log" | grep -q 'result=tempfail'
if command -v fail2ban-regex >/dev/null; then
	out=$(fail2ban-regex "$D/mailgated.log" "$FILTER")
	grep -E "^Failregex: $fails total" <<<"$out" ||
	    { echo "$out" >&2; exit 1; }
else
	# Without fail2ban: the same regex, <ADDR> as an IPv4 address.
	re=$(sed -n 's/^failregex = //p' "$FILTER" |
	    sed 's/<ADDR>/[0-9.]+/; s/\\S/[^ ]/g; s/\\s/[[:space:]]/g;
	        s/\\w/[[:alnum:]_]/g; s/(?:/(/g')
	[ "$(sed 's/^[^ ]* //' "$D/mailgated.log" | grep -cE "$re")" = "$fails" ]
fi
echo "test_postfix: ok"
