#!/bin/bash
# SPDX-License-Identifier: MIT
#
# test_web_takeover.sh - an e-mail claim is not proof of owning a
# mailbox (Authentik users edit their own address). A new identity whose
# claim names a mailbox that another identity signs in to already is
# refused, not linked: clear page, log line, audit row, no link, no
# session, no token. The administrator can still link it by hand, and
# two new identities racing for a fresh mailbox on two instances end
# with exactly one link.
set -euo pipefail
# shellcheck source=test_web_lib.bash
. "$(dirname "$0")/test_web_lib.bash"

web_setup web_takeover RS256
web_conf a "$MG_WEB_PORT_A"
web_conf b "$MG_WEB_PORT_B"
mg()
{
	"$MG_BUILD/mailgate" -c "$W/a.conf" "$@"
}
mg db migrate >/dev/null
web_start a "$MG_WEB_PORT_A"
web_start b "$MG_WEB_PORT_B"

links()
{
	web_sql "SELECT count(*) FROM identities i JOIN mailboxes m
	    ON m.id = i.mailbox_id WHERE m.address = '$1'"
}
tokens()
{
	web_sql "SELECT count(*) FROM app_tokens t JOIN mailboxes m
	    ON m.id = t.mailbox_id WHERE m.address = '$1'"
}

# The victim signs in (sub "victim") and makes an app password.
V=$W/victim
expect "victim signs in" "$(web_signin "$V" victim)" "303 $WEB_A/"
web_get "$V" "$WEB_A/" >/dev/null
CSRF=$(web_csrf)
expect "victim makes a token" "$(web_post "$V" "$WEB_A/tokens" \
    "csrf=$CSRF" label=victim-laptop scope=imap expiry=30d)" "200 "
expect "one link" "$(links victim@example.org)" 1

# The attacker: another subject whose e-mail claim is the victim's
# address (the provider makes sub and email from the login name).
A=$W/attacker
S0=$(web_sql "SELECT count(*) FROM web_sessions")
expect "attacker refused" "$(web_signin "$A" Victim@Example.org)" "403 "
expect_grep "page says what happened" "<h1>Sign-in failed</h1>" "$W/body"
expect_grep "page sends the user to the administrator" \
    "Ask your administrator to connect your account" "$W/body"
expect_no_grep "page does not name the other account" "victim" "$W/body"
expect_no_grep "no session cookie" \
    "^Set-Cookie: __Host-mailgate_session=[A-Za-z0-9]" "$W/headers"
expect_grep "refusal logged" \
    "event=login result=refused reason=mailbox_linked .*sub=Victim@Example.org mailbox=victim@example.org" \
    "$W/a.log"
expect_no_grep "no link logged" "event=link .*sub=Victim@Example.org" "$W/a.log"
expect "refusal audited" "$(web_sql "SELECT count(*) FROM audit_log
    WHERE action = 'web.login_failed' AND mailbox = 'victim@example.org'
    AND detail->>'reason' = 'mailbox_linked'
    AND detail->>'sub' = 'Victim@Example.org'")" 1
expect "no identity for the attacker" \
    "$(web_sql "SELECT count(*) FROM identities WHERE subject = 'Victim@Example.org'")" 0
expect "still one link" "$(links victim@example.org)" 1
expect "no session made" "$(web_sql "SELECT count(*) FROM web_sessions")" "$S0"
web_get "$A" "$WEB_A/" >/dev/null
expect_no_grep "attacker sees no mailbox page" "victim-laptop" "$W/body"
CSRF=$(web_csrf)
web_post "$A" "$WEB_A/tokens" "csrf=$CSRF" label=attacker scope=imap \
    expiry=30d >/dev/null
expect "no token minted" "$(tokens victim@example.org)" 1
expect "a second try is refused too" \
    "$(web_signin "$A" Victim@Example.org)" "403 "
expect "still no identity" \
    "$(web_sql "SELECT count(*) FROM identities WHERE subject = 'Victim@Example.org'")" 0

# The victim is not disturbed.
expect "victim signs in again" "$(web_signin "$V" victim)" "303 $WEB_A/"

# The administrator may link a second identity by hand; it then signs in.
mg link add victim@example.org --issuer "$ISSUER" \
    --subject Victim@Example.org >/dev/null
expect "admin link: two links" "$(links victim@example.org)" 2
expect "admin-linked identity signs in" \
    "$(web_signin "$A" Victim@Example.org)" "303 $WEB_A/"

# An existing mailbox nobody is linked to yet is linked on first sign-in.
mg mailbox add olga@example.org >/dev/null
expect "unlinked mailbox links" "$(web_signin "$W/olga" olga@example.org)" \
    "303 $WEB_A/"
expect "olga linked" "$(links olga@example.org)" 1

# Two new identities race for one fresh address on two instances: both
# callbacks are made ready, then sent at once, one to each instance.
# Whatever the order, exactly one is linked and the other is refused.
CB1=$(web_to_callback "$W/r1" pia@example.org secret)
CB2=$(web_to_callback "$W/r2" PIA@example.org secret)
web_get "$W/r1" "$CB1" >"$W/race1" &
P1=$!
curl -sS -c "$W/r2" -b "$W/r2" -o "$W/body2" -w '%{http_code}' \
    "$WEB_B${CB2#"$WEB_A"}" >"$W/race2" &
P2=$!
wait "$P1" "$P2"
R=$(printf '%s\n%s\n' "$(cut -c1-3 "$W/race1")" "$(cat "$W/race2")" | sort |
    tr '\n' ' ')
expect "race: one signed in, one refused" "$R" "303 403 "
expect "race: exactly one link" "$(links pia@example.org)" 1
expect "race: the refusal is audited" "$(web_sql "SELECT count(*) FROM audit_log
    WHERE action = 'web.login_failed' AND mailbox = 'pia@example.org'
    AND detail->>'reason' = 'mailbox_linked'")" 1
web_done
