// AtomicFile: writes under a fresh random name in the cache's tmp/ directory and makes the bytes visible at
// their final path only on commit(): write, fsync, rename. Destroying an uncommitted file removes the temporary
// and leaves the final path as it was, so a failure at any step — or a crash, after which the temporary is
// swept — never exposes half-written data. (ccache's AtomicFile makes the same choice: the destructor does not
// commit.)
#pragma once

#include <string>
#include <string_view>

#include "cache/file_ops.h"
#include "compiler/result.h"

namespace kvjit {

class AtomicFile {
 public:
  // Opens <tmp_dir>/<random>.tmp with O_CREAT|O_EXCL|O_NOFOLLOW at 0600 (fchmod'ed: the umask does not apply),
  // retrying a few names if one is taken (a planted file or symlink is never opened).
  static Result<AtomicFile> create(FileOps& files, const std::string& tmp_dir, std::string final_path);

  AtomicFile(AtomicFile&& other) noexcept;
  AtomicFile& operator=(AtomicFile&&) = delete;
  AtomicFile(const AtomicFile&) = delete;
  ~AtomicFile();

  Status write(std::string_view bytes);
  // fsync, close, rename over the final path. After a failure the temporary is removed.
  Status commit();

  const std::string& temp_path() const { return temp_path_; }

 private:
  AtomicFile(FileOps& files, int fd, std::string temp_path, std::string final_path)
      : files_(&files), fd_(fd), temp_path_(std::move(temp_path)), final_path_(std::move(final_path)) {}
  void discard();

  FileOps* files_;
  int fd_ = -1;
  std::string temp_path_;
  std::string final_path_;
  bool done_ = false;  // committed or discarded
};

}  // namespace kvjit
