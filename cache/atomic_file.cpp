#include "cache/atomic_file.h"

#include <fcntl.h>

#include <cerrno>

namespace kvjit {
namespace {

constexpr int kNameAttempts = 8;

Error io_error(std::string message) { return make_error(ErrorKind::io, std::move(message)); }

}  // namespace

Result<AtomicFile> AtomicFile::create(FileOps& files, const std::string& tmp_dir, std::string final_path) {
  int rc = -EEXIST;
  std::string path;
  for (int attempt = 0; attempt < kNameAttempts && rc == -EEXIST; ++attempt) {
    path = tmp_dir + "/" + files.random_name() + ".tmp";
    rc = files.open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
  }
  if (rc < 0) return io_error(describe_errno("open", path, rc));
  AtomicFile out(files, rc, path, std::move(final_path));
  if (const int c = files.fchmod(out.fd_, 0600); c < 0) return io_error(describe_errno("fchmod", path, c));
  return out;
}

AtomicFile::AtomicFile(AtomicFile&& other) noexcept
    : files_(other.files_),
      fd_(other.fd_),
      temp_path_(std::move(other.temp_path_)),
      final_path_(std::move(other.final_path_)),
      done_(other.done_) {
  other.fd_ = -1;
  other.done_ = true;
}

AtomicFile::~AtomicFile() { discard(); }

void AtomicFile::discard() {
  if (done_) return;
  done_ = true;
  if (fd_ >= 0) (void)files_->close(fd_);
  fd_ = -1;
  (void)files_->unlink(temp_path_);
}

Status AtomicFile::write(std::string_view bytes) {
  if (done_) return make_error(ErrorKind::internal, "write after commit: " + temp_path_);
  while (!bytes.empty()) {
    const ssize_t n = files_->write(fd_, bytes.data(), bytes.size());
    if (n == -EINTR) continue;
    if (n < 0) {
      const Error e = io_error(describe_errno("write", temp_path_, static_cast<int>(n)));
      discard();
      return e;
    }
    if (n == 0) {
      discard();
      return io_error("write " + temp_path_ + ": no progress");
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return Ok{};
}

Status AtomicFile::commit() {
  if (done_) return make_error(ErrorKind::internal, "commit after discard: " + temp_path_);
  auto fail = [this](const char* call, const std::string& path, int rc) {
    const Error e = io_error(describe_errno(call, path, rc));
    discard();
    return e;
  };
  if (const int rc = files_->fsync(fd_); rc < 0) return fail("fsync", temp_path_, rc);
  const int rc = files_->close(fd_);
  fd_ = -1;
  // A failed close after a successful fsync can still mean lost data on some filesystems (NFS): do not publish.
  if (rc < 0) return fail("close", temp_path_, rc);
  if (const int r = files_->rename(temp_path_, final_path_); r < 0) return fail("rename", final_path_, r);
  done_ = true;
  return Ok{};
}

}  // namespace kvjit
