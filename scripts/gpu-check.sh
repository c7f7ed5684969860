#!/usr/bin/env bash
# GPU verification, run on a machine with an NVIDIA GPU: the GPU tests (numerics against the CPU
# reference), a subset under compute-sanitizer memcheck and racecheck, the no-driver path, and the benchmarks.
# Uses .gpu-bundle/ made by scripts/gpu-bundle.sh. Prints a short table last. Logs go to $OUT or ./gpu-logs.
#
#   GPU_TEST_FILTER=...    gtest filter of the GPU tests
#   GPU_TEST_SHARD=i/n     run shard i of n of them (gtest sharding), to split a long run over several calls
#   MEMCHECK_ALL=1         run the GPU tests themselves under compute-sanitizer memcheck (the whole run)
#   KVJIT_LLVM_PTX_DIR     the LLVM backend's PTX set (scripts/llvm-ptx-set.sh); its tests skip without it
#   SKIP_SANITIZER=1, SKIP_BENCH=1
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bundle="$root/.gpu-bundle"
logs="${OUT:-$root/gpu-logs}"
mkdir -p "$logs"
export LD_LIBRARY_PATH="$bundle/lib:${CUDA_HOME:-/usr/local/cuda}/lib64:${LD_LIBRARY_PATH:-}"
export KVJIT_CACHE_DIR="$(mktemp -d)/kvjit-cache"
status=0
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$logs/device.txt"

step() {  # step NAME COMMAND...: runs, logs, records pass/fail
  local name=$1; shift
  local start=$(date +%s)
  if "$@" >"$logs/$name.log" 2>&1; then r=PASS; else r=FAIL; status=1; fi
  echo "$name $r $(( $(date +%s) - start ))s" >>"$logs/steps.txt"
  tail -n 3 "$logs/$name.log"
}
: >"$logs/steps.txt"
gpu_tests=("$bundle/bin/kvjit_gpu_tests")
if [ -n "${MEMCHECK_ALL:-}" ]; then
  gpu_tests=(compute-sanitizer --tool memcheck --error-exitcode 1 "${gpu_tests[@]}")
  # The context-reset test runs in a re-executed child process, which hangs under the sanitizer.
  GPU_TEST_FILTER="${GPU_TEST_FILTER:-*}:-GpuContextReset.*"
fi
shard=()
[ -n "${GPU_TEST_SHARD:-}" ] && shard=(GTEST_SHARD_INDEX="${GPU_TEST_SHARD%/*}" GTEST_TOTAL_SHARDS="${GPU_TEST_SHARD#*/}")
step gpu_tests env ${shard[@]+"${shard[@]}"} "${gpu_tests[@]}" ${GPU_TEST_FILTER:+--gtest_filter=$GPU_TEST_FILTER}
# The C ABI's launches: once, with the first shard of a sharded run.
if [[ "${GPU_TEST_SHARD:-0/1}" == 0/* ]] && [ -x "$bundle/bin/kvjit_capi_gpu_tests" ]; then
  step capi_gpu_tests "$bundle/bin/kvjit_capi_gpu_tests"
fi
step no_driver env KVJIT_LIBCUDA=/nonexistent/libcuda.so.1 "$bundle/bin/kvjit_no_driver_tests"
if command -v compute-sanitizer >/dev/null && [ -z "${SKIP_SANITIZER:-}" ]; then
  step memcheck compute-sanitizer --tool memcheck --error-exitcode 1 "$bundle/bin/kvjit_gpu_tests" \
    --gtest_filter='GpuDecode.WideGroupsAndHeads:GpuDecode.EmptySequenceGivesZeros:GpuAppend.*:*GpuGraph*:GpuContig*:GpuOptions*'
  # Both decode bodies merge warps (and splits) through shared memory: racecheck one run of each path.
  step racecheck compute-sanitizer --tool racecheck --error-exitcode 1 "$bundle/bin/kvjit_gpu_tests" \
    --gtest_filter='GpuContig*:*GpuGraph*:GpuDecode.EmptySequenceGivesZeros'
fi
if [ -x "$bundle/bin/kvjit_bench" ] && [ -z "${SKIP_BENCH:-}" ]; then
  step bench "$bundle/bin/kvjit_bench" ${BENCH_ARGS:-}
fi

echo
echo "== results =="
grep -h '^KVJIT_RESULT' "$logs"/*.log | sed 's/^KVJIT_RESULT //'
grep -H -E '^\[  (PASSED|FAILED) |^========= ERROR SUMMARY' "$logs/gpu_tests.log" "$logs"/capi_gpu_tests.log 2>/dev/null |
  sed "s|^$logs/||"
echo "== steps =="
awk '{printf "%-12s %-5s %s\n", $1, $2, $3}' "$logs/steps.txt"
exit $status
