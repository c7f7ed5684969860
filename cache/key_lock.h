// KeyLock: a per-key advisory lock (flock on <root>/locks/<key>.lock) so that processes missing the same key at
// once compile it once: check, lock, check again, compile, publish, unlock. It is an optimisation only; entries
// are published by atomic rename and verified on read, so a missing or broken lock costs a duplicate compile,
// never a wrong result.
#pragma once

#include <chrono>
#include <string>

#include "cache/cache_root.h"

namespace kvjit {

class KeyLock {
 public:
  // Waits up to `wait` for the lock (polling, so a stuck holder cannot hang us forever). not_found: timed out.
  static Result<KeyLock> acquire(const CacheRoot& root, const Key& key, std::chrono::milliseconds wait);

  KeyLock(KeyLock&& other) noexcept : files_(other.files_), fd_(other.fd_) { other.fd_ = -1; }
  KeyLock& operator=(KeyLock&&) = delete;
  KeyLock(const KeyLock&) = delete;
  ~KeyLock();

 private:
  KeyLock(FileOps& files, int fd) : files_(&files), fd_(fd) {}
  FileOps* files_;
  int fd_;
};

}  // namespace kvjit
