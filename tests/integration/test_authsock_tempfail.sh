#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test_authsock_tempfail.sh - mailgated whose database cannot be reached
# (nothing listens on its port; the shared cluster is never stopped):
# Dovecot-aware clients get FAIL code=temp_fail and keep their
# connection, Postfix-like ones (VERSION 1 0 or "nologin") are
# disconnected, and nobody is told "wrong password" for a valid-looking
# token. tests/integration/test_postfix.sh does the same with a real
# PostgreSQL stopped and a real Postfix.
set -euo pipefail

: "${MG_SRC:?run via tests/run or ctest}"
. "$MG_SRC/tests/testbed/lib.sh"
. "$MG_SRC/tests/proto/authsock_lib.sh"
trap tb_stop_all EXIT

D=$MG_TB/authsock-temp
rm -rf "$D" && tb_mkroot "$D"
# Port 9 (discard) on loopback: connection refused at once.
CONF=$(as_conf "$D" "postgresql://mailgate@127.0.0.1:9/none" \
    "$D/auth.sock" "$MG_AUTHSOCK_PORT")
as_start "$CONF" "$D"
USER=alice@example.org
TOKEN_UNKNOWN=$(python3 "$AS_SCRIPT" --forge abcdefghijkl \
    012345678901234567890123456789)
export USER TOKEN_UNKNOWN
python3 "$AS_SCRIPT" "$D/auth.sock" "$MG_SRC"/tests/proto/tempfail/*.auth
[ "$(grep -c 'result=tempfail' "$D/mailgated.log")" -eq 4 ]
! grep 'token_id=abcdefghijkl' "$D/mailgated.log" | grep -q 'result=fail'

# --check-config: 0 on a good file, non-zero with the error on a bad one.
"$MG_MAILGATED" --check-config -c "$CONF" >/dev/null
printf '[auth]\nsocket_mode = 9999\n' >>"$CONF"
if "$MG_MAILGATED" --check-config -c "$CONF" 2>"$D/check.err"; then
	echo "FAIL: --check-config accepted a bad file" >&2
	exit 1
fi
grep -q 'socket_mode' "$D/check.err"
"$MG_MAILGATED" --version | grep -q '^mailgated '
echo "test_authsock_tempfail: ok"
