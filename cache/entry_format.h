// The entry file format. Every integer is little-endian; sizes are in bytes.
//
//   <entry>       ::= <header> <payload>
//   <header>      ::= <magic> <version> <key> <meta_size> <ptx_size> <cubin_size> <checksum>      (64 bytes)
//   <magic>       ::= "KVJM"                                          4 bytes
//   <version>     ::= uint32                                          kEntryFormatVersion
//   <key>         ::= uint64 high, uint64 low                         the key the entry was stored under
//   <meta_size>   ::= uint64
//   <ptx_size>    ::= uint64
//   <cubin_size>  ::= uint64
//   <checksum>    ::= uint64 high, uint64 low                         XXH3-128 of <payload>
//   <payload>     ::= <meta> <ptx> <cubin>                            exactly meta_size + ptx_size + cubin_size
//   <meta>        ::= <spec> <symbol> <backend> <options> <log> <resources> <shape> <compile_ms>
//   <spec>, <symbol>, <backend>, <log> ::= <str>
//   <options>     ::= uint32 count, <str> * count
//   <resources>   ::= int32 registers, shared_bytes, stack_bytes, spill_store_bytes, spill_load_bytes
//   <shape>       ::= int32 warps, heads_per_cta, unroll, tensor_cores (0 or 1; since version 2: the split rule
//                     reads it, so a kernel loaded from disk must plan like the one compiled), wide_warps (0 or
//                     a second CTA size the kernel runs with, warps < wide_warps <= 32; since version 3)
//   <compile_ms>  ::= float64 (IEEE-754 bits as uint64)
//   <str>         ::= uint32 size, bytes
//
// The key echo catches an entry copied or renamed to another key's path; the checksum catches truncation and
// bit flips in the payload; every header field is checked on its own. Changing anything above means bumping
// kEntryFormatVersion (which is also a key input, so old entries are never even looked up) and adding a
// golden entry under tests/unit/cache/data/.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "cache/entry.h"

namespace kvjit {

inline constexpr uint32_t kEntryFormatVersion = 3;
inline constexpr size_t kEntryHeaderBytes = 64;

struct EntryHeader {
  uint32_t version = 0;
  Key key;
  uint64_t meta_size = 0;
  uint64_t ptx_size = 0;
  uint64_t cubin_size = 0;
  Key checksum;
};

std::string serialize_entry(const Entry& entry);

// Checks magic, version and the payload sizes against `size` (the whole file's size), nothing else.
// Errors: "truncated: ...", "bad magic", "unsupported format version N (this build reads M)",
// "size mismatch: ..." (more bytes than the header accounts for).
Result<EntryHeader> parse_entry_header(std::string_view bytes, uint64_t size);

// Full check: the header as above, then "key mismatch: ..." against `expected`, "checksum mismatch", and
// "bad metadata: ..." for a payload whose checksum matches but whose fields do not parse.
Result<Entry> parse_entry(std::string_view bytes, const Key& expected);

}  // namespace kvjit
