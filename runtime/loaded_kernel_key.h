// The key of an Engine's loaded kernels: a context's key (runtime/device.h) and a resolved spec. Hashed from
// the spec's fields, not its canonical text, so a hit costs no formatting (Engine::get sits on paths that ask
// by spec every step).
#pragma once

#include <cstddef>
#include <cstdint>

#include "compiler/spec.h"

namespace kvjit {

struct LoadedKernelKey {
  uint64_t context_key = 0;
  Spec spec;
  bool operator==(const LoadedKernelKey&) const = default;
};

// splitmix64's finalizer: every input bit reaches every output bit.
inline uint64_t mix64(uint64_t x) {
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Every field of Spec, packed into two words so a hash mixes two words, not fifteen (~60 ns to ~10 ns): the
// enums take a byte each, the sizes 16 bits each. A value past its bits would only add collisions (equality
// compares every field).
struct SpecWords {
  uint64_t enums, sizes;
};
inline SpecWords pack_spec(const Spec& s) {
  const auto u = [](auto v) { return static_cast<uint64_t>(v); };
  return {u(s.kind) | u(s.kv) << 8 | u(s.q) << 16 | u(s.layout) << 24 | u(s.paging) << 32 | u(s.scale) << 40 |
              u(s.mma) << 48 | u(s.backend) << 56,
          (u(s.head_dim) & 0xffff) | (u(s.page_size) & 0xffff) << 16 | (u(s.gqa) & 0xffff) << 32 |
              (u(s.arch.sm) & 0x3fff) << 48 | u(s.arch.arch_specific) << 62 | u(s.softcap) << 63};
}

struct LoadedKernelKeyHash {
  size_t operator()(const LoadedKernelKey& k) const {
    const SpecWords w = pack_spec(k.spec);
    return static_cast<size_t>(mix64(mix64(mix64(0x9e3779b97f4a7c15ull ^ w.enums) ^ w.sizes) ^ k.context_key));
  }
};

}  // namespace kvjit
