#include "cache/memory_tier.h"

#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <thread>

#include "tests/unit/cache/cache_test_support.h"

namespace kvjit {
namespace {

using namespace std::chrono_literals;

MemoryTier::Value entry_for(const Key& key) {
  return std::make_shared<const Entry>(make_entry(key, test::fake_kernel(test::test_spec(0))));
}

TEST(MemoryTierTest, FindMissesThenHits) {
  MemoryTier tier;
  const Key key{1, 2};
  EXPECT_EQ(tier.find(key), nullptr);
  auto v = tier.get_or_produce(key, [&] { return Result<MemoryTier::Value>(entry_for(key)); });
  ASSERT_TRUE(v);
  EXPECT_EQ(tier.find(key), *v);
  EXPECT_EQ(tier.hits(), 1u);
  EXPECT_EQ(tier.size(), 1u);
  EXPECT_TRUE(tier.erase(key));
  EXPECT_FALSE(tier.erase(key));
  EXPECT_EQ(tier.find(key), nullptr);
}

TEST(MemoryTierTest, SixteenThreadsShareOneProduce) {
  MemoryTier tier;
  const Key key{3, 4};
  std::atomic<int> produced{0}, waited{0};
  std::barrier start(16);
  std::vector<MemoryTier::Value> got(16);
  std::vector<std::thread> threads;
  for (int t = 0; t < 16; ++t)
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      bool w = false;
      auto v = tier.get_or_produce(
          key,
          [&] {
            ++produced;
            std::this_thread::sleep_for(50ms);
            return Result<MemoryTier::Value>(entry_for(key));
          },
          &w);
      waited += w;
      if (v) got[t] = *v;
    });
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(produced.load(), 1);
  for (const auto& v : got) EXPECT_EQ(v, got[0]);
  EXPECT_NE(got[0], nullptr);
  EXPECT_GE(waited.load(), 1);
}

TEST(MemoryTierTest, FailureReachesEveryWaiterAndIsNotKept) {
  MemoryTier tier;
  const Key key{5, 6};
  std::atomic<int> produced{0}, failed{0};
  std::barrier start(16);
  std::vector<std::thread> threads;
  for (int t = 0; t < 16; ++t)
    threads.emplace_back([&] {
      start.arrive_and_wait();
      auto v = tier.get_or_produce(key, [&]() -> Result<MemoryTier::Value> {
        ++produced;
        std::this_thread::sleep_for(50ms);
        return make_error(ErrorKind::compile_failed, "no luck");
      });
      if (!v && v.error().message == "no luck") ++failed;
    });
  for (std::thread& t : threads) t.join();
  // Callers arriving after the failure was published produce again; all that waited saw the one failure.
  EXPECT_EQ(failed.load(), 16);
  EXPECT_LT(produced.load(), 16);
  EXPECT_EQ(tier.size(), 0u);
  auto retry = tier.get_or_produce(key, [&] { return Result<MemoryTier::Value>(entry_for(key)); });
  EXPECT_TRUE(retry) << "a later call retries";
}

TEST(MemoryTierTest, ExceptionBecomesAnErrorForEveryone) {
  MemoryTier tier;
  const Key key{7, 8};
  auto v = tier.get_or_produce(key, []() -> Result<MemoryTier::Value> { throw std::runtime_error("boom"); });
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().message, "compile function threw: boom");
  EXPECT_TRUE(tier.get_or_produce(key, [&] { return Result<MemoryTier::Value>(entry_for(key)); }));
}

TEST(MemoryTierTest, InFlightKeyIsNotAHitAndClearKeepsIt) {
  MemoryTier tier;
  const Key key{9, 9};
  std::atomic<bool> inside{false}, release{false};
  std::thread producer([&] {
    (void)tier.get_or_produce(key, [&] {
      inside = true;
      while (!release) std::this_thread::sleep_for(1ms);
      return Result<MemoryTier::Value>(entry_for(key));
    });
  });
  while (!inside) std::this_thread::sleep_for(1ms);
  EXPECT_EQ(tier.find(key), nullptr);
  EXPECT_FALSE(tier.erase(key));
  tier.clear();
  release = true;
  producer.join();
  EXPECT_NE(tier.find(key), nullptr);
  tier.clear();
  EXPECT_EQ(tier.find(key), nullptr);
}

TEST(MemoryTierTest, DifferentKeysProduceConcurrently) {
  MemoryTier tier;
  std::atomic<int> concurrent{0}, peak{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      const Key key{static_cast<uint64_t>(t), 0};
      (void)tier.get_or_produce(key, [&] {
        peak = std::max(peak.load(), ++concurrent);
        std::this_thread::sleep_for(30ms);
        --concurrent;
        return Result<MemoryTier::Value>(entry_for(key));
      });
    });
  for (std::thread& t : threads) t.join();
  EXPECT_GT(peak.load(), 1);
  EXPECT_EQ(tier.size(), 8u);
}

}  // namespace
}  // namespace kvjit
