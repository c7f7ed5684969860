#include "cache/spec_index.h"

#include <mutex>

namespace kvjit {

size_t SpecHash::operator()(const Spec& s) const {
  // Fields added to Spec later only weaken the hash; equality (operator==) stays exact.
  uint64_t h = 0xcbf29ce484222325ull;
  for (uint64_t v : {uint64_t(s.kind), uint64_t(s.head_dim), uint64_t(s.page_size), uint64_t(s.gqa), uint64_t(s.kv),
                     uint64_t(s.q), uint64_t(s.layout), uint64_t(s.paging), uint64_t(s.arch.sm),
                     uint64_t(s.arch.arch_specific)})
    h = (h ^ v) * 0x100000001b3ull;
  return static_cast<size_t>(h ^ (h >> 29));
}

std::optional<Key> SpecIndex::find(const Spec& spec) const {
  const Shard& s = shards_[SpecHash{}(spec) % kShards];
  std::shared_lock lock(s.mu);
  const auto it = s.map.find(spec);
  if (it == s.map.end()) return std::nullopt;
  return it->second;
}

void SpecIndex::insert(const Spec& spec, const Key& key) {
  Shard& s = shards_[SpecHash{}(spec) % kShards];
  std::unique_lock lock(s.mu);
  s.map.emplace(spec, key);
}

}  // namespace kvjit
