#!/usr/bin/env bash
# kiseki's whole test suite: formatting, lints, unit, integration and property tests, the fuzz
# targets' build, the live test that runs real tracer libraries against `kiseki serve`, the web
# UI's tests in headless Chromium, and a crash test that kills the server during ingest.
# Needs network access to PyPI and npm the first time (interop/setup-*.sh and scripts/ui_test.sh
# cache what they install), and Debian's chromium (scripts/ui_test.sh installs it when missing).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n== %s\n' "$*"; }

step "format"
cargo fmt --all -- --check

step "lints"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "tests"
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --locked --no-fail-fast
else
    cargo test --workspace --locked --no-fail-fast
fi
cargo test --workspace --locked --doc

step "fuzz targets build"
cargo build --locked --manifest-path fuzz/Cargo.toml

step "live test with real tracers"
interop/setup-python.sh
interop/setup-node.sh
cargo build --locked -p kiseki
target_dir="$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
python3 interop/live_test.py --kiseki "$target_dir/debug/kiseki"

step "web UI in headless Chromium"
scripts/ui_test.sh --kiseki "$target_dir/debug/kiseki"

step "crash test: SIGKILL during ingest loses no acknowledged span"
python3 scripts/crash_test.py --kiseki "$target_dir/debug/kiseki" --rounds 8 --senders 2 --max-delay 1.5
