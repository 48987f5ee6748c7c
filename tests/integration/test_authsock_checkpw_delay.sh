#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test_authsock_checkpw_delay.sh - mailgate-checkpassword against a live
# mailgated with the default failure_delay (1s): the delay grows with
# every wrong token (up to 8x), but a FAIL always leaves within
# AUTHSOCK_REPLY_BUDGET_MS, below the helper's default 5 s deadline, so
# every wrong token ends in exit 1 (wrong credentials), never 111 (a
# temporary failure that mail clients keep retrying). The right token
# still gets in afterwards.
set -euo pipefail

: "${MG_SRC:?run via tests/run or ctest}"
. "$MG_SRC/tests/testbed/lib.sh"
. "$MG_SRC/tests/proto/authsock_lib.sh"
trap tb_stop_all EXIT

D=$MG_TB/authsock-cpwdelay
rm -rf "$D" && tb_mkroot "$D"
URL=$(tb_newdb authsock_cpwdelay)
CONF=$(as_conf "$D" "$URL" "$D/auth.sock" "$MG_AUTHSOCK_PORT")
sed -i 's/^failure_delay = .*/failure_delay = 1s/' "$CONF"
"$MG_MAILGATE" -c "$CONF" db migrate >/dev/null
"$MG_MAILGATE" -c "$CONF" mailbox add alice@example.org >/dev/null 2>&1
TOK=$(as_token "$CONF" alice@example.org imap)
as_start "$CONF" "$D"

# cpw PASSWORD: run the helper as Dovecot 2.3 does; print its exit code.
cpw()
{
	local rc=0

	env -i PROTO=TCP SERVICE=imap TCPREMOTEIP=198.51.100.7 \
	    "$MG_BUILD/mailgate-checkpassword" --socket "$D/auth.sock" \
	    /bin/true 3< <(printf 'alice@example.org\0%s\0\0' "$1") \
	    2>>"$D/cpw.err" || rc=$?
	echo "$rc"
}

BAD=mgt_$(printf 'x%.0s' $(seq 1 40))
for i in 1 2 3 4 5; do
	rc=$(cpw "$BAD")
	if [ "$rc" != 1 ]; then
		echo "FAIL: wrong token, try $i: exit $rc, want 1" >&2
		cat "$D/cpw.err" >&2
		exit 1
	fi
done
[ "$(cpw "$TOK")" = 0 ]
echo "test_authsock_checkpw_delay: ok"
