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
  const void* k_scales = nullptr;  // kv=int8: one f16 per (page, slot, kv_head)
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
  float sm_scale = 0.0f;                   // usually 1 / sqrt(head_dim)
  float k_scale = 1.0f;                    // per-tensor scales (fp8 formats)
  float v_scale = 1.0f;
  float* lse = nullptr;  // optional [batch, num_q_heads]
  // Optional: the spec these arguments were shaped for; a launch through a kernel of another spec fails.
  const Spec* expected_spec = nullptr;
};

struct AppendArgs {
  const void* k = nullptr;  // [num_tokens, num_kv_heads, head_dim], spec.q dtype
  const void* v = nullptr;
  void* k_cache = nullptr;
  void* v_cache = nullptr;
  void* k_scales = nullptr;  // kv=int8: one f16 per (page, slot, kv_head)
  void* v_scales = nullptr;
  const int64_t* slot_mapping = nullptr;  // [num_tokens]: page * page_size + slot, negative = skip
  int num_tokens = 0;
  int num_kv_heads = 0;
  float k_scale = 1.0f;
  float v_scale = 1.0f;
  const Spec* expected_spec = nullptr;
};

}  // namespace kvjit
