// A thread's most recent Engine::get hits. An inference engine asks for its kernels by spec every step, and
// a thread asks for the same few: a hit here costs a compare per entry and a reference count, no lock or
// hash. Entries are keyed by the engine's id (ids are never reused, unlike addresses, so a destroyed
// engine's entries never match), the current context's key (runtime/device.h: the driver's context id, never
// reused; the handle on drivers before CUDA 12.0) and the spec as asked: a context belongs to one device, so
// the same spec asked in it (arch=auto included) resolves to the same kernel.
#pragma once

#include <array>
#include <cstdint>
#include <memory>

#include "compiler/spec.h"

namespace kvjit {

template <class T>
class RecentHits {
 public:
  static constexpr int kEntries = 4;  // an engine's decode and append kernels, and room for a few more

  std::shared_ptr<const T> find(uint64_t engine, uint64_t context_key, const Spec& asked) const {
    for (const Entry& e : entries_)
      if (e.engine == engine && e.context_key == context_key && e.asked == asked) return e.value;
    return nullptr;
  }

  // Replaces the oldest entry (engine 0 is never an engine's id: that slot is empty).
  void remember(uint64_t engine, uint64_t context_key, const Spec& asked, std::shared_ptr<const T> value) {
    Entry& e = entries_[next_];
    next_ = (next_ + 1) % kEntries;
    e = Entry{engine, context_key, asked, std::move(value)};
  }

 private:
  struct Entry {
    uint64_t engine = 0;
    uint64_t context_key = 0;
    Spec asked;
    std::shared_ptr<const T> value;
  };
  std::array<Entry, kEntries> entries_;
  int next_ = 0;
};

}  // namespace kvjit
