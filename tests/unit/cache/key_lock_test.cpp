#include "cache/key_lock.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/unit/cache/cache_test_support.h"

namespace kvjit {
namespace {

using namespace std::chrono_literals;
using test::CacheTest;

class KeyLockTest : public CacheTest {
 protected:
  CacheRoot open_root() { return CacheRoot::open(posix_file_ops(), root(), CacheRoot::Mode::create).value_or_throw(); }
};

TEST_F(KeyLockTest, ExcludesAnotherHolderUntilReleased) {
  const CacheRoot r = open_root();
  const Key key{1, 2};
  {
    auto held = KeyLock::acquire(r, key, 0ms);
    ASSERT_TRUE(held) << held.error().message;
    EXPECT_EQ(test::mode_of(r.lock_path(key)), 0600u);
    auto second = KeyLock::acquire(r, key, 30ms);
    ASSERT_FALSE(second);
    EXPECT_EQ(second.error().kind, ErrorKind::not_found);
    EXPECT_TRUE(KeyLock::acquire(r, Key{1, 3}, 0ms)) << "other keys are independent";
  }
  EXPECT_TRUE(KeyLock::acquire(r, key, 0ms));
}

TEST_F(KeyLockTest, ExcludesAnotherProcess) {
  const CacheRoot r = open_root();
  const Key key{7, 7};
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto held = KeyLock::acquire(r, key, 0ms);
    char c = held ? 'y' : 'n';
    (void)!::write(ready[1], &c, 1);
    ::usleep(300 * 1000);
    ::_exit(0);
  }
  char c = 0;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  ASSERT_EQ(c, 'y');
  EXPECT_FALSE(KeyLock::acquire(r, key, 20ms));
  auto after = KeyLock::acquire(r, key, 5s);  // the child exits and the kernel drops its lock
  EXPECT_TRUE(after);
  int status = 0;
  ::waitpid(child, &status, 0);
  ::close(ready[0]);
  ::close(ready[1]);
}

TEST_F(KeyLockTest, ALockFileRemovedWhileHeldIsNotTrusted) {
  const CacheRoot r = open_root();
  const Key key{1, 2};
  auto held = KeyLock::acquire(r, key, 0ms);
  ASSERT_TRUE(held);
  ASSERT_EQ(::unlink(r.lock_path(key).c_str()), 0);  // what prune or clear may do
  // A new lock file: the old holder no longer excludes anyone, and the new lock is a real one.
  auto fresh = KeyLock::acquire(r, key, 0ms);
  ASSERT_TRUE(fresh);
  EXPECT_FALSE(KeyLock::acquire(r, key, 0ms));
}

TEST_F(KeyLockTest, PlantedSymlinkAtTheLockPathIsNotFollowed) {
  const CacheRoot r = open_root();
  const Key key{1, 2};
  const std::string victim = dir() + "/victim";
  test::write_file(victim, "precious");
  ::chmod(victim.c_str(), 0644);
  ASSERT_EQ(::symlink(victim.c_str(), r.lock_path(key).c_str()), 0);
  EXPECT_FALSE(KeyLock::acquire(r, key, 0ms));
  EXPECT_EQ(test::read_file(victim), "precious");
  EXPECT_EQ(test::mode_of(victim), 0644u);
}

}  // namespace
}  // namespace kvjit
