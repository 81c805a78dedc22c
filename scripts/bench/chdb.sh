#!/usr/bin/env bash
# The current ClickHouse engine's side of kiseki's storage benchmarks: chdb (PyPI, pinned in
# requirements-chdb.txt) in the OpenTelemetry Collector exporter's trace schema, on the same
# seeded export as clickhouse.sh (chdb_bench.py measures; named so it does not shadow the chdb
# package).
#
#   scripts/bench/chdb.sh [--spans N] [--seed N] [--batch-rows N] [--results FILE]
#
# The venv lives in $KISEKI_BENCH_CACHE (default ~/.cache/kiseki-bench) and is rebuilt only when
# requirements-chdb.txt changes; the data directory is temporary and removed on exit. Needs PyPI
# access the first time and python3 (3.9 or newer; chdb ships manylinux wheels).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
spans=10000000
seed=1
extra=()
while [ "$#" -gt 0 ]; do
    case "$1" in
        --spans) spans="$2"; shift 2 ;;
        --seed) seed="$2"; shift 2 ;;
        --batch-rows | --results | --lookups | --search-rounds | --insert-threads)
            extra+=("$1" "$2"); shift 2 ;;
        *) echo "chdb.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done

cache="${KISEKI_BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kiseki-bench}"
venv="$cache/venv-chdb"
req="$here/requirements-chdb.txt"
sum="$(sha256sum "$req" | cut -d' ' -f1)"
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$venv/.requirements.sha256" 2>/dev/null)" != "$sum" ]; then
    echo "chdb.sh: installing chdb into $venv" >&2
    rm -rf "$venv"
    mkdir -p "$cache"
    python3 -m venv "$venv"
    PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 \
        "$venv/bin/python" -m pip install --quiet --requirement "$req"
    echo "$sum" >"$venv/.requirements.sha256"
fi

tsv="$("$here/export.sh" "$spans" "$seed")"
stats="${tsv%.tsv}.json"

work="$(mktemp -d "${TMPDIR:-/tmp}/kiseki-bench-chdb.XXXXXX")"
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

"$venv/bin/python" "$here/chdb_bench.py" --data-dir "$work/db" --tsv "$tsv" --stats "$stats" \
    --schema "$here/chdb-otel-schema.sql" "${extra[@]}"
