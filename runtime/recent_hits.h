// A thread's most recent Engine::get hits. An inference engine asks for its kernels by spec every step, and
// a thread asks for the same few: a hit here costs two multiplies, a compare per entry of one set and a reference
// count, no lock. Entries are keyed by the engine's id (ids are never reused, unlike addresses, so a
// destroyed engine's entries never match), the current context's key (runtime/device.h: the driver's context
// id, never reused; the handle on drivers before CUDA 12.0) and the spec as asked: a context belongs to one
// device, so the same spec asked in it (arch=auto included) resolves to the same kernel.
#pragma once

#include <array>
#include <cstdint>
#include <memory>

#include "compiler/spec.h"
#include "runtime/loaded_kernel_key.h"

namespace kvjit {

template <class T>
class RecentHits {
 public:
  // Set-associative, so a hit costs the same for the first spec a thread asks for and the twentieth: 16 sets
  // of 4. A model's kernels (decode and append of each attention kind) fit many times over; a set holds 4
  // whichever way the hash falls.
  static constexpr int kSets = 16;
  static constexpr int kWays = 4;

  RecentHits() = default;
  RecentHits(const RecentHits&) = delete;  // last_hit_ points into this object
  RecentHits& operator=(const RecentHits&) = delete;

  std::shared_ptr<const T> find(uint64_t engine, uint64_t context_key, const Spec& asked) const {
    // The last hit first: a thread that asks for one spec again skips the set index.
    if (last_hit_->matches(engine, context_key, asked)) return last_hit_->value;
    for (const Entry& e : sets_[set_of(engine, context_key, asked)].ways)
      if (e.matches(engine, context_key, asked)) {
        last_hit_ = &e;
        return e.value;
      }
    return nullptr;
  }

  // Replaces the oldest entry of the spec's set (engine 0 is never an engine's id: that way is empty).
  void remember(uint64_t engine, uint64_t context_key, const Spec& asked, std::shared_ptr<const T> value) {
    Set& set = sets_[set_of(engine, context_key, asked)];
    set.ways[set.next] = Entry{engine, context_key, asked, std::move(value)};
    set.next = (set.next + 1) % kWays;
  }

  // Two multiplies, not the map's full mix: a set index needs only its top 4 bits spread, and a hit sits on
  // the launch path (a full mix measured ~12 ns more a find on the CPU).
  static int set_of(uint64_t engine, uint64_t context_key, const Spec& asked) {
    static_assert(kSets == 16, "the index is the top 4 bits");
    const SpecWords w = pack_spec(asked);
    const uint64_t x = w.enums * 0x9e3779b97f4a7c15ull ^ w.sizes ^ context_key ^ engine * 0xd6e8feb86659fd93ull;
    return static_cast<int>((x * 0xbf58476d1ce4e5b9ull) >> 60);
  }

 private:
  struct Entry {
    uint64_t engine = 0;
    uint64_t context_key = 0;
    Spec asked;
    std::shared_ptr<const T> value;
    bool matches(uint64_t e, uint64_t c, const Spec& s) const { return engine == e && context_key == c && asked == s; }
  };
  struct Set {
    std::array<Entry, kWays> ways;
    int next = 0;
  };
  std::array<Set, kSets> sets_;
  // An entry of sets_ (the first, empty, at the start): replaced entries are overwritten in place, so it
  // always holds what is there now.
  mutable const Entry* last_hit_ = &sets_[0].ways[0];
};

}  // namespace kvjit
