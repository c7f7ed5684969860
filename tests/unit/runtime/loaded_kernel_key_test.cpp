// The engine's loaded-kernel key: equal keys hash equally, and a change to any one spec field or to the
// context changes the key and, for these cases, its hash (a collision would only cost a comparison).
#include "runtime/loaded_kernel_key.h"

#include <gtest/gtest.h>

#include <functional>
#include <set>
#include <vector>

namespace kvjit {
namespace {

TEST(LoadedKernelKey, EveryFieldAndTheContextCount) {
  const Spec base = parse_spec("decode:hd=128,page=16,gqa=4,kv=int8,arch=sm_90").value_or_throw();
  const std::vector<std::function<void(LoadedKernelKey&)>> changes = {
      [](LoadedKernelKey& k) { k.spec.kind = Kind::append; },
      [](LoadedKernelKey& k) { k.spec.head_dim = 64; },
      [](LoadedKernelKey& k) { k.spec.page_size = 32; },
      [](LoadedKernelKey& k) { k.spec.gqa = 8; },
      [](LoadedKernelKey& k) { k.spec.kv = KvDtype::q8; },
      [](LoadedKernelKey& k) { k.spec.q = QDtype::bf16; },
      [](LoadedKernelKey& k) { k.spec.layout = Layout::hnd; },
      [](LoadedKernelKey& k) { k.spec.paging = Paging::csr; },
      [](LoadedKernelKey& k) { k.spec.arch.sm = 80; },
      [](LoadedKernelKey& k) { k.spec.arch.arch_specific = true; },
      [](LoadedKernelKey& k) { k.spec.softcap = true; },
      [](LoadedKernelKey& k) { k.spec.scale = ScaleDtype::f32; },
      [](LoadedKernelKey& k) { k.spec.mma = Mma::off; },
      [](LoadedKernelKey& k) { k.spec.backend = Backend::llvm; },
      [](LoadedKernelKey& k) { k.context_key = 2; },
  };
  const LoadedKernelKeyHash hash;
  const LoadedKernelKey key{1, base};
  EXPECT_EQ(hash(key), hash(LoadedKernelKey{1, base}));
  std::set<size_t> hashes = {hash(key)};
  for (size_t i = 0; i < changes.size(); ++i) {
    LoadedKernelKey changed = key;
    changes[i](changed);
    EXPECT_FALSE(changed == key) << "change " << i;
    hashes.insert(hash(changed));
  }
  EXPECT_EQ(hashes.size(), changes.size() + 1);
}

}  // namespace
}  // namespace kvjit
