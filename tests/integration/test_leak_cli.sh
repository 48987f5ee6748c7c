#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test_leak_cli.sh - run every mailgate command path, succeeding and
# failing, with sentinel secrets (database password, token key bytes,
# tokens) and fail if any sentinel shows up on stderr, in PostgreSQL's
# log, or on stdout other than the one "token issue" that prints it.
set -euo pipefail

: "${MG_SRC:?run through ctest/tests/run}"
. "$MG_SRC/tests/integration/cli_env.sh"

: "${MG_PG_DIR:?run through tests/run}" "${MG_PG_PORT:?}"
DBPW=DbPwSentinel7f3Qx9
KEYS=KeySentinel-0123456789abcdef0123456789abcdef
FAKE=mgt_abcdefghijkl_FakeTokenSentinelAAAAAAAAAAAAAAAAAAAA
PGLOG=$MG_PG_DIR/server.log
LOG0=$(stat -c %s "$PGLOG" 2>/dev/null || echo 0)

URL0=$(tb_newdb mg_t_leak_cli)
tb_pg_psql "$MG_PG_DIR" "$MG_PG_PORT" -d postgres \
    -c "DROP ROLE IF EXISTS mg_leak_cli" >/dev/null 2>&1 || true
tb_pg_psql "$MG_PG_DIR" "$MG_PG_PORT" -d postgres \
    -c "CREATE ROLE mg_leak_cli LOGIN PASSWORD '$DBPW'" \
    -c "ALTER DATABASE mg_t_leak_cli OWNER TO mg_leak_cli" >/dev/null
URL=${URL0/mailgate:mailgate@/mg_leak_cli:$DBPW@}
printf '%s' "$KEYS" >"$W/key"
chmod 600 "$W/key"
conf() { printf '[database]\nurl = %s\n\n[tokens]\nkey_file = %s\n' "$1" "$W/key"; }
conf "$URL" >"$W/mailgate.conf"
export MAILGATE_CONFIG=$W/mailgate.conf
: >"$W/all.out"
: >"$W/all.err"
N=0

# x ARGS...: run mailgate, any exit code; collect stdout and stderr.
x() {
	N=$((N + 1))
	"$MG" "$@" </dev/null >>"$W/all.out" 2>>"$W/all.err" || true
}
# xin INPUT ARGS...: the same with INPUT on stdin.
xin() {
	local in=$1
	shift
	N=$((N + 1))
	printf '%s\n' "$in" | "$MG" "$@" >>"$W/all.out" 2>>"$W/all.err" || true
}

x --help; x --version; x db --help; x token issue --help
x check-config
x db status; x db status --json; x db migrate; x db migrate

x mailbox add alice@example.org; x mailbox add alice@example.org
x mailbox add bob@example.org; x mailbox add "bad address"
x mailbox list; x mailbox list --json
x mailbox disable bob@example.org; x mailbox enable bob@example.org
x mailbox show nobody@example.org

# The two outputs that may hold a token: kept apart, checked for shape.
N=$((N + 2))
"$MG" token issue alice@example.org --label "leak test" >"$W/issue.out" \
    2>>"$W/all.err"
"$MG" token issue alice@example.org --json >"$W/issue.json" 2>>"$W/all.err"
TOK=$(cat "$W/issue.out")
TOKJ=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["token"])' "$W/issue.json")
ID=${TOK:4:12}
[ "$(wc -l <"$W/issue.out")" -eq 1 ] || die "issue printed more than the token"

x mailbox show alice@example.org; x mailbox show alice@example.org --json
x token list; x token list --all --json; x token list alice@example.org
xin "$TOK" token verify alice@example.org --service imap
xin "$TOK" token verify bob@example.org --json
xin "$FAKE" token verify alice@example.org
xin "$TOKJ" token verify alice@example.org --service pop3
xin "${TOK}junk" token verify alice@example.org
x token revoke "$FAKE"; x token revoke "$TOK"; x token revoke "$TOKJ"
x token revoke abcdefghijkl
x token issue alice@example.org --label "$(printf '%0101d' 1)$FAKE"
x token issue alice@example.org --scopes "$FAKE"
x token issue alice@example.org --expires "$FAKE"
x token issue nobody@example.org
x token revoke "$ID" --reason "leak test"; x token revoke "$ID"
x token revoke --mailbox alice@example.org --all
x link add alice@example.org --issuer https://id.example.org/ --subject s
x link add alice@example.org --issuer https://id.example.org/ --subject s
x link list --json; x link remove --issuer https://id.example.org/ --subject s
x audit; x audit --json --limit 0; x audit --since "$FAKE"
x lockout list; x lockout list --all --json; x lockout clear 192.0.2.1
x lockout clear "$FAKE"; x lockout clear "$TOK"; x lockout clear "$TOK@x"
x frobnicate "$FAKE"; x mailbox list "--$FAKE"
xin "$TOK" token verify alice@example.org

# Configuration and database failures, each with the sentinels in play.
conf "${URL/127.0.0.1:$MG_PG_PORT/127.0.0.1:1}" >"$W/closed.conf"
x -c "$W/closed.conf" mailbox list; x -c "$W/closed.conf" db migrate
xin "$TOK" -c "$W/closed.conf" token verify alice@example.org
x -c "$W/closed.conf" token issue alice@example.org
conf "${URL/$DBPW/${DBPW}Wrong}" >"$W/badpw.conf"
x -c "$W/badpw.conf" mailbox list; x -c "$W/badpw.conf" db status
conf "postgresql://u:$DBPW@127.0.0.1:$MG_PG_PORT/x?sslmode=$DBPW" >"$W/badopt.conf"
x -c "$W/badopt.conf" mailbox list
conf "postgresql://u:$DBPW%zz@h/x" >"$W/badurl.conf"
x -c "$W/badurl.conf" mailbox list; x -c "$W/badurl.conf" check-config
conf "host=127.0.0.1 port=$MG_PG_PORT user=mg_leak_cli password=$DBPW dbname=nope" >"$W/nodb.conf"
x -c "$W/nodb.conf" mailbox list
N=$((N + 1))
MAILGATE_DATABASE_URL="postgresql://u:$DBPW@127.0.0.1:1/x" "$MG" mailbox list \
    >>"$W/all.out" 2>>"$W/all.err" </dev/null || true
printf '%s\n' "$KEYS" >"$W/short.key" # too short to be a key? either way
printf '[database]\nurl = %s\n\n[tokens]\nkey_file = %s\n' "$URL" "$W/short.key" >"$W/k.conf"
x -c "$W/k.conf" check-config
head -c 8 "$W/key" >"$W/tiny.key"
printf '[database]\nurl = %s\n\n[tokens]\nkey_file = %s\n' "$URL" "$W/tiny.key" >"$W/tiny.conf"
x -c "$W/tiny.conf" check-config; x -c "$W/tiny.conf" token issue alice@example.org
printf '[database]\nurl = %s\nbogus = %s\n' "$URL" "$DBPW" >"$W/bogus.conf"
x -c "$W/bogus.conf" mailbox list
psql -XAtq "$URL" -c "INSERT INTO mailgate_schema_migrations (version, name)
    VALUES (9999, 'future')" >/dev/null
x mailbox list; x db migrate; x db status

check "ran $N mailgate commands ($(grep -c '^mailgate: ' "$W/all.err") failed)"

tail -c +"$((LOG0 + 1))" "$PGLOG" >"$W/pg.log" 2>/dev/null || : >"$W/pg.log"
for s in "$DBPW" "$KEYS" "$TOK" "${TOK:17}" "$TOKJ" "${TOKJ:17}" \
    "${FAKE:17}"; do
	for f in all.out all.err pg.log; do
		if grep -qF -- "$s" "$W/$f"; then
			grep -nF -- "$s" "$W/$f" | head -n 3 >&2
			die "sentinel ${s:0:8}... found in $f"
		fi
	done
done
check "no sentinel (DB password, key bytes, tokens) on stdout, stderr or in the PostgreSQL log"

grep -qF -- "$TOKJ" "$W/issue.json" && [ "$(grep -cF -- "${TOK:17}" "$W/issue.out")" -eq 1 ] ||
    die "token issue did not print its token"
check "each token appeared exactly where it was issued"

grep -v '^mailgate: ' "$W/all.err" | grep -v '^token [0-9a-z]\{12\} issued for' \
    >"$W/stray.err" || true
[ ! -s "$W/stray.err" ] || { head -n 5 "$W/stray.err" >&2; die "stderr lines other than errors and issue notes"; }
check "stderr held only 'mailgate: ...' errors and 'token ID issued' notes"

tb_pg_psql "$MG_PG_DIR" "$MG_PG_PORT" -d postgres \
    -c "DROP DATABASE IF EXISTS mg_t_leak_cli WITH (FORCE)" \
    -c "DROP ROLE IF EXISTS mg_leak_cli" >/dev/null 2>&1 || true
printf 'all %d checks passed\n' "$NCHECK"
