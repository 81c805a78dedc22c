#!/usr/bin/env bash
# Writes the benchmark spans once and prints the path of the TSV; its --stats JSON sits beside it
# with the same name and .json. Reuses a finished export with the same spans and seed.
#
#   scripts/bench/export.sh SPANS SEED
#
# The export is kiseki-testkit's `export` example (see its header for the exact traffic):
#   cargo run --release -p kiseki-testkit --example export -- \
#       --spans SPANS --seed SEED --format tsv --stats spans-SPANS-seed-SEED.json
# Files go to $KISEKI_BENCH_DATA (default: target/bench-data in the repository).
set -euo pipefail

spans="${1:?usage: export.sh SPANS SEED}"
seed="${2:?usage: export.sh SPANS SEED}"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
dir="${KISEKI_BENCH_DATA:-$repo/target/bench-data}"
base="$dir/spans-$spans-seed-$seed"
mkdir -p "$dir"

if [ ! -s "$base.tsv" ] || [ ! -s "$base.json" ]; then
    (cd "$repo" && cargo build --quiet --release --locked -p kiseki-testkit --example export)
    exe="${CARGO_TARGET_DIR:-$repo/target}/release/examples/export"
    echo "export: writing $base.tsv" >&2
    # Written under temporary names first, so an interrupted export is never taken as finished.
    "$exe" --spans "$spans" --seed "$seed" --format tsv --stats "$base.json.partial" \
        >"$base.tsv.partial"
    mv "$base.tsv.partial" "$base.tsv"
    mv "$base.json.partial" "$base.json"
fi
echo "$base.tsv"
