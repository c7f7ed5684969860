// DiskTier: entries on disk, shared by every process of this user. Reads verify everything (a bad entry is a
// miss: reported, removed if unchanged, never returned); writes go through AtomicFile; a size bound evicts least
// recently used entries.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "cache/cache_root.h"
#include "cache/entry.h"
#include "cache/key_lock.h"

namespace kvjit {

struct DiskLoad {
  enum class Outcome {
    hit,
    absent,
    rejected,    // present but bad: truncated, corrupt, misplaced, another format version, a symlink
    unreadable,  // an I/O error reading it; left in place
  };
  Outcome outcome = Outcome::absent;
  std::shared_ptr<const Entry> entry;  // hit only
  std::string reason;                  // rejected, unreadable: what was wrong
  uint64_t bytes = 0;                  // read from disk
};

struct DiskStore {
  uint64_t bytes = 0;  // written
  uint64_t evicted = 0;
  uint64_t evicted_bytes = 0;
};

class DiskTier {
 public:
  // Opens (creating) and checks the root (see CacheRoot), and sweeps stale temporary files.
  static Result<std::unique_ptr<DiskTier>> open(FileOps& files, const std::string& dir, uint64_t max_bytes);

  DiskLoad load(const Key& key) const;
  // Writes the entry under its key; prunes when this process's view of the size exceeds the bound.
  Result<DiskStore> store(const Entry& entry);
  // Removes the key's entry (and its lock file); true when an entry was there.
  bool remove(const Key& key) const;
  Result<KeyLock> lock(const Key& key, std::chrono::milliseconds wait) const;

  const CacheRoot& root() const { return root_; }
  uint64_t max_bytes() const { return max_bytes_; }

 private:
  DiskTier(CacheRoot root, uint64_t max_bytes) : root_(std::move(root)), max_bytes_(max_bytes) {}
  Status write_entry(const Entry& entry, const std::string& bytes) const;
  DiskStore account(const Key& key, uint64_t bytes);

  CacheRoot root_;
  uint64_t max_bytes_;
  // This process's estimate of the bytes on disk: measured by a scan at the first write, then advanced by each
  // write, re-measured by each prune. Other processes' writes show up at our next prune.
  std::mutex size_mu_;
  std::optional<uint64_t> estimated_bytes_;
};

}  // namespace kvjit
