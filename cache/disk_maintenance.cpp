#include "cache/disk_maintenance.h"

#include <algorithm>
#include <cerrno>

#include "cache/entry_file.h"
#include "cache/entry_format.h"
#include "cache/verdict_store.h"

namespace kvjit {
namespace {

bool is_hex_pair(const std::string& name) {
  auto hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); };
  return name.size() == 2 && hex(name[0]) && hex(name[1]);
}

bool older(const struct timespec& a, const struct timespec& b) {
  return a.tv_sec != b.tv_sec ? a.tv_sec < b.tv_sec : a.tv_nsec < b.tv_nsec;
}

std::vector<std::string> list(FileOps& files, const std::string& dir) {
  std::vector<std::string> names;
  if (files.list_dir(dir, &names) < 0) names.clear();
  std::sort(names.begin(), names.end());
  return names;
}

// Entries under <dir>/<a>/<b>/ whose names start with a+b and parse as keys.
void scan_leaf(const CacheRoot& root, const std::string& a, const std::string& b, std::vector<StoredEntry>& out) {
  FileOps& files = root.files();
  const std::string leaf = root.dir() + "/" + a + "/" + b;
  const std::string suffix = kEntrySuffix;
  for (const std::string& name : list(files, leaf)) {
    if (name.size() != 32 + suffix.size() || name.compare(32, suffix.size(), suffix) != 0) continue;
    const auto key = parse_key(name.substr(0, 32));
    if (!key || name.compare(0, 4, a + b) != 0 || key->hex() != name.substr(0, 32)) continue;
    StoredEntry e;
    e.key = *key;
    e.path = leaf + "/" + name;
    if (files.lstat(e.path, &e.st) < 0 || !S_ISREG(e.st.st_mode)) continue;
    e.size = static_cast<uint64_t>(e.st.st_size);
    e.last_used = e.st.st_mtim;
    out.push_back(std::move(e));
  }
}

}  // namespace

std::vector<StoredEntry> scan_entries(const CacheRoot& root) {
  std::vector<StoredEntry> out;
  for (const std::string& a : list(root.files(), root.dir())) {
    if (!is_hex_pair(a) || !root.check_dir(root.dir() + "/" + a).ok()) continue;
    for (const std::string& b : list(root.files(), root.dir() + "/" + a))
      if (is_hex_pair(b) && root.check_dir(root.dir() + "/" + a + "/" + b).ok()) scan_leaf(root, a, b, out);
  }
  std::sort(out.begin(), out.end(), [](const StoredEntry& x, const StoredEntry& y) {
    return older(x.last_used, y.last_used) || (!older(y.last_used, x.last_used) && x.key < y.key);
  });
  return out;
}

PruneReport prune_entries(const CacheRoot& root, uint64_t max_bytes, uint64_t target_bytes,
                          const std::optional<Key>& keep) {
  PruneReport r;
  r.temp_removed = sweep_temp_files(root);
  const std::vector<StoredEntry> entries = scan_entries(root);
  r.entries_before = entries.size();
  for (const StoredEntry& e : entries) r.bytes_before += e.size;
  if (r.bytes_before <= max_bytes) return r;
  target_bytes = std::min(target_bytes, max_bytes);
  for (const StoredEntry& e : entries) {
    if (r.bytes_after() <= target_bytes) break;
    if (keep && e.key == *keep) continue;
    if (!remove_if_unchanged(root.files(), e.path, e.st)) continue;
    (void)root.files().unlink(root.lock_path(e.key));
    remove_verdicts(root, e.key);
    root.remove_empty_entry_dirs(e.key);
    ++r.evicted;
    r.evicted_bytes += e.size;
  }
  return r;
}

uint64_t sweep_temp_files(const CacheRoot& root, std::chrono::seconds max_age) {
  FileOps& files = root.files();
  struct timespec now {};
  clock_gettime(CLOCK_REALTIME, &now);
  uint64_t removed = 0;
  for (const std::string& name : list(files, root.tmp_dir())) {
    const std::string path = root.tmp_dir() + "/" + name;
    struct stat st {};
    if (files.lstat(path, &st) < 0 || S_ISDIR(st.st_mode)) continue;
    if (now.tv_sec - st.st_mtim.tv_sec < max_age.count()) continue;
    if (files.unlink(path) == 0) ++removed;
  }
  return removed;
}

ClearReport clear_entries(const CacheRoot& root) {
  FileOps& files = root.files();
  ClearReport r;
  for (const StoredEntry& e : scan_entries(root)) {
    if (files.unlink(e.path) != 0) continue;
    ++r.entries;
    r.bytes += e.size;
  }
  r.temp_files = sweep_temp_files(root, std::chrono::seconds(0));
  for (const std::string& name : list(files, root.locks_dir()))
    if (files.unlink(root.locks_dir() + "/" + name) == 0) ++r.lock_files;
  if (root.check_dir(verdicts_dir(root)).ok())  // never unlink through a planted symlink
    for (const std::string& name : list(files, verdicts_dir(root)))
      if (files.unlink(verdicts_dir(root) + "/" + name) == 0) ++r.verdict_files;
  // Fan-out directories go too when empty; one a concurrent writer is filling stays (rmdir fails).
  for (const std::string& a : list(files, root.dir())) {
    if (!is_hex_pair(a) || !root.check_dir(root.dir() + "/" + a).ok()) continue;
    for (const std::string& b : list(files, root.dir() + "/" + a))
      if (is_hex_pair(b)) (void)files.rmdir(root.dir() + "/" + a + "/" + b);
    (void)files.rmdir(root.dir() + "/" + a);
  }
  return r;
}

std::vector<InspectedEntry> inspect_entries(const CacheRoot& root) {
  std::vector<InspectedEntry> out;
  for (StoredEntry& stored : scan_entries(root)) {
    InspectedEntry e;
    e.stored = std::move(stored);
    auto file = read_entry_file(root.files(), e.stored.path);
    if (!file) {
      e.error = file.error().message;
    } else if (auto entry = parse_entry(file->bytes, e.stored.key); !entry) {
      e.error = entry.error().message;
    } else {
      e.spec = entry->spec;
      e.ptx_bytes = entry->ptx.size();
      e.cubin_bytes = entry->cubin.size();
    }
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace kvjit
