#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test_cli_errors.sh - every way a mailgate command can fail: each exits
# with its documented code, prints exactly one "mailgate: ..." line on
# stderr (never the database URL or password), and leaves the database
# exactly as it was (data compared with pg_dump before and after).
set -euo pipefail

: "${MG_SRC:?run through ctest/tests/run}"
. "$MG_SRC/tests/integration/cli_env.sh"

setup_db mg_t_cli_errors
run 0 mailbox add alice@example.org
run 0 mailbox add off@example.org
run 0 mailbox disable off@example.org
run 0 token issue alice@example.org --label laptop
TOK=$(cat "$W/out")
ID=${TOK:4:12}
run 0 link add alice@example.org --issuer https://id.example.org/ --subject s1
GOOD=$W/mailgate.conf

# Every row of every table. Identity counters (setval lines) are left
# out: PostgreSQL advances a sequence even for an insert that is rolled
# back, and a used number is not data.
snap() {
	pg_dump --data-only "$URL" |
	    grep -v -e '^--' -e '^$' -e '^\\restrict' -e '^\\unrestrict' \
	    -e '^SELECT pg_catalog.setval'
}
snap >"$W/base.sql"

# fails CODE WHAT ARGS...: mailgate ARGS exits CODE with one error line,
# and the database is unchanged.
fails() {
	local code=$1 what=$2
	shift 2
	run "$code" "$@"
	one_err_line
	lacks err "mailgate:mailgate@"
	snap >"$W/now.sql"
	cmp -s "$W/base.sql" "$W/now.sql" || {
		diff "$W/base.sql" "$W/now.sql" | head -n 20 >&2
		die "$what: the database changed"
	}
	check "$what: exit $code, one line ($(cut -c1-60 "$W/err")), database unchanged"
}

# 65: malformed input
fails 65 "malformed address" mailbox add "alice@@example.org"
fails 65 "address without domain" token issue alice
fails 65 "address with a control byte" mailbox add "$(printf 'a\001@example.org')"
fails 65 "malformed token id" token revoke "ABC"
fails 65 "whole token given as id" token revoke "$TOK"
lacks err "${TOK:17}"
fails 65 "invalid scope" token issue alice@example.org --scopes imap,ftp
fails 65 "empty scope" token issue alice@example.org --scopes ""
fails 65 "invalid duration" token issue alice@example.org --expires 12parsecs
fails 65 "expiry in the past" token issue alice@example.org --expires 2020-02-02
fails 65 "invalid date" audit --since 2026-13-45
fails 65 "invalid limit" audit --limit -3
fails 65 "label too long" token issue alice@example.org --label "$(printf '%0101d' 7)"
fails 65 "label with a newline" token issue alice@example.org --label "$(printf 'a\nb')"
fails 65 "label not UTF-8" token issue alice@example.org --label "$(printf 'caf\xe9')"
fails 65 "reason too long" token revoke "$ID" --reason "$(printf '%0201d' 7)"
fails 65 "token for a disabled mailbox" token issue off@example.org
fails 65 "issuer not a URL" link add alice@example.org --issuer id.example.org --subject x
fails 65 "unknown service" token verify alice@example.org --service telnet

# 66 / 67 / 73: unknown and duplicate
fails 66 "unknown token id" token revoke zzzzzzzzzzzz
fails 67 "unknown mailbox (issue)" token issue nobody@example.org
fails 67 "unknown mailbox (disable)" mailbox disable nobody@example.org
fails 67 "unknown mailbox (list tokens)" token list nobody@example.org
fails 67 "unknown mailbox (revoke all)" token revoke --mailbox nobody@example.org --all
fails 67 "unknown mailbox (link)" link add nobody@example.org --issuer https://id.example.org/ --subject s2
fails 67 "unknown link" link remove --issuer https://id.example.org/ --subject nope
fails 73 "duplicate mailbox" mailbox add ALICE@example.org
fails 73 "duplicate link" link add off@example.org --issuer https://id.example.org/ --subject s1

# 64: usage
fails 64 "no command" ""
fails 64 "unknown command" frobnicate
fails 64 "unknown subcommand" mailbox frobnicate
fails 64 "unknown option" mailbox list --colour
fails 64 "missing argument" token issue
fails 64 "missing option value" token issue alice@example.org --label
fails 64 "--all without --mailbox" token revoke --all
fails 64 "link without --subject" link add alice@example.org --issuer https://id.example.org/

# 78: configuration
fails 78 "missing config file" -c "$W/none.conf" mailbox list
printf '[database]\nurl = %s\nbogus = 1\n' "$URL" >"$W/badkey.conf"
fails 78 "unknown config key" -c "$W/badkey.conf" mailbox list
printf '[tokens]\nkey_file = %s\n' "$W/key" >"$W/nodb.conf"
fails 78 "no [database] url" -c "$W/nodb.conf" mailbox list
printf '[database]\nurl = %s\n' "$URL" >"$W/nokey.conf"
fails 78 "no [tokens] key_file for issue" -c "$W/nokey.conf" token issue alice@example.org
printf '[database]\nurl = postgresql://mailgate:Sentinel%%zzPw@127.0.0.1:%s/x\n' \
    "${MG_PG_PORT}" >"$W/badurl.conf"
fails 78 "URL that does not parse" -c "$W/badurl.conf" mailbox list
lacks err "Sentinel"
BADPW=${URL/mailgate:mailgate@/mailgate:WrongSentinelPw@}
printf '[database]\nurl = %s\n' "$BADPW" >"$W/badpw.conf"
fails 78 "wrong database password" -c "$W/badpw.conf" mailbox list
has err "database refused the login"
lacks err "WrongSentinelPw"

# 75: database unreachable (a port nobody listens on)
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
printf '[database]\nurl = postgresql://mailgate:ClosedSentinelPw@127.0.0.1:%s/mailgate\nconnect_timeout = 3\n\n[tokens]\nkey_file = %s\n' \
    "$PORT" "$W/key" >"$W/closed.conf"
for c in "mailbox list" "db migrate" "db status" "token list" "audit"; do
	# shellcheck disable=SC2086
	fails 75 "unreachable database ($c)" -c "$W/closed.conf" $c
	has err "database unreachable"
	lacks err "ClosedSentinelPw"
	lacks err "postgresql://"
done
run 75 -c "$W/closed.conf" token issue alice@example.org
[ ! -s "$W/out" ] || die "a token was printed although nothing was stored"
check "token issue with the database down prints no token"

# 76: a database newer than this mailgate
sql "INSERT INTO mailgate_schema_migrations (version, name)
    VALUES (9999, 'future')" >/dev/null
snap >"$W/base.sql"
fails 76 "newer schema (mailbox add)" mailbox add new@example.org
has err "upgrade mailgate"
fails 76 "newer schema (token issue)" token issue alice@example.org
fails 76 "newer schema (migrate)" db migrate
sql "DELETE FROM mailgate_schema_migrations WHERE version = 9999" >/dev/null

printf 'all %d checks passed\n' "$NCHECK"
