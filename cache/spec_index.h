// SpecIndex: spec -> key, memoized. A key is a pure function of the spec once the key context (templates,
// options, backend) is fixed, as it is for one cache object; computing it formats the spec and the options and
// hashes a few hundred bytes, which would dominate a memory hit. Sharded like the memory tier.
#pragma once

#include <array>
#include <optional>
#include <shared_mutex>
#include <unordered_map>

#include "cache/key.h"

namespace kvjit {

struct SpecHash {
  size_t operator()(const Spec& s) const;
};

class SpecIndex {
 public:
  std::optional<Key> find(const Spec& spec) const;
  void insert(const Spec& spec, const Key& key);

 private:
  struct alignas(64) Shard {
    mutable std::shared_mutex mu;
    std::unordered_map<Spec, Key, SpecHash> map;
  };
  static constexpr size_t kShards = 16;
  std::array<Shard, kShards> shards_;
};

}  // namespace kvjit
