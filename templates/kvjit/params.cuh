// Launch parameters, shared byte-for-byte by the kernels and the host runtime (which static_asserts the
// layout). Plain C types only so both NVRTC and the host compiler read this file. Every per-step value is
// here: kernels never allocate and can be captured in CUDA graphs.
#pragma once

// Functions both sides call: the kernel compilers (NVRTC, clang) define KVJIT_DEVICE.
#ifdef KVJIT_DEVICE
#define KVJIT_HOST_DEVICE __host__ __device__
#else
#define KVJIT_HOST_DEVICE
#endif

namespace kvjit {

// Most KV partitions of a split launch. The last CTA of a split keeps one merge weight per (head,
// partition) in its shared partial-output buffer, which holds at least this many per head (decode_finish.cuh).
constexpr int kMaxSplits = 128;

// Bytes of dynamic shared memory a decode CTA of `warps` warps takes where its kernel runs two CTA sizes
// (Config::kWarpsFromLaunch): DecodeSmem (decode_finish.cuh) with room for `max_warps` warps' max and sum, the
// merge flag, then the outputs of `warps` warps only. Sized per launch because the smaller CTA with the
// larger one's buffer measured 2% slower on an H100 (3 CTAs an SM of 12.5 KB each take a larger shared
// memory carveout, and so a smaller L1, than of 8.3 KB).
KVJIT_HOST_DEVICE constexpr int decode_dynamic_smem_bytes(int max_warps, int warps, int heads, int head_dim) {
  return (2 * max_warps * heads + 1) * 4 + warps * heads * head_dim * 4;
}

struct DecodeParams {
  const void* q;              // [batch, num_kv_heads * gqa, head_dim], spec.q dtype
  void* o;                    // same shape and dtype as q
  const void* k_cache;        // paged cache in the spec's layout and kv dtype
  const void* v_cache;
  const void* k_scales;       // int8 / q8 scale pool (f16 or f32), in the cache's layout order; else null
  const void* v_scales;
  const int* block_table;     // paging=table: [batch, max_blocks_per_seq] physical page ids
  const int* seq_lens;        // paging=table: [batch] tokens per sequence
  const int* indptr;          // paging=csr: [batch + 1] offsets into indices
  const int* indices;         // paging=csr: physical page ids
  const int* last_page_len;   // paging=csr: [batch] tokens in each sequence's last page (1..page_size)
  const void* const* seq_k;   // paging=contig: [batch] per-sequence K base, [num_kv_heads, seq_capacity, head_dim]
  const void* const* seq_v;
  const void* const* seq_k_scales;  // paging=contig: [batch] per-sequence scale bases (int8, q8), else null
  const void* const* seq_v_scales;
  float* lse;                 // optional [batch, num_q_heads] natural-log sum-exp of the scaled scores
  float* workspace;           // split-KV partials and merge counters (num_splits > 1); zeroed once by the host
  float sm_scale;             // softmax scale, usually 1/sqrt(head_dim)
  float k_scale;              // per-tensor scales (fp8); 1.0 otherwise
  float v_scale;
  float softcap;              // softcap=1 specs: score = softcap * tanh(score / softcap)
  int batch;
  int num_kv_heads;
  int max_blocks_per_seq;     // paging=table: row stride of block_table
  int seq_capacity;           // paging=contig: tokens each sequence's cache can hold (its row stride per head)
  int window;                 // > 0: attend only to the last `window` tokens of each sequence (sliding window)
  int num_splits;             // KV partitions per sequence (grid z); 1 = no split
  int workspace_words;        // 4-byte words in the workspace; merge counters sit at its end, so their place
                              // does not move when batch or num_splits change between launches
};

struct AppendParams {
  const void* k;              // [num_tokens, num_kv_heads, head_dim], spec.q dtype
  const void* v;
  void* k_cache;              // paged cache in the spec's layout and kv dtype
  void* v_cache;
  void* k_scales;             // int8 / q8 scale pool (f16 or f32); else null
  void* v_scales;
  const long long* slot_mapping;  // [num_tokens]: page * page_size + slot (contig: seq * seq_capacity + pos);
                                  // negative = skip the token
  void* const* seq_k;         // paging=contig: [batch] per-sequence bases (as in DecodeParams)
  void* const* seq_v;
  void* const* seq_k_scales;
  void* const* seq_v_scales;
  float k_scale;              // per-tensor scales (fp8); 1.0 otherwise
  float v_scale;
  int num_tokens;
  int num_kv_heads;
  int seq_capacity;           // paging=contig
};

}  // namespace kvjit
