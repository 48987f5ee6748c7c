#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# selftest.sh - the test bed checks itself: every lib.sh service starts,
# answers as the tests expect, and stops; the test provider behaves as
# tests/idp/README.md says. tests/run runs it before ctest, against its
# shared PostgreSQL and provider (MG_PG_DIR, MG_IDP_URL); alone it starts
# its own. Ports: the lib.sh defaults (MG_IMAP_PORT, MG_SMTP_PORT, ...).

set -euo pipefail

SRC=${MG_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
# shellcheck source=lib.sh
. "$SRC/tests/testbed/lib.sh"
trap tb_stop_all EXIT

S=$MG_TB/selftest
rm -rf "$S"
tb_mkroot "$S"
passed=0
failed=0

ok()
{
	passed=$((passed + 1))
	printf 'ok   %s\n' "$1"
}

bad()
{
	failed=$((failed + 1))
	printf 'FAIL %s\n' "$1"
}

# check NAME CMD...: CMD must succeed.
check()
{
	local name=$1
	shift

	if "$@" >"$S/last.out" 2>&1; then
		ok "$name"
	else
		bad "$name"
		sed 's/^/     /' "$S/last.out" | tail -n 15
	fi
}

# refute NAME CMD...: CMD must fail.
refute()
{
	local name=$1
	shift

	if "$@" >"$S/last.out" 2>&1; then
		bad "$name (succeeded)"
		sed 's/^/     /' "$S/last.out" | tail -n 15
	else
		ok "$name"
	fi
}

# --- PostgreSQL
if [ -z "${MG_PG_DIR:-}" ]; then
	export MG_PG_DIR=$S/pg
	tb_pg_start "$MG_PG_DIR" "$MG_PG_PORT"
fi
url=$(tb_newdb tb_selftest)
check "tb_newdb gives a database mailgate owns" \
    psql "$url" -Atc "CREATE TABLE t (x int); DROP TABLE t"
refute "a wrong password is refused over TCP" \
    psql "${url/mailgate:mailgate@/mailgate:wrong@}" -Atc "SELECT 1"
check "tb_pg_start is idempotent" tb_pg_start "$MG_PG_DIR" "$MG_PG_PORT"
tb_keyfile "$S/key"
check "tb_keyfile writes 48 bytes, mode 600" \
    test "$(stat -c '%s %a' "$S/key")" = "48 600"

# --- Dovecot IMAP with a checkpassword stand-in
mkdir -p "$S/bin"
cat >"$S/bin/checkpw" <<'EOF'
#!/bin/bash
{ IFS= read -r -d '' user; IFS= read -r -d '' pass; } <&3
if [[ $user == alice@example.org && $pass == secret ]]; then
	export USER=$user
	exec "$@"
fi
exit 1
EOF
chmod 755 "$S/bin/checkpw"
tb_dovecot_imap_start "$S/imap" "$MG_IMAP_PORT" "$S/bin/checkpw"
check "IMAP login with the right password" \
    curl -sS "imap://127.0.0.1:$MG_IMAP_PORT/" \
    --user alice@example.org:secret -X CAPABILITY
refute "IMAP login with a wrong password" \
    curl -sS "imap://127.0.0.1:$MG_IMAP_PORT/" \
    --user alice@example.org:wrong -X CAPABILITY

# --- Dovecot auth, then Postfix on both SASL paths
printf 'alice@example.org:{PLAIN}secret::::::\n' >"$S/users"
MG_DOVECOT_AUTH_POSTFIX_SOCKET=$S/pf/spool/private/auth \
    tb_dovecot_auth_start "$S/dvauth" "$S/users"
check "doveadm auth test on auth-client" \
    doveadm -c "$S/dvauth/dovecot.conf" auth test \
    -a "$S/dvauth/run/auth-client" alice@example.org secret
refute "doveadm auth test, wrong password" \
    doveadm -c "$S/dvauth/dovecot.conf" auth test \
    -a "$S/dvauth/run/auth-client" alice@example.org wrong

swaks_auth()
{
	swaks --server "127.0.0.1:$MG_SMTP_PORT" --auth PLAIN \
	    --auth-user alice@example.org --auth-password "$1" \
	    --quit-after AUTH
}
tb_postfix_start "$S/pf" "$MG_SMTP_PORT" private/auth
check "SMTP AUTH via private/auth" swaks_auth secret
refute "SMTP AUTH via private/auth, wrong password" swaks_auth wrong
tb_postfix_stop "$S/pf"
tb_postfix_start "$S/pf" "$MG_SMTP_PORT" "inet:127.0.0.1:$MG_DOVECOT_AUTH_PORT"
check "SMTP AUTH via inet:" swaks_auth secret
check "nothing is relayed" bash -c "swaks --server 127.0.0.1:$MG_SMTP_PORT \
    --from a@example.org --to b@example.net --quit-after RCPT |
    grep -q 'Access denied'"

# --- The OpenID provider
if [ -z "${MG_IDP_URL:-}" ]; then
	tb_idp_start "$S/idp" "$MG_IDP_PORT"
	MG_IDP_URL=$(tb_idp_url "$MG_IDP_PORT")
fi
CTL=http://127.0.0.1:$MG_IDP_PORT/_test
LOGIN=$SRC/tests/testbed/oidc_login.py

# claims LOGIN: log in, print the ID token's header and payload as JSON.
claims()
{
	"$LOGIN" --issuer "$MG_IDP_URL" --login "$1" --tokens "$S/tok.json" \
	    >/dev/null
	python3 - "$S/tok.json" <<'EOF'
import base64, json, sys
tok = json.load(open(sys.argv[1]))
def part(s):
    return json.loads(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))
h, p, _ = tok["id_token"].split(".")
print(json.dumps({"header": part(h), "claims": part(p),
                  "nonce": tok["nonce"], "refresh": "refresh_token" in tok}))
EOF
}

# claim_is LOGIN PYTHON-EXPR: EXPR over t (header, claims) must hold.
claim_is()
{
	local j

	j=$(claims "$1") || return 1
	python3 -c 'import json,sys; t=json.loads(sys.argv[1]); c=t["claims"]
sys.exit(0 if eval("(" + sys.argv[2] + ")") else 1)' "$j" "$2" || {
		echo "$j"
		return 1
	}
}

check "discovery names the issuer with its slash" bash -c "curl -fsS \
    '${MG_IDP_URL}.well-known/openid-configuration' |
    grep -q '\"issuer\":\"$MG_IDP_URL\"'"
check "a login yields a nonce-bound ID token with Authentik's claims" \
    claim_is bob 'c["sub"] == "bob" and c["email"] == "bob@example.org"
and c["email_verified"] is False and c["groups"] == ["mail-users"]
and c["amr"] == ["pwd"] and c["nonce"] == t["nonce"] and t["refresh"]
and c["iss"] == "'"$MG_IDP_URL"'" and c["aud"] == "mailgate"'
check "admin* is in admins" claim_is admin7 'c["groups"] == ["mail-users", "admins"]'
check "nogroup* has no group" claim_is nogroup2 'c["groups"] == []'
check "a login with @ is its own email" \
    claim_is carol@corp.example 'c["email"] == "carol@corp.example"
and c["preferred_username"] == "carol"'
check "mfa in the login gives amr mfa" claim_is dan-mfa 'c["amr"] == ["pwd", "mfa"]'
check "password 'wrong' ends in access_denied" bash -c "'$LOGIN' \
    --issuer '$MG_IDP_URL' --password wrong | grep -q '^error=access_denied'"
refute "no PKCE, no code" "$LOGIN" --issuer "$MG_IDP_URL" --no-pkce

kid()
{
	claims eve | python3 -c 'import json,sys; print(json.load(sys.stdin)["header"].get("kid", ""))'
}
jwks_kids()
{
	curl -fsS "${MG_IDP_URL}jwks" |
	    python3 -c 'import json,sys; print(" ".join(k["kid"] for k in json.load(sys.stdin)["keys"]))'
}
k1=$(kid)
curl -fsS -X POST "$CTL/rotate?keep=1" >/dev/null
k2=$(kid)
check "rotation signs with a new kid" test -n "$k2" -a "$k1" != "$k2"
check "rotate?keep=1 keeps the old key in the JWKS" \
    bash -c "[[ ' $(jwks_kids) ' == *' $k1 '* ]]"
curl -fsS -X POST "$CTL/rotate" >/dev/null
check "rotate drops the old keys" \
    bash -c "[[ ' $(jwks_kids) ' != *' $k2 '* ]]"
curl -fsS -X POST "$CTL/alg?alg=ES256" >/dev/null
check "alg switch to ES256" claim_is eve 't["header"]["alg"] == "ES256"'
curl -fsS -X POST "$CTL/alg?alg=HS256" >/dev/null
check "alg switch to HS256 (no kid)" \
    claim_is eve 't["header"] == {"alg": "HS256"}'
curl -fsS -X POST "$CTL/alg?alg=${MG_IDP_ALG:-RS256}" >/dev/null

echo "selftest: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
