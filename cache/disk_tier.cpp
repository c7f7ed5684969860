#include "cache/disk_tier.h"

#include "cache/atomic_file.h"
#include "cache/disk_maintenance.h"
#include "cache/entry_file.h"
#include "cache/entry_format.h"
#include "cache/verdict_store.h"

namespace kvjit {
namespace {

// A prune frees a tenth of the bound beyond what is needed, so the next writes do not each rescan.
uint64_t prune_target(uint64_t max_bytes) { return max_bytes - max_bytes / 10; }

}  // namespace

Result<std::unique_ptr<DiskTier>> DiskTier::open(FileOps& files, const std::string& dir, uint64_t max_bytes) {
  auto root = CacheRoot::open(files, dir, CacheRoot::Mode::create);
  if (!root) return root.error();
  (void)sweep_temp_files(*root);
  return std::unique_ptr<DiskTier>(new DiskTier(std::move(*root), max_bytes));
}

DiskLoad DiskTier::load(const Key& key) const {
  using Outcome = DiskLoad::Outcome;
  FileOps& files = root_.files();
  const std::string path = root_.entry_path(key);
  if (const Status dirs = root_.check_entry_dirs(key); !dirs)
    return dirs.error().kind == ErrorKind::not_found ? DiskLoad{}
                                                     : DiskLoad{Outcome::unreadable, nullptr, dirs.error().message, 0};
  auto file = read_entry_file(files, path);
  if (!file) {
    if (file.error().kind == ErrorKind::not_found) return DiskLoad{};
    if (remove_if_symlink(files, path)) return DiskLoad{Outcome::rejected, nullptr, file.error().message, 0};
    return DiskLoad{Outcome::unreadable, nullptr, file.error().message, 0};
  }
  const uint64_t bytes = file->bytes.size();
  auto entry = parse_entry(file->bytes, key);
  if (!entry) {
    (void)remove_if_unchanged(files, path, file->st);
    return DiskLoad{Outcome::rejected, nullptr, path + ": " + entry.error().message, bytes};
  }
  // The last-used stamp for LRU: mtime, which the cache controls (atime is often off or lazy).
  const struct timespec now[2] = {{0, UTIME_OMIT}, {0, UTIME_NOW}};
  (void)files.utimens(path, now);
  return DiskLoad{Outcome::hit, std::make_shared<const Entry>(std::move(*entry)), "", bytes};
}

Status DiskTier::write_entry(const Entry& entry, const std::string& bytes) const {
  KVJIT_TRY(root_.ensure_entry_dirs(entry.key));
  auto file = AtomicFile::create(root_.files(), root_.tmp_dir(), root_.entry_path(entry.key));
  if (!file) return file.error();
  KVJIT_TRY(file->write(bytes));
  return file->commit();
}

Result<DiskStore> DiskTier::store(const Entry& entry) {
  const std::string bytes = serialize_entry(entry);
  Status written = write_entry(entry, bytes);
  // `kvjit cache clear` in another process may remove a fan-out directory between mkdir and rename: once more.
  if (!written) {
    const Status dirs = root_.check_entry_dirs(entry.key);
    if (!dirs && dirs.error().kind == ErrorKind::not_found) written = write_entry(entry, bytes);
  }
  if (!written) return written.error();
  return account(entry.key, bytes.size());
}

DiskStore DiskTier::account(const Key& key, uint64_t bytes) {
  std::lock_guard lock(size_mu_);
  DiskStore out{bytes, 0, 0};
  if (!estimated_bytes_) {
    uint64_t total = 0;
    for (const StoredEntry& e : scan_entries(root_)) total += e.size;
    estimated_bytes_ = total;
  } else {
    *estimated_bytes_ += bytes;
  }
  if (*estimated_bytes_ > max_bytes_) {
    const PruneReport r = prune_entries(root_, max_bytes_, prune_target(max_bytes_), key);
    out.evicted = r.evicted;
    out.evicted_bytes = r.evicted_bytes;
    estimated_bytes_ = r.bytes_after();
  }
  return out;
}

bool DiskTier::remove(const Key& key) const {
  if (!root_.check_entry_dirs(key)) return false;  // never unlink through a planted symlink
  const bool removed = root_.files().unlink(root_.entry_path(key)) == 0;
  (void)root_.files().unlink(root_.lock_path(key));
  remove_verdicts(root_, key);
  root_.remove_empty_entry_dirs(key);
  return removed;
}

Result<KeyLock> DiskTier::lock(const Key& key, std::chrono::milliseconds wait) const {
  return KeyLock::acquire(root_, key, wait);
}

}  // namespace kvjit
