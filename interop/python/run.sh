#!/usr/bin/env bash
# Runs interop/python/<script>.py in the virtualenv named on its "# venv:" line.
# Usage: interop/python/run.sh <emitter> [args...]   (run interop/setup-python.sh first)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
name="${1:?usage: run.sh <emitter> [args...]}"; shift
script="$here/$name.py"
[ -f "$script" ] || { echo "run.sh: no such emitter: $script" >&2; exit 2; }
group="$(sed -n 's/^# venv: *//p' "$script" | head -n 1)"
[ -n "$group" ] || { echo "run.sh: $script names no venv" >&2; exit 2; }
python="$here/../.venv/$group/bin/python"
[ -x "$python" ] || { echo "run.sh: venv $group missing; run interop/setup-python.sh" >&2; exit 2; }
cd "$here"
exec "$python" "$script" "$@"
