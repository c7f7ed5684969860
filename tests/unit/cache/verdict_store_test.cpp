#include "cache/verdict_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>

#include "cache/disk_maintenance.h"
#include "cache/disk_tier.h"
#include "tests/unit/cache/cache_test_support.h"

namespace kvjit {
namespace {

using test::CacheTest;

const std::string kH100 = "NVIDIA H100 80GB HBM3 (sm_90, 132 SMs, CUDA driver 13.0)";
const std::string kA100 = "NVIDIA A100-SXM4-80GB (sm_80, 108 SMs, CUDA driver 13.0)";
const Key kKey{0x0123456789abcdefULL, 0xfedcba9876543210ULL};

SelfTestVerdict passed(double rel_l2) { return SelfTestVerdict{true, rel_l2, 1e-3, "", 1}; }

class VerdictStoreTest : public CacheTest {
 protected:
  CacheRoot open_root() { return CacheRoot::open(posix_file_ops(), root(), CacheRoot::Mode::create).value_or_throw(); }
};

TEST_F(VerdictStoreTest, RecordsPerDeviceAndKeepsTheOthers) {
  const CacheRoot r = open_root();
  EXPECT_EQ(load_verdict(r, kKey, kH100), std::nullopt);
  ASSERT_TRUE(store_verdict(r, kKey, kH100, passed(2e-4)));
  const SelfTestVerdict failed{false, 5e-2, 1e-3, "rel L2 5e-2 > budget 1e-3", 1};
  ASSERT_TRUE(store_verdict(r, kKey, kA100, failed));
  EXPECT_EQ(load_verdict(r, kKey, kH100), passed(2e-4));
  EXPECT_EQ(load_verdict(r, kKey, kA100), failed);
  EXPECT_EQ(load_verdict(r, kKey, "another GPU"), std::nullopt);
  EXPECT_EQ(load_verdict(r, Key{1, 2}, kH100), std::nullopt);
  // Re-recording replaces that device's verdict only.
  ASSERT_TRUE(store_verdict(r, kKey, kH100, passed(3e-4)));
  EXPECT_EQ(load_verdict(r, kKey, kH100), passed(3e-4));
  EXPECT_EQ(load_verdict(r, kKey, kA100), failed);
  EXPECT_EQ(test::mode_of(verdicts_dir(r)), 0700u);
  EXPECT_EQ(test::mode_of(verdict_path(r, kKey)), 0600u);
  remove_verdicts(r, kKey);
  EXPECT_EQ(load_verdict(r, kKey, kH100), std::nullopt);
}

// Anything but a well-formed file of ours reads as "not tested here": the test runs again, nothing crashes.
TEST_F(VerdictStoreTest, UntrustedFilesReadAsNoVerdict) {
  const CacheRoot r = open_root();
  ASSERT_TRUE(store_verdict(r, kKey, kH100, passed(2e-4)));
  const std::string path = verdict_path(r, kKey);
  const std::string good = test::read_file(path);
  const std::string other_key =
      good.substr(0, good.find(kKey.hex())) + Key{7, 7}.hex() + good.substr(good.find(kKey.hex()) + 32);
  const std::string wrong_type = R"({"format": 1, "key": ")" + kKey.hex() + R"(", "devices": {")" + kH100 +
                                 R"(": {"passed": "yes", "rel_l2": 0, "budget": 0}}})";
  const std::string format_string = R"({"format": "1", "key": ")" + kKey.hex() + R"(", "devices": {}})";
  const struct {
    const char* what;
    std::string bytes;
  } rows[] = {
      {"empty", ""},
      {"not json",
       "\x7f"
       "ELF garbage"},
      {"truncated", good.substr(0, good.size() / 2)},
      {"another key's file", other_key},
      {"future format", R"({"format": 2, "key": ")" + kKey.hex() + R"(", "devices": {}})"},
      {"format as a string", format_string},
      {"passed not a bool", wrong_type},
      {"devices an array", R"({"format": 1, "key": ")" + kKey.hex() + R"(", "devices": []})"},
      {"oversized", std::string(100 * 1024, ' ') + good},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.what);
    test::write_file(path, row.bytes);
    EXPECT_EQ(load_verdict(r, kKey, kH100), std::nullopt);
    // Recording over it starts a fresh file.
    ASSERT_TRUE(store_verdict(r, kKey, kA100, passed(1e-4)));
    EXPECT_EQ(load_verdict(r, kKey, kA100), passed(1e-4));
  }
  // A symlink at the path is not followed.
  const std::string target = dir() + "/elsewhere.json";
  test::write_file(target, good);
  ASSERT_EQ(::unlink(path.c_str()), 0);
  ASSERT_EQ(::symlink(target.c_str(), path.c_str()), 0);
  EXPECT_EQ(load_verdict(r, kKey, kH100), std::nullopt);
}

// A non-finite error (a broken kernel's usual sign) is kept as a failure; a verdict whose `passed` disagrees
// with its own numbers is not trusted.
TEST_F(VerdictStoreTest, NonFiniteFailuresAreKeptAndInconsistentVerdictsIgnored) {
  const CacheRoot r = open_root();
  const SelfTestVerdict nan_output{false, INFINITY, 1e-3, "non-finite outputs", 1};
  ASSERT_TRUE(store_verdict(r, kKey, kH100, nan_output));
  EXPECT_EQ(load_verdict(r, kKey, kH100), nan_output);
  ASSERT_TRUE(store_verdict(r, kKey, kA100, SelfTestVerdict{true, 5e-3, 1e-3, "", 1}));  // passed, over budget
  EXPECT_EQ(load_verdict(r, kKey, kA100), std::nullopt);
  ASSERT_TRUE(store_verdict(r, kKey, kA100, SelfTestVerdict{false, 1e-4, 1e-3, "", 1}));  // failed, within it
  EXPECT_EQ(load_verdict(r, kKey, kA100), std::nullopt);
}

// A verdicts directory that is a symlink is neither read, written, nor emptied through.
TEST_F(VerdictStoreTest, SymlinkedDirectoryIsNotUsed) {
  const CacheRoot r = open_root();
  ASSERT_TRUE(store_verdict(r, kKey, kH100, passed(2e-4)));
  const std::string planted = test::read_file(verdict_path(r, kKey));  // a well-formed pass
  remove_verdicts(r, kKey);
  ASSERT_EQ(::rmdir(verdicts_dir(r).c_str()), 0);
  const std::string elsewhere = dir() + "/elsewhere";
  ASSERT_EQ(::mkdir(elsewhere.c_str(), 0700), 0);
  test::write_file(elsewhere + "/" + kKey.hex() + ".json", planted);
  ASSERT_EQ(::symlink(elsewhere.c_str(), verdicts_dir(r).c_str()), 0);
  EXPECT_EQ(load_verdict(r, kKey, kH100), std::nullopt);
  EXPECT_FALSE(store_verdict(r, kKey, kH100, passed(2e-4)).ok());
  remove_verdicts(r, kKey);
  EXPECT_EQ(clear_entries(r).verdict_files, 0u);
  EXPECT_EQ(test::read_file(elsewhere + "/" + kKey.hex() + ".json"), planted);
}

TEST_F(VerdictStoreTest, GoWithTheirEntry) {
  auto tier = DiskTier::open(posix_file_ops(), root(), kDefaultCacheMaxBytes).value_or_throw();
  Entry e;
  e.key = kKey;
  e.spec = "entry";
  e.ptx = "ptx";
  ASSERT_TRUE(tier->store(e));
  ASSERT_TRUE(store_verdict(tier->root(), kKey, kH100, passed(2e-4)));
  EXPECT_TRUE(tier->remove(kKey));
  EXPECT_FALSE(test::exists(verdict_path(tier->root(), kKey)));

  ASSERT_TRUE(tier->store(e));
  ASSERT_TRUE(store_verdict(tier->root(), kKey, kH100, passed(2e-4)));
  const ClearReport cleared = clear_entries(tier->root());
  EXPECT_EQ(cleared.entries, 1u);
  EXPECT_EQ(cleared.verdict_files, 1u);
  EXPECT_FALSE(test::exists(verdict_path(tier->root(), kKey)));
}

TEST_F(VerdictStoreTest, ModuleCacheSharesVerdictsThroughTheDiskAndDropsThemOnEvict) {
  const Spec spec = test::test_spec(3);
  test::FakeCompiler compiler;
  auto first = make_cache();
  auto entry = first->get_or_compile(spec, compiler.fn());
  ASSERT_TRUE(entry.ok());
  const Key key = (*entry)->key;
  EXPECT_EQ(first->verdict(key, kH100), std::nullopt);
  first->record_verdict(key, kH100, passed(2e-4));
  EXPECT_EQ(first->verdict(key, kH100), passed(2e-4));
  // Another process (cache object) over the same directory sees it.
  auto second = make_cache();
  EXPECT_EQ(second->verdict(key, kH100), passed(2e-4));
  second->evict(key);
  EXPECT_EQ(second->verdict(key, kH100), std::nullopt);
  EXPECT_FALSE(test::exists(root() + "/verdicts/" + key.hex() + ".json"));
  EXPECT_TRUE(warnings().empty());
}

TEST_F(VerdictStoreTest, MemoryOnlyCacheKeepsVerdictsForTheProcess) {
  ModuleCacheOptions o = options();
  o.config.dir.clear();
  ModuleCache cache(o);
  ASSERT_FALSE(cache.disk_enabled());
  cache.record_verdict(kKey, kH100, passed(2e-4));
  EXPECT_EQ(cache.verdict(kKey, kH100), passed(2e-4));
  EXPECT_EQ(cache.verdict(kKey, kA100), std::nullopt);
}

}  // namespace
}  // namespace kvjit
