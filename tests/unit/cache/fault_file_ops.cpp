#include "tests/unit/cache/fault_file_ops.h"

#include <fcntl.h>

namespace kvjit::test {

void FaultFileOps::add(Fault fault) {
  std::lock_guard lock(mu_);
  faults_.push_back(std::move(fault));
  seen_.push_back(0);
}

void FaultFileOps::clear() {
  std::lock_guard lock(mu_);
  faults_.clear();
  seen_.clear();
}

int FaultFileOps::calls(Op op) const {
  std::lock_guard lock(mu_);
  const auto it = calls_.find(op);
  return it == calls_.end() ? 0 : it->second;
}

int FaultFileOps::failures() const {
  std::lock_guard lock(mu_);
  return failures_;
}

void FaultFileOps::queue_names(std::vector<std::string> names) {
  std::lock_guard lock(mu_);
  names_.insert(names_.end(), names.begin(), names.end());
}

int FaultFileOps::check(Op op, const std::string& path, int open_flags) {
  std::lock_guard lock(mu_);
  ++calls_[op];
  for (size_t i = 0; i < faults_.size(); ++i) {
    const Fault& f = faults_[i];
    if (f.op != op || path.find(f.path_contains) == std::string::npos) continue;
    if (f.open_creates_only && (open_flags & O_CREAT) == 0) continue;
    const int n = seen_[i]++;
    if (n < f.after || (f.times >= 0 && n >= f.after + f.times)) continue;
    ++failures_;
    return -f.error;
  }
  return 0;
}

std::string FaultFileOps::path_of(int fd) {
  std::lock_guard lock(mu_);
  const auto it = fd_paths_.find(fd);
  return it == fd_paths_.end() ? std::string() : it->second;
}

int FaultFileOps::open(const std::string& path, int flags, mode_t mode) {
  if (const int rc = check(Op::open, path, flags)) return rc;
  const int fd = real().open(path, flags, mode);
  if (fd >= 0) {
    std::lock_guard lock(mu_);
    fd_paths_[fd] = path;
  }
  return fd;
}

ssize_t FaultFileOps::read(int fd, void* buf, size_t n) {
  if (const int rc = check(Op::read, path_of(fd))) return rc;
  return real().read(fd, buf, n);
}
ssize_t FaultFileOps::write(int fd, const void* buf, size_t n) {
  if (const int rc = check(Op::write, path_of(fd))) return rc;
  return real().write(fd, buf, n);
}
int FaultFileOps::fsync(int fd) {
  if (const int rc = check(Op::fsync, path_of(fd))) return rc;
  return skip_fsync ? 0 : real().fsync(fd);
}
int FaultFileOps::fchmod(int fd, mode_t mode) {
  if (const int rc = check(Op::fchmod, path_of(fd))) return rc;
  return real().fchmod(fd, mode);
}
int FaultFileOps::fstat(int fd, struct stat* st) {
  if (const int rc = check(Op::fstat, path_of(fd))) return rc;
  return real().fstat(fd, st);
}
int FaultFileOps::futimens_now(int fd) {
  if (const int rc = check(Op::futimens, path_of(fd))) return rc;
  return real().futimens_now(fd);
}
int FaultFileOps::flock(int fd, int operation) {
  if (const int rc = check(Op::flock, path_of(fd))) return rc;
  return real().flock(fd, operation);
}
int FaultFileOps::close(int fd) {
  const int rc = check(Op::close, path_of(fd));
  {
    std::lock_guard lock(mu_);
    fd_paths_.erase(fd);
  }
  const int real_rc = real().close(fd);  // an injected close failure still releases the descriptor
  return rc != 0 ? rc : real_rc;
}
int FaultFileOps::stat(const std::string& path, struct stat* st) {
  if (const int rc = check(Op::stat, path)) return rc;
  return real().stat(path, st);
}
int FaultFileOps::lstat(const std::string& path, struct stat* st) {
  if (const int rc = check(Op::lstat, path)) return rc;
  return real().lstat(path, st);
}
int FaultFileOps::mkdir(const std::string& path, mode_t mode) {
  if (const int rc = check(Op::mkdir, path)) return rc;
  return real().mkdir(path, mode);
}
int FaultFileOps::chmod(const std::string& path, mode_t mode) {
  if (const int rc = check(Op::chmod, path)) return rc;
  return real().chmod(path, mode);
}
int FaultFileOps::rename(const std::string& from, const std::string& to) {
  if (const int rc = check(Op::rename, to)) return rc;
  return real().rename(from, to);
}
int FaultFileOps::unlink(const std::string& path) {
  if (const int rc = check(Op::unlink, path)) return rc;
  return real().unlink(path);
}
int FaultFileOps::rmdir(const std::string& path) {
  if (const int rc = check(Op::rmdir, path)) return rc;
  return real().rmdir(path);
}
int FaultFileOps::utimens(const std::string& path, const struct timespec times[2]) {
  if (const int rc = check(Op::utimens, path)) return rc;
  return real().utimens(path, times);
}
int FaultFileOps::list_dir(const std::string& path, std::vector<std::string>* names) {
  if (const int rc = check(Op::list_dir, path)) return rc;
  return real().list_dir(path, names);
}
std::string FaultFileOps::random_name() {
  {
    std::lock_guard lock(mu_);
    if (!names_.empty()) {
      std::string name = names_.front();
      names_.pop_front();
      return name;
    }
  }
  return real().random_name();
}

}  // namespace kvjit::test
