#!/bin/bash
# SPDX-License-Identifier: MIT
#
# test_web_tls.sh - a provider that serves https with a certificate from
# a private CA, as many self-hosted Authentik instances do.
#
# Checks: with [oidc] ca_file naming that CA, the start-up check passes
# and a whole sign-in works over TLS; without it, or with another CA,
# the start-up check names the certificate problem and says to set
# ca_file, /readyz says the provider is down and /login fails with a 503
# page (TLS verification cannot be turned off); a ca_file that cannot be
# read stops mailgated at start-up, naming the key.
set -euo pipefail
# shellcheck source=test_web_lib.bash
. "$(dirname "$0")/test_web_lib.bash"

PKI=$MG_TB/web_tls_pki
rm -rf "$PKI" && mkdir -p "$PKI"
# ca NAME: a self-signed CA in $PKI/NAME.pem, key in $PKI/NAME.key.
ca()
{
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$PKI/$1.key" -out "$PKI/$1.pem" -days 2 \
	    -subj "/CN=mailgate test $1" \
	    -addext basicConstraints=critical,CA:TRUE \
	    -addext keyUsage=critical,keyCertSign 2>/dev/null
}
ca ca
ca other
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$PKI/idp.key" -out "$PKI/idp.csr" -subj /CN=127.0.0.1 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' \
    >"$PKI/ext"
openssl x509 -req -in "$PKI/idp.csr" -CA "$PKI/ca.pem" -CAkey "$PKI/ca.key" \
    -CAcreateserial -out "$PKI/idp.pem" -days 2 -extfile "$PKI/ext" 2>/dev/null
export MG_IDP_TLS_CERT=$PKI/idp.pem MG_IDP_TLS_KEY=$PKI/idp.key
export MG_IDP_CA=$PKI/ca.pem # for the test bed's own clients

web_setup web_tls RS256
case $ISSUER in
https://*) ok "provider serves https: $ISSUER" ;;
*) fail "provider issuer is $ISSUER" ;;
esac
web_conf a "$MG_WEB_PORT_A"
cp "$W/a.conf" "$W/plain.conf"
sed -i "s|^client_secret = .*|&\nca_file = $PKI/ca.pem|" "$W/a.conf"
"$MG_BUILD/mailgate" -c "$W/a.conf" db migrate >/dev/null

# --- the private CA in ca_file -----------------------------------------------
web_start a "$MG_WEB_PORT_A"
web_wait_log a "http: provider (ok|not usable)" || true
expect_grep "start-up check passes with ca_file" "http: provider ok issuer=https://" "$W/a.log"
expect "readyz" "$(curl -sS -o /dev/null -w '%{http_code}' "$WEB_A/readyz")" 200
expect "sign-in over TLS" "$(web_signin "$W/alice.jar" alice@example.org)" "303 $WEB_A/"
expect_grep "signed in" "event=login result=ok mailbox=alice@example.org" "$W/a.log"
web_stop a

# --- no ca_file, or another CA: refused, with the way out named ---------------
# refused NAME CONF: mailgated on CONF cannot use the provider.
refused()
{
	cp "$2" "$W/$1.conf"
	web_start "$1" "$MG_WEB_PORT_A"
	web_wait_log "$1" "http: provider (ok|not usable)" || true
	expect_grep "$1: certificate refused at start-up" \
	    "provider not usable yet.*(certificate|issuer).*set \[oidc\] ca_file" \
	    "$W/$1.log"
	expect "$1: readyz" "$(curl -sS -o /dev/null -w '%{http_code}' "$WEB_A/readyz")" 503
	expect "$1: /login" "$(web_get "$W/$1.jar" "$WEB_A/login")" "503 "
	expect_no_grep "$1: no sign-in" "event=login result=ok" "$W/$1.log"
	web_stop "$1"
}
refused noca "$W/plain.conf"
sed "s|^ca_file = .*|ca_file = $PKI/other.pem|" "$W/a.conf" >"$W/other.conf.in"
refused otherca "$W/other.conf.in"

# --- a ca_file that cannot be read ----------------------------------------------
sed "s|^ca_file = .*|ca_file = $PKI/missing.pem|" "$W/a.conf" >"$W/missing.conf"
rc=0
timeout 10 "$MG_BUILD/mailgated" -c "$W/missing.conf" >"$W/missing.log" 2>&1 || rc=$?
expect "unreadable ca_file stops mailgated" "$([ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && echo yes)" yes
expect_grep "and names the key" "\[oidc\] ca_file $PKI/missing.pem: No such file" "$W/missing.log"

for f in "$W"/*.log; do
	expect_no_grep "no client secret in $(basename "$f")" "$IDP_SECRET" "$f"
done
web_done
