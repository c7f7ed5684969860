// The per-thread recent hits of Engine::get: a hit needs the same engine, context and spec as asked; the
// oldest of the entries gives way to a new one.
#include "runtime/recent_hits.h"

#include <gtest/gtest.h>

namespace kvjit {
namespace {

TEST(RecentHits, HitOnlyForTheSameEngineContextAndSpec) {
  RecentHits<int> hits;
  const Spec spec = parse_spec("decode:hd=128,gqa=4,kv=int8").value_or_throw();
  EXPECT_EQ(hits.find(1, 16, spec), nullptr);
  auto value = std::make_shared<const int>(7);
  hits.remember(1, 16, spec, value);
  EXPECT_EQ(hits.find(1, 16, spec), value);
  EXPECT_EQ(hits.find(2, 16, spec), nullptr) << "another engine";
  EXPECT_EQ(hits.find(1, 32, spec), nullptr) << "another context";
  Spec other = spec;
  other.arch = Arch{90, false};  // the same kernel once resolved, but asked differently: not this entry
  EXPECT_EQ(hits.find(1, 16, other), nullptr);
  other = spec;
  other.kv = KvDtype::q8;
  EXPECT_EQ(hits.find(1, 16, other), nullptr);
}

TEST(RecentHits, TheOldestEntryGivesWay) {
  RecentHits<int> hits;
  const Spec spec = parse_spec("decode:hd=128,gqa=4,kv=int8").value_or_throw();
  for (int i = 1; i <= RecentHits<int>::kEntries + 1; ++i)
    hits.remember(static_cast<uint64_t>(i), 16, spec, std::make_shared<const int>(i));
  EXPECT_EQ(hits.find(1, 16, spec), nullptr);
  for (int i = 2; i <= RecentHits<int>::kEntries + 1; ++i) {
    auto hit = hits.find(static_cast<uint64_t>(i), 16, spec);
    ASSERT_NE(hit, nullptr);
    EXPECT_EQ(*hit, i);
  }
}

}  // namespace
}  // namespace kvjit
