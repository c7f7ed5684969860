#include "cache/cache_root.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <string_view>

namespace kvjit {
namespace {

constexpr std::string_view kCacheDirTag =
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This file is a cache directory tag created by kvjit.\n"
    "# For information about cache directory tags see https://bford.info/cachedir/\n";

Error io_error(std::string message) { return make_error(ErrorKind::io, std::move(message)); }

Status check_trusted(const std::string& path, const struct stat& st) {
  if (st.st_uid != geteuid())
    return io_error(fmt::format("refusing cache directory {}: owned by uid {}, not {}", path, st.st_uid, geteuid()));
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
    return io_error(fmt::format("refusing cache directory {}: writable by group or others (mode {:04o})", path,
                                st.st_mode & 07777));
  return Ok{};
}

// mkdir -p for the root's missing components, each at 0700.
Status make_parents(FileOps& files, const std::string& dir) {
  for (size_t slash = dir.find('/', 1); ; slash = dir.find('/', slash + 1)) {
    const std::string part = dir.substr(0, slash);
    const int rc = files.mkdir(part, 0700);
    if (rc < 0 && rc != -EEXIST) return io_error(describe_errno("mkdir", part, rc));
    if (rc == 0) (void)files.chmod(part, 0700);
    if (slash == std::string::npos) return Ok{};
  }
}

void write_tag(FileOps& files, const std::string& path) {
  const int fd = files.open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
  if (fd < 0) return;  // present already, or a read-only root: the tag is a courtesy
  (void)files.fchmod(fd, 0600);
  (void)files.write(fd, kCacheDirTag.data(), kCacheDirTag.size());
  (void)files.close(fd);
}

}  // namespace

Result<CacheRoot> CacheRoot::open(FileOps& files, const std::string& dir, Mode mode) {
  if (dir.empty() || dir.front() != '/') return io_error("cache directory must be an absolute path: '" + dir + "'");
  std::string root = dir;
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  if (mode == Mode::create) KVJIT_TRY(make_parents(files, root));
  // The root itself may be a symlink (a cache moved to another disk); what it points at must be trusted.
  struct stat st {};
  if (const int rc = files.stat(root, &st); rc < 0)
    return rc == -ENOENT ? make_error(ErrorKind::not_found, "no cache directory at " + root)
                         : io_error(describe_errno("stat", root, rc));
  if (!S_ISDIR(st.st_mode)) return io_error("refusing cache directory " + root + ": not a directory");
  KVJIT_TRY(check_trusted(root, st));
  CacheRoot out(files, root);
  if (mode == Mode::create) {
    KVJIT_TRY(out.ensure_dir(out.tmp_dir()));
    KVJIT_TRY(out.ensure_dir(out.locks_dir()));
    write_tag(files, root + "/CACHEDIR.TAG");
  }
  return out;
}

std::string CacheRoot::entry_path(const Key& key) const {
  const std::string hex = key.hex();
  return fmt::format("{}/{}/{}/{}{}", dir_, hex.substr(0, 2), hex.substr(2, 2), hex, kEntrySuffix);
}

std::string CacheRoot::lock_path(const Key& key) const { return locks_dir() + "/" + key.hex() + ".lock"; }

Status CacheRoot::check_dir(const std::string& path) const {
  struct stat st {};
  if (const int rc = files_->lstat(path, &st); rc < 0)
    return rc == -ENOENT ? make_error(ErrorKind::not_found, "missing " + path) : io_error(describe_errno("lstat", path, rc));
  if (!S_ISDIR(st.st_mode)) return io_error("not a directory (a symlink or file was planted?): " + path);
  return check_trusted(path, st);
}

Status CacheRoot::ensure_dir(const std::string& path) const {
  const int rc = files_->mkdir(path, 0700);
  if (rc < 0 && rc != -EEXIST) return io_error(describe_errno("mkdir", path, rc));
  if (rc == 0) {
    if (const int c = files_->chmod(path, 0700); c < 0) return io_error(describe_errno("chmod", path, c));
  }
  return check_dir(path);
}

Status CacheRoot::ensure_entry_dirs(const Key& key) const {
  const std::string hex = key.hex();
  KVJIT_TRY(ensure_dir(dir_ + "/" + hex.substr(0, 2)));
  return ensure_dir(dir_ + "/" + hex.substr(0, 2) + "/" + hex.substr(2, 2));
}

void CacheRoot::remove_empty_entry_dirs(const Key& key) const {
  const std::string hex = key.hex();
  if (files_->rmdir(dir_ + "/" + hex.substr(0, 2) + "/" + hex.substr(2, 2)) == 0)
    (void)files_->rmdir(dir_ + "/" + hex.substr(0, 2));
}

Status CacheRoot::check_entry_dirs(const Key& key) const {
  const std::string hex = key.hex();
  KVJIT_TRY(check_dir(dir_ + "/" + hex.substr(0, 2)));
  return check_dir(dir_ + "/" + hex.substr(0, 2) + "/" + hex.substr(2, 2));
}

}  // namespace kvjit
