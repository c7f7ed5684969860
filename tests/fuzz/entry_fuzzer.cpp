// Fuzzes the cache-entry reader with arbitrary bytes as an entry file. The reader may reject an input, or
// return an entry; an entry it returns must be exactly the verified bytes: serializing it again gives the
// input back, byte for byte (so nothing unchecked, unconsumed or made up reaches the caller).
//
// The first input byte picks how the rest is read:
//   0  parse_entry as given, expecting the key the header echoes (so the key check alone does not stop it)
//   1  parse_entry expecting another key: must be rejected
//   2  parse_entry after fixing up magic, version and checksum, so mutations reach the metadata parser
//   3  the same fixed-up bytes as a file in a disk cache, through DiskTier::load: a hit returns the verified
//      bytes, anything else is a rejection and the file is removed
#include <fcntl.h>
#include <unistd.h>
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "cache/disk_tier.h"
#include "cache/entry_format.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

uint64_t load_le64(const std::string& b, size_t at) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(static_cast<unsigned char>(b[at + i])) << (8 * i);
  return v;
}

void store_le64(std::string& b, size_t at, uint64_t v) {
  for (int i = 0; i < 8; ++i) b[at + i] = static_cast<char>(v >> (8 * i));
}

// The key a header echoes (bytes 8..23), or zero when the input is too short to have one.
kvjit::Key echoed_key(const std::string& b) {
  if (b.size() < 24) return kvjit::Key{};
  return kvjit::Key{load_le64(b, 8), load_le64(b, 16)};
}

// Valid magic and version, and the checksum of whatever payload follows the header.
void fix_up(std::string& b) {
  if (b.size() < kvjit::kEntryHeaderBytes) return;
  std::memcpy(b.data(), "KVJM\x03\x00\x00\x00", 8);
  static_assert(kvjit::kEntryFormatVersion == 3, "update the version bytes above");
  const XXH128_hash_t sum = XXH3_128bits(b.data() + kvjit::kEntryHeaderBytes, b.size() - kvjit::kEntryHeaderBytes);
  store_le64(b, 48, sum.high64);
  store_le64(b, 56, sum.low64);
}

void check_verified(const kvjit::Entry& entry, const std::string& bytes) {
  KVJIT_FUZZ_CHECK(kvjit::serialize_entry(entry) == bytes, "an accepted entry is exactly the bytes read");
}

// A disk cache in a private temporary directory for mode 3, removed at exit.
struct TempCache {
  std::string dir;
  std::unique_ptr<kvjit::DiskTier> tier;
  TempCache() {
    std::string pattern = std::filesystem::temp_directory_path().string() + "/kvjit_entry_fuzz.XXXXXX";
    KVJIT_FUZZ_CHECK(mkdtemp(pattern.data()) != nullptr, "a temporary directory");
    dir = pattern;
    auto opened = kvjit::DiskTier::open(kvjit::posix_file_ops(), dir + "/cache", uint64_t{1} << 30);
    KVJIT_FUZZ_CHECK(opened.ok(), "the temporary cache opens");
    tier = std::move(*opened);
  }
  ~TempCache() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

void load_from_disk(const std::string& bytes) {
  static TempCache cache;
  const kvjit::Key key = echoed_key(bytes);
  KVJIT_FUZZ_CHECK(cache.tier->root().ensure_entry_dirs(key).ok(), "entry directories");
  const std::string path = cache.tier->root().entry_path(key);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  KVJIT_FUZZ_CHECK(fd >= 0, "the entry file opens for writing");
  KVJIT_FUZZ_CHECK(::write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()), "write");
  ::close(fd);

  const kvjit::DiskLoad load = cache.tier->load(key);
  using Outcome = kvjit::DiskLoad::Outcome;
  if (load.outcome == Outcome::hit) {
    KVJIT_FUZZ_CHECK(load.entry != nullptr, "a hit has an entry");
    check_verified(*load.entry, bytes);
    KVJIT_FUZZ_CHECK(cache.tier->remove(key), "the hit entry is there to remove");
  } else {
    KVJIT_FUZZ_CHECK(load.outcome == Outcome::rejected, "a bad entry is rejected (not absent, not unreadable)");
    KVJIT_FUZZ_CHECK(!load.reason.empty() && load.entry == nullptr, "a rejection says why and returns nothing");
    KVJIT_FUZZ_CHECK(::access(path.c_str(), F_OK) != 0, "a rejected entry is removed");
    cache.tier->root().remove_empty_entry_dirs(key);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const int mode = data[0] & 3;
  std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (mode >= 2) fix_up(bytes);
  if (mode == 3) {
    load_from_disk(bytes);
    return 0;
  }
  kvjit::Key expected = echoed_key(bytes);
  if (mode == 1) expected.low ^= 1;
  auto entry = kvjit::parse_entry(bytes, expected);
  if (!entry) {
    KVJIT_FUZZ_CHECK(!entry.error().message.empty(), "a rejected entry says why");
    return 0;
  }
  KVJIT_FUZZ_CHECK(mode != 1, "an entry for another key is rejected");
  KVJIT_FUZZ_CHECK(entry->key == expected, "an accepted entry has the expected key");
  check_verified(*entry, bytes);
  return 0;
}
