#include "cache/cache_root.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/unit/cache/cache_test_support.h"

namespace kvjit {
namespace {

using test::CacheTest;

class CacheRootTest : public CacheTest {};

// Restores the umask when a test ends, however it ends.
struct UmaskGuard {
  explicit UmaskGuard(mode_t m) : old(::umask(m)) {}
  ~UmaskGuard() { ::umask(old); }
  mode_t old;
};

TEST_F(CacheRootTest, CreatesTheLayoutWithPrivateModesWhateverTheUmask) {
  for (mode_t mask : {mode_t{0}, mode_t{022}, mode_t{077}}) {
    UmaskGuard guard(mask);
    const std::string dir = root() + std::to_string(mask) + "/nested";
    auto root = CacheRoot::open(posix_file_ops(), dir, CacheRoot::Mode::create);
    ASSERT_TRUE(root) << root.error().message;
    EXPECT_EQ(test::mode_of(dir), 0700u) << "umask " << mask;
    EXPECT_EQ(test::mode_of(dir + "/tmp"), 0700u);
    EXPECT_EQ(test::mode_of(dir + "/locks"), 0700u);
    EXPECT_EQ(test::mode_of(dir + "/CACHEDIR.TAG"), 0600u);
    const Key key{0xabcdef0000000000ull, 1};
    ASSERT_TRUE(root->ensure_entry_dirs(key));
    EXPECT_EQ(test::mode_of(dir + "/ab"), 0700u);
    EXPECT_EQ(test::mode_of(dir + "/ab/cd"), 0700u);
    EXPECT_EQ(root->entry_path(key), dir + "/ab/cd/" + key.hex() + ".kvjit");
    EXPECT_EQ(root->lock_path(key), dir + "/locks/" + key.hex() + ".lock");
  }
}

TEST_F(CacheRootTest, ExistingModeDoesNotCreate) {
  auto missing = CacheRoot::open(posix_file_ops(), root(), CacheRoot::Mode::existing);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, ErrorKind::not_found);
  EXPECT_FALSE(test::exists(root()));
}

TEST_F(CacheRootTest, RelativePathIsRefused) {
  EXPECT_FALSE(CacheRoot::open(posix_file_ops(), "relative/cache", CacheRoot::Mode::create));
  EXPECT_FALSE(CacheRoot::open(posix_file_ops(), "", CacheRoot::Mode::create));
}

TEST_F(CacheRootTest, WritableByGroupOrOthersIsRefused) {
  for (mode_t mode : {mode_t{0777}, mode_t{0770}, mode_t{0702}, mode_t{01777}}) {
    ASSERT_EQ(::mkdir(root().c_str(), 0700), 0);
    ASSERT_EQ(::chmod(root().c_str(), mode), 0);
    auto r = CacheRoot::open(posix_file_ops(), root(), CacheRoot::Mode::create);
    ASSERT_FALSE(r) << std::oct << mode;
    EXPECT_NE(r.error().message.find("writable by group or others"), std::string::npos) << r.error().message;
    EXPECT_FALSE(test::exists(root() + "/tmp")) << "nothing is created in a refused root";
    ASSERT_EQ(::rmdir(root().c_str()), 0);
  }
}

TEST_F(CacheRootTest, ReadableByOthersIsAccepted) {
  ASSERT_EQ(::mkdir(root().c_str(), 0755), 0);
  ASSERT_EQ(::chmod(root().c_str(), 0755), 0);
  EXPECT_TRUE(CacheRoot::open(posix_file_ops(), root(), CacheRoot::Mode::create));
}

TEST_F(CacheRootTest, ForeignOwnedRootIsRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give a directory to another user";
  ASSERT_EQ(::mkdir(root().c_str(), 0700), 0);
  ASSERT_EQ(::chown(root().c_str(), 65534, 65534), 0);
  auto r = CacheRoot::open(posix_file_ops(), root(), CacheRoot::Mode::create);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("owned by uid 65534"), std::string::npos) << r.error().message;
}

TEST_F(CacheRootTest, SymlinkedRootToATrustedDirectoryIsAccepted) {
  const std::string real = dir() + "/elsewhere";
  ASSERT_EQ(::mkdir(real.c_str(), 0700), 0);
  ASSERT_EQ(::symlink(real.c_str(), root().c_str()), 0);
  EXPECT_TRUE(CacheRoot::open(posix_file_ops(), root(), CacheRoot::Mode::create));
  EXPECT_TRUE(test::exists(real + "/tmp"));
}

TEST_F(CacheRootTest, PlantedSymlinksBelowTheRootAreRefused) {
  auto r = CacheRoot::open(posix_file_ops(), root(), CacheRoot::Mode::create);
  ASSERT_TRUE(r);
  const std::string target = dir() + "/target";
  ASSERT_EQ(::mkdir(target.c_str(), 0700), 0);
  const Key key{0xabcdef0000000000ull, 1};
  ASSERT_EQ(::symlink(target.c_str(), (root() + "/ab").c_str()), 0);
  const Status s = r->ensure_entry_dirs(key);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("not a directory"), std::string::npos) << s.error().message;
  EXPECT_FALSE(r->check_entry_dirs(key));
  EXPECT_TRUE(test::list_dir(target).empty()) << "nothing was created through the symlink";

  // The same for tmp/: a root whose tmp/ is a symlink is refused.
  ASSERT_EQ(::rmdir((root() + "/tmp").c_str()), 0);
  ASSERT_EQ(::symlink(target.c_str(), (root() + "/tmp").c_str()), 0);
  EXPECT_FALSE(CacheRoot::open(posix_file_ops(), root(), CacheRoot::Mode::create));
}

}  // namespace
}  // namespace kvjit
