#!/bin/bash
# SPDX-License-Identifier: MIT
#
# test_oidc_idp.sh - mg_oidc against the real oidc-provider of tests/idp
# (configured like Authentik): discovery, JWKS, a headless login through
# the URL that oidc_login_begin() builds, the code traded by
# oidc_login_finish() with PKCE and Basic client authentication, ID
# tokens in RS256 and ES256 verified, HS256 with an empty JWKS (Authentik
# without a signing key) accepted, HS256 beside asymmetric keys and PS256
# (not in the default allow-list) refused, key rotation, code replay,
# wrong secret, client_secret_post, groups and MFA.
#
# Needs $MG_BUILD/tests/oidc_probe (tests/integration/oidc_probe.c); it
# starts its own provider on MG_OIDC_IDP_PORT (default 9410) because it
# switches algorithms and rotates keys.
set -euo pipefail

: "${MG_SRC:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${MG_BUILD:=$MG_SRC/build}"
: "${MG_OIDC_IDP_PORT:=9410}"
: "${MG_OIDC_ROOT:=/tmp/mg-o}"

probe=
for p in "$MG_BUILD/tests/oidc_probe" "$MG_BUILD/oidc_probe"; do
	[ -x "$p" ] && probe=$p && break
done
if [ -z "$probe" ]; then
	echo "SKIP: oidc_probe not built (see tests/integration/oidc_probe.c)"
	exit 0
fi

. "$MG_SRC/tests/testbed/lib.sh"
trap tb_stop_all EXIT

root="$MG_OIDC_ROOT/idp-test"
rm -rf "$root"
mkdir -p "$root"
port=$MG_OIDC_IDP_PORT
redirect="http://127.0.0.1:$((port + 1))/callback"
export MG_IDP_CLIENT_ID="mail client"
export MG_IDP_CLIENT_SECRET="s3cr:t/+=%-integration-secret-0123456789"
export MG_IDP_REDIRECT_URIS="$redirect"
tb_idp_start "$root/idp" "$port"
issuer=$(tb_idp_url "$port")
ctl="http://127.0.0.1:$port/_test"

export PROBE_ISSUER=$issuer PROBE_CLIENT_ID=$MG_IDP_CLIENT_ID
export PROBE_CLIENT_SECRET=$MG_IDP_CLIENT_SECRET PROBE_REDIRECT=$redirect
export PROBE_GROUP=mail-users

fails=0
check()
{
	local name=$1 want=$2 got=$3

	if grep -qxF -- "$want" <<<"$got"; then
		echo "ok: $name"
	else
		echo "FAIL: $name: want '$want' in:" >&2
		sed 's/^/  /' <<<"$got" >&2
		fails=$((fails + 1))
	fi
}

# login LOGIN: begin, drive the provider to the callback; prints it.
login()
{
	local url cb

	url=$("$probe" begin "$root/state" | sed -n 's/^url=//p')
	cb=$(python3 "$MG_SRC/tests/testbed/oidc_login.py" --login "$1" \
	    --password pw --stop-prefix "$redirect" \
	    --jar "$root/jar.$RANDOM" "$url" | sed -n 's/^url=//p')
	printf '%s\n' "$cb"
}

out=$("$probe" refresh || true)
check "discovery and JWKS" "result=ok" "$out"

for alg in RS256 ES256; do
	curl -fsS -X POST -o /dev/null "$ctl/alg?alg=$alg"
	cb=$(login alice@example.org)
	out=$("$probe" finish "$root/state" "$cb" || true)
	check "$alg login" "result=ok" "$out"
	check "$alg sub" "sub=alice@example.org" "$out"
	check "$alg address" "address=alice@example.org" "$out"
	check "$alg no mfa" "mfa=0" "$out"
done

# oidc-provider keeps its RSA and EC keys in the JWKS while it signs
# with HS256: exactly the downgrade mailgate must refuse.
curl -fsS -X POST -o /dev/null "$ctl/alg?alg=HS256"
cb=$(login alice@example.org)
out=$("$probe" finish "$root/state" "$cb" || true)
check "HS256 beside asymmetric keys refused" "result=permfail" "$out"
grep -q 'HS256 presented when an asymmetric key' <<<"$out" || {
	echo "FAIL: HS256 refusal not named" >&2
	fails=$((fails + 1))
}

# Authentik without a signing key: HS256 with the client secret and an
# empty JWKS ("{}"). Accepted.
curl -fsS -X POST -o /dev/null "$ctl/alg?alg=HS256&jwks=empty"
cb=$(login alice@example.org)
out=$("$probe" finish "$root/state" "$cb" || true)
check "HS256 with an empty JWKS" "result=ok" "$out"
check "HS256 address" "address=alice@example.org" "$out"

curl -fsS -X POST -o /dev/null "$ctl/alg?alg=PS256"
cb=$(login alice@example.org)
out=$("$probe" finish "$root/state" "$cb" || true)
check "PS256 not in allowed_algs" "result=permfail" "$out"

curl -fsS -X POST -o /dev/null "$ctl/alg?alg=RS256"
curl -fsS -X POST -o /dev/null "$ctl/rotate"
cb=$(login mfa-carol)
out=$("$probe" finish "$root/state" "$cb" || true)
check "after rotation" "result=ok" "$out"
check "mfa in amr" "mfa=1" "$out"
check "template-free address" "address=mfa-carol@example.org" "$out"
out=$("$probe" finish "$root/state" "$cb" || true)
check "code replay refused" "result=permfail" "$out"
grep -q '^error=.*invalid_grant' <<<"$out" || {
	echo "FAIL: replay error does not name invalid_grant" >&2
	fails=$((fails + 1))
}

cb=$(login nogroup-bob)
out=$("$probe" finish "$root/state" "$cb" || true)
check "login without group" "result=ok" "$out"
check "group rule refuses" "map=missing_group" "$out"

cb=$(login alice@example.org)
out=$(PROBE_CLIENT_SECRET=wrong "$probe" finish "$root/state" "$cb" || true)
check "wrong client secret" "result=permfail" "$out"
grep -q '^error=.*invalid_client' <<<"$out" || {
	echo "FAIL: wrong secret error does not name invalid_client" >&2
	fails=$((fails + 1))
}

# client_secret_post: the secret in the form, no Basic header (that no
# header goes along is test_oidc's to check: oidc-provider would take it).
tb_idp_stop "$root/idp"
MG_IDP_TOKEN_AUTH=client_secret_post tb_idp_start "$root/idp" "$port"
cb=$(login alice@example.org)
out=$(PROBE_AUTH_METHOD=client_secret_post "$probe" finish "$root/state" \
    "$cb" || true)
check "client_secret_post" "result=ok" "$out"

out=$(PROBE_ISSUER=${issuer%/} "$probe" refresh || true)
check "issuer without slash" "result=permfail" "$out"
grep -q 'lacks the trailing slash' <<<"$out" || {
	echo "FAIL: slash-only mismatch not named" >&2
	fails=$((fails + 1))
}

if grep -q -e 'integration-secret' "$root/idp/log" 2>/dev/null; then
	echo "note: the provider's own log holds the secret (not ours)"
fi
[ "$fails" -eq 0 ] || { echo "$fails failure(s)" >&2; exit 1; }
echo "all passed"
