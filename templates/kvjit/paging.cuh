// Paging schemes: for one (sequence, kv head), how long the sequence is and where its t-th token's row lives
// (a row is one head_dim vector; the format decides its bytes). Constructed once per CTA.
#pragma once

#include "kvjit/params.cuh"
#include "kvjit/types.cuh"

namespace kvjit {

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

// Bases of the K/V pools and their scale pools for one sequence.
struct SeqBases {
  const void* k;
  const void* v;
  const void* k_scales;
  const void* v_scales;
};

// paging=table: vLLM's block table [batch, max_blocks_per_seq] plus seq_lens [batch].
template <int PAGE, class Layout>
struct PagingTable {
  int len;
  const int* pages;
  int kv_head, num_kv_heads;
  SeqBases base;
  __device__ __forceinline__ PagingTable(const DecodeParams& p, int b, int kv_head_)
      : len(p.seq_lens[b]), pages(p.block_table + static_cast<i64>(b) * p.max_blocks_per_seq), kv_head(kv_head_),
        num_kv_heads(p.num_kv_heads), base{p.k_cache, p.v_cache, p.k_scales, p.v_scales} {}
  __device__ __forceinline__ i64 row(int t) const {
    return Layout::row(pages[t / PAGE], t % PAGE, kv_head, num_kv_heads);
  }
};

// paging=csr: FlashInfer's indptr [batch + 1], indices, last_page_len [batch].
template <int PAGE, class Layout>
struct PagingCsr {
  int len;
  const int* pages;
  int kv_head, num_kv_heads;
  SeqBases base;
  __device__ __forceinline__ PagingCsr(const DecodeParams& p, int b, int kv_head_)
      : pages(p.indices + p.indptr[b]), kv_head(kv_head_), num_kv_heads(p.num_kv_heads),
        base{p.k_cache, p.v_cache, p.k_scales, p.v_scales} {
    const int n = p.indptr[b + 1] - p.indptr[b];
    len = n <= 0 ? 0 : (n - 1) * PAGE + p.last_page_len[b];
  }
  __device__ __forceinline__ i64 row(int t) const {
    return Layout::row(pages[t / PAGE], t % PAGE, kv_head, num_kv_heads);
  }
};

// paging=contig: one cache per sequence, [num_kv_heads, seq_capacity, head_dim] at seq_k[b] / seq_v[b]
// (realizar's and ferrum's contiguous caches); seq_lens [batch]. Scale pools follow the same row order.
template <int PAGE, class Layout>
struct PagingContig {
  int len;
  i64 first_row;
  SeqBases base;
  __device__ __forceinline__ PagingContig(const DecodeParams& p, int b, int kv_head)
      : len(p.seq_lens[b]), first_row(static_cast<i64>(kv_head) * p.seq_capacity),
        base{p.seq_k[b], p.seq_v[b], p.seq_k_scales ? p.seq_k_scales[b] : nullptr,
             p.seq_v_scales ? p.seq_v_scales[b] : nullptr} {}
  __device__ __forceinline__ i64 row(int t) const { return first_row + t; }
};

// Where append writes token `token`'s row for kv_head: (bases, row); false when the token is skipped.
template <int PAGE, class Layout, bool kContig>
__device__ __forceinline__ bool append_target(const AppendParams& p, int token, int kv_head, void** k, void** v,
                                              void** ks, void** vs, i64* row) {
  const i64 slot = p.slot_mapping[token];
  if (slot < 0) return false;
  if (kContig) {
    const i64 seq = slot / p.seq_capacity;
    *k = p.seq_k[seq];
    *v = p.seq_v[seq];
    *ks = p.seq_k_scales ? p.seq_k_scales[seq] : nullptr;
    *vs = p.seq_v_scales ? p.seq_v_scales[seq] : nullptr;
    *row = static_cast<i64>(kv_head) * p.seq_capacity + slot % p.seq_capacity;
  } else {
    *k = p.k_cache;
    *v = p.v_cache;
    *ks = p.k_scales;
    *vs = p.v_scales;
    *row = Layout::row(static_cast<int>(slot / PAGE), static_cast<int>(slot % PAGE), kv_head, p.num_kv_heads);
  }
  return true;
}

}  // namespace kvjit
