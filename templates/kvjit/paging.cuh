// Paging schemes (which physical page holds a sequence's n-th page, and how long a sequence is) and cache
// layouts (where a (page, slot, kv_head) row lives). Rows are head_dim elements long.
#pragma once

#include "kvjit/params.cuh"
#include "kvjit/types.cuh"

namespace kvjit {

// paging=table: vLLM's block table [batch, max_blocks_per_seq] plus seq_lens [batch].
template <int PAGE>
struct PagingTable {
  __device__ __forceinline__ static int seq_len(const DecodeParams& p, int b) { return p.seq_lens[b]; }
  __device__ __forceinline__ static int page(const DecodeParams& p, int b, int n) {
    return p.block_table[static_cast<i64>(b) * p.max_blocks_per_seq + n];
  }
};

// paging=csr: FlashInfer's indptr [batch + 1], indices, last_page_len [batch].
template <int PAGE>
struct PagingCsr {
  __device__ __forceinline__ static int seq_len(const DecodeParams& p, int b) {
    const int pages = p.indptr[b + 1] - p.indptr[b];
    return pages <= 0 ? 0 : (pages - 1) * PAGE + p.last_page_len[b];
  }
  __device__ __forceinline__ static int page(const DecodeParams& p, int b, int n) {
    return p.indices[p.indptr[b] + n];
  }
};

// layout=nhd: [pages, page_size, kv_heads, head_dim].
template <int PAGE>
struct LayoutNhd {
  __device__ __forceinline__ static i64 row(int page, int slot, int kv_head, int num_kv_heads) {
    return (static_cast<i64>(page) * PAGE + slot) * num_kv_heads + kv_head;
  }
};

// layout=hnd: [pages, kv_heads, page_size, head_dim].
template <int PAGE>
struct LayoutHnd {
  __device__ __forceinline__ static i64 row(int page, int slot, int kv_head, int num_kv_heads) {
    return (static_cast<i64>(page) * num_kv_heads + kv_head) * PAGE + slot;
  }
};

}  // namespace kvjit
