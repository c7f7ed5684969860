// CacheRoot: the cache directory's layout and the rules for trusting it.
//
//   <root>/ab/cd/abcd<28 more hex>.kvjit   entries, addressed by the key digest only (two-level fan-out keeps
//                                          directories small: 1,000 entries spread over ~1,000 leaf dirs)
//   <root>/tmp/<16 hex>.tmp                files being written; renamed into place on commit, swept after an hour
//   <root>/locks/<32 hex>.lock             per-key advisory locks (flock)
//   <root>/CACHEDIR.TAG                    tells backup tools to skip the directory
//
// A root owned by another user, or writable by group or others, is refused: whoever can write there can make
// this process load their code. Directories the cache makes are 0700 whatever the umask, and every directory
// below the root must be a real directory (not a symlink) owned by this user.
#pragma once

#include <string>

#include "cache/file_ops.h"
#include "cache/key.h"
#include "compiler/result.h"

namespace kvjit {

class CacheRoot {
 public:
  enum class Mode { create, existing };

  // create: makes the root (and missing parents) and tmp/ and locks/. existing: fails with not_found when the
  // root is absent (for tools that only look).
  static Result<CacheRoot> open(FileOps& files, const std::string& dir, Mode mode);

  FileOps& files() const { return *files_; }
  const std::string& dir() const { return dir_; }
  std::string tmp_dir() const { return dir_ + "/tmp"; }
  std::string locks_dir() const { return dir_ + "/locks"; }
  std::string entry_path(const Key& key) const;
  std::string lock_path(const Key& key) const;

  // Makes <root>/ab and <root>/ab/cd for the key; fails if either exists as anything but our own directory.
  Status ensure_entry_dirs(const Key& key) const;
  // The same checks without creating: not_found when a directory is missing.
  Status check_entry_dirs(const Key& key) const;
  // Removes the key's two fan-out directories if they are empty, so scans stay proportional to the entries. A
  // writer that loses the race (its directory vanishes before its rename) recreates it and retries.
  void remove_empty_entry_dirs(const Key& key) const;
  // mkdir at 0700 (explicit chmod: the umask may have removed bits) unless present, then check_dir.
  Status ensure_dir(const std::string& path) const;
  // A real directory (lstat), owned by us, not writable by group or others.
  Status check_dir(const std::string& path) const;

 private:
  CacheRoot(FileOps& files, std::string dir) : files_(&files), dir_(std::move(dir)) {}
  FileOps* files_;
  std::string dir_;
};

inline constexpr const char* kEntrySuffix = ".kvjit";

}  // namespace kvjit
