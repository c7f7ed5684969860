// Launch parameters, shared byte-for-byte by the kernels and the host runtime (which static_asserts the
// layout). Plain C types only so both NVRTC and the host compiler read this file. Every per-step value is
// here: kernels never allocate and can be captured in CUDA graphs.
#pragma once

namespace kvjit {

struct DecodeParams {
  const void* q;              // [batch, num_kv_heads * gqa, head_dim], spec.q dtype
  void* o;                    // same shape and dtype as q
  const void* k_cache;        // paged cache in the spec's layout and kv dtype
  const void* v_cache;
  const void* k_scales;       // int8: one f16 per (page, slot, kv_head), in the cache's layout order; else null
  const void* v_scales;
  const int* block_table;     // paging=table: [batch, max_blocks_per_seq] physical page ids
  const int* seq_lens;        // paging=table: [batch] tokens per sequence
  const int* indptr;          // paging=csr: [batch + 1] offsets into indices
  const int* indices;         // paging=csr: physical page ids
  const int* last_page_len;   // paging=csr: [batch] tokens in each sequence's last page (1..page_size)
  float* lse;                 // optional [batch, num_q_heads] natural-log sum-exp of the scaled scores
  float sm_scale;             // softmax scale, usually 1/sqrt(head_dim)
  float k_scale;              // per-tensor scales (fp8); 1.0 otherwise
  float v_scale;
  int batch;
  int num_kv_heads;
  int max_blocks_per_seq;     // paging=table: row stride of block_table
};

struct AppendParams {
  const void* k;              // [num_tokens, num_kv_heads, head_dim], spec.q dtype
  const void* v;
  void* k_cache;              // paged cache in the spec's layout and kv dtype
  void* v_cache;
  void* k_scales;             // int8: one f16 per (page, slot, kv_head); else null
  void* v_scales;
  const long long* slot_mapping;  // [num_tokens]: page * page_size + slot; negative = skip the token
  float k_scale;              // per-tensor scales (fp8); 1.0 otherwise
  float v_scale;
  int num_tokens;
  int num_kv_heads;
};

}  // namespace kvjit
