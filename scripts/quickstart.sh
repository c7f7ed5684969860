#!/usr/bin/env bash
# The main job, no GPU needed: build, then compile and dump the kernels of a built-in model preset
# (Llama-3-8B, int8 KV cache, for H100) and print spec, compile time, registers and spills.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${KVJIT_BUILD_DIR:-$root/build}"
"$root/scripts/build.sh"
"$build/tools/kvjit" dump --model llama-3-8b --kv int8 --arch sm_90 -o "$root/kvjit-dump" "$@"
