#!/usr/bin/env bash
# Builds here and gathers what the GPU check runs into .gpu-bundle/: the test and benchmark binaries, the
# kvjit CLI and the non-system shared libraries they need (the GPU machine has the CUDA toolkit but not
# Debian's fmt/xxhash/benchmark). Run scripts/gpu-check.sh there with this folder beside it.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
# Its own build directory, without the LLVM backend: libLLVM and libclang-cpp (~200 MB) cannot travel, and
# the LLVM backend's GPU test loads PTX made here (scripts/llvm-ptx-set.sh) instead of compiling there.
build="${KVJIT_BUILD_DIR:-$root/build-gpu}"
export KVJIT_CMAKE_ARGS="-DKVJIT_WITH_LLVM=OFF ${KVJIT_CMAKE_ARGS:-}"
if [ -f "$build/CMakeCache.txt" ] && ! grep -q '^KVJIT_WITH_LLVM:STRING=OFF' "$build/CMakeCache.txt"; then
  cmake "$build" -DKVJIT_WITH_LLVM=OFF >/dev/null
fi
KVJIT_BUILD_DIR="$build" "$root/scripts/build.sh" kvjit kvjit_gpu_tests kvjit_capi_gpu_tests kvjit_no_driver_tests
# Benchmarks are optional in the bundle: built when their targets exist.
KVJIT_BUILD_DIR="$build" "$root/scripts/build.sh" kvjit_compile_bench kvjit_cache_bench kvjit_launch_bench >/dev/null 2>&1 || true
bundle="$root/.gpu-bundle"
rm -rf "$bundle"
mkdir -p "$bundle/bin" "$bundle/lib"
for exe in tools/kvjit tests/gpu/kvjit_gpu_tests tests/gpu/kvjit_capi_gpu_tests tests/unit/runtime/kvjit_no_driver_tests \
           tests/bench/kvjit_compile_bench tests/bench/kvjit_cache_bench tests/bench/kvjit_launch_bench; do
  [ -x "$build/$exe" ] && cp "$build/$exe" "$bundle/bin/"
done
for bin in "$bundle"/bin/*; do
  ldd "$bin" | awk '/=> \// {print $3}' | grep -E 'libfmt|libxxhash|libbenchmark|libgtest|libgmock' || true
done | sort -u | while read -r lib; do cp -L "$lib" "$bundle/lib/"; done
# The C ABI library under its soname, as the C ABI test loads it.
cp -L "$build"/runtime/capi/libkvjit.so.[0-9] "$bundle/lib/"
strip --strip-debug "$bundle"/bin/* 2>/dev/null || true
du -sh "$bundle"
