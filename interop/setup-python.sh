#!/usr/bin/env bash
# Creates one virtualenv per interop/python/requirements-<group>.txt under interop/.venv/<group>.
#
# The groups are separate because their pins conflict (protobuf 7 for current OpenTelemetry,
# protobuf 3.20 for the Zipkin proto and Jaeger exporters, OpenTelemetry SDK 1.21 for the Jaeger
# exporters, py_zipkin 0.20 for Zipkin v1 Thrift). Idempotent: a venv whose requirements file is
# unchanged since it was installed is left alone. Needs PyPI access and Python 3.11 (the pins
# include cp311 wheels); set PYTHON to choose the interpreter.
#
#   interop/setup-python.sh            all groups
#   interop/setup-python.sh otel ...   only these groups
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${PYTHON:-python3}"
venvs="$here/.venv"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1

version="$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
if [ "$version" != "3.11" ]; then
    echo "setup-python: warning: $python is Python $version; the pins were verified on 3.11" >&2
fi

if [ "$#" -gt 0 ]; then
    groups=("$@")
else
    groups=()
    for req in "$here"/python/requirements-*.txt; do
        name="$(basename "$req" .txt)"
        groups+=("${name#requirements-}")
    done
fi

install_group() {
    local group="$1" req="$here/python/requirements-$1.txt" dir="$venvs/$1"
    [ -f "$req" ] || { echo "setup-python: no $req" >&2; return 1; }
    local sum
    sum="$(sha256sum "$req" | cut -d' ' -f1)"
    if [ -x "$dir/bin/python" ] && [ "$(cat "$dir/.requirements.sha256" 2>/dev/null)" = "$sum" ]; then
        return 0
    fi
    rm -rf "$dir"
    "$python" -m venv "$dir"
    if ! "$dir/bin/python" -m pip install --quiet --requirement "$req" >"$dir/.install.log" 2>&1; then
        echo "setup-python: installing $group failed:" >&2
        cat "$dir/.install.log" >&2
        return 1
    fi
    echo "$sum" >"$dir/.requirements.sha256"
}

mkdir -p "$venvs"
pids=()
for group in "${groups[@]}"; do
    install_group "$group" &
    pids+=("$!")
done
failed=0
for pid in "${pids[@]}"; do
    wait "$pid" || failed=1
done
exit "$failed"
