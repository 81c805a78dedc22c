#!/usr/bin/env bash
# Re-captures the fixtures in testdata/tracers/node-<emitter>/: for each emitter, starts
# interop/capture.py on KISEKI_HOST (default 127.0.0.1), runs `node interop/node/<emitter>.js`,
# stops the capture server, keeps the requests that carry spans (plus one Datadog /info, if the
# tracer asked for it) renumbered from 001, and writes the emitter's stdout line as expected.json.
#
#   interop/node/capture.sh                 # every emitter
#   interop/node/capture.sh dd-trace ...    # some of them
#
# The OTLP gRPC emitter needs a capture Python with grpcio: CAPTURE_PYTHON=/path/to/python.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
host="${KISEKI_HOST:-127.0.0.1}"
if [[ -z "${CAPTURE_PYTHON:-}" ]]; then
  if [[ -x "$repo/interop/.venv/capture/bin/python" ]]; then
    CAPTURE_PYTHON="$repo/interop/.venv/capture/bin/python"
  else
    CAPTURE_PYTHON=python3
  fi
fi

all=(
  otel-otlp-http-json otel-otlp-http-proto otel-otlp-http-proto-gzip otel-otlp-grpc
  otel-zipkin otel-jaeger-udp otel-jaeger-http
  zipkin-js-v1-json zipkin-js-v2-json zipkin-js-v1-thrift
  dd-trace dd-trace-v05 dd-trace-native-events jaeger-client-udp jaeger-client-http
)
emitters=("$@")
[[ ${#emitters[@]} -gt 0 ]] || emitters=("${all[@]}")

[[ -d "$here/node_modules" ]] || "$repo/interop/setup-node.sh"

grpc_flag=()
if ! "$CAPTURE_PYTHON" -c 'import grpc' 2>/dev/null; then
  grpc_flag=(--no-grpc)
fi

# Requests that carry spans, by the slug capture.py derives from the path.
span_slug='-(v1-traces|api-v1-spans|api-v2-spans|api-traces|emitBatch|v0-[0-9]+-traces|TraceService-Export|PostSpans)\.json$'

status=0
for emitter in "${emitters[@]}"; do
  if [[ "$emitter" == otel-otlp-grpc && ${#grpc_flag[@]} -gt 0 ]]; then
    echo "skip $emitter: $CAPTURE_PYTHON has no grpcio (set CAPTURE_PYTHON)" >&2
    status=1
    continue
  fi
  work="$(mktemp -d)"
  "$CAPTURE_PYTHON" "$repo/interop/capture.py" --out "$work/raw" --host "$host" "${grpc_flag[@]}" \
    >"$work/capture.log" 2>&1 &
  cap_pid=$!
  for _ in $(seq 100); do
    grep -q 'capture: listening' "$work/capture.log" 2>/dev/null && break
    kill -0 "$cap_pid" 2>/dev/null || break
    sleep 0.1
  done
  if ! grep -q 'capture: listening' "$work/capture.log"; then
    echo "capture server did not start:" >&2
    cat "$work/capture.log" >&2
    kill "$cap_pid" 2>/dev/null || true
    exit 1
  fi

  ok=1
  KISEKI_HOST="$host" node "$here/$emitter.js" >"$work/expected.json" 2>"$work/stderr.txt" || ok=0
  sleep 0.5 # UDP datagrams and late requests
  kill -TERM "$cap_pid" && wait "$cap_pid" || true

  dest="$repo/testdata/tracers/node-$emitter"
  rm -rf "$dest"
  mkdir -p "$dest"
  n=0
  kept_info=0
  for meta in $(ls "$work/raw"/*.json 2>/dev/null | sort); do
    stem="${meta%.json}"
    base="$(basename "$stem")"
    if [[ "$meta" =~ $span_slug ]] || { [[ "$base" =~ ^[0-9]+-8126-info$ ]] && [[ $kept_info -eq 0 ]]; }; then
      [[ "$base" =~ -info$ ]] && kept_info=1
      n=$((n + 1))
      new="$(printf '%03d' "$n")-${base#*-}"
      cp "$stem.json" "$dest/$new.json"
      cp "$stem.body" "$dest/$new.body"
    fi
  done
  cp "$work/expected.json" "$dest/expected.json"

  if [[ $ok -eq 0 || ! -s "$work/expected.json" || $n -eq 0 ]]; then
    echo "FAIL $emitter (exit ok=$ok, requests kept=$n)" >&2
    cat "$work/stderr.txt" >&2
    status=1
  else
    echo "ok   $emitter: $(ls "$dest" | grep -c '\.body$') request(s) -> testdata/tracers/node-$emitter"
    [[ -s "$work/stderr.txt" ]] && sed 's/^/     stderr: /' "$work/stderr.txt" | head -5
  fi
  rm -rf "$work"
done
exit $status
