// SpecIndex: spec -> key, and once loaded, spec -> entry: the front of the memory tier for callers that ask by
// spec. A key is a pure function of the spec once the key context (templates, options, backend) is fixed, as it
// is for one cache object; computing it formats the spec and the options and hashes a few hundred bytes, which
// would dominate a hit. With the entry kept here too, a hit is one shared lock on one of 16 shards.
#pragma once

#include <array>
#include <atomic>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <unordered_map>

#include "cache/entry.h"

namespace kvjit {

struct SpecHash {
  size_t operator()(const Spec& s) const;
};

class SpecIndex {
 public:
  struct Found {
    std::optional<Key> key;
    std::shared_ptr<const Entry> entry;  // set on a hit
  };
  // Counts a hit when the entry is present.
  Found find(const Spec& spec) const;
  std::optional<Key> key(const Spec& spec) const;  // not a hit: just the memoized key
  void set_key(const Spec& spec, const Key& key);

  // Entries are set only if no drop_entry() came between generation() and set_entry(): an entry evicted while
  // it was being loaded must not come back through the index.
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
  void set_entry(const Spec& spec, std::shared_ptr<const Entry> entry, uint64_t generation);
  // Forgets every spec's entry for `key` (keys stay: they are still right).
  void drop_entry(const Key& key);

  uint64_t hits() const;

 private:
  struct Slot {
    Key key;
    std::shared_ptr<const Entry> entry;
  };
  struct alignas(64) Shard {
    mutable std::shared_mutex mu;
    std::unordered_map<Spec, Slot, SpecHash> map;
    mutable std::atomic<uint64_t> hits{0};
  };
  static constexpr size_t kShards = 16;
  Shard& shard(const Spec& spec) { return shards_[SpecHash{}(spec) % kShards]; }
  const Shard& shard(const Spec& spec) const { return shards_[SpecHash{}(spec) % kShards]; }

  std::array<Shard, kShards> shards_;
  std::atomic<uint64_t> generation_{0};
};

}  // namespace kvjit
