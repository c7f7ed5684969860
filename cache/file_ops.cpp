#include "cache/file_ops.h"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <sys/random.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>

namespace kvjit {
namespace {

template <typename T>
T check(T rc) {
  return rc < 0 ? static_cast<T>(-errno) : rc;
}

class PosixFileOps final : public FileOps {
 public:
  int open(const std::string& path, int flags, mode_t mode) override {
    return check(::open(path.c_str(), flags | O_CLOEXEC, mode));
  }
  ssize_t read(int fd, void* buf, size_t n) override { return check(::read(fd, buf, n)); }
  ssize_t write(int fd, const void* buf, size_t n) override { return check(::write(fd, buf, n)); }
  int fsync(int fd) override { return check(::fsync(fd)); }
  int fchmod(int fd, mode_t mode) override { return check(::fchmod(fd, mode)); }
  int fstat(int fd, struct stat* st) override { return check(::fstat(fd, st)); }
  int futimens_now(int fd) override {
    const struct timespec times[2] = {{0, UTIME_OMIT}, {0, UTIME_NOW}};
    return check(::futimens(fd, times));
  }
  int flock(int fd, int operation) override { return check(::flock(fd, operation)); }
  int close(int fd) override { return check(::close(fd)); }
  int stat(const std::string& path, struct stat* st) override { return check(::stat(path.c_str(), st)); }
  int lstat(const std::string& path, struct stat* st) override { return check(::lstat(path.c_str(), st)); }
  int mkdir(const std::string& path, mode_t mode) override { return check(::mkdir(path.c_str(), mode)); }
  int chmod(const std::string& path, mode_t mode) override { return check(::chmod(path.c_str(), mode)); }
  int rename(const std::string& from, const std::string& to) override {
    return check(::rename(from.c_str(), to.c_str()));
  }
  int unlink(const std::string& path) override { return check(::unlink(path.c_str())); }
  int rmdir(const std::string& path) override { return check(::rmdir(path.c_str())); }
  int utimens(const std::string& path, const struct timespec times[2]) override {
    return check(::utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW));
  }
  int list_dir(const std::string& path, std::vector<std::string>* names) override {
    DIR* dir = ::opendir(path.c_str());
    if (dir == nullptr) return -errno;
    names->clear();
    while (const dirent* d = ::readdir(dir)) {
      const std::string_view name = d->d_name;
      if (name != "." && name != "..") names->emplace_back(name);
    }
    ::closedir(dir);
    return 0;
  }
  std::string random_name() override {
    uint64_t bits = 0;
    if (::getrandom(&bits, sizeof bits, 0) != static_cast<ssize_t>(sizeof bits)) bits = std::random_device{}();
    return fmt::format("{:016x}", bits);
  }
};

}  // namespace

FileOps& posix_file_ops() {
  static PosixFileOps ops;
  return ops;
}

std::string describe_errno(const char* call, const std::string& path, int negative_errno) {
  return fmt::format("{} {}: {}", call, path, std::strerror(-negative_errno));
}

}  // namespace kvjit
