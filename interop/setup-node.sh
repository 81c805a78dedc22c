#!/usr/bin/env bash
# Installs the Node.js tracer libraries used by interop/node/ at the exact versions pinned in its
# package-lock.json (npm ci). Idempotent: returns at once when node_modules is already newer than
# package.json and package-lock.json.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/node"
stamp=node_modules/.package-lock.json
if [[ -f "$stamp" && ! package-lock.json -nt "$stamp" && ! package.json -nt "$stamp" ]]; then
  exit 0
fi
npm ci --no-audit --no-fund --loglevel=error >/dev/null
