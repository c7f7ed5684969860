// The key of an Engine's loaded kernels: a context and a resolved spec. Hashed from the spec's fields, not
// its canonical text, so a hit costs no formatting (Engine::get sits on paths that ask by spec every step).
#pragma once

#include <cstddef>
#include <cstdint>

#include "compiler/spec.h"
#include "runtime/driver.h"

namespace kvjit {

struct LoadedKernelKey {
  CUcontext context = nullptr;
  Spec spec;
  bool operator==(const LoadedKernelKey&) const = default;
};

struct LoadedKernelKeyHash {
  size_t operator()(const LoadedKernelKey& k) const {
    const Spec& s = k.spec;
    // Every field of Spec; one left out would only add collisions (equality compares them all).
    const int64_t fields[] = {static_cast<int64_t>(s.kind), s.head_dim, s.page_size, s.gqa,
                              static_cast<int64_t>(s.kv), static_cast<int64_t>(s.q),
                              static_cast<int64_t>(s.layout), static_cast<int64_t>(s.paging), s.arch.sm,
                              s.arch.arch_specific, s.softcap, static_cast<int64_t>(s.scale),
                              static_cast<int64_t>(s.mma), static_cast<int64_t>(s.backend),
                              static_cast<int64_t>(reinterpret_cast<uintptr_t>(k.context))};
    uint64_t h = 0x9e3779b97f4a7c15ull;
    for (int64_t f : fields) h = mix(h ^ static_cast<uint64_t>(f));
    return static_cast<size_t>(h);
  }
  // splitmix64's finalizer: every input bit reaches every output bit.
  static uint64_t mix(uint64_t x) {
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
  }
};

}  // namespace kvjit
