#include "cache/key_lock.h"

#include <fcntl.h>
#include <sys/file.h>

#include <algorithm>
#include <cerrno>
#include <thread>

namespace kvjit {
namespace {

Error io_error(std::string message) { return make_error(ErrorKind::io, std::move(message)); }

// The lock file may be removed (prune, clear) while someone holds it; a lock on an unlinked inode excludes
// nobody, so after locking, confirm the path still names the inode we hold.
bool still_linked(FileOps& files, int fd, const std::string& path) {
  struct stat held {}, now {};
  return files.fstat(fd, &held) == 0 && files.lstat(path, &now) == 0 && held.st_ino == now.st_ino &&
         held.st_dev == now.st_dev;
}

}  // namespace

Result<KeyLock> KeyLock::acquire(const CacheRoot& root, const Key& key, std::chrono::milliseconds wait) {
  FileOps& files = root.files();
  const std::string path = root.lock_path(key);
  const auto deadline = std::chrono::steady_clock::now() + wait;
  auto pause = std::chrono::microseconds(500);
  while (true) {
    const int fd = files.open(path, O_RDWR | O_CREAT | O_NOFOLLOW, 0600);
    if (fd < 0) return io_error(describe_errno("open", path, fd));
    (void)files.fchmod(fd, 0600);
    const int rc = files.flock(fd, LOCK_EX | LOCK_NB);
    if (rc == 0 && still_linked(files, fd, path)) return KeyLock(files, fd);
    (void)files.close(fd);
    if (rc < 0 && rc != -EWOULDBLOCK && rc != -EINTR) return io_error(describe_errno("flock", path, rc));
    if (rc == 0) continue;  // held a lock on a removed file: take the new one
    if (std::chrono::steady_clock::now() >= deadline)
      return make_error(ErrorKind::not_found, "timed out waiting for " + path);
    std::this_thread::sleep_for(pause);
    pause = std::min<std::chrono::microseconds>(pause * 2, std::chrono::milliseconds(20));
  }
}

KeyLock::~KeyLock() {
  if (fd_ < 0) return;
  (void)files_->flock(fd_, LOCK_UN);
  (void)files_->close(fd_);
}

}  // namespace kvjit
