#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test_cli_mailbox.sh - "mailgate mailbox add|list|show|disable|enable"
# against a fresh database on the test bed's PostgreSQL: what each prints,
# what it stores, and the audit row each change leaves.
set -euo pipefail

: "${MG_SRC:?run through ctest/tests/run}"
. "$MG_SRC/tests/integration/cli_env.sh"

setup_db mg_t_cli_mailbox
ME="cli:$(id -un)"

run 0 mailbox add Alice@Example.ORG
has out "mailbox alice@example.org added"
[ "$(sql "SELECT address, enabled, created_by FROM mailboxes")" = \
    "alice@example.org|t|$ME" ] || die "stored row differs"
check "mailbox add stores the lower-case address, enabled, by $ME"

[ "$(sql "SELECT actor, action, mailbox FROM audit_log")" = \
    "$ME|mailbox.add|alice@example.org" ] || die "audit row differs"
check "mailbox add writes one audit row mailbox.add"

run 73 mailbox add alice@example.org
one_err_line
has err "exists already"
[ "$(sql "SELECT count(*) FROM mailboxes")" = 1 ] || die "duplicate stored"
[ "$(sql "SELECT count(*) FROM audit_log")" = 1 ] || die "audit grew"
check "duplicate add exits 73, one error line, nothing written"

run 0 mailbox add bob@example.org
run 0 mailbox list
has out "ADDRESS"
has out "alice@example.org"
has out "bob@example.org"
# Columns line up: the STATE column starts at the same offset everywhere.
awk 'NR == 1 { c = index($0, "STATE") } NR > 1 && substr($0, c - 2, 2) != "  " { exit 1 }' \
    "$W/out" || die "table columns are not aligned"
check "mailbox list prints an aligned table of both mailboxes"

run 0 mailbox list --json
json_ok
python3 - "$W/out" <<'PY' || die "list JSON content"
import json, sys
d = json.load(open(sys.argv[1]))
assert [m["address"] for m in d] == ["alice@example.org", "bob@example.org"]
assert all(m["enabled"] is True and m["active_tokens"] == 0 for m in d)
assert d[0]["created_at"].endswith("Z")
PY
check "mailbox list --json is valid JSON with both mailboxes"

run 0 mailbox disable BOB@example.org
has out "mailbox bob@example.org disabled"
[ "$(sql "SELECT enabled FROM mailboxes WHERE address = 'bob@example.org'")" = f ] ||
    die "not disabled"
[ "$(sql "SELECT count(*) FROM audit_log WHERE action = 'mailbox.disable'")" = 1 ] ||
    die "no mailbox.disable audit row"
check "mailbox disable stores enabled=false and audits mailbox.disable"

run 0 mailbox disable bob@example.org
has out "was already disabled"
[ "$(sql "SELECT count(*) FROM audit_log WHERE action = 'mailbox.disable'")" = 1 ] ||
    die "a no-op was audited"
check "disabling a disabled mailbox changes nothing and audits nothing"

run 0 mailbox show bob@example.org
has out "state:      disabled"
run 0 mailbox show bob@example.org --json
json_ok
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["enabled"] is False and d["tokens"] == [] and d["links"] == []' \
    "$W/out" || die "show JSON content"
check "mailbox show (text and --json) reports the disabled state"

run 0 mailbox enable bob@example.org
[ "$(sql "SELECT enabled FROM mailboxes WHERE address = 'bob@example.org'")" = t ] ||
    die "not enabled"
[ "$(sql "SELECT count(*) FROM audit_log WHERE action = 'mailbox.enable'")" = 1 ] ||
    die "no mailbox.enable audit row"
check "mailbox enable stores enabled=true and audits mailbox.enable"

for c in "disable" "enable" "show"; do
	run 67 mailbox $c nobody@example.org
	one_err_line
	has err "no mailbox nobody@example.org"
done
check "disable/enable/show of an unknown mailbox exit 67"

run 65 mailbox add "not an address"
one_err_line
run 64 mailbox add
one_err_line
run 64 mailbox add a@example.org b@example.org
run 64 mailbox list --bogus
[ "$(sql "SELECT count(*) FROM mailboxes")" = 2 ] || die "bad input stored"
check "malformed address exits 65, wrong arguments exit 64, nothing stored"

for c in "mailbox add" "mailbox list" "mailbox show" "mailbox disable" \
    "mailbox enable"; do
	# shellcheck disable=SC2086
	run 0 $c --help
	has out "usage: mailgate [-c FILE] $c"
done
check "every mailbox subcommand has --help"

printf 'all %d checks passed\n' "$NCHECK"
