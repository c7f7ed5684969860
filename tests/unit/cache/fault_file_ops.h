// FaultFileOps: the real filesystem, except where a test says a call fails (ENOSPC on write, EIO on fsync, EROFS
// on mkdir, ...), and with temporary names a test can choose.
#pragma once

#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "cache/file_ops.h"

namespace kvjit::test {

enum class Op { open, read, write, fsync, fchmod, fstat, futimens, flock, close, stat, lstat, mkdir, chmod, rename,
                unlink, rmdir, utimens, list_dir };

struct Fault {
  Op op;
  int error;                  // errno the call returns
  std::string path_contains;  // only calls on matching paths ("" = all); fd calls match the path they opened
  int after = 0;              // let this many matching calls through first
  int times = -1;             // then fail this many times (-1: until clear())
  bool open_creates_only = false;  // for Op::open: only opens with O_CREAT
};

class FaultFileOps : public FileOps {
 public:
  void add(Fault fault);
  void clear();
  int calls(Op op) const;
  int failures() const;
  void queue_names(std::vector<std::string> names);  // handed out by random_name() before random ones
  // fsync succeeds without syncing: for tests of many writes where durability is not the point (an fsync costs
  // milliseconds on a real disk).
  bool skip_fsync = false;

  int open(const std::string& path, int flags, mode_t mode) override;
  ssize_t read(int fd, void* buf, size_t n) override;
  ssize_t write(int fd, const void* buf, size_t n) override;
  int fsync(int fd) override;
  int fchmod(int fd, mode_t mode) override;
  int fstat(int fd, struct stat* st) override;
  int futimens_now(int fd) override;
  int flock(int fd, int operation) override;
  int close(int fd) override;
  int stat(const std::string& path, struct stat* st) override;
  int lstat(const std::string& path, struct stat* st) override;
  int mkdir(const std::string& path, mode_t mode) override;
  int chmod(const std::string& path, mode_t mode) override;
  int rename(const std::string& from, const std::string& to) override;
  int unlink(const std::string& path) override;
  int rmdir(const std::string& path) override;
  int utimens(const std::string& path, const struct timespec times[2]) override;
  int list_dir(const std::string& path, std::vector<std::string>* names) override;
  std::string random_name() override;

 protected:
  // 0 to go ahead, or -errno from a matching fault.
  int check(Op op, const std::string& path, int open_flags = 0);
  std::string path_of(int fd);
  FileOps& real() { return posix_file_ops(); }

 private:
  mutable std::mutex mu_;
  std::vector<Fault> faults_;
  std::vector<int> seen_;  // matching calls per fault
  std::map<Op, int> calls_;
  std::map<int, std::string> fd_paths_;
  std::deque<std::string> names_;
  int failures_ = 0;
};

}  // namespace kvjit::test
