// MemoryTier: key -> entry for this process, with single-flight misses.
//
// Hits take one shard's shared lock (64 shards, picked by key bits), so readers of different keys never touch
// the same lock and readers of one key never wait for each other. A miss inserts an in-flight slot under the
// shard's exclusive lock and runs the producer outside it; concurrent callers for that key wait on the slot and
// all receive the one result. A failure is handed to every waiter and then forgotten, so a later call retries.
#pragma once

#include <array>
#include <atomic>
#include <functional>
#include <future>
#include <memory>
#include <shared_mutex>
#include <unordered_map>

#include "cache/entry.h"

namespace kvjit {

class MemoryTier {
 public:
  using Value = std::shared_ptr<const Entry>;
  using Producer = std::function<Result<Value>()>;

  // nullptr on a miss (or while the key is in flight).
  Value find(const Key& key) const;

  // The key's entry, from memory or from one call of `produce` shared by all concurrent callers. `waited` is set
  // when this caller received another caller's result. An exception from `produce` reaches every waiter as an
  // internal error.
  Result<Value> get_or_produce(const Key& key, const Producer& produce, bool* waited = nullptr);

  // Drops a ready entry (an in-flight one finishes and stays). True when something was dropped.
  bool erase(const Key& key);
  void clear();
  size_t size() const;
  uint64_t hits() const;  // find() calls that returned an entry

 private:
  struct Slot {
    Value value;                                  // ready
    std::shared_future<Result<Value>> in_flight;  // valid() while being produced
  };
  struct alignas(64) Shard {
    mutable std::shared_mutex mu;
    std::unordered_map<Key, Slot, KeyHash> map;
    mutable std::atomic<uint64_t> hits{0};
  };
  static constexpr size_t kShards = 64;
  Shard& shard(const Key& key) { return shards_[key.high % kShards]; }
  const Shard& shard(const Key& key) const { return shards_[key.high % kShards]; }

  std::array<Shard, kShards> shards_;
};

}  // namespace kvjit
