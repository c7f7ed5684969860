#!/usr/bin/env bash
# Builds and runs the test suite. GPU tests skip cleanly on machines without a GPU.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${KVJIT_BUILD_DIR:-$root/build}"
"$root/scripts/build.sh"
ctest --test-dir "$build" --output-on-failure --parallel "$(nproc)" "$@"
