// Whole-directory operations on a cache root: listing, LRU pruning, sweeping stale temporary files, clearing.
// Each works on what is on disk now, so `kvjit cache stats` in one process sees what every other process wrote.
#pragma once

#include <chrono>
#include <ctime>
#include <optional>
#include <string>
#include <vector>

#include "cache/cache_root.h"

namespace kvjit {

struct StoredEntry {
  Key key;
  std::string path;
  uint64_t size = 0;
  struct timespec last_used {};  // the file's mtime: set on write and on every disk hit (not atime)
  struct stat st {};
};

// Entries in the fan-out directories whose file names are keys under the right prefixes. Oldest first.
std::vector<StoredEntry> scan_entries(const CacheRoot& root);

struct PruneReport {
  uint64_t entries_before = 0;
  uint64_t bytes_before = 0;
  uint64_t evicted = 0;
  uint64_t evicted_bytes = 0;
  uint64_t temp_removed = 0;
  uint64_t entries_after() const { return entries_before - evicted; }
  uint64_t bytes_after() const { return bytes_before - evicted_bytes; }
};

// When the entries exceed `max_bytes`, removes least recently used ones until they fit in `target_bytes`
// (≤ max_bytes; a lower target leaves room so the next few writes do not prune again). `keep` is never evicted
// (the entry just written). An entry touched or replaced since the scan is skipped. Also sweeps temporary files.
PruneReport prune_entries(const CacheRoot& root, uint64_t max_bytes, uint64_t target_bytes,
                          const std::optional<Key>& keep = std::nullopt);

// Removes files in tmp/ older than `max_age`: the leftovers of writers that crashed before commit.
inline constexpr std::chrono::seconds kTempMaxAge{3600};
uint64_t sweep_temp_files(const CacheRoot& root, std::chrono::seconds max_age = kTempMaxAge);

struct ClearReport {
  uint64_t entries = 0;
  uint64_t bytes = 0;
  uint64_t temp_files = 0;
  uint64_t lock_files = 0;
  uint64_t verdict_files = 0;
};
// Removes every entry, temporary file (whatever its age), lock file and self-test verdict file, then the empty
// fan-out directories.
ClearReport clear_entries(const CacheRoot& root);

// One entry as read and checked for `list` and `verify`.
struct InspectedEntry {
  StoredEntry stored;
  std::string spec;    // empty when the entry did not parse
  uint64_t ptx_bytes = 0;
  uint64_t cubin_bytes = 0;
  std::string error;   // why the entry is bad; empty when it is good
};
std::vector<InspectedEntry> inspect_entries(const CacheRoot& root);

}  // namespace kvjit
