#include "cache/disk_maintenance.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <set>

#include "cache/disk_tier.h"
#include "cache/entry_format.h"
#include "tests/unit/cache/cache_test_support.h"
#include "tests/unit/cache/fault_file_ops.h"

namespace kvjit {
namespace {

using test::CacheTest;

class DiskMaintenanceTest : public CacheTest {
 protected:
  // Entries keyed by i directly (no specs needed), each the same size, spread over 16 fan-out directories (a
  // directory per entry would make these tests measure the filesystem's mkdir and rmdir instead).
  static Entry entry(uint64_t i) {
    Entry e;
    e.key = Key{((i % 16) << 60) | i, i};
    e.spec = "entry " + std::to_string(i);
    e.ptx = std::string(900, 'p');
    return e;
  }
  static uint64_t entry_bytes() { return serialize_entry(entry(0)).size(); }
  void set_last_used(const CacheRoot& root, const Key& key, time_t when) {
    const struct timespec t[2] = {{when, 0}, {when, 0}};
    ASSERT_EQ(::utimensat(AT_FDCWD, root.entry_path(key).c_str(), t, 0), 0);
  }
};

TEST_F(DiskMaintenanceTest, ScanFindsOnlyWellNamedEntries) {
  auto tier = DiskTier::open(posix_file_ops(), root(), kDefaultCacheMaxBytes).value_or_throw();
  for (uint64_t i = 0; i < 5; ++i) ASSERT_TRUE(tier->store(entry(i)));
  const Key k = entry(0).key;
  const std::string leaf = root() + "/" + k.hex().substr(0, 2) + "/" + k.hex().substr(2, 2);
  test::write_file(leaf + "/notes.txt", "x");
  test::write_file(leaf + "/" + Key{~k.high, 1}.hex() + ".kvjit", "misplaced: wrong prefix");
  const auto entries = scan_entries(tier->root());
  ASSERT_EQ(entries.size(), 5u);
  std::set<Key> keys;
  for (const StoredEntry& e : entries) {
    keys.insert(e.key);
    EXPECT_EQ(e.size, entry_bytes());
  }
  for (uint64_t i = 0; i < 5; ++i) EXPECT_TRUE(keys.count(entry(i).key));
}

// The bound holds while 1,000 entries go through a cache that fits 100.
TEST_F(DiskMaintenanceTest, LruBoundHoldsOverAThousandEntries) {
  const uint64_t max_bytes = 100 * entry_bytes();
  test::FaultFileOps nosync;
  nosync.skip_fsync = true;
  auto tier = DiskTier::open(nosync, root(), max_bytes).value_or_throw();
  uint64_t evicted = 0;
  for (uint64_t i = 0; i < 1000; ++i) {
    auto stored = tier->store(entry(i));
    ASSERT_TRUE(stored) << stored.error().message;
    evicted += stored->evicted;
    if (i % 97 == 0) {
      uint64_t bytes = 0;
      for (const StoredEntry& e : scan_entries(tier->root())) bytes += e.size;
      ASSERT_LE(bytes, max_bytes) << "after " << i + 1 << " stores";
    }
  }
  const auto left = scan_entries(tier->root());
  uint64_t bytes = 0;
  for (const StoredEntry& e : left) bytes += e.size;
  EXPECT_LE(bytes, max_bytes);
  EXPECT_GE(left.size(), 80u) << "a prune frees about a tenth, not everything";
  EXPECT_EQ(evicted + left.size(), 1000u);
  std::set<Key> kept;
  for (const StoredEntry& e : left) kept.insert(e.key);
  EXPECT_TRUE(kept.count(entry(999).key)) << "the newest entry survives";
  EXPECT_FALSE(kept.count(entry(0).key)) << "the oldest entry went first";
  EXPECT_TRUE(test::list_dir(root() + "/tmp").empty());
}

TEST_F(DiskMaintenanceTest, EvictsLeastRecentlyUsedNotLeastRecentlyWritten) {
  auto tier = DiskTier::open(posix_file_ops(), root(), kDefaultCacheMaxBytes).value_or_throw();
  for (uint64_t i = 0; i < 10; ++i) {
    ASSERT_TRUE(tier->store(entry(i)));
    set_last_used(tier->root(), entry(i).key, 1000000 + static_cast<time_t>(i));
  }
  // Entry 0 is the oldest write, but a hit makes it the most recently used.
  ASSERT_EQ(tier->load(entry(0).key).outcome, DiskLoad::Outcome::hit);
  const PruneReport r = prune_entries(tier->root(), 5 * entry_bytes(), 5 * entry_bytes());
  EXPECT_EQ(r.entries_before, 10u);
  EXPECT_EQ(r.evicted, 5u);
  EXPECT_EQ(r.bytes_after(), 5 * entry_bytes());
  std::set<Key> kept;
  for (const StoredEntry& e : scan_entries(tier->root())) kept.insert(e.key);
  EXPECT_TRUE(kept.count(entry(0).key));
  for (uint64_t i = 1; i <= 5; ++i) EXPECT_FALSE(kept.count(entry(i).key)) << i;
  for (uint64_t i = 6; i < 10; ++i) EXPECT_TRUE(kept.count(entry(i).key)) << i;
}

TEST_F(DiskMaintenanceTest, PruneNeverEvictsTheEntryJustWrittenNorTemporaryFiles) {
  auto tier = DiskTier::open(posix_file_ops(), root(), kDefaultCacheMaxBytes).value_or_throw();
  for (uint64_t i = 0; i < 3; ++i) ASSERT_TRUE(tier->store(entry(i)));
  set_last_used(tier->root(), entry(2).key, 1000);  // the oldest by stamp
  test::write_file(root() + "/tmp/00000000000000cc.tmp", std::string(10 * entry_bytes(), 'w'));
  const PruneReport r = prune_entries(tier->root(), entry_bytes(), entry_bytes(), entry(2).key);
  EXPECT_EQ(r.evicted, 2u);
  const auto left = scan_entries(tier->root());
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].key, entry(2).key);
  EXPECT_TRUE(test::exists(root() + "/tmp/00000000000000cc.tmp")) << "a write in progress is not touched";
}

TEST_F(DiskMaintenanceTest, PruneUnderTheBoundRemovesNothing) {
  auto tier = DiskTier::open(posix_file_ops(), root(), kDefaultCacheMaxBytes).value_or_throw();
  for (uint64_t i = 0; i < 3; ++i) ASSERT_TRUE(tier->store(entry(i)));
  const PruneReport r = prune_entries(tier->root(), 3 * entry_bytes(), 0);
  EXPECT_EQ(r.evicted, 0u);
  EXPECT_EQ(r.entries_after(), 3u);
}

TEST_F(DiskMaintenanceTest, ClearRemovesEverything) {
  auto tier = DiskTier::open(posix_file_ops(), root(), kDefaultCacheMaxBytes).value_or_throw();
  for (uint64_t i = 0; i < 4; ++i) {
    ASSERT_TRUE(tier->store(entry(i)));
    (void)tier->lock(entry(i).key, std::chrono::milliseconds(0));
  }
  test::write_file(root() + "/tmp/00000000000000dd.tmp", "partial");
  const ClearReport r = clear_entries(tier->root());
  EXPECT_EQ(r.entries, 4u);
  EXPECT_EQ(r.bytes, 4 * entry_bytes());
  EXPECT_EQ(r.temp_files, 1u);
  EXPECT_EQ(r.lock_files, 4u);
  std::set<std::string> left;
  for (const std::string& name : test::list_dir(root())) left.insert(name);
  EXPECT_EQ(left, (std::set<std::string>{"tmp", "locks", "CACHEDIR.TAG"}));
  ASSERT_TRUE(tier->store(entry(0))) << "the cache works after a clear";
  EXPECT_EQ(tier->load(entry(0).key).outcome, DiskLoad::Outcome::hit);
}

TEST_F(DiskMaintenanceTest, InspectReportsEachEntry) {
  auto tier = DiskTier::open(posix_file_ops(), root(), kDefaultCacheMaxBytes).value_or_throw();
  for (uint64_t i = 0; i < 3; ++i) ASSERT_TRUE(tier->store(entry(i)));
  const std::string bad = tier->root().entry_path(entry(1).key);
  std::string bytes = test::read_file(bad);
  bytes.back() ^= 1;
  test::write_file(bad, bytes);
  const auto inspected = inspect_entries(tier->root());
  ASSERT_EQ(inspected.size(), 3u);
  int good = 0;
  for (const InspectedEntry& e : inspected) {
    if (e.stored.key == entry(1).key) {
      EXPECT_EQ(e.error, "checksum mismatch");
      EXPECT_EQ(e.spec, "");
    } else {
      EXPECT_EQ(e.error, "");
      EXPECT_EQ(e.spec.substr(0, 6), "entry ");
      EXPECT_EQ(e.ptx_bytes, 900u);
      ++good;
    }
  }
  EXPECT_EQ(good, 2);
  EXPECT_TRUE(test::exists(bad)) << "inspecting only reports";
}

}  // namespace
}  // namespace kvjit
