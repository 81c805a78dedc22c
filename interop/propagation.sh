#!/usr/bin/env bash
# Freezes what real tracer libraries do with propagation headers into testdata/propagation/:
#
#   interop/propagation.sh headers   each tracer injects headers for a few spans of its own:
#                                    from-<tracer>.json (kiseki's extractors are tested on them)
#   interop/propagation.sh read      each tracer extracts the headers kiseki injected, listed in
#                                    to-tracers.json: read-by-<tracer>.json
#
# to-tracers.json itself is written by kiseki's tests: KISEKI_BLESS=1 cargo test -p kiseki-codec
# propagation. Needs interop/setup-python.sh (ddtrace, otel, pyzipkin) and interop/setup-node.sh.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="$here/../testdata/propagation"
mode="${1:?usage: propagation.sh headers|read}"
mkdir -p "$out"
[[ -d "$here/node/node_modules" ]] || "$here/setup-node.sh"

python_tracers=(ddtrace:ddtrace-py otel:opentelemetry-python pyzipkin:py-zipkin)
node_tracers=(dd-trace:dd-trace-js otel:opentelemetry-js zipkin-js:zipkin-js)
dd_trace_js_styles=(datadog tracecontext b3multi "b3 single header")

case "$mode" in
  headers)
    for entry in "${python_tracers[@]}"; do
      "$here/python/run.sh" "propagation-${entry%%:*}" headers 2>/dev/null >"$out/from-${entry#*:}.json"
    done
    for entry in "${node_tracers[@]}"; do
      (cd "$here/node" && node "propagation-${entry%%:*}.js" headers) >"$out/from-${entry#*:}.json"
    done
    ;;
  read)
    input="$out/to-tracers.json"
    for entry in "${python_tracers[@]}"; do
      "$here/python/run.sh" "propagation-${entry%%:*}" read "$input" 2>/dev/null \
        >"$out/read-by-${entry#*:}.json"
    done
    for entry in otel:opentelemetry-js zipkin-js:zipkin-js; do
      (cd "$here/node" && node "propagation-${entry%%:*}.js" read "$input") \
        >"$out/read-by-${entry#*:}.json"
    done
    # dd-trace reads its extraction styles at start: one run per style, merged per case.
    parts=()
    for style in "${dd_trace_js_styles[@]}"; do
      part="$(mktemp)"
      (cd "$here/node" && node propagation-dd-trace.js read "$input" "$style") >"$part"
      parts+=("$part")
    done
    python3 - "$out/read-by-dd-trace-js.json" "${parts[@]}" <<'PY'
import json, sys
target, parts = sys.argv[1], [json.load(open(p)) for p in sys.argv[2:]]
merged = {"tracer": parts[0]["tracer"], "cases": []}
for index, case in enumerate(parts[0]["cases"]):
    read = {}
    for part in parts:
        read.update(part["cases"][index]["read"])
    merged["cases"].append({"name": case["name"], "read": read})
with open(target, "w") as f:
    json.dump(merged, f, indent=1)
    f.write("\n")
PY
    rm -f "${parts[@]}"
    ;;
  *)
    echo "propagation.sh: unknown mode $mode" >&2
    exit 2
    ;;
esac
