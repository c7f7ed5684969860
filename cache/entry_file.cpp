#include "cache/entry_file.h"

#include <fcntl.h>

#include <cerrno>

namespace kvjit {
namespace {

// Larger than any module; a bigger "entry" is not ours and is not read into memory.
constexpr off_t kMaxEntryBytes = off_t{1} << 31;

Error io_error(std::string message) { return make_error(ErrorKind::io, std::move(message)); }

bool same_time(const struct timespec& a, const struct timespec& b) {
  return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

}  // namespace

Result<EntryFile> read_entry_file(FileOps& files, const std::string& path) {
  const int fd = files.open(path, O_RDONLY | O_NOFOLLOW, 0);
  if (fd == -ENOENT) return make_error(ErrorKind::not_found, "no entry at " + path);
  if (fd == -ELOOP) return io_error(path + " is a symlink");
  if (fd < 0) return io_error(describe_errno("open", path, fd));
  EntryFile out;
  auto fail = [&](Error e) {
    (void)files.close(fd);
    return e;
  };
  if (const int rc = files.fstat(fd, &out.st); rc < 0) return fail(io_error(describe_errno("fstat", path, rc)));
  if (!S_ISREG(out.st.st_mode)) return fail(io_error(path + " is not a regular file"));
  if (out.st.st_size > kMaxEntryBytes) return fail(io_error(path + " is too large to be an entry"));
  out.bytes.resize(static_cast<size_t>(out.st.st_size));
  size_t done = 0;
  while (done < out.bytes.size()) {
    const ssize_t n = files.read(fd, out.bytes.data() + done, out.bytes.size() - done);
    if (n == -EINTR) continue;
    if (n < 0) return fail(io_error(describe_errno("read", path, static_cast<int>(n))));
    if (n == 0) break;  // shrank since fstat: the parser reports it as truncated
    done += static_cast<size_t>(n);
  }
  out.bytes.resize(done);
  (void)files.close(fd);
  return out;
}

bool remove_if_unchanged(FileOps& files, const std::string& path, const struct stat& seen) {
  struct stat now {};
  if (files.lstat(path, &now) < 0) return false;
  if (now.st_ino != seen.st_ino || now.st_dev != seen.st_dev || now.st_size != seen.st_size ||
      !same_time(now.st_mtim, seen.st_mtim))
    return false;
  return files.unlink(path) == 0;
}

bool remove_if_symlink(FileOps& files, const std::string& path) {
  struct stat now {};
  return files.lstat(path, &now) == 0 && S_ISLNK(now.st_mode) && files.unlink(path) == 0;
}

}  // namespace kvjit
