#!/usr/bin/env bash
# End-to-end browser tests of kiseki's web UI, and unit tests of its pure modules.
#
# Installs what it needs (Debian's chromium when missing, playwright-core from tests/ui's
# lockfile), builds kiseki (or takes --kiseki PATH), starts `kiseki serve` on free loopback ports
# with a temporary data dir, sends seeded loadgen traffic and the known traces of
# tests/ui/fixtures.mjs (a clock-skewed trace with errors, events and a link, and one of 10 000
# spans), then runs tests/ui/unit and tests/ui/e2e with node's test runner in headless Chromium.
# Screenshots of every page go to target/ui-artifacts/ (FAILED-*.png when a test fails).
#
# Usage: scripts/ui_test.sh [--kiseki path/to/kiseki]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo="$(pwd)"

kiseki=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --kiseki) kiseki="$2"; shift 2 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done

chromium="${CHROMIUM:-/usr/bin/chromium}"
if [[ ! -x "$chromium" ]]; then
    if [[ "$(id -u)" -ne 0 ]]; then
        echo "Debian's chromium is needed: sudo apt-get install -y chromium" >&2
        exit 1
    fi
    echo "installing Debian's chromium"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends chromium >/dev/null ||
        { apt-get update >/dev/null && apt-get install -y --no-install-recommends chromium >/dev/null; }
fi

# playwright-core at the version in the lockfile; it drives the system chromium, downloads none.
(
    cd tests/ui
    stamp=node_modules/.package-lock.json
    if [[ ! -f "$stamp" || package-lock.json -nt "$stamp" || package.json -nt "$stamp" ]]; then
        PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error >/dev/null
    fi
)

if [[ -z "$kiseki" ]]; then
    cargo build --locked -p kiseki
    target_dir="$(cargo metadata --format-version 1 --no-deps |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
    kiseki="$target_dir/debug/kiseki"
fi
artifacts="${UI_ARTIFACTS:-$repo/target/ui-artifacts}"
mkdir -p "$artifacts"
rm -f "$artifacts"/*.png

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
otlp_port="$(free_port)"
query_port="$(free_port)"
data_dir="$(mktemp -d)"
log="$artifacts/kiseki.log"
server=""
cleanup() {
    if [[ -n "$server" ]]; then
        kill "$server" 2>/dev/null || true
        wait "$server" 2>/dev/null || true
    fi
    rm -rf "$data_dir"
}
trap cleanup EXIT

"$kiseki" serve --host 127.0.0.1 --data-dir "$data_dir" \
    --otlp-http-addr "$otlp_port" --query-addr "$query_port" \
    --otlp-grpc-addr off --zipkin-addr off --jaeger-compact-addr off --jaeger-binary-addr off \
    --jaeger-http-addr off --jaeger-grpc-addr off --datadog-addr off >"$log" 2>&1 &
server=$!

base="http://127.0.0.1:$query_port"
for _ in $(seq 1 100); do
    if curl -fsS "$base/api/kiseki/v1/services" >/dev/null 2>&1; then break; fi
    if ! kill -0 "$server" 2>/dev/null; then
        echo "kiseki exited at start; its log:" >&2
        cat "$log" >&2
        exit 1
    fi
    sleep 0.2
done

echo "sending seeded shop traffic and the test traces to $base"
"$kiseki" loadgen --protocol otlp-http --target "127.0.0.1:$otlp_port" --spans 3000 --rate 1500 --seed 7 \
    --report-every 0 >/dev/null
node tests/ui/send-fixtures.mjs "http://127.0.0.1:$otlp_port"

echo "running the UI tests (screenshots in $artifacts)"
cd tests/ui
KISEKI_URL="$base" UI_ARTIFACTS="$artifacts" CHROMIUM="$chromium" \
    node --test --test-concurrency=1 unit/*.test.mjs e2e/*.test.mjs
