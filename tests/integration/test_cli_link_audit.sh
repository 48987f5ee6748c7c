#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test_cli_link_audit.sh - "mailgate link list|add|remove" and "mailgate
# audit": links are stored per (issuer, subject), at most one mailbox
# each; the audit log holds one row per change, in order, with filters.
set -euo pipefail

: "${MG_SRC:?run through ctest/tests/run}"
. "$MG_SRC/tests/integration/cli_env.sh"

setup_db mg_t_cli_link
ISS=https://id.example.org/application/o/mail/
run 0 mailbox add alice@example.org
run 0 mailbox add bob@example.org

run 0 link add alice@example.org --issuer "$ISS" --subject "sub-a"
has out "linked $ISS sub-a to alice@example.org"
run 0 link add alice@example.org --issuer "$ISS" --subject "sub-a2"
run 0 link add bob@example.org --issuer "$ISS" --subject "sub-b"
[ "$(sql "SELECT count(*) FROM identities")" = 3 ] || die "rows"
check "link add stores three links"

run 73 link add bob@example.org --issuer "$ISS" --subject "sub-a"
check "an identity links to one mailbox only (73)"

run 0 link list alice@example.org
has out "sub-a"; has out "sub-a2"; lacks out "sub-b"
run 0 link list --json
json_ok
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert sorted((x["mailbox"], x["subject"]) for x in d) == [
    ("alice@example.org", "sub-a"), ("alice@example.org", "sub-a2"),
    ("bob@example.org", "sub-b")]
assert all(x["issuer"] == sys.argv[2] and x["last_login_at"] is None for x in d)' \
    "$W/out" "$ISS" || die "link JSON"
check "link list filters by mailbox; --json lists all three"

run 0 mailbox show alice@example.org --json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["identities"] == 2 and len(d["links"]) == 2' \
    "$W/out" || die "show"
check "mailbox show counts and lists the links"

run 67 link remove --issuer "$ISS" --subject "sub-b" --mailbox alice@example.org
run 0 link remove --issuer "$ISS" --subject "sub-b"
[ "$(sql "SELECT count(*) FROM identities")" = 2 ] || die "not removed"
run 67 link remove --issuer "$ISS" --subject "sub-b"
check "link remove: refuses a wrong --mailbox (67), removes, then 67"

# --- audit ----------------------------------------------------------
run 0 token issue alice@example.org --label x
ID=$(cut -c5-16 "$W/out")
run 0 token revoke "$ID" --reason "gone"
run 0 audit --json --limit 0
json_ok
python3 - "$W/out" "$ISS" "$ID" "cli:$(id -un)" <<'PY' || die "audit content"
import json, sys
d = json.load(open(sys.argv[1]))
iss, tid, me = sys.argv[2], sys.argv[3], sys.argv[4]
got = [(a["action"], a["mailbox"]) for a in reversed(d)]
assert got == [
    ("mailbox.add", "alice@example.org"), ("mailbox.add", "bob@example.org"),
    ("identity.link", "alice@example.org"),
    ("identity.link", "alice@example.org"),
    ("identity.link", "bob@example.org"),
    ("identity.unlink", "bob@example.org"),
    ("token.issue", "alice@example.org"),
    ("token.revoke", "alice@example.org")], got
assert all(a["actor"] == me for a in d)
assert d[0]["target"] == tid and d[0]["detail"] == {"reason": "gone"}
assert d[1]["detail"]["label"] == "x" and d[1]["detail"]["scopes"] == "all"
assert d[2]["target"] == iss + " sub-b"
assert d[2]["detail"] == {"issuer": iss, "subject": "sub-b"}
assert [a["id"] for a in d] == sorted((a["id"] for a in d), reverse=True)
PY
check "audit: one row per change, newest first, actor, target and detail right"

run 0 audit --mailbox bob@example.org --json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert len(d) == 3 and {a["mailbox"] for a in d} == {"bob@example.org"}' \
    "$W/out" || die "--mailbox"
run 0 audit --limit 2 --json
python3 -c 'import json,sys; assert len(json.load(open(sys.argv[1]))) == 2' "$W/out" ||
    die "--limit"
run 0 audit --since 2099-01-01 --json
[ "$(tr -d ' \n' <"$W/out")" = "[]" ] || die "--since future"
run 0 audit --since 1d --json
python3 -c 'import json,sys; assert len(json.load(open(sys.argv[1]))) == 8' "$W/out" ||
    die "--since 1d"
run 0 audit
has out "token.revoke"
has out "ACTOR"
check "audit filters: --mailbox, --limit, --since (date and duration), table"

if sql "UPDATE audit_log SET actor = 'x'" 2>/dev/null; then
	die "audit_log accepted an UPDATE"
fi
check "the audit log refuses UPDATE (append-only trigger)"

for c in "link list" "link add" "link remove" "audit"; do
	# shellcheck disable=SC2086
	run 0 $c --help
	has out "usage: mailgate"
done
check "link and audit commands have --help"

printf 'all %d checks passed\n' "$NCHECK"
