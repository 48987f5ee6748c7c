#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# tests/testbed/install.sh - install what mailgate's build, tests and
# local setup need, from Debian's archive (Debian 12, as root).
#
# Package scripts must start no daemon (a policy-rc.d that exits 101),
# and Postfix is told to write no configuration: every service the tests
# need is started by tests/testbed/lib.sh with its own configuration, on
# loopback ports. When every package is already installed, apt is not
# run at all, so a rerun costs a fraction of a second.
#
# Environment: MG_INSTALL_BROWSER=0 leaves out chromium and
# chromium-driver (browser tests then skip).

set -euo pipefail

PKGS=(
	# build
	gcc make cmake pkg-config clang-format git
	# static checks, the clang sanitizer build and libFuzzer (the
	# runtimes are only recommended by clang, and recommends are off)
	clang clang-tidy cppcheck libclang-rt-14-dev llvm
	libmicrohttpd-dev libcurl4-openssl-dev libcjose-dev libjansson-dev
	libssl-dev libpq-dev libcmocka-dev
	# the peers of the tests
	postgresql dovecot-core dovecot-imapd dovecot-pop3d postfix
	# test tools
	swaks socat curl openssl iproute2 python3 ca-certificates
)
if [ "${MG_INSTALL_BROWSER:-1}" != 0 ]; then
	PKGS+=(chromium chromium-driver)
fi
# The test OpenID provider needs Node.js and npm; keep one that is there
# already (say from NodeSource), else take Debian's.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1
then
	PKGS+=(nodejs npm)
fi

# One dpkg-query for all: "name ii " per installed package.
# (It fails when a package is unknown to dpkg: that one is missing.)
installed=" $({ dpkg-query -W -f='${Package}=${db:Status-Abbrev}\n' \
    "${PKGS[@]}" 2>/dev/null || true; } | sed -n 's/=ii *$//p' |
    tr '\n' ' ') "
missing=()
for p in "${PKGS[@]}"; do
	if [[ $installed != *" $p "* ]]; then
		missing+=("$p")
	fi
done
if [ "${#missing[@]}" -eq 0 ]; then
	echo "install: all ${#PKGS[@]} packages present"
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "install: missing packages (${missing[*]}); run as root" >&2
	exit 1
fi

echo "install: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
	chmod 755 /usr/sbin/policy-rc.d
fi
echo "postfix postfix/main_mailer_type select No configuration" |
    debconf-set-selections
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    </dev/null >/tmp/mailgate-apt.log 2>&1 || {
	tail -n 30 /tmp/mailgate-apt.log >&2
	echo "install: apt-get install failed" >&2
	exit 1
}
echo "install: done"
