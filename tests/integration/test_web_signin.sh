#!/bin/bash
# SPDX-License-Identifier: MIT
#
# test_web_signin.sh - sign-in to mailgated's web pages through the real
# test provider, and what a signed-in user can do there.
#
# Checks: the provider checked at start-up (a slash-only issuer mismatch
# named); health and readiness; X-Forwarded-For believed from trusted
# proxies only; security headers, methods, limits; an RS256 sign-in
# (cookie flags, only hashes in the database); create an app password
# with the form's CSRF token (shown once, with [http] mail_host as the
# server; works; listed), CSRF and Origin refusals, escaping of a hostile
# label, revoke (own only); sign-out; return_to kept only when it is a
# local path; a flow begun on one instance and finished on another;
# ES256 after a provider restart; a key rotation without restarting
# mailgated; HS256 refused while the provider publishes asymmetric keys,
# accepted with an empty JWKS (Authentik without a signing key); a
# server key rotation by SIGHUP (web and auth socket); nothing secret in
# logs.
set -euo pipefail
# shellcheck source=test_web_lib.bash
. "$(dirname "$0")/test_web_lib.bash"

web_setup web_signin RS256
web_conf a "$MG_WEB_PORT_A" $'[http]\nmail_host = mail.example.org'
web_conf b "$MG_WEB_PORT_B" $'[http]\ntrusted_proxies = 127.0.0.1'
mg()
{
	"$MG_BUILD/mailgate" -c "$W/a.conf" "$@"
}
mg db migrate >/dev/null
mg mailbox add bob@example.org >/dev/null

# The provider is checked at start-up: a slash-only issuer mismatch is
# named at once, and /readyz says so.
sed -i "s|^issuer = .*|issuer = ${ISSUER%/}|" "$W/b.conf"
web_start b "$MG_WEB_PORT_B"
web_wait_log b "provider not usable yet" || true
expect_grep "start-up check names the slash" "provider not usable yet .*lacks the trailing slash that the provider uses: set \\[oidc\\] issuer to ${ISSUER}\"?\$" "$W/b.log"
expect "readyz with a wrong issuer" "$(curl -sS -o /dev/null -w '%{http_code}' "$WEB_B/readyz")" 503
web_stop b
web_conf b "$MG_WEB_PORT_B" $'[http]\ntrusted_proxies = 127.0.0.1'
web_start a "$MG_WEB_PORT_A"
web_start b "$MG_WEB_PORT_B"
web_wait_log a "http: provider ok" || true
expect_grep "start-up check passes" "http: provider ok issuer=$ISSUER\$" "$W/a.log"

# --- service basics -------------------------------------------------------
expect "healthz" "$(curl -sS -o /dev/null -w '%{http_code}' "$WEB_A/healthz")" 200
expect "readyz" "$(curl -sS -o /dev/null -w '%{http_code}' "$WEB_A/readyz")" 200
# X-Forwarded-For counts only from [http] trusted_proxies (B trusts us).
curl -sS -o /dev/null -H 'X-Forwarded-For: 203.0.113.9, 198.51.100.7' \
    "$WEB_A/healthz"
curl -sS -o /dev/null -H 'X-Forwarded-For: 203.0.113.9, 198.51.100.7' \
    "$WEB_B/healthz"
expect_grep "untrusted peer's X-Forwarded-For ignored" "ip=127\.0\.0\.1 method=GET path=/healthz" "$W/a.log"
expect_no_grep "no forwarded address on A" "ip=198\.51\.100\.7" "$W/a.log"
expect_grep "trusted proxy: client address from X-Forwarded-For" "ip=198\.51\.100\.7 method=GET path=/healthz" "$W/b.log"
J=$W/anon.jar
expect "signed-out page" "$(web_get "$J" "$WEB_A/")" "200 "
expect_grep "sign-in link" 'href="/login"' "$W/body"
for h in "Content-Security-Policy: default-src 'none'; style-src 'self'; form-action 'self' http://127.0.0.1:$MG_WEB_IDP_PORT; frame-ancestors 'none'; base-uri 'none'" \
    "X-Frame-Options: DENY" "Referrer-Policy: no-referrer" \
    "X-Content-Type-Options: nosniff" "Cache-Control: no-store"; do
	expect_grep "header $h" "^$h"$'\r'"?\$" "$W/headers"
done
expect_no_grep "no HSTS on http" "Strict-Transport-Security" "$W/headers"
expect_no_grep "no inline script or style" "<script|<style| style=" "$W/body"
expect_grep "lang attribute" '<html lang="en">' "$W/body"
expect "stylesheet" "$(web_get "$J" "$WEB_A/static/mailgate.css")" "200 "
expect_grep "stylesheet type" "^Content-Type: text/css" "$W/headers"
expect "HEAD /" "$(curl -sS -I -o /dev/null -w '%{http_code}' "$WEB_A/")" 200
for m in PUT DELETE OPTIONS PATCH TRACE; do
	expect "$m refused" "$(curl -sS -X "$m" -o /dev/null -w '%{http_code}' \
	    "$WEB_A/")" 405
done
expect "POST /login refused" "$(curl -sS -X POST -o /dev/null \
    -w '%{http_code}' "$WEB_A/login")" 405
expect "HEAD /login refused" "$(curl -sS -I -o /dev/null \
    -w '%{http_code}' "$WEB_A/login")" 405
expect "unknown path" "$(curl -sS -o /dev/null -w '%{http_code}' \
    "$WEB_A/admin")" 404
head -c 20000 /dev/zero | tr '\0' 'a' >"$W/big"
expect "body over 8 KiB" "$(curl -sS -o /dev/null -w '%{http_code}' \
    --data-binary @"$W/big" "$WEB_A/tokens")" 413
expect "huge header" "$(curl -sS -o /dev/null -w '%{http_code}' \
    -H "X-Big: $(head -c 40000 /dev/zero | tr '\0' 'b')" "$WEB_A/")" 431
# A flow never begins with a Host the proxy did not mean.
st=$(curl -sS -o /dev/null -w '%{http_code} %{redirect_url}' \
    -H 'Host: evil.example' "$WEB_A/login")
[[ $st == "302 http://127.0.0.1:$MG_WEB_IDP_PORT/"*"redirect_uri=http%3A%2F%2F127.0.0.1%3A$MG_WEB_PORT_A%2Fcallback"* ]] &&
    ok "redirect_uri from public_url, not Host" ||
    fail "redirect_uri with a forged Host: $st"

# --- RS256 sign-in ------------------------------------------------------------
J=$W/alice.jar
STATES=$(web_sql "SELECT count(*) FROM web_login_states")
expect "RS256 sign-in" "$(web_signin "$J" alice@example.org)" "303 $WEB_A/"
expect_grep "session cookie flags" \
    '^Set-Cookie: __Host-mailgate_session=[A-Za-z0-9_-]{43}; Path=/; Max-Age=43200; Secure; HttpOnly; SameSite=Lax' \
    "$W/headers"
SID=$(awk '$6 == "__Host-mailgate_session" { print $7 }' "$J")
expect "session row keyed by SHA-256 of the cookie" \
    "$(web_sql "SELECT count(*) FROM web_sessions WHERE id_hash = sha256('$SID'::bytea)")" 1
expect "no cookie value in the database" \
    "$(web_sql "SELECT count(*) FROM web_sessions WHERE position('$SID' IN encode(id_hash, 'escape')) > 0")" 0
expect "login state consumed" "$(web_sql "SELECT count(*) FROM web_login_states")" "$STATES"
expect "account page" "$(web_get "$J" "$WEB_A/")" "200 "
expect_grep "mailbox shown" "Signed in as <strong>alice@example.org</strong>" "$W/body"
expect_grep "account page not cached" "^Cache-Control: no-store" "$W/headers"
expect "identity linked" "$(web_sql "SELECT m.address FROM identities i JOIN mailboxes m ON m.id = i.mailbox_id WHERE i.subject = 'alice@example.org'")" \
    alice@example.org
expect "audit web.login" "$(web_sql "SELECT count(*) FROM audit_log WHERE action = 'web.login' AND actor = 'web:alice@example.org'")" 1

# --- app passwords ------------------------------------------------------------
CSRF=$(web_csrf)
expect "CSRF token on the page" "${#CSRF}" 43
expect "create token" "$(web_post "$J" "$WEB_A/tokens" "csrf=$CSRF" \
    "label=Laptop" "scope=imap" "scope=smtp" "expiry=90d")" "200 "
TOKEN=$(grep -oE 'mgt_[0-9a-z]{12}_[0-9A-Za-z]{36}' "$W/body" | head -n 1)
expect "token shown once" "${#TOKEN}" 53
expect_grep "user name shown" "<td>alice@example.org</td>" "$W/body"
expect_grep "IMAP server shown" "<td>mail.example.org, port 993, SSL/TLS</td>" "$W/body"
expect_grep "SMTP server shown" "<td>mail.example.org, port 465 SSL/TLS or 587 STARTTLS</td>" "$W/body"
expect_grep "token page not cached" "^Cache-Control: no-store" "$W/headers"
echo "$TOKEN" | mg token verify alice@example.org --service imap >/dev/null &&
    ok "the new token opens IMAP" || fail "the new token is refused"
echo "$TOKEN" | mg token verify alice@example.org --service pop3 >/dev/null &&
    fail "an imap,smtp token opens POP3" || ok "scopes as chosen"
TID=${TOKEN:4:12}
expect "expiry 90 days" "$(web_sql "SELECT expires_at::date - now()::date FROM app_tokens WHERE public_id = '$TID'")" 90
expect "audit token.issue by web" "$(web_sql "SELECT actor FROM audit_log WHERE action = 'token.issue' AND target = '$TID'")" \
    web:alice@example.org
web_get "$J" "$WEB_A/" >/dev/null
expect_grep "token listed" "<td data-label=\"Label\">Laptop</td>" "$W/body"
expect_no_grep "token never shown again" "$TOKEN" "$W/body"

# CSRF and Origin: each refused, nothing created. The wrong token
# differs from the right one in its last character, whatever that is.
if [ "${CSRF: -1}" = A ]; then BADCSRF=${CSRF%?}B; else BADCSRF=${CSRF%?}A; fi
n0=$(web_sql "SELECT count(*) FROM app_tokens")
expect "no CSRF token" "$(web_post "$J" "$WEB_A/tokens" "label=x" \
    "scope=imap" "expiry=30d")" "403 "
expect "wrong CSRF token" "$(web_post "$J" "$WEB_A/tokens" \
    "csrf=$BADCSRF" "label=x" "scope=imap" "expiry=30d")" "403 "
expect "another site's Origin" "$(curl -sS -b "$J" -o /dev/null \
    -w '%{http_code}' -H 'Origin: http://evil.example' \
    --data-urlencode "csrf=$CSRF" -d label=x -d scope=imap -d expiry=30d \
    "$WEB_A/tokens")" 403
expect "cross-site fetch" "$(curl -sS -b "$J" -o /dev/null \
    -w '%{http_code}' -H 'Sec-Fetch-Site: cross-site' \
    --data-urlencode "csrf=$CSRF" -d label=x -d scope=imap -d expiry=30d \
    "$WEB_A/tokens")" 403
expect "no session" "$(curl -sS -o /dev/null -w '%{http_code}' \
    -H "Origin: $WEB_A" --data-urlencode "csrf=$CSRF" -d label=x \
    -d scope=imap -d expiry=30d "$WEB_A/tokens")" 403
expect "unknown scope" "$(web_post "$J" "$WEB_A/tokens" "csrf=$CSRF" \
    "label=x" "scope=root" "expiry=30d")" "400 "
expect "no scope" "$(web_post "$J" "$WEB_A/tokens" "csrf=$CSRF" \
    "label=x" "expiry=30d")" "400 "
expect "unknown expiry" "$(web_post "$J" "$WEB_A/tokens" "csrf=$CSRF" \
    "label=x" "scope=imap" "expiry=1000y")" "400 "
expect "label too long" "$(web_post "$J" "$WEB_A/tokens" "csrf=$CSRF" \
    "label=$(printf 'x%.0s' {1..101})" "scope=imap" "expiry=30d")" "400 "
expect "nothing created by refused forms" \
    "$(web_sql "SELECT count(*) FROM app_tokens")" "$n0"

# A hostile label is shown as text.
XSS='<script>alert(1)</script>"'\''&'
web_post "$J" "$WEB_A/tokens" "csrf=$CSRF" "label=$XSS" "scope=imap" \
    "expiry=30d" >/dev/null
web_get "$J" "$WEB_A/" >/dev/null
expect_grep "label escaped" "&lt;script&gt;alert\(1\)&lt;/script&gt;&quot;&#39;&amp;" "$W/body"
expect_no_grep "no script from a label" "<script>" "$W/body"

# Revoke: own tokens only.
BOBTOK=$(mg token issue bob@example.org --scopes imap 2>/dev/null)
expect "revoke another's token" "$(web_post "$J" "$WEB_A/tokens/revoke" \
    "csrf=$CSRF" "id=${BOBTOK:4:12}")" "404 "
expect "revoke own token" "$(web_post "$J" "$WEB_A/tokens/revoke" \
    "csrf=$CSRF" "id=$TID")" "303 $WEB_A/"
echo "$TOKEN" | mg token verify alice@example.org --service imap >/dev/null &&
    fail "a revoked token still opens IMAP" || ok "revoked token refused"
echo "$BOBTOK" | mg token verify bob@example.org --service imap >/dev/null &&
    ok "bob's token untouched" || fail "bob's token was revoked"
expect "audit token.revoke by web" "$(web_sql "SELECT actor FROM audit_log WHERE action = 'token.revoke' AND target = '$TID'")" \
    web:alice@example.org
web_get "$J" "$WEB_A/" >/dev/null
expect_no_grep "revoked token not listed" ">Laptop<" "$W/body"

# Sign-out ends the session for good.
expect "sign out" "$(web_post "$J" "$WEB_A/logout" "csrf=$CSRF")" "303 $WEB_A/"
expect "session row deleted" "$(web_sql "SELECT count(*) FROM web_sessions WHERE id_hash = sha256('$SID'::bytea)")" 0
web_get "$W/replay.jar" "$WEB_A/" -H "Cookie: __Host-mailgate_session=$SID" >/dev/null
expect_grep "old cookie signs nobody in" 'href="/login"' "$W/body"

# --- return_to: local paths only -------------------------------------------
rt()
{
	local jar=$W/rt.jar st cb out
	rm -f "$jar"
	st=$(web_get "$jar" "$WEB_A/login?return_to=$1")
	out=$(python3 "$MG_SRC/tests/testbed/oidc_login.py" \
	    --login alice@example.org --stop-prefix "$WEB_A/callback" \
	    "${st#* }" || true)
	cb=$(sed -n 's/^url=//p' <<<"$out")
	web_get "$jar" "$cb"
}
expect "return_to local path" "$(rt '%2Fmail%2F%3Fx%3D1')" "303 $WEB_A/mail/?x=1"
expect "return_to //host ignored" "$(rt '%2F%2Fevil.example%2F')" "303 $WEB_A/"
expect "return_to URL ignored" "$(rt 'https%3A%2F%2Fevil.example%2F')" "303 $WEB_A/"
expect "return_to backslash ignored" "$(rt '%2F%5Cevil.example')" "303 $WEB_A/"
expect "return_to CRLF ignored" "$(rt '%2Fa%0d%0aSet-Cookie%3A+x%3D1')" "303 $WEB_A/"

# --- begun on A, finished on B -------------------------------------------
J=$W/ab.jar
expect "callback on the other instance" \
    "$(web_signin "$J" carol@example.org secret "$WEB_B")" "303 $WEB_A/"
expect "its session works on B" "$(web_get "$J" "$WEB_B/")" "200 "
expect_grep "B shows carol" "<strong>carol@example.org</strong>" "$W/body"
expect "and on A" "$(web_get "$J" "$WEB_A/")" "200 "
expect_grep "A shows carol" "<strong>carol@example.org</strong>" "$W/body"

# --- ES256, key rotation, HS256 ----------------------------------------------
web_idp_stop
web_idp_start ES256
expect "ES256 sign-in" "$(web_signin "$W/es.jar" dave@example.org)" "303 $WEB_A/"
curl -fsS -X POST -o /dev/null \
    "http://127.0.0.1:$MG_WEB_IDP_PORT/_test/rotate"
# mg_oidc refetches the JWKS for an unknown kid at most every 5 s.
sleep 6
expect "sign-in after key rotation" \
    "$(web_signin "$W/rot.jar" erin@example.org)" "303 $WEB_A/"
expect_grep "rotation seen without restart" "event=login result=ok mailbox=erin@example.org" "$W/a.log"
web_idp_stop
web_idp_start HS256
expect "HS256 with published asymmetric keys refused" \
    "$(web_signin "$W/hs.jar" frank@example.org)" "400 "
expect_grep "HS256 refusal logged" "reason=token_refused" "$W/a.log"
# Authentik without a signing key: HS256 and an empty JWKS. mailgated
# restarts, as it keeps a JWKS for an hour.
web_idp_stop
MG_IDP_JWKS=empty web_idp_start HS256
web_stop a
web_start a "$MG_WEB_PORT_A"
expect "HS256 with an empty JWKS" \
    "$(web_signin "$W/hs2.jar" gina@example.org)" "303 $WEB_A/"
web_idp_stop
web_idp_start RS256

# --- server key rotation by SIGHUP -------------------------------------------
# Both services take the keys from the reloaded configuration: the web
# page hashes new tokens with the new key, the auth socket accepts the
# old key's tokens while it is listed in previous_key_files and refuses
# them (key_retired) once it is not; a broken file changes nothing.
. "$MG_SRC/tests/proto/authsock_lib.sh"
keyid()
{
	{ printf 'mailgate key id'; cat "$1"; } | sha256sum | cut -c1-8
}
# web_token JAR LABEL: create an imap token on A's page; print it.
web_token()
{
	web_get "$1" "$WEB_A/" >/dev/null
	web_post "$1" "$WEB_A/tokens" "csrf=$(web_csrf)" "label=$2" \
	    "scope=imap" "expiry=30d" >/dev/null
	grep -oE 'mgt_[0-9a-z]{12}_[0-9A-Za-z]{36}' "$W/body" | head -n 1
}
# hup_a N: SIGHUP A and wait for its Nth reload line (ok or failed).
hup_a()
{
	local i
	kill -HUP "${MGD_PIDS[a]}"
	for ((i = 0; i < 100; i++)); do
		[ "$(grep -cE 'reloaded configuration|reload failed' "$W/a.log")" -ge "$1" ] &&
		    return 0
		sleep 0.1
	done
	fail "no reload line $1 in a.log"
}
OLD_ID=$(keyid "$W/token.key")
tb_keyfile "$W/token2.key"
NEW_ID=$(keyid "$W/token2.key")
J=$W/henry.jar
expect "sign-in before the rotation" \
    "$(web_signin "$J" henry@example.org)" "303 $WEB_A/"
T_OLD=$(web_token "$J" before)
cp "$W/a.conf" "$W/a.conf.orig"
sed -i "s|^key_file = .*|key_file = $W/token2.key\nprevious_key_files = $W/token.key|" \
    "$W/a.conf"
hup_a 1
expect_grep "reload names the new key" "reloaded configuration, key_id=$NEW_ID" "$W/a.log"
T_NEW=$(web_token "$J" after)
expect "web token before: old key" \
    "$(web_sql "SELECT key_id FROM app_tokens WHERE public_id = '${T_OLD:4:12}'")" "$OLD_ID"
expect "web token after: new key" \
    "$(web_sql "SELECT key_id FROM app_tokens WHERE public_id = '${T_NEW:4:12}'")" "$NEW_ID"
expect "old key's token on the socket" \
    "$(as_auth "$W/a.sock" imap henry@example.org "$T_OLD")" OK
expect "new key's token on the socket" \
    "$(as_auth "$W/a.sock" imap henry@example.org "$T_NEW")" OK
sed -i '/^previous_key_files = /d' "$W/a.conf"
hup_a 2
expect "retired key's token refused" \
    "$(as_auth "$W/a.sock" imap henry@example.org "$T_OLD")" FAIL
expect_grep "refusal says key_retired" \
    "token_id=${T_OLD:4:12} result=fail reason=key_retired" "$W/a.log"
sed -i "s|^key_file = .*|key_file = $W/missing.key|" "$W/a.conf"
hup_a 3
expect_grep "broken reload refused" "reload failed, keeping the old settings" "$W/a.log"
expect "new key's token after a broken reload" \
    "$(as_auth "$W/a.sock" imap henry@example.org "$T_NEW")" OK
expect "web still issues with the new key" \
    "$(web_sql "SELECT key_id FROM app_tokens WHERE public_id = '$(web_token "$J" broken | cut -c5-16)'")" "$NEW_ID"
cp "$W/a.conf.orig" "$W/a.conf"

# --- nothing secret in the logs -------------------------------------------
for f in "$W/a.log" "$W/b.log"; do
	expect_no_grep "no session id in $(basename "$f")" "$SID" "$f"
	expect_no_grep "no token in $(basename "$f")" "${TOKEN:17}" "$f"
	expect_no_grep "no client secret in $(basename "$f")" "$IDP_SECRET" "$f"
	expect_no_grep "no code or state in $(basename "$f")" "code=|state=[A-Za-z0-9_-]{20}" "$f"
done
web_done
