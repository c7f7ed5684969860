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

SpecIndex::Found SpecIndex::find(const Spec& spec) const {
  const Shard& s = shard(spec);
  std::shared_lock lock(s.mu);
  const auto it = s.map.find(spec);
  if (it == s.map.end()) return {};
  if (it->second.entry) s.hits.fetch_add(1, std::memory_order_relaxed);
  return {it->second.key, it->second.entry};
}

std::optional<Key> SpecIndex::key(const Spec& spec) const {
  const Shard& s = shard(spec);
  std::shared_lock lock(s.mu);
  const auto it = s.map.find(spec);
  if (it == s.map.end()) return std::nullopt;
  return it->second.key;
}

void SpecIndex::set_key(const Spec& spec, const Key& key) {
  Shard& s = shard(spec);
  std::unique_lock lock(s.mu);
  s.map.try_emplace(spec, Slot{key, nullptr});
}

void SpecIndex::set_entry(const Spec& spec, std::shared_ptr<const Entry> entry, uint64_t generation) {
  Shard& s = shard(spec);
  std::unique_lock lock(s.mu);
  // drop_entry() bumps the generation before taking any shard lock, so under this lock a changed generation
  // means a drop may have passed this shard already.
  if (generation_.load(std::memory_order_acquire) != generation) return;
  Slot& slot = s.map[spec];
  slot.key = entry->key;
  slot.entry = std::move(entry);
}

void SpecIndex::drop_entry(const Key& key) {
  generation_.fetch_add(1, std::memory_order_acq_rel);
  for (Shard& s : shards_) {
    std::unique_lock lock(s.mu);
    for (auto& [spec, slot] : s.map)
      if (slot.key == key) slot.entry = nullptr;
  }
}

uint64_t SpecIndex::hits() const {
  uint64_t n = 0;
  for (const Shard& s : shards_) n += s.hits.load(std::memory_order_relaxed);
  return n;
}

}  // namespace kvjit
