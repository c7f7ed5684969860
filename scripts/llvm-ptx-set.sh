#!/usr/bin/env bash
# Dumps the PTX set tests/gpu/llvm_backend_test.cpp checks on a GPU: every KV format, decode and append, two
# shapes each (hd=128 takes the tensor-core decode body where the format has one; hd=80 — q8: 160 — the
# CUDA-core body, with hnd/csr paging and bf16 queries), plus f32 scale pools for q8 and int8, for sm_90 and
# sm_80, compiled by the LLVM backend.
# The GPU test binary does not link LLVM; it reads DIR/specs.txt and DIR/<file stem>.ptx.
#
#   scripts/llvm-ptx-set.sh DIR        # then, on the GPU machine: KVJIT_LLVM_PTX_DIR=DIR kvjit_gpu_tests
#
# Uses $KVJIT_BUILD_DIR/tools/kvjit (default build/), which must be built with the LLVM backend.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${KVJIT_BUILD_DIR:-$root/build}"
out="${1:?usage: llvm-ptx-set.sh DIR}"
kvjit="$build/tools/kvjit"
[ -x "$kvjit" ] || { echo "llvm-ptx-set: $kvjit not built (scripts/build.sh kvjit)" >&2; exit 1; }

specs=()
for arch in sm_90 sm_80; do
  for kv in f16 bf16 int8 q8 e4m3 e5m2; do
    core_hd=80
    [ "$kv" = q8 ] && core_hd=160  # q8 blocks are 32 elements: head_dim a multiple of 32
    specs+=("decode:hd=128,page=16,gqa=4,kv=$kv,q=f16,layout=nhd,paging=table,arch=$arch,backend=llvm"
            "decode:hd=$core_hd,page=32,gqa=2,kv=$kv,q=bf16,layout=hnd,paging=csr,arch=$arch,backend=llvm"
            "append:hd=128,page=16,kv=$kv,q=f16,layout=nhd,arch=$arch,backend=llvm"
            "append:hd=$core_hd,page=32,kv=$kv,q=bf16,layout=hnd,arch=$arch,backend=llvm")
  done
  # f32 scale pools (scale=f32): q8 on the tensor-core body, int8 on the CUDA-core one.
  specs+=("decode:hd=128,page=16,gqa=4,kv=q8,q=f16,layout=nhd,paging=table,arch=$arch,scale=f32,backend=llvm"
          "decode:hd=80,page=32,gqa=2,kv=int8,q=bf16,layout=hnd,paging=csr,arch=$arch,scale=f32,backend=llvm"
          "append:hd=128,page=16,kv=q8,q=f16,layout=nhd,arch=$arch,scale=f32,backend=llvm"
          "append:hd=80,page=32,kv=int8,q=bf16,layout=hnd,arch=$arch,scale=f32,backend=llvm")
done

mkdir -p "$out"
"$kvjit" dump --backend=llvm -o "$out" "${specs[@]}"
printf '%s\n' "${specs[@]}" >"$out/specs.txt"
echo "llvm-ptx-set: $(ls "$out"/*.ptx | wc -l) PTX files and specs.txt in $out"
