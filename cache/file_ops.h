// FileOps: every filesystem call the disk tier makes, behind one interface so tests can inject ENOSPC, EIO,
// EROFS or a crash at any call, and the entropy used for temporary names, so tests can plant a file at the
// next name. Each call mirrors the syscall it wraps but returns -errno instead of setting errno.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <string>
#include <vector>

namespace kvjit {

class FileOps {
 public:
  virtual ~FileOps() = default;

  virtual int open(const std::string& path, int flags, mode_t mode) = 0;  // fd or -errno
  virtual ssize_t read(int fd, void* buf, size_t n) = 0;
  virtual ssize_t write(int fd, const void* buf, size_t n) = 0;
  virtual int fsync(int fd) = 0;
  virtual int fchmod(int fd, mode_t mode) = 0;
  virtual int fstat(int fd, struct stat* st) = 0;
  virtual int futimens_now(int fd) = 0;  // mtime := now, atime untouched: the cache's last-used stamp
  virtual int flock(int fd, int operation) = 0;
  virtual int close(int fd) = 0;

  virtual int stat(const std::string& path, struct stat* st) = 0;  // follows symlinks (the root only)
  virtual int lstat(const std::string& path, struct stat* st) = 0;
  virtual int mkdir(const std::string& path, mode_t mode) = 0;
  virtual int chmod(const std::string& path, mode_t mode) = 0;
  virtual int rename(const std::string& from, const std::string& to) = 0;
  virtual int unlink(const std::string& path) = 0;
  virtual int rmdir(const std::string& path) = 0;
  virtual int utimens(const std::string& path, const struct timespec times[2]) = 0;  // no symlink following
  // Names in a directory, without "." and "..".
  virtual int list_dir(const std::string& path, std::vector<std::string>* names) = 0;

  // 16 random hex digits for a temporary file name.
  virtual std::string random_name() = 0;
};

// The real filesystem; one shared, stateless instance.
FileOps& posix_file_ops();

// "<call> <path>: <strerror>" for error messages.
std::string describe_errno(const char* call, const std::string& path, int negative_errno);

}  // namespace kvjit
