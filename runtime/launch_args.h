// Typed launch arguments of the host-engine API. Everything that varies per step is here; the grid is
// computed from these alone, so a launch needs no host planning pass and can be captured in a CUDA graph.
// Pointers are device pointers. Shapes follow templates/kvjit/params.cuh.
#pragma once

#include <cstdint>

#include "compiler/spec.h"

namespace kvjit {

struct DecodeArgs {
  const void* q = nullptr;        // [batch, num_kv_heads * gqa, head_dim], spec.q dtype
  void* o = nullptr;              // same shape and dtype as q
  const void* k_cache = nullptr;  // paged, spec.layout, spec.kv
  const void* v_cache = nullptr;
  const void* k_scales = nullptr;  // int8 / q8: the scale pool (spec scale=f16|f32; one per row for int8, one per 32 elements for q8)
  const void* v_scales = nullptr;
  int batch = 0;
  int num_kv_heads = 0;
  // paging=table
  const int32_t* block_table = nullptr;  // [batch, max_blocks_per_seq]
  const int32_t* seq_lens = nullptr;     // [batch]
  int max_blocks_per_seq = 0;
  // paging=csr
  const int32_t* indptr = nullptr;  // [batch + 1]
  const int32_t* indices = nullptr;
  const int32_t* last_page_len = nullptr;  // [batch]
  // paging=contig: per-sequence caches [num_kv_heads, seq_capacity, head_dim] (device arrays of pointers),
  // seq_lens as for paging=table
  const void* const* seq_k = nullptr;  // [batch]
  const void* const* seq_v = nullptr;
  const void* const* seq_k_scales = nullptr;  // int8 / q8: per-sequence scale pools in the same row order
  const void* const* seq_v_scales = nullptr;
  int seq_capacity = 0;
  float sm_scale = 0.0f;  // usually 1 / sqrt(head_dim)
  float k_scale = 1.0f;   // per-tensor scales (fp8 formats)
  float v_scale = 1.0f;
  float softcap = 0.0f;   // specs with softcap=1: score = softcap * tanh(score / softcap), > 0
  int window = 0;         // > 0: sliding window, attend to the last `window` tokens only
  float* lse = nullptr;   // optional [batch, num_q_heads], natural log
  // Split-KV (flash-decoding): with max_seq_len (the longest sequence this launch can see) and a workspace of
  // Kernel::decode_workspace_bytes(batch, num_kv_heads) bytes (16-byte aligned), zeroed once after
  // allocation, the launch splits long sequences across CTAs when batch * heads alone cannot fill the GPU.
  int max_seq_len = 0;    // 0: unknown, no split
  void* workspace = nullptr;
  size_t workspace_bytes = 0;
  int num_splits = 0;     // 0: choose from batch, heads, max_seq_len and SM count; n > 0: exactly n (<= kMaxSplits, 128)
  // Warps a CTA, for a kernel that runs two sizes (LaunchShape::wide_warps): 0 chooses the one whose grid
  // fits the device's waves better (choose_cta_warps); n: exactly n, one of the shape's two sizes. Results
  // agree within the kernel's rounding either way.
  int cta_warps = 0;
  // Programmatic dependent launch: the launch may be scheduled while the stream's previous kernel still runs
  // (its CTAs then wait, before reading anything, for that kernel to finish), which hides the launch latency
  // between kernels. Results are the same either way. Taken on sm_90+ with a driver that has cuLaunchKernelEx,
  // a plain launch elsewhere. CUDA graphs capture it as a programmatic edge.
  bool pdl = false;
  // Optional: the spec these arguments were shaped for; a launch through a kernel of another spec fails.
  const Spec* expected_spec = nullptr;
};

struct AppendArgs {
  const void* k = nullptr;  // [num_tokens, num_kv_heads, head_dim], spec.q dtype
  const void* v = nullptr;
  void* k_cache = nullptr;
  void* v_cache = nullptr;
  void* k_scales = nullptr;  // int8 / q8: the scale pool (spec scale=f16|f32; one per row for int8, one per 32 elements for q8)
  void* v_scales = nullptr;
  const int64_t* slot_mapping = nullptr;  // [num_tokens]: page * page_size + slot, negative = skip
                                          // (paging=contig: seq * seq_capacity + position)
  void* const* seq_k = nullptr;            // paging=contig: per-sequence bases, as in DecodeArgs
  void* const* seq_v = nullptr;
  void* const* seq_k_scales = nullptr;
  void* const* seq_v_scales = nullptr;
  int seq_capacity = 0;
  int num_tokens = 0;
  int num_kv_heads = 0;
  float k_scale = 1.0f;
  float v_scale = 1.0f;
  const Spec* expected_spec = nullptr;
};

}  // namespace kvjit
