#!/bin/bash
# SPDX-License-Identifier: MIT
#
# test_web_refusals.sh - every bad sign-in the real provider (or a
# meddling browser) can produce gets a clear page, a log line, an audit
# row, and changes nothing: access_denied, missing, tampered, replayed
# and foreign state (which must not disturb a sign-in in progress), a
# replayed code, too many sign-ins begun from one address, missing
# groups (the page not naming them), a domain not
# allowed, no mailbox (create_mailboxes off), a disabled mailbox, MFA
# required for tokens, a sign-in too old for tokens and a group lost at
# the provider; and a changed address at the provider is not remapped.
set -euo pipefail
# shellcheck source=test_web_lib.bash
. "$(dirname "$0")/test_web_lib.bash"

web_setup web_refusals RS256
web_conf a "$MG_WEB_PORT_A"
mg()
{
	"$MG_BUILD/mailgate" -c "$W/a.conf" "$@"
}
mg db migrate >/dev/null
web_start a "$MG_WEB_PORT_A"

# refused NAME STATUS REASON RESULT: RESULT ("STATUS LOCATION") is a
# refusal page with STATUS, logged with REASON, and no session cookie.
refused()
{
	expect "$1: status" "$2" "${4%% *}"
	expect_grep "$1: page says what happened" "<h1>Sign-in failed</h1>" "$W/body"
	expect_grep "$1: page offers a new start" 'href="/login"' "$W/body"
	expect_no_grep "$1: no session" "^Set-Cookie: __Host-mailgate_session=[A-Za-z0-9]" "$W/headers"
	expect_grep "$1: logged" "event=login result=refused reason=$3 " "$W/a.log"
}
sessions()
{
	web_sql "SELECT count(*) FROM web_sessions"
}
audit_failed()
{
	web_sql "SELECT count(*) FROM audit_log WHERE action = 'web.login_failed' AND detail->>'reason' = '$1'"
}

S0=$(sessions)
refused "wrong password" 403 provider_error \
    "$(web_signin "$W/j1" alice@example.org wrong)"
expect_grep "access denied explained" "access denied" "$W/body"
expect "wrong password audited" "$(audit_failed provider_error)" 1

# Missing and tampered state.
refused "no state" 400 missing_state "$(web_get "$W/j2" "$WEB_A/callback?code=abc")"
refused "error without state" 400 missing_state \
    "$(web_get "$W/j2" "$WEB_A/callback?error=access_denied")"
# The browser binding is checked before the state is used: a callback
# with another state (a cross-site link into this browser) or from
# another browser neither consumes the state nor clears the sign-in
# cookie, so the sign-in in progress still finishes.
CB=$(web_to_callback "$W/j3" alice@example.org secret)
TAMPERED=$(sed -E 's/(state=)([A-Za-z0-9_-])/\1X\2/' <<<"$CB")
refused "tampered state" 400 browser_mismatch "$(web_get "$W/j3" "$TAMPERED")"
expect_no_grep "tampered state: sign-in cookie kept" \
    "^Set-Cookie: __Host-mailgate_login=" "$W/headers"
refused "cross-site state" 400 browser_mismatch \
    "$(web_get "$W/j3" "$WEB_A/callback?code=abc&state=chosen-by-someone-else")"
expect_no_grep "cross-site state: sign-in cookie kept" \
    "^Set-Cookie: __Host-mailgate_login=" "$W/headers"
refused "state from another browser" 400 browser_mismatch \
    "$(web_get "$W/j3-other" "$CB")"
expect "nothing signed in yet" "$(sessions)" "$S0"
expect "the sign-in in progress still finishes" "$(web_get "$W/j3" "$CB")" \
    "303 $WEB_A/"
expect_grep "finished: sign-in cookie cleared" \
    "^Set-Cookie: __Host-mailgate_login=;" "$W/headers"
CB=$(web_to_callback "$W/j4" alice@example.org secret)
cp "$W/j4" "$W/j4-copy"
expect "untampered callback" "$(web_get "$W/j4" "$CB")" "303 $WEB_A/"
refused "replayed callback URL" 400 browser_mismatch "$(web_get "$W/j4" "$CB")"
refused "replayed with the old cookie" 400 unknown_state \
    "$(web_get "$W/j4-copy" "$CB")"

# A replayed code under a fresh, valid state: the provider says
# invalid_grant.
CODE=$(sed -E 's/.*[?&]code=([^&]*).*/\1/' <<<"$CB")
ISSQ=$(sed -E 's/.*[?&](iss=[^&]*).*/\1/' <<<"$CB")
st=$(web_get "$W/j5" "$WEB_A/login")
STATE=$(sed -E 's/.*[?&]state=([^&]*).*/\1/' <<<"${st#* }")
refused "replayed code" 400 token_refused \
    "$(web_get "$W/j5" "$WEB_A/callback?code=$CODE&state=$STATE&$ISSQ")"
expect_grep "provider's answer named" "invalid_grant" "$W/a.log"

# RFC 9207: the provider's discovery says it sends iss with the answer,
# so an answer without it is refused (the state is used up, the code
# not traded); a fresh answer with it is accepted.
CB=$(web_to_callback "$W/j5i" ivy@example.org secret)
expect_grep "the provider sends iss" "[?&]iss=" <(echo "$CB")
NOISS=$(sed -E 's/([?&])iss=[^&]*&?/\1/; s/[?&]$//' <<<"$CB")
refused "answer without iss" 400 wrong_iss "$(web_get "$W/j5i" "$NOISS")"
expect_grep "missing iss explained in the log" "reason=wrong_iss .*callback has no iss" "$W/a.log"
expect "no link for the answer without iss" \
    "$(web_sql "SELECT count(*) FROM identities WHERE subject = 'ivy@example.org'")" 0
CB=$(web_to_callback "$W/j5i" ivy@example.org secret)
expect "answer with iss" "$(web_get "$W/j5i" "$CB")" "303 $WEB_A/"

# Oversized parameters are refused before anything is looked up.
refused "oversized state" 400 oversized \
    "$(web_get "$W/j6" "$WEB_A/callback?code=a&state=$(head -c 5000 /dev/zero | tr '\0' s)")"

# /login is bounded: one client address may have 50 sign-ins in
# progress (rows in web_login_states); the 51st gets a 503 and no row.
# Expired rows do not count.
web_sql "DELETE FROM web_login_states" >/dev/null
web_sql "INSERT INTO web_login_states (state_hash, nonce, code_verifier,
    created_ip, expires_at) SELECT sha256(('fill-' || i)::bytea),
    'nonce-0123456789abcdef', repeat('v', 43), '127.0.0.1',
    now() + interval '10 min' FROM generate_series(1, 49) i" >/dev/null
expect "the 50th sign-in starts" "$(web_get "$W/j6b" "$WEB_A/login" | cut -c1-3)" 302
expect "the 51st is refused" "$(web_get "$W/j6b" "$WEB_A/login")" "503 "
expect_grep "refusal page says why" "Too many sign-ins" "$W/body"
expect_no_grep "refusal sets no sign-in cookie" "^Set-Cookie: __Host-mailgate_login=[A-Za-z0-9]" "$W/headers"
expect_grep "refusal logged" "event=login_begin result=refused reason=too_many_states ip=127.0.0.1 " "$W/a.log"
expect "no row beyond the bound" "$(web_sql "SELECT count(*) FROM web_login_states WHERE created_ip = '127.0.0.1' AND expires_at > now()")" 50
web_sql "UPDATE web_login_states SET created_at = now() - interval '1 h',
    expires_at = now() - interval '1 min'" >/dev/null
expect "expired flows do not count" "$(web_get "$W/j6b" "$WEB_A/login" | cut -c1-3)" 302
web_sql "DELETE FROM web_login_states WHERE expires_at <= now()" >/dev/null

# Groups and domains.
refused "no groups" 403 missing_group "$(web_signin "$W/j7" nogroup-ann@example.org)"
expect_no_grep "no groups: page keeps the configuration to itself" \
    "mail-users" "$W/body"
expect_grep "no groups: the log names the rule" \
    "reason=missing_group .*mail-users" "$W/a.log"
expect "no mailbox made for a refused user" \
    "$(web_sql "SELECT count(*) FROM mailboxes WHERE address = 'nogroup-ann@example.org'")" 0

# Dead rows: the first /login of a fresh instance purges them.
mg mailbox add purge@example.org >/dev/null
web_sql "INSERT INTO web_login_states (state_hash, nonce, code_verifier,
    created_at, expires_at) VALUES (sha256('dead-state'::bytea),
    'nonce-0123456789abcdef', repeat('v', 43), now() - interval '1 h',
    now() - interval '1 min')" >/dev/null
web_sql "INSERT INTO web_sessions (id_hash, mailbox_id, last_seen_at,
    expires_at) SELECT sha256('idle-session'::bytea), id,
    now() - interval '31 min', now() + interval '1 h' FROM mailboxes
    WHERE address = 'purge@example.org'" >/dev/null
web_stop a
web_conf a "$MG_WEB_PORT_A" "allowed_domains = example.net"
web_start a "$MG_WEB_PORT_A"
refused "domain not allowed" 403 domain_not_allowed \
    "$(web_signin "$W/j8" bert@example.org)"
expect_no_grep "domain: page keeps the configuration to itself" \
    "example.net" "$W/body"
expect "expired login state purged" "$(web_sql "SELECT count(*) FROM web_login_states WHERE state_hash = sha256('dead-state'::bytea)")" 0
expect "idle session purged" "$(web_sql "SELECT count(*) FROM web_sessions WHERE id_hash = sha256('idle-session'::bytea)")" 0
expect_grep "purge logged" "event=purge login_states=1 sessions=1" "$W/a.log"

# No mailbox and create_mailboxes off.
web_stop a
web_conf a "$MG_WEB_PORT_A" "create_mailboxes = false"
sed -i '/^create_mailboxes = true$/d' "$W/a.conf"
web_start a "$MG_WEB_PORT_A"
refused "no mailbox" 403 no_mailbox "$(web_signin "$W/j9" cleo@example.org)"
expect "no link made" "$(web_sql "SELECT count(*) FROM identities WHERE subject = 'cleo@example.org'")" 0
mg mailbox add cleo@example.org >/dev/null
expect "existing mailbox links" "$(web_signin "$W/j9" cleo@example.org)" "303 $WEB_A/"

# A disabled mailbox: its sessions end, new sign-ins are refused.
expect "cleo's page" "$(web_get "$W/j9" "$WEB_A/")" "200 "
mg mailbox disable cleo@example.org >/dev/null
web_get "$W/j9" "$WEB_A/" >/dev/null
expect_grep "disabled: session no longer works" 'href="/login"' "$W/body"
refused "disabled mailbox" 403 mailbox_disabled \
    "$(web_signin "$W/j10" cleo@example.org)"

# The provider now maps to another address: the link wins, with a notice.
mg mailbox add old-dora@example.org >/dev/null
mg link add old-dora@example.org --issuer "$ISSUER" \
    --subject dora@example.org >/dev/null
expect "relinked identity signs in" "$(web_signin "$W/j11" dora@example.org)" "303 $WEB_A/"
web_get "$W/j11" "$WEB_A/" >/dev/null
expect_grep "signed in to the linked mailbox" "<strong>old-dora@example.org</strong>" "$W/body"
expect_grep "notice names both addresses" 'class="notice".*dora@example.org.*old-dora@example.org' "$W/body"
expect "no mailbox made for the new address" \
    "$(web_sql "SELECT count(*) FROM mailboxes WHERE address = 'dora@example.org'")" 0

# MFA: required for app passwords, not for signing in.
web_stop a
web_conf a "$MG_WEB_PORT_A" "require_mfa = true"
web_start a "$MG_WEB_PORT_A"
J=$W/j12
expect "sign-in without MFA" "$(web_signin "$J" eva@example.org)" "303 $WEB_A/"
web_get "$J" "$WEB_A/" >/dev/null
expect_grep "form replaced by an explanation" "needs a sign-in with a second factor" "$W/body"
CSRF=$(web_csrf)
expect "token refused without MFA" "$(web_post "$J" "$WEB_A/tokens" \
    "csrf=$CSRF" "label=x" "scope=imap" "expiry=30d")" "403 "
expect "no token for eva" "$(web_sql "SELECT count(*) FROM app_tokens t JOIN mailboxes m ON m.id = t.mailbox_id WHERE m.address = 'eva@example.org'")" 0
J=$W/j13
expect "sign-in with MFA" "$(web_signin "$J" mfa-fay@example.org)" "303 $WEB_A/"
web_get "$J" "$WEB_A/" >/dev/null
CSRF=$(web_csrf)
expect "token with MFA" "$(web_post "$J" "$WEB_A/tokens" "csrf=$CSRF" \
    "label=x" "scope=imap" "expiry=30d")" "200 "

# The provider goes away between login and callback: a temporary
# failure, logged and audited, and no session.
CB=$(web_to_callback "$W/j15" hana@example.org secret)
web_idp_stop
expect "provider down at the callback" "$(web_get "$W/j15" "$CB")" "503 "
expect_grep "provider down: page says try again" "Try again in a few minutes" "$W/body"
expect_no_grep "provider down: no session" "^Set-Cookie: __Host-mailgate_session=[A-Za-z0-9]" "$W/headers"
expect_grep "provider down: logged" "event=login result=tempfail step=token " "$W/a.log"
expect "provider down: audited" "$(audit_failed provider_unavailable)" 1
web_idp_start RS256

# A sign-in older than [http] token_reauth (15m) makes no tokens, and a
# person removed from a required group cannot renew it.
J=$W/j14
GUS=mfa-gus@example.org
expect "sign-in to age" "$(web_signin "$J" $GUS)" "303 $WEB_A/"
web_sql "UPDATE web_sessions SET created_at = now() - interval '16 min'
    WHERE mailbox_id = (SELECT id FROM mailboxes WHERE address = '$GUS')" \
    >/dev/null
web_get "$J" "$WEB_A/" >/dev/null
expect_grep "old sign-in: form replaced" "needs a recent sign-in" "$W/body"
expect_grep "old sign-in: a way to renew it" 'href="/login\?return_to=%2F"' "$W/body"
CSRF=$(web_csrf)
stale_post()
{
	web_post "$J" "$WEB_A/tokens" "csrf=$CSRF" "label=x" "scope=imap" \
	    "expiry=30d"
}
expect "token refused after token_reauth" "$(stale_post)" "403 "
expect_grep "refusal logged" "event=token_issue result=refused reason=stale_signin mailbox=$GUS " "$W/a.log"
expect "refusal audited" "$(web_sql "SELECT count(*) FROM audit_log WHERE action = 'web.token_refused' AND mailbox = '$GUS' AND detail->>'reason' = 'stale_signin'")" 1
curl -fsS -X POST -o /dev/null \
    "http://127.0.0.1:$MG_WEB_IDP_PORT/_test/groups?login=$GUS&groups=staff"
refused "group removed at the provider" 403 missing_group \
    "$(web_signin "$J" $GUS)"
web_get "$J" "$WEB_A/" >/dev/null
CSRF=$(web_csrf)
expect "old session still makes no token" "$(stale_post)" "403 "
expect "no token for gus" "$(web_sql "SELECT count(*) FROM app_tokens t JOIN mailboxes m ON m.id = t.mailbox_id WHERE m.address = '$GUS'")" 0
curl -fsS -X POST -o /dev/null \
    "http://127.0.0.1:$MG_WEB_IDP_PORT/_test/groups?login=$GUS&groups=mail-users"
expect "group back: sign-in renewed" "$(web_signin "$J" $GUS)" "303 $WEB_A/"
web_get "$J" "$WEB_A/" >/dev/null
CSRF=$(web_csrf)
expect "renewed sign-in makes a token" "$(stale_post)" "200 "

# Every refusal left an audit row; none left a session behind.
expect "refusals audited" "$(web_sql "SELECT count(*) >= 12 FROM audit_log WHERE action = 'web.login_failed'")" t
expect_no_grep "no client secret logged" "$IDP_SECRET" "$W/a.log"
expect_no_grep "no code logged" "$CODE" "$W/a.log"
web_done
