#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test_verify.sh - db_token_verify_attempt() against the real database, through
# "mailgate token verify ADDR [--service S]" (token on stdin): every
# reason a token is refused, in the order the login path checks them, and
# that a database outage is 75, never "rejected".
set -euo pipefail

: "${MG_SRC:?run through ctest/tests/run}"
. "$MG_SRC/tests/integration/cli_env.sh"

setup_db mg_t_verify
run 0 mailbox add alice@example.org
run 0 mailbox add bob@example.org

# verify WANT_RC WANT_WORD ADDR [ARGS...] < token on stdin via $IN
verify() {
	local want=$1 word=$2 rc=0
	shift 2
	printf '%s\n' "$IN" | "$MG" token verify "$@" >"$W/out" 2>"$W/err" ||
	    rc=$?
	[ "$rc" -eq "$want" ] || die "verify $* exited $rc, want $want"
	has out "$word"
	if [ "${#IN}" -gt 20 ]; then # the secret part is never shown
		lacks out "${IN:17}"
		lacks err "${IN:17}"
	fi
}

run 0 token issue alice@example.org --scopes imap,submission --label mua
T=$(cat "$W/out")
ID=${T:4:12}

IN=$T verify 0 "accepted: token $ID of alice@example.org" alice@example.org --service imap
check "a fresh token is accepted for its mailbox and scope"
IN=$T verify 0 accepted ALICE@Example.org --service submission
check "the user name is matched case-insensitively"
IN=$T verify 0 accepted alice@example.org
check "without --service the scope is not checked"

IN=$T verify 1 "rejected: scope" alice@example.org --service pop3
check "a service outside the scopes: scope"
IN=$T verify 1 "rejected: wrong_user" bob@example.org --service imap
check "another mailbox's user name: wrong_user"

bad=${T:0:20}X${T:21}
IN=$bad verify 1 "rejected: malformed" alice@example.org
IN="not a token" verify 1 "rejected: malformed" alice@example.org
IN="${T}x" verify 1 "rejected: malformed" alice@example.org
check "a typo (checksum), garbage and a trailing byte: malformed"

run 0 token issue bob@example.org
TB=$(cat "$W/out")
sql "DELETE FROM app_tokens WHERE public_id = '${TB:4:12}'" >/dev/null
IN=$TB verify 1 "rejected: unknown" bob@example.org
check "a well-formed token whose id is not stored: unknown"

# Same id, other secret: forge a token with a valid checksum for $ID
# (token.h: CHECK is the CRC-32 of all before it, 6 base-62 digits).
FORGED=$(python3 - "$T" <<'PY'
import sys, zlib
t = sys.argv[1]
body = t[:17] + ("B" if t[17] != "B" else "C") + t[18:47]
a = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
c, s = zlib.crc32(body.encode()), ""
for _ in range(6):
    s = a[c % 62] + s
    c //= 62
print(body + s)
PY
)
IN=$FORGED verify 1 "rejected: mismatch" alice@example.org
check "right id, wrong secret (valid checksum): mismatch"

sql "UPDATE app_tokens SET expires_at = now() - interval '1 minute'
    WHERE public_id = '$ID'" >/dev/null
IN=$T verify 1 "rejected: expired" alice@example.org --service imap
sql "UPDATE app_tokens SET expires_at = NULL WHERE public_id = '$ID'" >/dev/null
check "past its expiry: expired"

run 0 mailbox disable alice@example.org
IN=$T verify 1 "rejected: disabled" alice@example.org --service imap
run 0 mailbox enable alice@example.org
IN=$T verify 0 accepted alice@example.org --service imap
check "a disabled mailbox: disabled; enabled again: accepted"

run 0 token revoke "$ID" --reason test
IN=$T verify 1 "rejected: revoked" alice@example.org --service imap
check "after revoke: revoked"

printf '%s\n' "$T" | "$MG" token verify alice@example.org --json >"$W/out" 2>"$W/err" || true
json_ok
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d == {"result": "rejected", "reason": "revoked", "id": sys.argv[2]}, d' \
    "$W/out" "$ID" || die "verify JSON"
check "--json gives result, reason and id"

# A key rotation: the old key moves to previous_key_files.
run 0 token issue bob@example.org
T2=$(cat "$W/out")
mv "$W/key" "$W/oldkey"
tb_keyfile "$W/key"
printf 'previous_key_files = %s\n' "$W/oldkey" >>"$W/mailgate.conf"
IN=$T2 verify 0 accepted bob@example.org
grep -v '^previous_key_files' "$W/mailgate.conf" >"$W/nokey.conf"
IN=$T2 verify 1 "rejected: key_retired" -c "$W/nokey.conf" bob@example.org
check "after key rotation: accepted with the previous key kept, key_retired without"

printf '' | "$MG" token verify alice@example.org >"$W/out" 2>"$W/err" && die "empty stdin accepted" || [ $? -eq 65 ]
check "no token on stdin: 65"

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sed "s|^url = .*|url = postgresql://mailgate:x@127.0.0.1:$PORT/mailgate|" \
    "$W/mailgate.conf" >"$W/down.conf"
rc=0
printf '%s\n' "$T2" | "$MG" -c "$W/down.conf" token verify bob@example.org \
    >"$W/out" 2>"$W/err" || rc=$?
[ "$rc" -eq 75 ] || die "exit $rc, want 75"
[ ! -s "$W/out" ] || die "a verdict was printed"
one_err_line
check "database down: 75 and no verdict, never 'rejected'"

printf 'all %d checks passed\n' "$NCHECK"
