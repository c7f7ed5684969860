#include "cache/atomic_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "tests/unit/cache/cache_test_support.h"
#include "tests/unit/cache/fault_file_ops.h"

namespace kvjit {
namespace {

using test::CacheTest;
using test::FaultFileOps;
using test::Op;

class AtomicFileTest : public CacheTest {
 protected:
  void SetUp() override {
    CacheTest::SetUp();
    tmp_ = dir() + "/tmp";
    final_ = dir() + "/final";
    ASSERT_EQ(::mkdir(tmp_.c_str(), 0700), 0);
  }
  std::string tmp_, final_;
};

TEST_F(AtomicFileTest, NothingIsVisibleUntilCommit) {
  const mode_t old = ::umask(0);
  auto f = AtomicFile::create(posix_file_ops(), tmp_, final_);
  ::umask(old);
  ASSERT_TRUE(f) << f.error().message;
  ASSERT_TRUE(f->write("hello "));
  ASSERT_TRUE(f->write("world"));
  EXPECT_FALSE(test::exists(final_));
  EXPECT_EQ(test::mode_of(f->temp_path()), 0600u);
  const std::string temp = f->temp_path();
  ASSERT_TRUE(f->commit());
  EXPECT_EQ(test::read_file(final_), "hello world");
  EXPECT_EQ(test::mode_of(final_), 0600u);
  EXPECT_FALSE(test::exists(temp));
}

TEST_F(AtomicFileTest, DestroyingWithoutCommitLeavesNothing) {
  test::write_file(final_, "old");
  {
    auto f = AtomicFile::create(posix_file_ops(), tmp_, final_);
    ASSERT_TRUE(f);
    ASSERT_TRUE(f->write("new"));
  }
  EXPECT_EQ(test::read_file(final_), "old");
  EXPECT_TRUE(test::list_dir(tmp_).empty());
}

TEST_F(AtomicFileTest, PlantedSymlinkAtTheTempNameIsNotFollowed) {
  const std::string victim = dir() + "/victim";
  test::write_file(victim, "precious");
  ASSERT_EQ(::symlink(victim.c_str(), (tmp_ + "/0000000000000001.tmp").c_str()), 0);
  FaultFileOps files;
  files.queue_names({"0000000000000001", "0000000000000002"});
  auto f = AtomicFile::create(files, tmp_, final_);
  ASSERT_TRUE(f) << f.error().message;
  EXPECT_EQ(f->temp_path(), tmp_ + "/0000000000000002.tmp");
  ASSERT_TRUE(f->write("data"));
  ASSERT_TRUE(f->commit());
  EXPECT_EQ(test::read_file(victim), "precious");
  EXPECT_EQ(test::read_file(final_), "data");
}

TEST_F(AtomicFileTest, GivesUpWhenEveryNameIsTaken) {
  FaultFileOps files;
  files.add({Op::open, EEXIST, "", 0, -1});
  auto f = AtomicFile::create(files, tmp_, final_);
  ASSERT_FALSE(f);
  EXPECT_EQ(files.calls(Op::open), 8);
}

// Every step can fail; none may leave the final path changed or a temporary behind.
TEST_F(AtomicFileTest, FailureAtAnyStepLeavesNoTrace) {
  struct Row {
    Op op;
    int error;
  };
  for (const Row& row : {Row{Op::open, ENOSPC}, Row{Op::fchmod, EPERM}, Row{Op::write, ENOSPC}, Row{Op::write, EIO},
                         Row{Op::fsync, EIO}, Row{Op::close, EIO}, Row{Op::rename, EIO}, Row{Op::rename, EROFS}}) {
    test::write_file(final_, "old");
    FaultFileOps files;
    files.add({row.op, row.error, "", 0, -1});
    Status s = Ok{};
    if (auto f = AtomicFile::create(files, tmp_, final_); !f) {
      s = f.error();
    } else if (s = f->write(std::string(100000, 'x')); s) {
      s = f->commit();
    }
    EXPECT_FALSE(s) << static_cast<int>(row.op);
    EXPECT_NE(s.error().message.find(std::strerror(row.error)), std::string::npos) << s.error().message;
    EXPECT_EQ(test::read_file(final_), "old");
    EXPECT_TRUE(test::list_dir(tmp_).empty()) << static_cast<int>(row.op);
  }
}

}  // namespace
}  // namespace kvjit
