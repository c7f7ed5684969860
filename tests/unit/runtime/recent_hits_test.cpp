// The per-thread recent hits of Engine::get: a hit needs the same engine, context and spec as asked; a
// thread's specs are held together; the oldest entry of a full set gives way to a new one.
#include "runtime/recent_hits.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <vector>

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

TEST(RecentHits, AThreadsSpecsAreHeldTogether) {
  // 20 specs of one engine and context: every (kv, head_dim, kind) an engine might ask for at once.
  std::vector<Spec> specs;
  for (const char* kv : {"f16", "int8", "q8", "e4m3", "e5m2"})
    for (int hd : {64, 128})
      for (const char* kind : {"decode", "append"})
        specs.push_back(parse_spec(fmt::format("{}:hd={},kv={}", kind, hd, kv)).value_or_throw());
  RecentHits<int> hits;
  for (size_t i = 0; i < specs.size(); ++i) hits.remember(1, 16, specs[i], std::make_shared<const int>(i));
  for (size_t i = 0; i < specs.size(); ++i) {
    auto hit = hits.find(1, 16, specs[i]);
    ASSERT_NE(hit, nullptr) << to_string(specs[i]);
    EXPECT_EQ(*hit, static_cast<int>(i));
  }
}

// kWays + 1 engine ids whose entries for `spec` (context 16) fall in one set.
std::vector<uint64_t> engines_in_one_set(const Spec& spec) {
  const int set = RecentHits<int>::set_of(1, 16, spec);
  std::vector<uint64_t> engines;
  for (uint64_t e = 1; engines.size() < RecentHits<int>::kWays + 1; ++e)
    if (RecentHits<int>::set_of(e, 16, spec) == set) engines.push_back(e);
  return engines;
}

TEST(RecentHits, TheOldestOfAFullSetGivesWay) {
  const Spec spec = parse_spec("decode:hd=128,gqa=4,kv=int8").value_or_throw();
  const std::vector<uint64_t> engines = engines_in_one_set(spec);
  RecentHits<int> hits;
  for (uint64_t e : engines) hits.remember(e, 16, spec, std::make_shared<const int>(static_cast<int>(e)));
  EXPECT_EQ(hits.find(engines[0], 16, spec), nullptr);
  for (size_t i = 1; i < engines.size(); ++i) {
    auto hit = hits.find(engines[i], 16, spec);
    ASSERT_NE(hit, nullptr);
    EXPECT_EQ(*hit, static_cast<int>(engines[i]));
  }
}

TEST(RecentHits, TheLastHitIsNotServedOnceReplaced) {
  const Spec spec = parse_spec("decode:hd=128,gqa=4,kv=int8").value_or_throw();
  const std::vector<uint64_t> engines = engines_in_one_set(spec);
  RecentHits<int> hits;
  hits.remember(engines[0], 16, spec, std::make_shared<const int>(0));
  ASSERT_NE(hits.find(engines[0], 16, spec), nullptr);  // now the last hit
  // The set's other ways fill, then the last hit's entry is the oldest and gives way.
  for (size_t i = 1; i < engines.size(); ++i) hits.remember(engines[i], 16, spec, std::make_shared<const int>(i));
  EXPECT_EQ(hits.find(engines[0], 16, spec), nullptr);
  auto newest = hits.find(engines.back(), 16, spec);
  ASSERT_NE(newest, nullptr);
  EXPECT_EQ(*newest, static_cast<int>(engines.size() - 1));
}

}  // namespace
}  // namespace kvjit
