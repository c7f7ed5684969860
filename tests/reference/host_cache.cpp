// HostCache geometry (layouts) and the append reference.
#include <cstring>
#include <stdexcept>
#include <string>

#include "tests/reference/reference.h"

namespace kvjit::ref {

size_t HostCache::row(int page, int slot, int kv_head) const {
  const size_t p = static_cast<size_t>(page), s = static_cast<size_t>(slot), h = static_cast<size_t>(kv_head);
  const size_t page_size = static_cast<size_t>(spec.page_size), heads = static_cast<size_t>(num_kv_heads);
  if (spec.layout == Layout::hnd) return (p * heads + h) * page_size + s;  // [pages, kv_heads, page_size, hd]
  return (p * page_size + s) * heads + h;                                 // [pages, page_size, kv_heads, hd]
}

size_t HostCache::rows() const {
  return static_cast<size_t>(num_pages) * static_cast<size_t>(spec.page_size) * static_cast<size_t>(num_kv_heads);
}

int scales_per_row(KvDtype kv, int head_dim) {
  if (kv == KvDtype::int8) return 1;
  if (kv == KvDtype::q8) return head_dim / kQ8Block;
  return 0;
}

int scale_words_per_row(const Spec& spec) {
  return ref::scales_per_row(spec.kv, spec.head_dim) * (spec.scale == ScaleDtype::f32 ? 2 : 1);
}

double scale_at(const Spec& spec, const uint16_t* words, int i) {
  if (spec.scale == ScaleDtype::f16) return f16_to_f32(words[i]);
  const uint32_t bits = static_cast<uint32_t>(words[2 * i]) | (static_cast<uint32_t>(words[2 * i + 1]) << 16);
  float s;
  std::memcpy(&s, &bits, 4);
  return s;
}

HostCache make_cache(const Spec& spec, int num_pages, int num_kv_heads) {
  if (num_pages < 0 || num_kv_heads <= 0)
    throw std::invalid_argument("make_cache: num_pages " + std::to_string(num_pages) + ", num_kv_heads " +
                                std::to_string(num_kv_heads) + " for " + to_string(spec));
  if (spec.kv == KvDtype::q8 && spec.head_dim % kQ8Block != 0)
    throw std::invalid_argument("make_cache: kv=q8 needs head_dim a multiple of 32: " + to_string(spec));
  HostCache c;
  c.spec = spec;
  c.num_pages = num_pages;
  c.num_kv_heads = num_kv_heads;
  const size_t elems = c.rows() * static_cast<size_t>(spec.head_dim);
  c.k.assign(elems * static_cast<size_t>(kv_element_bytes(spec.kv)), 0);
  c.v.assign(c.k.size(), 0);
  c.k_scales.assign(c.rows() * static_cast<size_t>(scale_words_per_row(spec)), 0);
  c.v_scales.assign(c.k_scales.size(), 0);
  return c;
}

void append(HostCache& cache, const std::vector<uint16_t>& k, const std::vector<uint16_t>& v, int num_tokens,
            const std::vector<int64_t>& slot_mapping) {
  const Spec& s = cache.spec;
  const size_t row_elems = static_cast<size_t>(s.head_dim);
  const size_t token_elems = static_cast<size_t>(cache.num_kv_heads) * row_elems;
  const size_t need = static_cast<size_t>(num_tokens) * token_elems;
  if (num_tokens < 0 || k.size() < need || v.size() < need || slot_mapping.size() < static_cast<size_t>(num_tokens))
    throw std::invalid_argument("append: " + std::to_string(num_tokens) + " tokens need " + std::to_string(need) +
                                " k/v elements and as many slots; got k " + std::to_string(k.size()) + ", v " +
                                std::to_string(v.size()) + ", slots " + std::to_string(slot_mapping.size()));
  const int64_t capacity = static_cast<int64_t>(cache.num_pages) * s.page_size;
  std::vector<float> kf(row_elems), vf(row_elems);
  for (int t = 0; t < num_tokens; ++t) {
    const int64_t slot = slot_mapping[static_cast<size_t>(t)];
    if (slot < 0) continue;  // padding token
    if (slot >= capacity)
      throw std::out_of_range("append: slot " + std::to_string(slot) + " of token " + std::to_string(t) +
                              " is past the cache's " + std::to_string(capacity) + " slots");
    const int page = static_cast<int>(slot / s.page_size), in_page = static_cast<int>(slot % s.page_size);
    for (int h = 0; h < cache.num_kv_heads; ++h) {
      const size_t src = static_cast<size_t>(t) * token_elems + static_cast<size_t>(h) * row_elems;
      for (size_t d = 0; d < row_elems; ++d) {
        kf[d] = q_to_f32(s.q, k[src + d]);
        vf[d] = q_to_f32(s.q, v[src + d]);
      }
      const size_t row = cache.row(page, in_page, h);
      store_row(cache, true, row, kf.data());
      store_row(cache, false, row, vf.data());
    }
  }
}

}  // namespace kvjit::ref
