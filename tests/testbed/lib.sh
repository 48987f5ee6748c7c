# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# tests/testbed/lib.sh - start and stop mailgate's real peers for tests.
#
# Source it from a test script (it is safe under set -euo pipefail):
#
#	. "$MG_SRC/tests/testbed/lib.sh"
#	trap tb_stop_all EXIT
#
# Every service listens on 127.0.0.1 only and keeps its state in a
# directory the caller names, normally under $MG_TB (/tmp/mailgate-tb, kept
# short because unix socket paths must fit in 108 bytes). Readiness is
# checked passively (ss, files, the provider's discovery document): never
# by connecting to a port whose first connection starts a process.
# Processes are stopped by their own PID, never by name.
#
# Ports, all overridable from the environment:
#	MG_PG_PORT 25432, MG_IMAP_PORT 10143, MG_POP3_PORT (unset: closed),
#	MG_DOVECOT_AUTH_PORT 12345, MG_SMTP_PORT 10025, MG_IDP_PORT 9400.

: "${MG_TB:=/tmp/mailgate-tb}"
: "${MG_PG_PORT:=25432}"
: "${MG_IMAP_PORT:=10143}"
: "${MG_POP3_PORT:=}"
: "${MG_DOVECOT_AUTH_PORT:=12345}"
: "${MG_SMTP_PORT:=10025}"
: "${MG_IDP_PORT:=9400}"

TB_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${MG_SRC:=$(cd "$TB_LIB_DIR/../.." && pwd)}"
: "${MG_IDP_HOME:=$MG_SRC/tests/idp}"
: "${MG_IDP_MOUNT:=/application/o/mail/}"

# What tb_stop_all stops: "kind path" entries, in start order.
TB_STARTED=()

tb_log()
{
	printf 'testbed: %s\n' "$*" >&2
}

tb_die()
{
	tb_log "error: $*"
	return 1
}

# tb_pg_bin: the directory of PostgreSQL's server programs.
tb_pg_bin()
{
	local d

	if [ -n "${MG_PG_BIN:-}" ]; then
		printf '%s\n' "$MG_PG_BIN"
		return 0
	fi
	for d in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
		if [ -x "$d/initdb" ]; then
			printf '%s\n' "$d"
			return 0
		fi
	done
	tb_die "no PostgreSQL server programs (install postgresql)"
}

# tb_mkroot DIR: create DIR and make it and its parents up to / reachable
# for the postgres, dovecot and postfix users.
tb_mkroot()
{
	local d=$1 mode

	mkdir -p "$d"
	chmod 755 "$d"
	d=$(cd "$d" && pwd)
	while [ "$d" != / ]; do
		d=$(dirname "$d")
		mode=$(stat -c %a "$d")
		if (((8#$mode & 1) == 0)); then
			tb_die "$d is not searchable by other users"
			return 1
		fi
	done
}

# tb_check_sun_path PATH: unix socket paths must fit sockaddr_un.
tb_check_sun_path()
{
	if [ "${#1}" -ge 108 ]; then
		tb_die "socket path too long (${#1} bytes, max 107): $1"
		return 1
	fi
}

# tb_render TEMPLATE OUT NAME=VALUE...: copy TEMPLATE to OUT with every
# @NAME@ replaced by VALUE.
tb_render()
{
	local in=$1 out=$2 text kv
	shift 2

	text=$(<"$in")
	for kv in "$@"; do
		text=${text//"@${kv%%=*}@"/"${kv#*=}"}
	done
	if [[ $text =~ @[A-Z_]+@ ]]; then
		tb_die "$in: no value for ${BASH_REMATCH[0]}"
		return 1
	fi
	printf '%s\n' "$text" >"$out"
}

# tb_pid_alive PID: true while PID runs (a zombie counts as gone).
tb_pid_alive()
{
	local state

	kill -0 "$1" 2>/dev/null || return 1
	state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null || true)
	[ "$state" != Z ]
}

# tb_read_pid PIDFILE: print the PID in PIDFILE's first line, or nothing.
tb_read_pid()
{
	local pid=

	if [ -r "$1" ]; then
		pid=$(head -n 1 "$1" | tr -d ' \t\r')
	fi
	if [[ $pid =~ ^[0-9]+$ ]]; then
		printf '%s\n' "$pid"
	fi
}

# tb_wait_listen PORT [TIMEOUT [PID]]: wait until a TCP socket listens on
# PORT (seconds, default 20); give up early when PID dies.
tb_wait_listen()
{
	local port=$1 timeout=${2:-20} pid=${3:-} i n

	n=$((timeout * 10))
	for ((i = 0; i < n; i++)); do
		if [ -n "$(ss -Hltn "sport = :$port" 2>/dev/null)" ]; then
			return 0
		fi
		if [ -n "$pid" ] && ! tb_pid_alive "$pid"; then
			tb_die "process $pid died before port $port listened"
			return 1
		fi
		sleep 0.1
	done
	tb_die "nothing listens on port $port after ${timeout}s"
}

# tb_wait_file PATH [TIMEOUT]: wait until PATH exists.
tb_wait_file()
{
	local path=$1 timeout=${2:-20} i n

	n=$((timeout * 10))
	for ((i = 0; i < n; i++)); do
		if [ -e "$path" ]; then
			return 0
		fi
		sleep 0.1
	done
	tb_die "$path did not appear after ${timeout}s"
}

# tb_wait_gone PID [TIMEOUT]: wait until PID has exited.
tb_wait_gone()
{
	local pid=$1 timeout=${2:-10} i n

	n=$((timeout * 10))
	for ((i = 0; i < n; i++)); do
		if ! tb_pid_alive "$pid"; then
			wait "$pid" 2>/dev/null || true
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# tb_stop_pid PIDFILE [SIGNAL]: SIGNAL (TERM), wait up to 10 s, then KILL.
tb_stop_pid()
{
	local pidfile=$1 sig=${2:-TERM} pid

	pid=$(tb_read_pid "$pidfile")
	if [ -z "$pid" ] || ! tb_pid_alive "$pid"; then
		[ -z "$pid" ] || wait "$pid" 2>/dev/null || true
		return 0
	fi
	kill "-$sig" "$pid" 2>/dev/null || true
	if ! tb_wait_gone "$pid" 10; then
		tb_log "pid $pid ($pidfile) ignored SIG$sig: killing"
		kill -KILL "$pid" 2>/dev/null || true
		tb_wait_gone "$pid" 5 || true
	fi
}

# tb_started KIND PATH: remember a service for tb_stop_all.
tb_started()
{
	local e

	for e in "${TB_STARTED[@]}"; do
		[ "$e" != "$1 $2" ] || return 0
	done
	TB_STARTED+=("$1 $2")
}

# tb_stop_all: stop everything started through this library (for trap
# EXIT). Signals all first, then waits for each, which is much faster
# than stopping them one by one.
tb_stop_all()
{
	local rc=$? e kind path pidfile sig pid i
	local -a pids=()

	for ((i = ${#TB_STARTED[@]} - 1; i >= 0; i--)); do
		e=${TB_STARTED[i]}
		kind=${e%% *}
		path=${e#* }
		sig=TERM
		case $kind in
		pg)
			pidfile=$path/data/postmaster.pid
			sig=INT # fast shutdown: do not wait for clients
			;;
		postfix)
			pidfile=$path/spool/pid/master.pid
			;;
		*)
			pidfile=$path
			;;
		esac
		pid=$(tb_read_pid "$pidfile")
		if [ -n "$pid" ] && tb_pid_alive "$pid"; then
			kill "-$sig" "$pid" 2>/dev/null || true
			pids+=("$pid")
		fi
	done
	for pid in "${pids[@]}"; do
		if ! tb_wait_gone "$pid" 10; then
			tb_log "pid $pid did not stop: killing"
			kill -KILL "$pid" 2>/dev/null || true
			tb_wait_gone "$pid" 5 || true
		fi
	done
	TB_STARTED=()
	return "$rc"
}

# --- PostgreSQL -------------------------------------------------------

# tb_pg_sockdir DIR: the cluster's unix socket directory: DIR/sock, or
# what MG_PG_SOCK_DIR said when tb_pg_start first ran (recorded in
# DIR/sockdir), for trees too deep for sun_path.
tb_pg_sockdir()
{
	if [ -f "$1/sockdir" ]; then
		cat "$1/sockdir"
	else
		printf '%s/sock\n' "$1"
	fi
}

# tb_pg_psql DIR PORT ARGS...: psql as superuser over DIR's unix socket.
tb_pg_psql()
{
	local dir=$1 port=$2
	shift 2

	psql -X -q -v ON_ERROR_STOP=1 -h "$(tb_pg_sockdir "$dir")" -p "$port" \
	    -U postgres "$@"
}

# tb_pg_start DIR PORT: a throwaway cluster in DIR (initdb on first use),
# on 127.0.0.1:PORT and DIR/sock, with role and database "mailgate".
# Test-only settings: no fsync. Returns 0 at once if it already runs.
tb_pg_start()
{
	local dir=$1 port=$2 bin opts sock

	bin=$(tb_pg_bin)
	tb_mkroot "$dir"
	dir=$(cd "$dir" && pwd)
	if [ -n "${MG_PG_SOCK_DIR:-}" ] && [ ! -f "$dir/sockdir" ]; then
		printf '%s\n' "$MG_PG_SOCK_DIR" >"$dir/sockdir"
	fi
	sock=$(tb_pg_sockdir "$dir")
	tb_check_sun_path "$sock/.s.PGSQL.$port"
	tb_mkroot "$sock"
	chown postgres:postgres "$dir" "$sock"

	if [ ! -f "$dir/data/PG_VERSION" ]; then
		runuser -u postgres -- "$bin/initdb" -D "$dir/data" \
		    -U postgres -E UTF8 --locale=C.UTF-8 --auth-local=trust \
		    --auth-host=scram-sha-256 --no-sync >"$dir/initdb.log" \
		    2>&1 || {
			cat "$dir/initdb.log" >&2
			tb_die "initdb failed in $dir"
			return 1
		}
	fi

	if ! runuser -u postgres -- "$bin/pg_ctl" -D "$dir/data" status \
	    >/dev/null 2>&1; then
		opts="-c listen_addresses=127.0.0.1 -p $port -k $sock"
		opts+=" -c fsync=off -c synchronous_commit=off"
		opts+=" -c full_page_writes=off -c max_connections=200"
		runuser -u postgres -- "$bin/pg_ctl" -D "$dir/data" \
		    -l "$dir/server.log" -w -t 30 -o "$opts" start \
		    >/dev/null || {
			tail -n 20 "$dir/server.log" >&2 || true
			tb_die "PostgreSQL did not start in $dir"
			return 1
		}
		tb_started pg "$dir" # only what this shell started
	fi

	if [ -z "$(tb_pg_psql "$dir" "$port" -d postgres -Atc \
	    "SELECT 1 FROM pg_roles WHERE rolname = 'mailgate'")" ]; then
		tb_pg_psql "$dir" "$port" -d postgres -c \
		    "CREATE ROLE mailgate LOGIN PASSWORD 'mailgate'"
	fi
	if [ -z "$(tb_pg_psql "$dir" "$port" -d postgres -Atc \
	    "SELECT 1 FROM pg_database WHERE datname = 'mailgate'")" ]; then
		tb_pg_psql "$dir" "$port" -d postgres -c \
		    "CREATE DATABASE mailgate OWNER mailgate"
	fi
}

# tb_pg_stop DIR: fast shutdown (clients are cut off), waits.
tb_pg_stop()
{
	local dir=$1 bin

	[ -f "$dir/data/postmaster.pid" ] || return 0
	bin=$(tb_pg_bin)
	runuser -u postgres -- "$bin/pg_ctl" -D "$dir/data" -m fast -w \
	    -t 30 stop >/dev/null 2>&1 || true
}

# tb_pg_url DIR PORT DBNAME: libpq URI for role mailgate over TCP.
tb_pg_url()
{
	printf 'postgresql://mailgate:mailgate@127.0.0.1:%s/%s?connect_timeout=3\n' \
	    "$2" "$3"
}

# tb_newdb NAME: a fresh, empty database NAME owned by mailgate on the
# cluster tests/run started (MG_PG_DIR, MG_PG_PORT); prints its URL.
tb_newdb()
{
	local name=$1

	: "${MG_PG_DIR:?tb_newdb: MG_PG_DIR is not set (run via tests/run)}"
	if ! [[ $name =~ ^[a-z_][a-z0-9_]{0,62}$ ]]; then
		tb_die "tb_newdb: bad database name '$name'"
		return 1
	fi
	PGOPTIONS="-c client_min_messages=warning" \
	    tb_pg_psql "$MG_PG_DIR" "$MG_PG_PORT" -d postgres \
	    -c "DROP DATABASE IF EXISTS $name WITH (FORCE)" \
	    -c "CREATE DATABASE $name OWNER mailgate" >&2
	tb_pg_url "$MG_PG_DIR" "$MG_PG_PORT" "$name"
}

# tb_keyfile PATH: 48 random bytes, mode 0600.
tb_keyfile()
{
	(umask 077 && head -c 48 /dev/urandom >"$1")
	chmod 600 "$1"
}

# tb_install_prog SRC [DIR]: copy a program where the dovecot user can
# run it ($MG_TB/bin by default; build trees may be unreachable for it);
# prints the new path.
tb_install_prog()
{
	local src=$1 dir=${2:-$MG_TB/bin}

	tb_mkroot "$dir"
	install -m 755 "$src" "$dir/"
	printf '%s/%s\n' "$dir" "$(basename "$src")"
}

# --- Dovecot ----------------------------------------------------------

# tb_dovecot_run DIR CONF NAME: start "dovecot -F" on CONF in the
# background, PID in DIR/pid.
tb_dovecot_run()
{
	local dir=$1 conf=$2 err

	if ! err=$(doveconf -c "$conf" -n 2>&1 >/dev/null) ||
	    [ -n "$err" ]; then
		printf '%s\n' "$err" >&2
		tb_die "doveconf rejects $conf"
		return 1
	fi
	dovecot -F -c "$conf" </dev/null >"$dir/out.log" 2>&1 &
	echo "$!" >"$dir/pid"
	tb_started pid "$dir/pid"
}

# tb_pid_running DIR: true when DIR/pid names a live process.
tb_pid_running()
{
	local pid

	pid=$(tb_read_pid "$1/pid")
	[ -n "$pid" ] && tb_pid_alive "$pid"
}

# tb_dovecot_imap_start DIR PORT PASSDB_ARGS [AUTH_CONF]: Dovecot IMAP on
# 127.0.0.1:PORT (POP3 too when MG_POP3_PORT is set) whose passdb is
# "checkpassword" with args PASSDB_ARGS (the program, readable and
# executable by user dovecot, as are all its parent directories) and
# whose userdb maps everyone to nobody. With AUTH_CONF, that file is
# included instead (its passdb, userdb and any service settings) and
# PASSDB_ARGS is ignored. Homes live in DIR/home.
tb_dovecot_imap_start()
{
	local dir=$1 port=$2 args=$3 auth=${4:-} proto=imap pid

	tb_mkroot "$dir"
	dir=$(cd "$dir" && pwd)
	if tb_pid_running "$dir"; then
		return 0
	fi
	tb_check_sun_path "$dir/run/login/imap-urlauth-postlogin"
	mkdir -p "$dir/run" "$dir/state" "$dir/home"
	chmod 1777 "$dir/home"
	if [ -n "${MG_POP3_PORT:-}" ]; then
		proto="imap pop3"
	fi
	if [ -z "$auth" ]; then
		auth=$dir/auth.conf
		tb_render "$TB_LIB_DIR/dovecot-checkpassword.conf.in" "$auth" \
		    "PASSDB_ARGS=$args" "HOME_DIR=$dir/home"
	fi
	tb_render "$TB_LIB_DIR/dovecot-imap.conf.in" "$dir/dovecot.conf" \
	    "INSTANCE=mgtb-imap-$port" "BASE_DIR=$dir/run" \
	    "STATE_DIR=$dir/state" "LOG_PATH=$dir/dovecot.log" \
	    "PROTOCOLS=$proto" "IMAP_PORT=$port" \
	    "POP3_PORT=${MG_POP3_PORT:-0}" "AUTH_CONF=$auth"
	tb_dovecot_run "$dir" "$dir/dovecot.conf"
	pid=$(tb_read_pid "$dir/pid")
	tb_wait_listen "$port" 20 "$pid" || {
		tail -n 20 "$dir/out.log" "$dir/dovecot.log" >&2 || true
		return 1
	}
	if [ -n "${MG_POP3_PORT:-}" ]; then
		tb_wait_listen "$MG_POP3_PORT" 20 "$pid"
	fi
}

# tb_dovecot_auth_start DIR USERSFILE: auth-only Dovecot (passwd-file
# USERSFILE, no cache, no penalty) on DIR/run/auth-client (mode 0666) and
# 127.0.0.1:$MG_DOVECOT_AUTH_PORT. With MG_DOVECOT_AUTH_POSTFIX_SOCKET set
# (say $MG_TB/pf/spool/private/auth) it also listens there for Postfix.
tb_dovecot_auth_start()
{
	local dir=$1 users=$2 extra= pid sock

	tb_mkroot "$dir"
	dir=$(cd "$dir" && pwd)
	if tb_pid_running "$dir"; then
		return 0
	fi
	tb_check_sun_path "$dir/run/auth-client"
	mkdir -p "$dir/run" "$dir/state" "$dir/home"
	chmod 1777 "$dir/home"
	sock=${MG_DOVECOT_AUTH_POSTFIX_SOCKET:-}
	if [ -n "$sock" ]; then
		tb_check_sun_path "$sock"
		mkdir -p "$(dirname "$sock")"
		# Postfix insists on owning its private directory.
		if [ "$(basename "$(dirname "$sock")")" = private ]; then
			chown postfix "$(dirname "$sock")"
			chmod 700 "$(dirname "$sock")"
		fi
		extra=$(printf '%s\n' \
		    "" \
		    "  # For Postfix, inside its queue directory." \
		    "  unix_listener $sock {" \
		    "    mode = 0660" \
		    "    user = postfix" \
		    "    group = postfix" \
		    "  }")
	fi
	tb_render "$TB_LIB_DIR/dovecot-auth.conf.in" "$dir/dovecot.conf" \
	    "INSTANCE=mgtb-auth-$MG_DOVECOT_AUTH_PORT" "BASE_DIR=$dir/run" \
	    "STATE_DIR=$dir/state" "LOG_PATH=$dir/dovecot.log" \
	    "AUTH_PORT=$MG_DOVECOT_AUTH_PORT" "EXTRA_LISTENERS=$extra" \
	    "USERS_FILE=$users" "HOME_DIR=$dir/home"
	tb_dovecot_run "$dir" "$dir/dovecot.conf"
	pid=$(tb_read_pid "$dir/pid")
	tb_wait_listen "$MG_DOVECOT_AUTH_PORT" 20 "$pid" &&
	    tb_wait_file "$dir/run/auth-client" 20 || {
		tail -n 20 "$dir/out.log" "$dir/dovecot.log" >&2 || true
		return 1
	}
}

# tb_dovecot_stop DIR: stop either kind of Dovecot instance.
tb_dovecot_stop()
{
	tb_stop_pid "$1/pid"
}

# --- Postfix ----------------------------------------------------------

# tb_postfix_start DIR PORT SASL_PATH [CHROOT]: Postfix with its own
# configuration in DIR/etc, smtpd on 127.0.0.1:PORT, SMTP AUTH through the
# Dovecot auth protocol at SASL_PATH ("inet:127.0.0.1:9143", or
# "private/auth" relative to DIR/spool). CHROOT "y" chroots smtpd into
# DIR/spool as Debian's master.cf does (with the same copies of /etc
# files); default "n". Start the auth server first: an smtpd that finds
# no socket exits, and master then holds the service for 1 s.
tb_postfix_start()
{
	local dir=$1 port=$2 sasl=$3 chroot=${4:-n} pid f

	tb_mkroot "$dir"
	dir=$(cd "$dir" && pwd)
	pid=$(tb_read_pid "$dir/spool/pid/master.pid")
	if [ -n "$pid" ] && tb_pid_alive "$pid"; then
		return 0
	fi
	tb_check_sun_path "$dir/spool/private/anvil"
	mkdir -p "$dir/etc" "$dir/spool" "$dir/data"
	chown postfix "$dir/data"
	tb_render "$TB_LIB_DIR/postfix-main.cf.in" "$dir/etc/main.cf" \
	    "QUEUE_DIR=$dir/spool" "DATA_DIR=$dir/data" \
	    "MAILLOG=$dir/maillog" "DIR=$dir" "SASL_PATH=$sasl"
	tb_render "$TB_LIB_DIR/postfix-master.cf.in" "$dir/etc/master.cf" \
	    "SMTPD_LISTEN=127.0.0.1:$port" "SMTPD_CHROOT=$chroot"
	if [ "$chroot" = y ]; then
		# What Debian's postfix start copies into the chroot.
		mkdir -p "$dir/spool/etc"
		for f in localtime services resolv.conf hosts host.conf \
		    nsswitch.conf; do
			[ ! -e "/etc/$f" ] || cp -L "/etc/$f" "$dir/spool/etc/"
		done
	fi
	# check also creates spool/{private,public,pid,...} with the right
	# owners; it reports on the log file only.
	if ! postfix -c "$dir/etc" check >/dev/null 2>&1; then
		tail -n 20 "$dir/maillog" >&2 || true
		tb_die "postfix check failed for $dir/etc"
		return 1
	fi
	if ! postfix -c "$dir/etc" start >/dev/null 2>&1; then
		tail -n 20 "$dir/maillog" >&2 || true
		tb_die "postfix did not start from $dir/etc"
		return 1
	fi
	tb_started postfix "$dir"
	tb_wait_file "$dir/spool/pid/master.pid" 20
	pid=$(tb_read_pid "$dir/spool/pid/master.pid")
	tb_wait_listen "$port" 20 "$pid" || {
		tail -n 20 "$dir/maillog" >&2 || true
		return 1
	}
}

# tb_postfix_stop DIR: TERM to the master (it stops its children), wait.
tb_postfix_stop()
{
	tb_stop_pid "$1/spool/pid/master.pid"
}

# --- mailgated's socket for Postfix and Dovecot (the layout of deploy/) --

# tb_mailgate_users: the system users the shipped layout names: mailgate
# (from deploy/systemd/mailgate-sysusers.conf, as a package would make
# it) and vmail, the mail owner of deploy/dovecot/auth-mailgate.conf.ext.
# Does nothing for users that exist.
tb_mailgate_users()
{
	local sysusers=$MG_SRC/deploy/systemd/mailgate-sysusers.conf

	if ! id -u mailgate >/dev/null 2>&1; then
		if command -v systemd-sysusers >/dev/null; then
			systemd-sysusers "$sysusers" >/dev/null 2>&1
		else
			useradd --system --user-group --no-create-home \
			    --home-dir /nonexistent --shell /usr/sbin/nologin \
			    mailgate
		fi
	fi
	if ! id -u vmail >/dev/null 2>&1; then
		useradd --system --user-group --no-create-home \
		    --home-dir /nonexistent --shell /usr/sbin/nologin vmail
	fi
	if ! id -u mailgate >/dev/null 2>&1 || ! id -u vmail >/dev/null 2>&1
	then
		tb_die "cannot create the users mailgate and vmail"
		return 1
	fi
}

# tb_mailgate_sockdir QUEUE_DIR: QUEUE_DIR/mailgate made exactly as
# deploy/systemd/mailgate-tmpfiles.conf makes /var/spool/postfix/mailgate
# (systemd-tmpfiles on that file with the path replaced; the same line
# read by hand where systemd-tmpfiles is missing). Checks the result:
# mode 2750, owner mailgate, group postfix.
tb_mailgate_sockdir()
{
	local q=$1 conf path mode user group got

	tb_mailgate_users || return 1
	tb_mkroot "$q"
	q=$(cd "$q" && pwd)
	conf=$q.mailgate-tmpfiles.conf
	sed "s|/var/spool/postfix|$q|g" \
	    "$MG_SRC/deploy/systemd/mailgate-tmpfiles.conf" >"$conf"
	if command -v systemd-tmpfiles >/dev/null; then
		if ! systemd-tmpfiles --create "$conf" >&2; then
			tb_die "systemd-tmpfiles --create $conf failed"
			return 1
		fi
	else
		read -r _ path mode user group _ < <(grep '^d ' "$conf")
		install -d -m "$mode" -o "$user" -g "$group" "$path"
	fi
	got=$(stat -c '%a %U %G' "$q/mailgate")
	if [ "$got" != "2750 mailgate postfix" ]; then
		tb_die "$q/mailgate is '$got', not '2750 mailgate postfix'"
		return 1
	fi
}

# tb_mailgate_auth_conf QUEUE_DIR: the [auth] section of
# deploy/mailgate.conf.example (comments and all) with /var/spool/postfix
# replaced by QUEUE_DIR, for a test's mailgate.conf; test settings go
# after it.
tb_mailgate_auth_conf()
{
	sed -n '/^\[auth\]$/,/^\[/p' "$MG_SRC/deploy/mailgate.conf.example" |
	    sed -e '$d' -e "s|/var/spool/postfix|$1|g"
}

# tb_mailgated_as_mailgate DIR: a copy of $MG_BUILD/mailgated in DIR and,
# next to it, DIR/mailgated-as-mailgate, which runs it the way
# deploy/systemd/mailgated.service does: user and group mailgate, no
# supplementary groups, no capabilities, no new privileges, umask 0077.
# Prints the wrapper's path (a drop-in for MG_MAILGATED; it execs, so
# its PID is mailgated's). The configuration and key files must be
# readable by group mailgate.
tb_mailgated_as_mailgate()
{
	local dir=$1 prog

	tb_mailgate_users || return 1
	prog=$(tb_install_prog "$MG_BUILD/mailgated" "$dir")
	printf '%s\n' '#!/bin/sh' 'umask 077' \
	    "exec setpriv --reuid=mailgate --regid=mailgate --init-groups \\" \
	    "    --bounding-set=-all --inh-caps=-all --no-new-privs -- \\" \
	    "    '$prog' \"\$@\"" >"$dir/mailgated-as-mailgate"
	chmod 755 "$dir/mailgated-as-mailgate"
	printf '%s\n' "$dir/mailgated-as-mailgate"
}

# --- OpenID provider --------------------------------------------------

# tb_idp_url PORT: the issuer (with its trailing slash).
tb_idp_url()
{
	local scheme=http

	[ -z "${MG_IDP_TLS_CERT:-}" ] || scheme=https
	printf '%s://127.0.0.1:%s%s\n' "$scheme" "$1" "$MG_IDP_MOUNT"
}

# tb_idp_start DIR PORT: tests/idp/provider.js on 127.0.0.1:PORT, state
# and log in DIR. Ready when its discovery document answers. Honours the
# MG_IDP_* variables of tests/idp/README.md; with MG_IDP_TLS_CERT it
# serves https, checked against the CA file MG_IDP_CA.
tb_idp_start()
{
	local dir=$1 port=$2 pid i disc

	tb_mkroot "$dir"
	dir=$(cd "$dir" && pwd)
	if tb_pid_running "$dir"; then
		return 0
	fi
	if [ ! -d "$MG_IDP_HOME/node_modules/oidc-provider" ]; then
		tb_log "installing the provider's packages (npm ci)"
		(cd "$MG_IDP_HOME" &&
		    npm ci --prefer-offline --no-audit --no-fund >/dev/null) ||
		    return 1
	fi
	(cd "$MG_IDP_HOME" && MG_IDP_PORT=$port \
	    MG_IDP_STATE_DIR=$dir/state exec node provider.js) \
	    </dev/null >"$dir/log" 2>&1 &
	echo "$!" >"$dir/pid"
	pid=$!
	tb_started pid "$dir/pid"
	disc="$(tb_idp_url "$port").well-known/openid-configuration"
	for ((i = 0; i < 300; i++)); do
		if curl -fsS -o /dev/null --max-time 2 \
		    ${MG_IDP_CA:+--cacert "$MG_IDP_CA"} "$disc" 2>/dev/null; then
			return 0
		fi
		if ! tb_pid_alive "$pid"; then
			break
		fi
		sleep 0.1
	done
	tail -n 20 "$dir/log" >&2 || true
	tb_die "the OpenID provider did not answer at $disc"
}

# tb_idp_stop DIR
tb_idp_stop()
{
	tb_stop_pid "$1/pid"
}
