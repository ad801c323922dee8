#!/usr/bin/env bash
# Fails when a domain package imports net/http, chi or a storage driver
# (directly: metrics libraries may use net/http underneath), or when
# smpclient or mls import another package of the gateway.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
for pkg in rendezvous push ntf ds qs mls; do
	[ -d "$pkg" ] || continue
	bad=$(go list -f '{{join .Imports "\n"}}' "./$pkg" | grep -E '^(net/http$|github.com/go-chi/|github.com/redis/|github.com/jackc/|modernc.org/sqlite)' || true)
	if [ -n "$bad" ]; then
		echo "$pkg must not depend on: $bad"
		status=1
	fi
done
for pkg in smpclient mls; do
	[ -d "$pkg" ] || continue
	bad=$(go list -f '{{join .Imports "\n"}}' "./$pkg" | grep '^github.com/trystgw/tryst/' || true)
	if [ -n "$bad" ]; then
		echo "$pkg must import no other gateway package: $bad"
		status=1
	fi
done
exit $status
