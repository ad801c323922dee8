#!/usr/bin/env bash
# Checks the import rules of ARCHITECTURE.md on the whole dependency graph
# (go list -deps), so a rule cannot be broken through another package:
#   - the domain packages depend on neither net/http, chi, Prometheus nor a
#     storage driver;
#   - smpclient and mls depend on no other package of the gateway (their
#     own subpackages, such as smpclient/tls13, are part of them);
#   - conformance, a black-box client, depends on no gateway package but api.
# Usage: scripts/check-imports.sh [module-dir]   (default: this repository)
set -euo pipefail
cd "${1:-$(dirname "$0")/..}"
module=$(go list -m)
status=0

# report <pkg> <rule> <bad packages>: names each bad package with the
# packages of the graph that import it directly.
report() {
	local pkg=$1 rule=$2 bad=$3
	echo "$pkg $rule:"
	for b in $bad; do
		via=$(go list -deps -f '{{.ImportPath}}{{range .Imports}} {{.}}{{end}}' "./$pkg" |
			awk -v b="$b" '{ for (i = 2; i <= NF; i++) if ($i == b) print $1 }' | tr '\n' ' ')
		echo "  $b (imported by: ${via% })"
	done
	status=1
}

forbidden='^(net/http|github\.com/go-chi/.*|github\.com/prometheus/.*|github\.com/redis/.*|github\.com/jackc/.*|modernc\.org/sqlite.*)$'
for pkg in rendezvous push ntf ds qs mls; do
	[ -d "$pkg" ] || continue
	bad=$(go list -deps "./$pkg" | grep -E "$forbidden" || true)
	[ -z "$bad" ] || report "$pkg" "must not depend on HTTP, metrics or storage drivers" "$bad"
done

for pkg in smpclient mls; do
	[ -d "$pkg" ] || continue
	bad=$(go list -deps "./$pkg" | grep "^$module/" | grep -v -e "^$module/$pkg\$" -e "^$module/$pkg/" || true)
	[ -z "$bad" ] || report "$pkg" "must depend on no other gateway package" "$bad"
done

if [ -d conformance ]; then
	bad=$(go list -deps ./conformance | grep "^$module/" | grep -v -x -e "$module/conformance" -e "$module/api" || true)
	[ -z "$bad" ] || report conformance "must depend on no gateway package but api" "$bad"
fi
exit $status
