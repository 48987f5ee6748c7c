#!/bin/bash
# SPDX-License-Identifier: MIT
#
# test_dovecot_imap.sh - real Dovecot 2.3 IMAP and POP3 logins through
# mailgate-checkpassword and a real mailgated on a real PostgreSQL.
#
# The layout deploy/ ships, with only /var/spool/postfix and the program
# paths replaced: mailgated runs as user mailgate (as
# deploy/systemd/mailgated.service runs it) with the [auth] section of
# deploy/mailgate.conf.example; its socket directory comes from
# deploy/systemd/mailgate-tmpfiles.conf (2750 mailgate:postfix), so the
# socket is 0660 mailgate:postfix; Dovecot (tests/testbed/dovecot-imap
# .conf.in) includes deploy/dovecot/auth-mailgate.conf.ext, whose
# "service auth { extra_groups = postfix }" lets the helper (user
# dovecot, not in group postfix in /etc/group) connect. Without that
# setting the login is a temporary failure with "Permission denied".
# Checks: an imap-scoped token logs in; a wrong token, another mailbox's
# token, a revoked, an expired, an smtp-only token and a disabled mailbox
# do not; POP3 with a pop3-scoped token; doveadm auth test straight at
# mailgated's socket; with mailgated stopped a login is a temporary
# failure ([UNAVAILABLE], helper exit 111 in Dovecot's log), never
# "wrong password".
#
# Environment (tests/run sets it; alone, a private cluster is started):
# MG_BUILD, MG_SRC, MG_TB, MG_PG_DIR/MG_PG_PORT, MG_IMAP_PORT (10143),
# MG_POP3_PORT (10110).
set -euo pipefail

: "${MG_BUILD:?run through ctest (MG_BUILD)}"
: "${MG_SRC:?run through ctest (MG_SRC)}"
: "${MG_TB:=/tmp/mailgate-tb}"
: "${MG_IMAP_PORT:=10143}"
: "${MG_POP3_PORT:=10110}"
export MG_TB MG_POP3_PORT
# shellcheck source=../testbed/lib.sh
. "$MG_SRC/tests/testbed/lib.sh"

for p in mailgate mailgated mailgate-checkpassword; do
	[ -x "$MG_BUILD/$p" ] || { echo "FAIL: $MG_BUILD/$p not built"; exit 1; }
done
command -v dovecot >/dev/null || { echo "FAIL: no dovecot"; exit 1; }

D=$MG_TB/cpw-dovecot
rm -rf "$D"
tb_mkroot "$D"
MGD_PID=
cleanup()
{
	local rc=$?
	if [ -n "$MGD_PID" ]; then
		kill "$MGD_PID" 2>/dev/null || true
		wait "$MGD_PID" 2>/dev/null || true
	fi
	tb_stop_all || true
	exit "$rc"
}
trap cleanup EXIT

# --- database, keys, configuration -------------------------------------
if [ -z "${MG_PG_DIR:-}" ]; then
	: "${MG_PG_PORT:=25432}"
	export MG_PG_DIR=$MG_TB/pg MG_PG_PORT
	tb_pg_start "$MG_PG_DIR" "$MG_PG_PORT"
fi
DB_URL=$(tb_newdb mg_cpw_dovecot)
tb_keyfile "$D/token.key"
SPOOL=$D/spool # stands for /var/spool/postfix
tb_mailgate_sockdir "$SPOOL"
SOCK=$SPOOL/mailgate/auth
tb_check_sun_path "$SOCK"
CONF=$D/mailgate.conf
(umask 077 && {
	printf '[database]\nurl = %s\n\n' "$DB_URL"
	printf '[tokens]\nkey_file = %s\n\n' "$D/token.key"
	tb_mailgate_auth_conf "$SPOOL"
	printf 'failure_delay = 0\nlockout_failures = 1000\n\n'
	printf '[http]\nlisten =\n\n[log]\nlevel = info\n'
} >"$CONF")
grep -qx "socket = $SOCK" "$CONF"
# Readable by mailgated (group mailgate), as the docs ask.
chgrp mailgate "$CONF" "$D/token.key" && chmod 640 "$CONF" "$D/token.key"
MGD_PROG=$(tb_mailgated_as_mailgate "$D/bin")

mg()
{
	"$MG_BUILD/mailgate" -c "$CONF" "$@"
}

mg db migrate >/dev/null
mg mailbox add alice@example.org >/dev/null
mg mailbox add bob@example.org >/dev/null
mg mailbox add carol@example.org >/dev/null

# issue NAME ADDR SCOPES: the token into $D/NAME.tok, never on argv.
issue()
{
	mg token issue "$2" --scopes "$3" >"$D/$1.tok" 2>/dev/null
	chmod 600 "$D/$1.tok"
}
tok_id()
{
	cut -c5-16 "$D/$1.tok"
}
issue imap alice@example.org imap
issue pop3 alice@example.org pop3
issue smtp alice@example.org smtp
issue revoked alice@example.org imap
issue expired alice@example.org imap
issue bob bob@example.org imap
issue carol carol@example.org imap,pop3
mg token revoke "$(tok_id revoked)" >/dev/null 2>&1
tb_pg_psql "$MG_PG_DIR" "$MG_PG_PORT" -d mg_cpw_dovecot -c \
    "UPDATE app_tokens SET expires_at = now() - interval '1 hour'
     WHERE public_id = '$(tok_id expired)'" >/dev/null
mg mailbox disable carol@example.org >/dev/null 2>&1

# --- mailgated ----------------------------------------------------------
start_mailgated()
{
	"$MGD_PROG" -c "$CONF" </dev/null >>"$D/mailgated.log" 2>&1 &
	MGD_PID=$!
	tb_wait_file "$SOCK" 20
}
start_mailgated

# --- Dovecot with the helper as its passdb -------------------------------
# deploy/dovecot/auth-mailgate.conf.ext with its paths replaced: the
# queue directory, the helper (copied where user dovecot can run it) and
# the mail homes. NOGROUP is the same without extra_groups.
PROG=$(tb_install_prog "$MG_BUILD/mailgate-checkpassword" "$D/bin")
DV_CONF=$D/auth-mailgate.conf.ext
sed -e "s|/var/spool/postfix|$SPOOL|g" \
    -e "s|/usr/bin/mailgate-checkpassword|$PROG|g" \
    -e "s|/var/vmail|$D/imap/home|g" \
    "$MG_SRC/deploy/dovecot/auth-mailgate.conf.ext" >"$DV_CONF"
grep -q "args = $PROG --socket $SOCK\$" "$DV_CONF"
grep -q '^  extra_groups = postfix$' "$DV_CONF"
grep -v '^  extra_groups = ' "$DV_CONF" >"$D/auth-nogroup.conf.ext"
tb_dovecot_imap_start "$D/imap" "$MG_IMAP_PORT" - "$DV_CONF"
DLOG=$D/imap/dovecot.log

# --- a stdlib client: prints OK or NO <server text> ---------------------
cat >"$D/login.py" <<'EOF'
import imaplib, os, poplib, sys
proto, port, user = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with open(sys.argv[4]) as f:
    secret = f.read().strip()
try:
    if proto == "imap":
        c = imaplib.IMAP4("127.0.0.1", port, timeout=30)
        c.login(user, secret)
        c.logout()
    else:
        c = poplib.POP3("127.0.0.1", port, timeout=30)
        c.user(user)
        c.pass_(secret)
        c.quit()
    print("OK")
except (imaplib.IMAP4.error, poplib.error_proto) as e:
    print("NO", e)
EOF

FAILS=0
check()
{
	local name=$1 want=$2 got=$3
	if [[ $got == "$want"* ]]; then
		echo "ok: $name: $got"
	else
		echo "FAIL: $name: got '$got', want '$want...'"
		FAILS=$((FAILS + 1))
	fi
}
login()
{
	python3 "$D/login.py" "$1" "$2" "$3" "$4"
}
IMAP_NO="NO b'[AUTHENTICATIONFAILED]"
IMAP_TEMP="NO b'[UNAVAILABLE]"

# The socket as deployed: only mailgate and group postfix may connect.
# User dovecot is not in group postfix (/etc/group), so the helper can
# only get in through the group Dovecot gives its auth process.
if [ "$(stat -c '%a %U %G' "$SOCK")" = "660 mailgate postfix" ]; then
	echo "ok: mailgated's socket is 0660 mailgate:postfix"
else
	echo "FAIL: socket is $(stat -c '%a %U:%G' "$SOCK")"
	FAILS=$((FAILS + 1))
fi
if id -Gn dovecot | grep -qw postfix; then
	echo "FAIL: user dovecot is in group postfix: extra_groups untested"
	FAILS=$((FAILS + 1))
fi

check "imap token, imap login" OK \
    "$(login imap "$MG_IMAP_PORT" alice@example.org "$D/imap.tok")"
check "login name in another case" OK \
    "$(login imap "$MG_IMAP_PORT" Alice@Example.ORG "$D/imap.tok")"
grep -q 'imap-login: Info: Login: user=<alice@example.org>' "$DLOG" &&
    echo "ok: Dovecot logged the session in as alice@example.org" ||
    { echo "FAIL: no Login line for alice"; FAILS=$((FAILS + 1)); }

# Dovecot's auth process (it runs the helper): user dovecot, and group
# postfix from extra_groups.
auth_groups()
{
	local master pid

	master=$(tb_read_pid "$1/pid")
	pid=$(pgrep -P "$master" -x auth | head -n 1 || true)
	[ -n "$pid" ] || return 0
	awk '/^Uid:/ {u = $2} /^Groups:/ {$1 = ""; g = $0}
	    END {print u ":" g}' "/proc/$pid/status"
}
PF_GID=$(getent group postfix | cut -d: -f3)
got=$(auth_groups "$D/imap")
if [[ $got == "$(id -u dovecot):"* ]] && grep -qw "$PF_GID" <<<"${got#*:}"
then
	echo "ok: Dovecot's auth process: uid dovecot, groups${got#*:}"
else
	echo "FAIL: Dovecot's auth process uid:groups '$got', want group $PF_GID"
	FAILS=$((FAILS + 1))
fi

# forge NAME ID: a well-formed token (right shape and checksum) with a
# secret nobody was given, so mailgated has to look it up to say no.
forge()
{
	python3 - "$2" >"$D/$1.tok" <<'EOF'
import secrets, string, sys, zlib
b62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
body = "mgt_" + sys.argv[1] + "_" + "".join(
    secrets.choice(b62) for _ in range(30))
crc, check = zlib.crc32(body.encode()), ""
for _ in range(6):
    check = b62[crc % 62] + check
    crc //= 62
print(body + check)
EOF
}
forge mismatch "$(tok_id imap)"
forge unknown zzzzzzzzzzzz
printf 'mgt_aaaaaaaaaaaa_wrongwrongwrongwrongwrongwrongwr000000\n' \
    >"$D/malformed.tok"
check "right token id, wrong secret" "$IMAP_NO" \
    "$(login imap "$MG_IMAP_PORT" alice@example.org "$D/mismatch.tok")"
check "unknown token id" "$IMAP_NO" \
    "$(login imap "$MG_IMAP_PORT" alice@example.org "$D/unknown.tok")"
check "malformed token" "$IMAP_NO" \
    "$(login imap "$MG_IMAP_PORT" alice@example.org "$D/malformed.tok")"
check "bob's token for alice" "$IMAP_NO" \
    "$(login imap "$MG_IMAP_PORT" alice@example.org "$D/bob.tok")"
check "unknown mailbox" "$IMAP_NO" \
    "$(login imap "$MG_IMAP_PORT" nobody@example.org "$D/imap.tok")"
check "revoked token" "$IMAP_NO" \
    "$(login imap "$MG_IMAP_PORT" alice@example.org "$D/revoked.tok")"
check "expired token" "$IMAP_NO" \
    "$(login imap "$MG_IMAP_PORT" alice@example.org "$D/expired.tok")"
check "smtp-only token over IMAP" "$IMAP_NO" \
    "$(login imap "$MG_IMAP_PORT" alice@example.org "$D/smtp.tok")"
check "pop3-only token over IMAP" "$IMAP_NO" \
    "$(login imap "$MG_IMAP_PORT" alice@example.org "$D/pop3.tok")"
check "disabled mailbox" "$IMAP_NO" \
    "$(login imap "$MG_IMAP_PORT" carol@example.org "$D/carol.tok")"

check "pop3 token, pop3 login" OK \
    "$(login pop3 "$MG_POP3_PORT" alice@example.org "$D/pop3.tok")"
check "imap token over POP3" "NO b'-ERR [AUTH]" \
    "$(login pop3 "$MG_POP3_PORT" alice@example.org "$D/imap.tok")"

# Each refusal for its own reason, as mailgated logged it (a test that
# failed for the wrong reason would prove nothing).
reason()
{
	local name=$1 pattern=$2
	if grep -Eq "$pattern" "$D/mailgated.log"; then
		echo "ok: mailgated refused $name: $pattern"
	else
		echo "FAIL: mailgated log lacks '$pattern' ($name)"
		FAILS=$((FAILS + 1))
	fi
}
reason "wrong secret" "token_id=$(tok_id imap) result=fail reason=mismatch"
reason "unknown id" "token_id=zzzzzzzzzzzz result=fail reason=unknown"
reason "malformed" "mailbox=alice@example.org .*result=fail reason=malformed"
reason "bob's token" "token_id=$(tok_id bob) result=fail reason=wrong_user"
reason "revoked" "token_id=$(tok_id revoked) result=fail reason=revoked"
reason "expired" "token_id=$(tok_id expired) result=fail reason=expired"
reason "smtp-only" "service=imap .*token_id=$(tok_id smtp) result=fail reason=scope"
reason "imap over pop3" "service=pop3 .*token_id=$(tok_id imap) result=fail reason=scope"
reason "disabled" "token_id=$(tok_id carol) result=fail reason=disabled"
reason "pop3 login" "service=pop3 .*token_id=$(tok_id pop3) result=ok"

# Wrong credentials are status 1: no temporary failure so far.
if grep -q 'exited with status 111' "$DLOG"; then
	echo "FAIL: a temporary failure before mailgated was stopped:"
	grep 'auth: Error' "$DLOG"
	FAILS=$((FAILS + 1))
fi

# --- doveadm, straight at mailgated's socket -----------------------------
DA=(doveadm -c "$D/imap/dovecot.conf" auth test -a "$SOCK" -x service=imap)
if "${DA[@]}" alice@example.org "$(cat "$D/imap.tok")" >"$D/da.out" 2>&1 &&
    grep -q 'auth succeeded' "$D/da.out"; then
	echo "ok: doveadm auth test: imap token succeeds"
else
	echo "FAIL: doveadm auth test (good token):"; cat "$D/da.out"
	FAILS=$((FAILS + 1))
fi
set +e
"${DA[@]}" alice@example.org "$(cat "$D/smtp.tok")" >"$D/da.out" 2>&1
rc=$?
set -e
if [ "$rc" = 77 ] && grep -q 'auth failed' "$D/da.out"; then
	echo "ok: doveadm auth test: smtp-only token fails (rc 77)"
else
	echo "FAIL: doveadm auth test (smtp token) rc $rc:"; cat "$D/da.out"
	FAILS=$((FAILS + 1))
fi

# --- mailgated down: a temporary failure, not a wrong password ------------
kill "$MGD_PID"
wait "$MGD_PID" 2>/dev/null || true
MGD_PID=
check "mailgated stopped: IMAP" "$IMAP_TEMP" \
    "$(login imap "$MG_IMAP_PORT" alice@example.org "$D/imap.tok")"
check "mailgated stopped: POP3" "NO b'-ERR [SYS/TEMP]" \
    "$(login pop3 "$MG_POP3_PORT" alice@example.org "$D/pop3.tok")"
if grep -q 'checkpassword(alice@example.org.*exited with status 111' \
    "$DLOG" && grep -q 'auth: Error: mailgate-checkpassword: mailgated at' \
    "$DLOG" && grep -q 'auth service reported temporary failure' "$DLOG"
then
	echo "ok: Dovecot logged the helper's exit 111 and its reason"
else
	echo "FAIL: Dovecot log lacks the temporary failure:"
	tail -n 20 "$DLOG"
	FAILS=$((FAILS + 1))
fi

# Back up: logins work again without touching Dovecot.
start_mailgated
check "mailgated restarted" OK \
    "$(login imap "$MG_IMAP_PORT" alice@example.org "$D/imap.tok")"

# --- without extra_groups: permission denied, a temporary failure --------
tb_dovecot_stop "$D/imap"
tb_dovecot_imap_start "$D/imap-nogroup" "$MG_IMAP_PORT" - \
    "$D/auth-nogroup.conf.ext"
check "no extra_groups: IMAP" "$IMAP_TEMP" \
    "$(login imap "$MG_IMAP_PORT" alice@example.org "$D/imap.tok")"
if grep -qF "auth: Error: mailgate-checkpassword: mailgated at $SOCK: connect: Permission denied" \
    "$D/imap-nogroup/dovecot.log"; then
	echo "ok: without extra_groups Dovecot logs 'connect: Permission denied'"
else
	echo "FAIL: no 'Permission denied' without extra_groups:"
	tail -n 5 "$D/imap-nogroup/dovecot.log"
	FAILS=$((FAILS + 1))
fi
got=$(auth_groups "$D/imap-nogroup")
if [[ $got == "$(id -u dovecot):"* ]] && ! grep -qw "$PF_GID" <<<"${got#*:}"
then
	echo "ok: without extra_groups the auth process lacks group postfix"
else
	echo "FAIL: without extra_groups: auth process uid:groups '$got'"
	FAILS=$((FAILS + 1))
fi

# --- no token in any log --------------------------------------------------
for t in "$D"/*.tok; do
	if grep -qF "$(cat "$t")" "$DLOG" "$D/mailgated.log" \
	    "$D/imap/out.log" "$D/imap-nogroup/dovecot.log"; then
		echo "FAIL: token $(basename "$t") appears in a log"
		FAILS=$((FAILS + 1))
	fi
done

if [ "$FAILS" -ne 0 ]; then
	echo "$FAILS check(s) failed; logs in $D"
	exit 1
fi
echo "all checks passed"
