#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test_checksrc.sh - the house lint (tests/lint/checksrc) over the tree.
#
# First it proves the checker on files made here: each rule must fire on
# its bad case and stay quiet on the good ones, and waivers must count
# exactly. Then it runs over every tracked C file under src/, include/
# and tests/.

set -euo pipefail

SRC=${MG_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
CHECK=$SRC/tests/lint/checksrc
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0

# The checker runs once over all the files made below; expect and refuse
# then read its output.
OUT=$T/out
# expect NAME WANT-RC WANT-REGEX: what the checker said about $T/NAME.c
# (WANT-RC 0: nothing at all).
expect()
{
	local name=$1 want_rc=$2 want=$3 said

	said=$(grep -F "$T/$name.c:" "$OUT" | sed "s|^$T/||" || true)
	if [ "$want_rc" -eq 0 ] && [ -z "$said" ]; then
		return 0
	fi
	if [ "$want_rc" -ne 0 ] && grep -Eq -- "$want" <<<"$said"; then
		return 0
	fi
	printf 'self-test %s: want %s, got:\n%s\n' "$name" "$want" "$said"
	fails=$((fails + 1))
}

# refuse NAME REGEX: the checker must not say NAME.c:REGEX.
refuse()
{
	if sed "s|^$T/||" "$OUT" | grep -Eq -- "^$1.c:$2"; then
		printf 'self-test %s: unexpected %s\n' "$1" "$2"
		fails=$((fails + 1))
	fi
}

x74=$(printf 'x%.0s' $(seq 1 74))
y67=$(printf 'y%.0s' $(seq 1 67))

cat >"$T/clean.c" <<EOF
/* clean.c: nothing to report. TODO: a marker with its reason. */
#include <stdio.h>
/* XXX: a known weakness, explained. */
static const char *s = "atoi( in a string, FIXME in a string";
static char tmpl[] = "/tmp/mgXXXXXX";
int
f(const char *token_id, const char *user)
{
	char buf[16];

	(void)snprintf(buf, sizeof(buf), "%s", s);
	(void)strtok_r(buf, " ", &buf[0]);
	(void)printf("token_id=%s user=%s\n", token_id, user);
	(void)printf("len=%zu c='%c'\n", strlen(token_id), '"');
	return 0;
}
/* $x74 */
EOF

printf 'int\nf(void)\n{\n\treturn atoi("1") + sscanf(s, "%%d", &x);\n}\n' \
    >"$T/banned.c"
printf 'void\nf(char *d)\n{\n\tstrcpy (d, "a");\n\tsprintf(d, "x");\n}\n' \
    >"$T/banned2.c"

printf '/* FIXME later */\n/* TODO */\n// XXX fix\n/* TODO:nospace */\n' \
    >"$T/marker.c"

printf '/* %s */\n\t/* %s */\n' "$x74" "$y67" >"$T/long.c"

printf 'int x; \nint y;\t\nint z;\n' >"$T/trailing.c"

cat >"$T/secret.c" <<'EOF'
void
f(void)
{
	log_info("user=%s token=%s", user, tok->token);
	log_info("pw=%.*s", (int)len, password);
	log_info("id=%s url=%s", tok->public_id, cfg->token_endpoint);
	log_info("n=%d s=%s", client_secret_len, name);
	log_info("a=%s " "b=%s", a, req->client_secret);
}
EOF

cat >"$T/waived.c" <<'EOF'
/* checksrc: allow banned-function 2 */
int a = atoi("1") + atoi("2");
EOF
cat >"$T/overused.c" <<'EOF'
/* checksrc: allow banned-function 1 */
int a = atoi("1") + atoi("2");
EOF
cat >"$T/unused.c" <<'EOF'
/* checksrc: allow long-line 1 */
int a;
EOF
printf '/* checksrc: allow marker */\n/* checksrc: allow nosuch 1 */\n' \
    >"$T/badwaiver.c"

rc=0
"$CHECK" "$T"/*.c >"$OUT" 2>&1 || rc=$?
if [ "$rc" -ne 1 ]; then
	echo "self-test: checker exit $rc, want 1"
	fails=$((fails + 1))
fi
expect clean 0 '^$'
expect banned 1 'banned.c:4: banned-function: atoi\(\)'
expect banned 1 'banned.c:4: banned-function: sscanf\(\)'
expect banned2 1 'banned2.c:4: banned-function: strcpy'
expect banned2 1 'banned2.c:5: banned-function: sprintf'
expect marker 1 'marker.c:1: marker: FIXME'
expect marker 1 'marker.c:2: marker: bare TODO'
expect marker 1 'marker.c:3: marker: bare XXX'
expect marker 1 'marker.c:4: marker: bare TODO'
expect long 1 'long.c:2: long-line: 81 columns'
refuse long '1:'
expect trailing 1 'trailing.c:1: trailing-space'
expect trailing 1 'trailing.c:2: trailing-space'
refuse trailing '3:'
expect secret 1 'secret.c:4: secret-format: .*token'
expect secret 1 'secret.c:5: secret-format: .*password'
expect secret 1 'secret.c:8: secret-format: .*client_secret'
refuse secret '(6|7):'
expect waived 0 '^$'
expect overused 1 'overused.c:2: banned-function'
expect unused 1 'unused.c:0: waiver: .*lower its count'
expect badwaiver 1 'badwaiver.c:1: waiver: .*needs a count'
expect badwaiver 1 "badwaiver.c:2: waiver: unknown rule 'nosuch'"

if [ "$fails" -ne 0 ]; then
	echo "checksrc self-test: $fails failures"
	exit 1
fi
echo "checksrc self-test: ok"

cd "$SRC"
exec "$CHECK" -v
