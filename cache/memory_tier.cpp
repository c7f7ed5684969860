#include "cache/memory_tier.h"

#include <mutex>

namespace kvjit {
namespace {

Result<MemoryTier::Value> run_producer(const MemoryTier::Producer& produce) {
  try {
    return produce();
  } catch (const std::exception& e) {
    return make_error(ErrorKind::internal, std::string("compile function threw: ") + e.what());
  } catch (...) {
    return make_error(ErrorKind::internal, "compile function threw a non-standard exception");
  }
}

}  // namespace

MemoryTier::Value MemoryTier::find(const Key& key) const {
  const Shard& s = shard(key);
  std::shared_lock lock(s.mu);
  const auto it = s.map.find(key);
  if (it == s.map.end() || !it->second.value) return nullptr;
  s.hits.fetch_add(1, std::memory_order_relaxed);
  return it->second.value;
}

Result<MemoryTier::Value> MemoryTier::get_or_produce(const Key& key, const Producer& produce, bool* waited) {
  if (waited != nullptr) *waited = false;
  if (Value hit = find(key)) return hit;
  Shard& s = shard(key);
  std::promise<Result<Value>> promise;
  {
    std::unique_lock lock(s.mu);
    Slot& slot = s.map[key];
    if (slot.value) return slot.value;  // produced between find() and the exclusive lock
    if (slot.in_flight.valid()) {
      std::shared_future<Result<Value>> flight = slot.in_flight;
      lock.unlock();
      if (waited != nullptr) *waited = true;
      return flight.get();
    }
    slot.in_flight = promise.get_future().share();
  }
  Result<Value> result = run_producer(produce);
  {
    std::unique_lock lock(s.mu);
    if (result.ok() && *result)
      s.map[key] = Slot{*result, {}};
    else
      s.map.erase(key);
  }
  if (result.ok() && !*result) result = make_error(ErrorKind::internal, "producer returned no entry");
  promise.set_value(result);
  return result;
}

bool MemoryTier::erase(const Key& key) {
  Shard& s = shard(key);
  std::unique_lock lock(s.mu);
  const auto it = s.map.find(key);
  if (it == s.map.end() || !it->second.value) return false;
  s.map.erase(it);
  return true;
}

void MemoryTier::clear() {
  for (Shard& s : shards_) {
    std::unique_lock lock(s.mu);
    std::erase_if(s.map, [](const auto& kv) { return kv.second.value != nullptr; });
  }
}

size_t MemoryTier::size() const {
  size_t n = 0;
  for (const Shard& s : shards_) {
    std::shared_lock lock(s.mu);
    for (const auto& kv : s.map) n += kv.second.value != nullptr;
  }
  return n;
}

uint64_t MemoryTier::hits() const {
  uint64_t n = 0;
  for (const Shard& s : shards_) n += s.hits.load(std::memory_order_relaxed);
  return n;
}

}  // namespace kvjit
