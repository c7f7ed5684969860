// Reading entry files and removing bad ones. Entries are read with read() into memory, never mmap'ed: a file
// truncated or replaced under a mapping would fault (SIGBUS) or change after it was verified.
#pragma once

#include <sys/stat.h>

#include <string>

#include "cache/file_ops.h"
#include "compiler/result.h"

namespace kvjit {

struct EntryFile {
  std::string bytes;
  struct stat st {};  // of the file that was read, for remove_if_unchanged
};

// O_NOFOLLOW: a symlink at an entry path is not followed (io error "... is a symlink"). not_found when absent.
Result<EntryFile> read_entry_file(FileOps& files, const std::string& path);

// Removes `path` only if it is still the file described by `seen` (inode, size, mtime): another process may
// have replaced a bad entry with a good one since we read it. A symlink is removed outright (unlink does not
// follow it). Returns true when something was removed.
bool remove_if_unchanged(FileOps& files, const std::string& path, const struct stat& seen);
bool remove_if_symlink(FileOps& files, const std::string& path);

}  // namespace kvjit
