#include "cache/entry_format.h"

#include <gtest/gtest.h>

#include <functional>
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include "cache/byte_io.h"
#include "tests/unit/cache/cache_test_support.h"

namespace kvjit {
namespace {

// Literal, so the golden bytes do not depend on the compiler's options or launch shapes.
Entry golden_entry() {
  Entry e;
  e.key = Key{0x0123456789abcdefull, 0x1122334455667788ull};
  e.spec = "decode:hd=128,page=16,gqa=4,kv=f16,q=f16,layout=nhd,paging=table,arch=sm_90";
  e.symbol = "kvjit_decode_hd_128_page_16_gqa_4_kv_f16_q_f16_layout_nhd_paging_table_arch_sm_90";
  e.backend = "nvrtc 13.0";
  e.options = {"--gpu-architecture=sm_90", "--std=c++17"};
  e.log = "ptxas info    : Used 40 registers";
  e.ptx = ".version 8.0\n.target sm_90\n";
  e.cubin = {0x7f, 'E', 'L', 'F', 2, 1, 1, 0};
  e.resources = ResourceReport{40, 8320, 0, 0, 0};
  e.shape = LaunchShape{4, 2, 2, true, 6};
  e.compile_ms = 437.5;
  return e;
}

std::string golden_path(uint32_t version) {
  return std::string(KVJIT_CACHE_TEST_DATA) + "/entry_v" + std::to_string(version) + ".kvjit";
}

TEST(EntryFormatTest, RoundTrips) {
  const Entry e = make_entry(Key{5, 6}, test::fake_kernel(test::test_spec(7)));
  const std::string bytes = serialize_entry(e);
  auto back = parse_entry(bytes, e.key);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_TRUE(*back == e);
}

// The split rule reads the tensor-core flag: an entry read back must plan like the kernel it stores.
TEST(EntryFormatTest, TheTensorCoreFlagRoundTrips) {
  for (bool flag : {false, true}) {
    Entry e = golden_entry();
    e.shape.tensor_cores = flag;
    auto back = parse_entry(serialize_entry(e), e.key);
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(back->shape.tensor_cores, flag);
  }
}

// The launch plan chooses between the two CTA sizes: a kernel read back must offer the same two.
TEST(EntryFormatTest, TheSecondCtaSizeRoundTrips) {
  for (int wide : {0, 6, 32}) {
    Entry e = golden_entry();
    e.shape.wide_warps = wide;
    auto back = parse_entry(serialize_entry(e), e.key);
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(back->shape.wide_warps, wide);
    EXPECT_EQ(back->shape.bound_threads(), 32 * (wide > 0 ? wide : 4));
  }
}

TEST(EntryFormatTest, EmptyPtxAndCubinRoundTrip) {
  Entry e = golden_entry();
  e.ptx.clear();
  e.cubin.clear();
  e.options.clear();
  auto back = parse_entry(serialize_entry(e), e.key);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_TRUE(*back == e);
}

TEST(EntryFormatTest, HeaderDescribesThePayload) {
  const Entry e = golden_entry();
  const std::string bytes = serialize_entry(e);
  auto h = parse_entry_header(bytes, bytes.size());
  ASSERT_TRUE(h) << h.error().message;
  EXPECT_EQ(h->version, kEntryFormatVersion);
  EXPECT_EQ(h->key, e.key);
  EXPECT_EQ(h->ptx_size, e.ptx.size());
  EXPECT_EQ(h->cubin_size, e.cubin.size());
  EXPECT_EQ(kEntryHeaderBytes + h->meta_size + h->ptx_size + h->cubin_size, bytes.size());
  EXPECT_EQ(bytes.substr(0, 4), "KVJM");
}

// The committed golden for this format version must still read, and serializing must reproduce it exactly.
// If this fails after a format change: bump kEntryFormatVersion and commit a new golden next to the old one.
TEST(EntryFormatTest, GoldenEntryForThisVersion) {
  const std::string golden = test::read_file(golden_path(kEntryFormatVersion));
  ASSERT_FALSE(golden.empty()) << "missing " << golden_path(kEntryFormatVersion);
  EXPECT_EQ(serialize_entry(golden_entry()), golden) << "entry format changed: bump kEntryFormatVersion";
  auto parsed = parse_entry(golden, golden_entry().key);
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_TRUE(*parsed == golden_entry());
}

std::string with_u32(std::string bytes, size_t offset, uint32_t v) {
  for (int i = 0; i < 4; ++i) bytes[offset + i] = static_cast<char>(v >> (8 * i));
  return bytes;
}

std::string with_u64(std::string bytes, size_t offset, uint64_t v) {
  for (int i = 0; i < 8; ++i) bytes[offset + i] = static_cast<char>(v >> (8 * i));
  return bytes;
}

// A payload whose checksum is right but whose metadata is not: only a writer bug could produce it.
std::string with_meta(const std::string& meta) {
  Entry e = golden_entry();
  e.ptx.clear();
  e.cubin.clear();
  std::string bytes = serialize_entry(e);
  bytes.resize(kEntryHeaderBytes);
  bytes = with_u64(bytes, 24, meta.size());
  const XXH128_hash_t h = XXH3_128bits(meta.data(), meta.size());
  bytes = with_u64(bytes, 48, h.high64);
  bytes = with_u64(bytes, 56, h.low64);
  return bytes + meta;
}

// The smallest well-formed metadata: three empty names, no options, empty log, a zero report but for the
// shape's warps, the given tensor-core flag and second CTA size (the shape's last fields).
std::string minimal_meta_with_shape(int32_t tensor_cores, int32_t wide_warps) {
  std::string m;
  bytes::Writer w(m);
  for (int i = 0; i < 3; ++i) w.str("");
  w.u32(0);
  w.str("");
  for (int i = 0; i < 5; ++i) w.i32(0);  // resources
  for (int v : {4, 0, 0}) w.i32(v);       // warps, heads_per_cta, unroll
  w.i32(tensor_cores);
  w.i32(wide_warps);
  w.f64(0);
  return m;
}
std::string minimal_meta() { return minimal_meta_with_shape(0, 0); }

// One row per bad input, with the message it must produce.
TEST(EntryFormatTest, BadEntriesSayWhatIsWrong) {
  const Entry e = golden_entry();
  const std::string good = serialize_entry(e);
  std::string flipped_payload = good;
  flipped_payload[kEntryHeaderBytes + 3] ^= 0x10;
  std::string flipped_sum = good;
  flipped_sum[60] ^= 0x01;
  struct Row {
    const char* name;
    std::string bytes;
    std::string message_prefix;
  };
  const std::vector<Row> rows = {
      {"empty", "", "truncated: 0 bytes, the header needs 64"},
      {"one byte", good.substr(0, 1), "truncated: 1 bytes, the header needs 64"},
      {"header minus one", good.substr(0, kEntryHeaderBytes - 1), "truncated: 63 bytes, the header needs 64"},
      {"header only", good.substr(0, kEntryHeaderBytes), "truncated: header promises"},
      {"length minus one", good.substr(0, good.size() - 1), "truncated: header promises"},
      {"extra byte", good + "x", "size mismatch: 1 bytes after"},
      {"bad magic", "X" + good.substr(1), "bad magic"},
      {"other version", with_u32(good, 4, kEntryFormatVersion + 1),
       "unsupported format version " + std::to_string(kEntryFormatVersion + 1) + " (this build reads " +
           std::to_string(kEntryFormatVersion) + ")"},
      {"version zero", with_u32(good, 4, 0), "unsupported format version 0"},
      {"other key", with_u64(good, 16, 42), "key mismatch: the entry is for"},
      {"huge size", with_u64(good, 40, ~uint64_t{0}), "truncated: header promises"},
      {"payload bit", flipped_payload, "checksum mismatch"},
      {"checksum bit", flipped_sum, "checksum mismatch"},
      {"empty meta", with_meta(""), "bad metadata: names cut short"},
      {"meta with too many options",
       with_meta(std::string("\0\0\0\0\0\0\0\0\0\0\0\0\xff\xff\xff\x7f", 16)), "bad metadata: 2147483647 options"},
      {"meta with a tensor-core flag of 2", with_meta(minimal_meta_with_shape(2, 0)),
       "bad metadata: tensor_cores 2 (0 or 1)"},
      {"meta with a second CTA size no larger than the first", with_meta(minimal_meta_with_shape(1, 4)),
       "bad metadata: wide_warps 4 (0, or more than warps 4 and at most 32)"},
      {"meta with a second CTA size past 32 warps", with_meta(minimal_meta_with_shape(1, 33)),
       "bad metadata: wide_warps 33 (0, or more than warps 4 and at most 32)"},
      {"meta with a negative second CTA size", with_meta(minimal_meta_with_shape(1, -6)),
       "bad metadata: wide_warps -6 (0, or more than warps 4 and at most 32)"},
      {"meta with trailing bytes", with_meta(minimal_meta() + "!"),
       "bad metadata: 1 trailing bytes"},
  };
  ASSERT_TRUE(parse_entry(with_meta(minimal_meta()), e.key)) << "the bad-metadata rows start from a good entry";
  for (const Row& row : rows) {
    auto parsed = parse_entry(row.bytes, e.key);
    ASSERT_FALSE(parsed) << row.name;
    EXPECT_EQ(parsed.error().message.substr(0, row.message_prefix.size()), row.message_prefix)
        << row.name << ": " << parsed.error().message;
  }
}

// Every single-bit flip anywhere in an entry is detected: the header fields are each checked, the payload is
// under the checksum.
TEST(EntryFormatTest, EveryBitFlipIsDetected) {
  const Entry e = golden_entry();
  const std::string good = serialize_entry(e);
  for (size_t byte = 0; byte < good.size(); ++byte)
    for (int bit = 0; bit < 8; ++bit) {
      std::string bad = good;
      bad[byte] = static_cast<char>(bad[byte] ^ (1 << bit));
      EXPECT_FALSE(parse_entry(bad, e.key)) << "byte " << byte << " bit " << bit;
    }
}

}  // namespace
}  // namespace kvjit
