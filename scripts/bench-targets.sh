#!/usr/bin/env bash
# The decode benchmark table of docs/PERFORMANCE.md, on a GPU machine with .gpu-bundle/ beside it
# (scripts/gpu-bundle.sh): every KV format on both decode bodies (the default, tensor cores; CUDA cores, mma=0),
# head_dim 128, 32 query / 8 KV heads, page 16, at the target shapes. Extra arguments go to `kvjit bench`
# (for example --json). Output: one table per shape group, each against the copy bandwidth of its run.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bundle="$root/.gpu-bundle"
export LD_LIBRARY_PATH="$bundle/lib:${CUDA_HOME:-/usr/local/cuda}/lib64:${LD_LIBRARY_PATH:-}"
export KVJIT_CACHE_DIR="${KVJIT_CACHE_DIR:-$(mktemp -d)/kvjit-cache}"
# KVJIT_BENCH_CUDA_CORES=0 times the default body only (half the run).
specs=()
for kv in f16 int8 q8 e4m3 e5m2; do
  specs+=(--spec "decode:hd=128,page=16,gqa=4,kv=$kv")
  [ "${KVJIT_BENCH_CUDA_CORES:-1}" = 0 ] || specs+=(--spec "decode:hd=128,page=16,gqa=4,kv=$kv,mma=0")
done
kvjit="$bundle/bin/kvjit"
echo "== batch x context sweep =="
"$kvjit" bench "${specs[@]}" --kv-heads 8 --batch 1 16 64 128 --context 2048 4096 16384 --runs 50 "$@"
echo "== long context, split-KV =="
"$kvjit" bench "${specs[@]}" --kv-heads 8 --batch 1 --context 32768 --runs 50 "$@"
echo "== head_dim 64 and 256 =="
hd_specs=()
for hd in 64 256; do
  for kv in f16 int8 e4m3; do
    hd_specs+=(--spec "decode:hd=$hd,page=16,gqa=4,kv=$kv")
    [ "${KVJIT_BENCH_CUDA_CORES:-1}" = 0 ] || hd_specs+=(--spec "decode:hd=$hd,page=16,gqa=4,kv=$kv,mma=0")
  done
done
"$kvjit" bench "${hd_specs[@]}" --kv-heads 8 --batch 64 --context 4096 --runs 50 "$@"
