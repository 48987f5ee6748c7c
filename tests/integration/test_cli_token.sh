#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test_cli_token.sh - "mailgate token issue|list|revoke" end to end: the
# token is printed once and stored only as an HMAC; scopes, labels and
# expiry (default, duration, date, never, the max_expiry cap) are stored
# as asked; lists and JSON are right; revocation is recorded and audited.
set -euo pipefail

: "${MG_SRC:?run through ctest/tests/run}"
. "$MG_SRC/tests/integration/cli_env.sh"

setup_db mg_t_cli_token
run 0 mailbox add alice@example.org
run 0 mailbox add bob@example.org
TOKRE='^mgt_[0-9a-z]{12}_[0-9A-Za-z]{36}$'

# --- issue -------------------------------------------------------------
run 0 token issue alice@example.org --label "Thunderbird laptop" \
    --scopes imap,smtp --expires 30d
[ "$(wc -l <"$W/out")" -eq 1 ] || die "stdout is not exactly one line"
grep -Eq "$TOKRE" "$W/out" || die "stdout is not a token"
T1=$(cat "$W/out")
ID1=${T1:4:12}
has err "token $ID1 issued for alice@example.org"
check "token issue prints the token alone on stdout, its id on stderr"

row=$(sql "SELECT t.label, t.scopes, m.address, t.created_by,
    t.expires_at > now() + interval '29 days 23 hours' AND
    t.expires_at < now() + interval '30 days 1 hour', length(t.hash)
    FROM app_tokens t JOIN mailboxes m ON m.id = t.mailbox_id
    WHERE public_id = '$ID1'")
[ "$row" = "Thunderbird laptop|5|alice@example.org|cli:$(id -un)|t|32" ] ||
    die "stored row: $row"
check "label, scopes (imap|smtp = 5), mailbox, actor and 30d expiry are stored"

[ "$(sql "SELECT count(*) FROM app_tokens WHERE position('$T1' IN
    encode(hash, 'escape')) > 0 OR label LIKE '%${T1:17}%'")" = 0 ] ||
    die "the token is stored in clear"
[ "$(sql "SELECT count(*) FROM audit_log WHERE detail::text LIKE
    '%${T1:17}%' OR coalesce(target, '') LIKE '%${T1:17}%'")" = 0 ] ||
    die "the token's secret part is in the audit log"
check "neither the table nor the audit log holds the token's secret part"

a=$(sql "SELECT action, target, detail->>'label', detail->>'scopes'
    FROM audit_log WHERE action = 'token.issue'")
[ "$a" = "token.issue|$ID1|Thunderbird laptop|imap,smtp" ] || die "audit: $a"
check "token.issue is audited with id, label and scopes"

run 0 token issue alice@example.org
T2=$(cat "$W/out"); ID2=${T2:4:12}
[ "$(sql "SELECT scopes, label, expires_at::date = (now() + interval
    '365 days')::date FROM app_tokens WHERE public_id = '$ID2'")" = "31||t" ] ||
    die "defaults"
check "defaults: all scopes, empty label, [tokens] default_expiry (365d)"

run 0 token issue alice@example.org --expires never --scopes all
ID3=$(cut -c5-16 "$W/out")
run 0 token issue alice@example.org --expires 2099-06-01 --scopes imap
ID4=$(cut -c5-16 "$W/out")
[ "$(sql "SELECT count(*) FROM app_tokens WHERE public_id = '$ID3' AND
    expires_at IS NULL")" = 1 ] || die "never"
[ "$(sql "SELECT to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI')
    FROM app_tokens WHERE public_id = '$ID4'")" = "2099-06-01 00:00" ] ||
    die "date expiry"
check "--expires never stores no expiry; --expires 2099-06-01 stores that day"

run 0 token issue bob@example.org --json --label "phone"
json_ok
python3 - "$W/out" <<'PY' || die "issue JSON"
import json, re, sys
d = json.load(open(sys.argv[1]))
assert re.fullmatch(r"mgt_[0-9a-z]{12}_[0-9A-Za-z]{36}", d["token"])
assert d["id"] == d["token"][4:16]
assert d["mailbox"] == "bob@example.org" and d["label"] == "phone"
assert d["scopes"] == "all" and d["expires_at"].endswith("Z")
PY
[ ! -s "$W/err" ] || die "--json wrote to stderr"
IDB=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$W/out")
check "token issue --json prints one object with id, token, mailbox, scopes"

# --- the max_expiry cap ----------------------------------------------------
cp "$W/mailgate.conf" "$W/full.conf"
printf 'max_expiry = 90d\n' >>"$W/mailgate.conf"
run 0 token issue alice@example.org
ID5=$(cut -c5-16 "$W/out")
[ "$(sql "SELECT expires_at::date = (now() + interval '90 days')::date
    FROM app_tokens WHERE public_id = '$ID5'")" = t ] || die "default not capped"
n=$(sql "SELECT count(*) FROM app_tokens")
run 65 token issue alice@example.org --expires 100d
one_err_line; has err "max_expiry"
run 65 token issue alice@example.org --expires never
[ "$(sql "SELECT count(*) FROM app_tokens")" = "$n" ] || die "stored anyway"
cp "$W/full.conf" "$W/mailgate.conf"
check "max_expiry caps the default and refuses longer --expires (65)"

# --- refusals ----------------------------------------------------------
n=$(sql "SELECT count(*) FROM app_tokens")
run 67 token issue carol@example.org
one_err_line
run 0 mailbox disable bob@example.org
run 65 token issue bob@example.org
has err "disabled"
run 0 mailbox enable bob@example.org
run 65 token issue alice@example.org --scopes imap,telnet
run 65 token issue alice@example.org --expires 2001-01-01
run 65 token issue alice@example.org --expires soon
run 65 token issue alice@example.org --label "$(printf 'a\tb')"
run 65 token issue alice@example.org --label "$(printf '%0101d' 0)"
[ "$(sql "SELECT count(*) FROM app_tokens")" = "$n" ] || die "a refusal stored"
check "unknown (67), disabled, bad scope, past/bad expiry, bad label (65) store nothing"

# --- list --------------------------------------------------------------
run 0 token list alice@example.org
for id in "$ID1" "$ID2" "$ID3" "$ID4" "$ID5"; do has out "$id"; done
lacks out "$IDB"
has out "Thunderbird laptop"
lacks out "mgt_"
run 0 token list
has out "$IDB"
check "token list ADDR shows that mailbox's tokens, without it all, never a token"

run 0 token list alice@example.org --json
json_ok
python3 - "$W/out" "$ID1" <<'PY' || die "list JSON"
import json, sys
d = json.load(open(sys.argv[1]))
t = [x for x in d if x["id"] == sys.argv[2]][0]
assert t["scopes"] == "imap,smtp" and t["state"] == "active"
assert t["label"] == "Thunderbird laptop" and t["revoked_at"] is None
assert "token" not in t and "hash" not in t
assert len(d) == 5
PY
check "token list --json: valid, 5 tokens, fields right, no secret fields"

run 67 token list nobody@example.org
check "token list of an unknown mailbox exits 67"

# --- revoke --------------------------------------------------------------
run 0 token revoke "$ID1" --reason "lost laptop"
has out "token $ID1 revoked"
[ "$(sql "SELECT revoked_by, revoke_reason FROM app_tokens
    WHERE public_id = '$ID1'")" = "cli:$(id -un)|lost laptop" ] || die "revoke row"
[ "$(sql "SELECT detail->>'reason' FROM audit_log WHERE action =
    'token.revoke' AND target = '$ID1'")" = "lost laptop" ] || die "revoke audit"
check "token revoke stores who and why, and audits token.revoke with the reason"

n=$(sql "SELECT count(*) FROM audit_log")
run 0 token revoke "$ID1"
has out "was already revoked"
[ "$(sql "SELECT count(*) FROM audit_log")" = "$n" ] || die "no-op audited"
check "revoking a revoked token changes nothing"

run 0 token list alice@example.org
lacks out "$ID1"
run 0 token list alice@example.org --all --json
python3 -c '
import json, sys
d = {t["id"]: t for t in json.load(open(sys.argv[1]))}
assert d[sys.argv[2]]["state"] == "revoked"
assert d[sys.argv[2]]["revoke_reason"] == "lost laptop"' "$W/out" "$ID1" ||
    die "--all"
check "revoked tokens leave the list and come back with --all"

sql "UPDATE app_tokens SET expires_at = now() - interval '1 day'
    WHERE public_id = '$ID4'" >/dev/null
run 0 token list alice@example.org
lacks out "$ID4"
run 0 token list alice@example.org --all
grep -F "$ID4" "$W/out" | grep -q expired || die "not shown as expired"
check "expired tokens leave the list and show as expired with --all"

run 66 token revoke zzzzzzzzzzzz
one_err_line
run 66 token revoke "$IDB" --mailbox alice@example.org
[ "$(sql "SELECT revoked_at IS NULL FROM app_tokens WHERE public_id = '$IDB'")" = t ] ||
    die "revoked through the wrong mailbox"
check "unknown id, or an id of another mailbox with --mailbox, exit 66"

run 0 token revoke --mailbox alice@example.org --all --reason "offboarding"
has out "4 tokens of alice@example.org revoked"
[ "$(sql "SELECT count(*) FROM app_tokens t JOIN mailboxes m ON
    m.id = t.mailbox_id WHERE m.address = 'alice@example.org' AND
    revoked_at IS NULL")" = 0 ] || die "some left"
[ "$(sql "SELECT count(*) FROM audit_log WHERE action = 'token.revoke' AND
    detail->>'reason' = 'offboarding'")" = 4 ] || die "audit rows"
[ "$(sql "SELECT revoked_at IS NULL FROM app_tokens WHERE public_id = '$IDB'")" = t ] ||
    die "another mailbox's token was revoked"
check "revoke --mailbox --all revokes all 4 unrevoked tokens of that mailbox (expired too), one audit row each"

run 64 token revoke --all
run 64 token revoke
run 65 token revoke "$T2"
lacks err "${T2:17}"
check "revoke usage errors exit 64; a whole token as id exits 65 and is not echoed"

for c in issue list revoke verify; do
	run 0 token "$c" --help
	has out "usage: mailgate [-c FILE] token $c"
done
check "every token subcommand has --help"

printf 'all %d checks passed\n' "$NCHECK"
