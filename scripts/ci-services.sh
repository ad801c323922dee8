#!/usr/bin/env bash
# Makes sure what the tests need is on this machine: PostgreSQL with a
# `test` database that postgres@127.0.0.1 may open without a password,
# Redis, Node.js with npm (the matrix-js-sdk and ts-mls helpers), and
# Debian's Chromium for the browser test. Each step does nothing when its
# part is already there, so it is safe to run on every CI run.
set -euo pipefail

apt_install() {
	if [ -z "${apt_updated:-}" ]; then
		apt-get update -qq
		apt_updated=1
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# PostgreSQL: running, trusting loopback logins, with a test database.
if ! command -v pg_isready >/dev/null 2>&1; then
	apt_install postgresql
fi
if ! pg_isready -h 127.0.0.1 -p 5432 -q; then
	pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
	for _ in $(seq 50); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 0.2; done
fi
if ! psql -h 127.0.0.1 -U postgres -d postgres -Atqc 'SELECT 1' >/dev/null 2>&1; then
	hba=$(su postgres -c "psql -Atqc 'SHOW hba_file'")
	sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
	su postgres -c "psql -qc 'SELECT pg_reload_conf()'" >/dev/null
fi
if [ "$(psql -h 127.0.0.1 -U postgres -d postgres -Atqc "SELECT 1 FROM pg_database WHERE datname = 'test'")" != 1 ]; then
	psql -h 127.0.0.1 -U postgres -d postgres -qc 'CREATE DATABASE test'
fi

# Redis.
if ! command -v redis-server >/dev/null 2>&1; then
	apt_install redis-server
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
	redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
	for _ in $(seq 50); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 0.2; done
fi

# Node.js and npm, for the JavaScript client helpers.
if ! command -v npm >/dev/null 2>&1; then
	apt_install nodejs npm
fi

# Chromium, for the browser test.
if ! command -v chromium >/dev/null 2>&1; then
	apt_install chromium
fi
