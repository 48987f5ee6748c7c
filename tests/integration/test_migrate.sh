#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test_migrate.sh - "mailgate db migrate" and "db status": a fresh
# database is brought to the newest schema; a second run changes nothing;
# concurrent runs all succeed and apply each migration once; a database
# newer than the binary is refused (76) and left alone; every other
# command refuses an unmigrated database (76).
set -euo pipefail

: "${MG_SRC:?run through ctest/tests/run}"
. "$MG_SRC/tests/integration/cli_env.sh"

URL=$(tb_newdb mg_t_migrate)
tb_keyfile "$W/key"
printf '[database]\nurl = %s\n\n[tokens]\nkey_file = %s\n' "$URL" "$W/key" \
    >"$W/mailgate.conf"
export MAILGATE_CONFIG=$W/mailgate.conf
KNOWN=$(ls "$MG_SRC"/sql/[0-9]*.sql | wc -l)

run 0 db status
has out "database schema version: 0"
has out "this mailgate knows:     $KNOWN"
has out "pending 0001 init"
has out "run \"mailgate db migrate\""
run 0 db status --json
json_ok
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["current"] == 0 and d["known"] == int(sys.argv[2])
assert d["state"] == "pending" and d["applied"] == []
assert [p["version"] for p in d["pending"]] == list(range(1, d["known"] + 1))' \
    "$W/out" "$KNOWN" || die "status JSON"
check "db status on an empty database: version 0, all $KNOWN pending (text, JSON)"

run 76 mailbox list
one_err_line
has err "run \"mailgate db migrate\""
check "other commands refuse an unmigrated database with 76"

run 0 db migrate
has out "schema migrated from version 0 to $KNOWN"
[ "$(sql "SELECT string_agg(version::text, ',' ORDER BY version)
    FROM mailgate_schema_migrations")" = "$(seq -s, 1 "$KNOWN")" ] ||
    die "versions recorded"
for t in mailboxes identities app_tokens audit_log; do
	[ "$(sql "SELECT to_regclass('$t') IS NOT NULL")" = t ] || die "no $t"
done
check "db migrate applies 1..$KNOWN and records each version"

before=$(sql "SELECT string_agg(version || applied_at::text, ',')
    FROM mailgate_schema_migrations")
run 0 db migrate
has out "schema is up to date (version $KNOWN)"
[ "$(sql "SELECT string_agg(version || applied_at::text, ',')
    FROM mailgate_schema_migrations")" = "$before" ] || die "rerun changed rows"
run 0 db status
has out "up to date"
run 0 mailbox list
check "a second migrate is a no-op; status says up to date; commands work"

# Concurrent runs on a fresh database: the advisory lock serialises them.
URL2=$(tb_newdb mg_t_migrate_conc)
sed "s|^url = .*|url = $URL2|" "$W/mailgate.conf" >"$W/conc.conf"
pids=()
for i in 1 2 3 4; do
	"$MG" -c "$W/conc.conf" db migrate >"$W/conc$i.out" 2>"$W/conc$i.err" &
	pids+=("$!")
done
for i in 1 2 3 4; do
	wait "${pids[$((i - 1))]}" || {
		cat "$W/conc$i.err" >&2
		die "concurrent migrate $i failed"
	}
done
[ "$(cat "$W"/conc*.out | grep -c "migrated from version 0")" -eq 1 ] ||
    die "not exactly one run applied the migrations"
[ "$(cat "$W"/conc*.out | grep -c "up to date")" -eq 3 ] ||
    die "the other runs did not find the schema up to date"
[ "$(cat "$W"/conc*.err)" = "" ] || die "stderr from concurrent runs"
[ "$(psql -XAtq "$URL2" -c "SELECT count(*) FROM mailgate_schema_migrations")" = "$KNOWN" ] ||
    die "migrations recorded more than once"
check "4 concurrent migrates all succeed; one applies, 3 find it done"

# A database from the future.
sql "INSERT INTO mailgate_schema_migrations (version, name)
    VALUES (9999, 'future')" >/dev/null
snap() {
	pg_dump --data-only "$URL" |
	    grep -v -e '^--' -e '^$' -e '^\\restrict' -e '^\\unrestrict'
}
snap >"$W/before.sql"
run 76 db migrate
one_err_line
has err "database schema is version 9999, this mailgate knows up to $KNOWN: upgrade mailgate"
run 76 mailbox add new@example.org
has err "upgrade mailgate"
run 0 db status
has out "newer than this mailgate"
snap >"$W/after.sql"
cmp -s "$W/before.sql" "$W/after.sql" || die "the newer database was changed"
check "schema 9999 > $KNOWN: migrate and other commands exit 76, nothing changes"

run 0 db migrate --help
has out "usage: mailgate [-c FILE] db migrate"
run 0 db status --help
check "db migrate and db status have --help"

printf 'all %d checks passed\n' "$NCHECK"
