#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test_authsock_doveadm.sh - Dovecot's own strict client, "doveadm auth
# test -a SOCKET", against mailgated: a valid token succeeds for
# service=smtp (rc 0); a wrong token, an out-of-scope service and
# doveadm's default service fail (rc 77).
set -euo pipefail

: "${MG_SRC:?run via tests/run or ctest}"
. "$MG_SRC/tests/testbed/lib.sh"
. "$MG_SRC/tests/proto/authsock_lib.sh"
trap tb_stop_all EXIT

D=$MG_TB/authsock-dv
rm -rf "$D" && tb_mkroot "$D"
URL=$(tb_newdb authsock_dv)
CONF=$(as_conf "$D" "$URL" "$D/auth.sock" "$MG_AUTHSOCK_PORT")
"$MG_MAILGATE" -c "$CONF" db migrate >/dev/null
"$MG_MAILGATE" -c "$CONF" mailbox add alice@example.org >/dev/null 2>&1
TOK=$(as_token "$CONF" alice@example.org smtp)
as_start "$CONF" "$D"

# doveadm needs a configuration, though it asks only our socket.
mkdir -p "$D/dv"
printf 'base_dir = %s\nstate_dir = %s\nlog_path = /dev/stderr\n' \
    "$D/dv" "$D/dv" >"$D/doveadm.conf"
dv()
{
	local rc=0

	doveadm -c "$D/doveadm.conf" auth test -a "$D/auth.sock" "$@" \
	    >"$D/dv.out" 2>&1 || rc=$?
	echo "$rc"
}

[ "$(dv -x service=smtp -x rip=198.51.100.7 alice@example.org "$TOK")" = 0 ]
grep -q 'user=alice@example.org' "$D/dv.out"
[ "$(dv -x service=smtp Alice@Example.ORG "$TOK")" = 0 ]
[ "$(dv -x service=smtp alice@example.org "${TOK}x")" = 77 ]
[ "$(dv -x service=imap alice@example.org "$TOK")" = 77 ]
[ "$(dv alice@example.org "$TOK")" = 77 ]
echo "test_authsock_doveadm: ok"
