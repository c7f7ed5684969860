// Paging schemes: block table (vLLM) and CSR (FlashInfer), with the formulas of templates/kvjit/paging.cuh.
#include <algorithm>
#include <random>
#include <stdexcept>
#include <string>

#include "tests/reference/reference.h"

namespace kvjit::ref {

int seq_len(const Spec& spec, const HostPaging& p, int b) {
  if (spec.paging == Paging::table) return p.seq_lens[static_cast<size_t>(b)];
  const int pages = p.indptr[static_cast<size_t>(b) + 1] - p.indptr[static_cast<size_t>(b)];
  return pages <= 0 ? 0 : (pages - 1) * spec.page_size + p.last_page_len[static_cast<size_t>(b)];
}

int page_of(const Spec& spec, const HostPaging& p, int b, int n) {
  if (spec.paging == Paging::table)
    return p.block_table[static_cast<size_t>(b) * static_cast<size_t>(p.max_blocks_per_seq) + static_cast<size_t>(n)];
  return p.indices[static_cast<size_t>(p.indptr[static_cast<size_t>(b)] + n)];
}

int64_t slot_of(const Spec& spec, const HostPaging& p, int b, int t) {
  return static_cast<int64_t>(page_of(spec, p, b, t / spec.page_size)) * spec.page_size + t % spec.page_size;
}

HostPaging make_paging(const Spec& spec, const std::vector<int>& seq_lens, uint32_t seed, int* num_pages) {
  const int page = spec.page_size;
  HostPaging p;
  p.batch = static_cast<int>(seq_lens.size());
  p.seq_lens = seq_lens;
  std::vector<int> pages_of(seq_lens.size());
  int total = 0;
  for (size_t b = 0; b < seq_lens.size(); ++b) {
    if (seq_lens[b] < 0) throw std::invalid_argument("make_paging: sequence " + std::to_string(b) + " has length " +
                                                     std::to_string(seq_lens[b]));
    pages_of[b] = (seq_lens[b] + page - 1) / page;
    total += pages_of[b];
    p.max_blocks_per_seq = std::max(p.max_blocks_per_seq, pages_of[b]);
  }
  // At least one column, so the table is never an empty (null) buffer on the device.
  p.max_blocks_per_seq = std::max(p.max_blocks_per_seq, 1);

  // Fisher-Yates with the raw engine output: the same pages for the same seed on every standard library
  // (std::shuffle and the distributions are implementation-defined).
  std::vector<int> physical(static_cast<size_t>(total));
  for (int i = 0; i < total; ++i) physical[static_cast<size_t>(i)] = i;
  std::mt19937 rng(seed);
  for (int i = total - 1; i > 0; --i) std::swap(physical[static_cast<size_t>(i)], physical[rng() % (i + 1u)]);

  p.block_table.assign(static_cast<size_t>(p.batch) * static_cast<size_t>(p.max_blocks_per_seq), -1);
  p.indptr.assign(static_cast<size_t>(p.batch) + 1, 0);
  p.last_page_len.assign(static_cast<size_t>(p.batch), 0);
  size_t next = 0;
  for (size_t b = 0; b < seq_lens.size(); ++b) {
    for (int n = 0; n < pages_of[b]; ++n) {
      const int phys = physical[next++];
      p.block_table[b * static_cast<size_t>(p.max_blocks_per_seq) + static_cast<size_t>(n)] = phys;
      p.indices.push_back(phys);
    }
    p.indptr[b + 1] = static_cast<int>(p.indices.size());
    if (seq_lens[b] > 0) p.last_page_len[b] = seq_lens[b] - (pages_of[b] - 1) * page;
  }
  if (num_pages != nullptr) *num_pages = total;
  return p;
}

}  // namespace kvjit::ref
