#include "cache/disk_tier.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <functional>

#include "cache/entry_format.h"
#include "tests/unit/cache/cache_test_support.h"
#include "tests/unit/cache/fault_file_ops.h"

namespace kvjit {
namespace {

using test::CacheTest;

class DiskTierTest : public CacheTest {
 protected:
  // Small entries so that corrupting every byte stays fast.
  static constexpr size_t kPtx = 96, kCubin = 48;

  void SetUp() override {
    CacheTest::SetUp();
    nosync_.skip_fsync = true;
  }
  test::FaultFileOps nosync_;

  std::unique_ptr<DiskTier> open_tier(FileOps& files = posix_file_ops()) {
    return DiskTier::open(files, root(), kDefaultCacheMaxBytes).value_or_throw();
  }
  Entry entry_for(int i) {
    const Spec spec = test::test_spec(i);
    return make_entry(cache_key(spec, test::fake_context()).value_or_throw(), test::fake_kernel(spec, kPtx, kCubin));
  }
  // Writes spec i's entry through a cache and returns its path.
  std::string populate(int i) {
    test::FakeCompiler compiler;
    compiler.ptx_bytes = kPtx;
    compiler.cubin_bytes = kCubin;
    auto cache = make_cache(&nosync_);
    EXPECT_TRUE(cache->get_or_compile(test::test_spec(i), compiler.fn()));
    return cache->disk()->root().entry_path(cache->key_for(test::test_spec(i)).value_or_throw());
  }
  // A fresh cache (empty memory tier) asked for spec i after its entry was damaged: it must count one bad entry,
  // compile once, return the right bytes, and leave a good entry behind.
  void expect_counted_miss(int i, const std::string& what) {
    test::FakeCompiler compiler;
    compiler.ptx_bytes = kPtx;
    compiler.cubin_bytes = kCubin;
    auto cache = make_cache(&nosync_);
    auto got = cache->get_or_compile(test::test_spec(i), compiler.fn());
    ASSERT_TRUE(got) << what;
    EXPECT_TRUE(test::is_fake_entry_for(**got, test::test_spec(i), kPtx, kCubin)) << what << ": bad bytes returned";
    const Counters c = cache->counters();
    EXPECT_EQ(c.corrupt_entries, 1u) << what;
    EXPECT_EQ(c.disk_hits, 0u) << what;
    EXPECT_EQ(c.compiles, 1u) << what;
    EXPECT_EQ(compiler.calls.load(), 1) << what;
    const Key key = cache->key_for(test::test_spec(i)).value_or_throw();
    auto file = test::read_file(cache->disk()->root().entry_path(key));
    EXPECT_TRUE(parse_entry(file, key)) << what << ": the recompiled entry replaced the bad one";
  }
};

TEST_F(DiskTierTest, StoreThenLoad) {
  auto tier = open_tier();
  const Entry e = entry_for(0);
  EXPECT_EQ(tier->load(e.key).outcome, DiskLoad::Outcome::absent);
  auto stored = tier->store(e);
  ASSERT_TRUE(stored) << stored.error().message;
  EXPECT_EQ(stored->bytes, serialize_entry(e).size());
  const DiskLoad loaded = open_tier()->load(e.key);
  ASSERT_EQ(loaded.outcome, DiskLoad::Outcome::hit) << loaded.reason;
  EXPECT_TRUE(*loaded.entry == e);
  EXPECT_EQ(loaded.bytes, stored->bytes);
  EXPECT_TRUE(test::list_dir(root() + "/tmp").empty());
}

TEST_F(DiskTierTest, AHitRefreshesTheLastUsedStamp) {
  auto tier = open_tier();
  const Entry e = entry_for(0);
  ASSERT_TRUE(tier->store(e));
  const std::string path = tier->root().entry_path(e.key);
  const struct timespec old[2] = {{1000, 0}, {1000, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), old, 0), 0);
  ASSERT_EQ(tier->load(e.key).outcome, DiskLoad::Outcome::hit);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_GT(st.st_mtim.tv_sec, 1000);
}

TEST_F(DiskTierTest, RemoveDeletesEntryAndLock) {
  auto tier = open_tier();
  const Entry e = entry_for(0);
  ASSERT_TRUE(tier->store(e));
  { auto lock = tier->lock(e.key, std::chrono::milliseconds(0)); }
  EXPECT_TRUE(test::exists(tier->root().lock_path(e.key)));
  EXPECT_TRUE(tier->remove(e.key));
  EXPECT_FALSE(test::exists(tier->root().entry_path(e.key)));
  EXPECT_FALSE(test::exists(tier->root().lock_path(e.key)));
  EXPECT_FALSE(tier->remove(e.key));
}

TEST_F(DiskTierTest, TruncatedEntriesAreCountedMisses) {
  const std::string good = test::read_file(populate(0));
  for (size_t size : {size_t{0}, size_t{1}, kEntryHeaderBytes - 1, kEntryHeaderBytes, good.size() - 1}) {
    test::write_file(populate(0), good.substr(0, size));
    expect_counted_miss(0, "truncated to " + std::to_string(size));
  }
}

TEST_F(DiskTierTest, FlippedBitsAnywhereAreCountedMisses) {
  const std::string path = populate(0);
  const std::string good = test::read_file(path);
  for (size_t offset = 0; offset < good.size(); offset += (offset < kEntryHeaderBytes ? 1 : 5)) {
    std::string bad = good;
    bad[offset] = static_cast<char>(bad[offset] ^ (1 << (offset % 8)));
    test::write_file(path, bad);
    expect_counted_miss(0, "bit flipped at " + std::to_string(offset));
    if (HasFailure()) return;
  }
}

TEST_F(DiskTierTest, EntryCopiedToAnotherKeysPathIsACountedMiss) {
  const std::string a = populate(0);
  const std::string b = populate(1);
  test::write_file(b, test::read_file(a));
  expect_counted_miss(1, "entry of spec 0 at spec 1's path");
}

TEST_F(DiskTierTest, EntryFromAnotherFormatVersionIsACountedMiss) {
  const std::string path = populate(0);
  std::string bytes = test::read_file(path);
  bytes[4] = static_cast<char>(kEntryFormatVersion + 1);
  test::write_file(path, bytes);
  expect_counted_miss(0, "other format version");
}

TEST_F(DiskTierTest, GarbageWithTheRightNameIsACountedMiss) {
  const std::string path = populate(0);
  test::write_file(path, std::string(5000, '\x5a'));
  expect_counted_miss(0, "garbage");
}

TEST_F(DiskTierTest, BadEntryIsRemovedOnlyIfUnchangedSinceRead) {
  const std::string path = populate(0);
  const std::string good = test::read_file(path);
  test::write_file(path, good.substr(0, 10));

  // A FileOps that, between our read and our unlink, has another process replace the bad entry with a good one.
  struct ReplacingOps : test::FaultFileOps {
    std::string path, replacement;
    bool replaced = false;
    int lstat(const std::string& p, struct stat* st) override {
      if (p == path && !replaced) {
        replaced = true;
        test::write_file(path + ".new", replacement);
        ::rename((path + ".new").c_str(), path.c_str());
      }
      return FaultFileOps::lstat(p, st);
    }
  } ops;
  ops.path = path;
  ops.replacement = good;
  auto tier = DiskTier::open(ops, root(), kDefaultCacheMaxBytes).value_or_throw();
  const Key key = cache_key(test::test_spec(0), test::fake_context()).value_or_throw();
  EXPECT_EQ(tier->load(key).outcome, DiskLoad::Outcome::rejected);
  ASSERT_TRUE(ops.replaced);
  EXPECT_EQ(test::read_file(path), good) << "the good replacement was not removed";
}

TEST_F(DiskTierTest, SymlinkAtTheEntryPathIsNotFollowed) {
  const std::string path = populate(0);
  const std::string victim = dir() + "/victim";
  // Even a perfectly valid entry is not read through a symlink.
  test::write_file(victim, test::read_file(path));
  const std::string victim_bytes = test::read_file(victim);
  ASSERT_EQ(::unlink(path.c_str()), 0);
  ASSERT_EQ(::symlink(victim.c_str(), path.c_str()), 0);
  expect_counted_miss(0, "symlink at entry path");
  struct stat st {};
  ASSERT_EQ(::lstat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode)) << "the symlink was replaced by a real entry";
  EXPECT_EQ(test::read_file(victim), victim_bytes);
}

TEST_F(DiskTierTest, SymlinkedFanOutDirectoryIsNeitherReadNorWritten) {
  const std::string path = populate(0);
  const Key key = cache_key(test::test_spec(0), test::fake_context()).value_or_throw();
  const std::string first = root() + "/" + key.hex().substr(0, 2);
  const std::string moved = dir() + "/moved";
  ASSERT_EQ(::rename(first.c_str(), moved.c_str()), 0);
  ASSERT_EQ(::symlink(moved.c_str(), first.c_str()), 0);
  const std::string before = test::read_file(moved + "/" + key.hex().substr(2, 2) + "/" + key.hex() + ".kvjit");

  test::FakeCompiler compiler;
  compiler.ptx_bytes = kPtx;
  compiler.cubin_bytes = kCubin;
  auto cache = make_cache();
  auto got = cache->get_or_compile(test::test_spec(0), compiler.fn());
  ASSERT_TRUE(got);
  EXPECT_EQ(cache->counters().disk_hits, 0u);
  EXPECT_GE(cache->counters().read_failures, 1u);
  EXPECT_EQ(cache->counters().write_failures, 1u);
  EXPECT_FALSE(cache->disk()->remove(key));
  EXPECT_EQ(test::read_file(moved + "/" + key.hex().substr(2, 2) + "/" + key.hex() + ".kvjit"), before);
}

TEST_F(DiskTierTest, ReadErrorIsAMissThatLeavesTheEntry) {
  const std::string path = populate(0);
  test::FaultFileOps ops;
  ops.add({test::Op::read, EIO, ".kvjit", 0, -1});
  auto tier = DiskTier::open(ops, root(), kDefaultCacheMaxBytes).value_or_throw();
  const Key key = cache_key(test::test_spec(0), test::fake_context()).value_or_throw();
  const DiskLoad loaded = tier->load(key);
  EXPECT_EQ(loaded.outcome, DiskLoad::Outcome::unreadable);
  EXPECT_NE(loaded.reason.find("Input/output error"), std::string::npos) << loaded.reason;
  EXPECT_TRUE(test::exists(path));
}

TEST_F(DiskTierTest, OpenSweepsStaleTemporaryFilesOnly) {
  open_tier();
  const std::string stale = root() + "/tmp/00000000000000aa.tmp";
  const std::string fresh = root() + "/tmp/00000000000000bb.tmp";
  test::write_file(stale, "partial");
  test::write_file(fresh, "partial");
  const struct timespec two_hours_ago[2] = {{time(nullptr) - 7200, 0}, {time(nullptr) - 7200, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, stale.c_str(), two_hours_ago, 0), 0);
  open_tier();
  EXPECT_FALSE(test::exists(stale));
  EXPECT_TRUE(test::exists(fresh)) << "a file being written now is not swept";
}

}  // namespace
}  // namespace kvjit
