// Invalid specs: one row per bad input with its exact message. A message names the field, repeats the value
// as given and says what is allowed, so a user can fix a shape list without reading the source.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "compiler/spec.h"

namespace kvjit {
namespace {

const std::string kFields = "(fields: hd (head_dim), page (page_size), gqa, kv, q, layout, paging, arch, softcap, scale (scale_dtype), mma, backend)";
const std::string kArchList =
    "must be one of auto, sm_80, sm_86, sm_87, sm_89, sm_90, sm_90a, sm_100, sm_100a, sm_103, sm_103a, sm_120, "
    "sm_120a";
const std::string kHeadDimRule = "must be a multiple of 16 in [32, 512]";
const std::string kQ8HeadDimRule = "must be a multiple of 32 in [32, 512] for kv=q8";
const std::string kPageRule = "must be a power of two in [1, 256]";
const std::string kGqaRule = "must be an integer in [1, 64]";
const std::string kKvRule = "must be one of f16, bf16, int8, q8, e4m3, e5m2";
const std::string kPagingRule = "must be one of table, csr, contig";
const std::string kKindRule = "must be one of decode, append";
// A numeric value that is not a plain decimal integer (or has more than 9 digits) says so before the range.
const std::string kHeadDimNotInteger = "must be a decimal integer; a multiple of 16 in [32, 512]";
const std::string kPageNotInteger = "must be a decimal integer; a power of two in [1, 256]";
const std::string kGqaNotInteger = "must be a decimal integer; an integer in [1, 64]";
const std::string kMissing = "missing value; ";

struct BadSpec {
  std::string text;
  std::string message;
};

const std::vector<BadSpec>& bad_specs() {
  static const std::vector<BadSpec> rows = {
      // The example the documentation quotes.
      {"decode:hd=100,page=16,gqa=4,kv=f16,q=f16,arch=sm_90", "head_dim=100: must be a multiple of 16 in [32, 512]"},
      // head_dim: range, step, q8's step whatever the order of the fields
      {"decode:hd=100", "head_dim=100: " + kHeadDimRule},
      {"decode:hd=16", "head_dim=16: " + kHeadDimRule},
      {"decode:hd=0", "head_dim=0: " + kHeadDimRule},
      {"decode:hd=528", "head_dim=528: " + kHeadDimRule},
      {"decode:hd=1024", "head_dim=1024: " + kHeadDimRule},
      {"decode:head_dim=72", "head_dim=72: " + kHeadDimRule},
      {"decode:hd=0100", "head_dim=0100: " + kHeadDimRule},
      {"decode:hd=48,kv=q8", "head_dim=48: " + kQ8HeadDimRule},
      {"decode:kv=q8,hd=80", "head_dim=80: " + kQ8HeadDimRule},
      {"decode:hd=0x40,kv=q8", "head_dim=0x40: must be a decimal integer; a multiple of 32 in [32, 512] for kv=q8"},
      {"decode:hd=,kv=q8", "head_dim=: " + kMissing + kQ8HeadDimRule},
      // page_size
      {"decode:page=3", "page_size=3: " + kPageRule},
      {"decode:page=0", "page_size=0: " + kPageRule},
      {"decode:page=512", "page_size=512: " + kPageRule},
      {"decode:page=24", "page_size=24: " + kPageRule},
      {"decode:page_size=0", "page_size=0: " + kPageRule},
      // gqa
      {"decode:gqa=0", "gqa=0: " + kGqaRule},
      {"decode:gqa=65", "gqa=65: " + kGqaRule},
      {"decode:gqa=128", "gqa=128: " + kGqaRule},
      // backend
      {"decode:backend=gcc", "backend=gcc: must be one of nvrtc, llvm"},
      {"decode:kv=q8,scale=f64", "scale_dtype=f64: must be one of f16, f32"},
      {"decode:scale=f32", "scale_dtype=f32: needs kv=int8 or kv=q8 (the formats with scale pools); kv=f16 has none"},
      {"append:kv=e4m3,scale_dtype=f32", "scale_dtype=f32: needs kv=int8 or kv=q8 (the formats with scale pools); kv=e4m3 has none"},
      {"decode:backend=", "backend=: missing value; must be one of nvrtc, llvm"},
      // unknown enum values (case matters)
      {"decode:kv=fp8", "kv=fp8: " + kKvRule},
      {"decode:kv=F16", "kv=F16: " + kKvRule},
      {"decode:kv=int4", "kv=int4: " + kKvRule},
      {"decode:q=int8", "q=int8: must be one of f16, bf16"},
      {"decode:q=f32", "q=f32: must be one of f16, bf16"},
      {"decode:layout=nchw", "layout=nchw: must be one of nhd, hnd"},
      {"decode:paging=flat", "paging=flat: " + kPagingRule},
      {"decode:arch=sm_75", "arch=sm_75: " + kArchList},
      {"decode:arch=sm90", "arch=sm90: " + kArchList},
      {"decode:arch=SM_90", "arch=SM_90: " + kArchList},
      {"decode:arch=sm_89a", "arch=sm_89a: " + kArchList},
      {"decode:arch=90", "arch=90: " + kArchList},
      {"decode:arch=sm_0a", "arch=sm_0a: " + kArchList},
      // kind; a ',' or '=' in it means the ':' after the kind is missing
      {"prefill:hd=128", "kind=prefill: " + kKindRule},
      {"Decode:hd=128", "kind=Decode: " + kKindRule},
      {":hd=128", "kind=: " + kMissing + kKindRule},
      {"decode,hd=128", "kind=decode,hd=128: must be one of decode, append (expected <kind>:<field>=<value>,...)"},
      {"decode hd=128", "kind=decode hd=128: " + kKindRule + " (expected <kind>:<field>=<value>,...)"},
      {"append,hd=64:page=16", "kind=append,hd=64: " + kKindRule + " (expected <kind>:<field>=<value>,...)"},
      // unknown fields (names are case-sensitive)
      {"decode:foo=1", "unknown field 'foo' " + kFields},
      {"decode:HD=128", "unknown field 'HD' " + kFields},
      {"decode:heads=4", "unknown field 'heads' " + kFields},
      // missing field name
      {"decode:=5", "'=5': missing field name before '=' " + kFields},
      {"decode:hd=128, = 64", "'= 64': missing field name before '=' " + kFields},
      // duplicates, also through the long name: both items as typed
      {"decode:hd=128,hd=64", "head_dim given twice (hd=128 and hd=64)"},
      {"decode:hd=128,head_dim=64", "head_dim given twice (hd=128 and head_dim=64)"},
      {"decode:head_dim=128,hd=128", "head_dim given twice (head_dim=128 and hd=128)"},
      {"decode:gqa=4,page=16,gqa=4", "gqa given twice (gqa=4 and gqa=4)"},
      {"decode:arch=sm_90,arch=sm_80", "arch given twice (arch=sm_90 and arch=sm_80)"},
      {"decode:kv=,kv=f16", "kv given twice (kv= and kv=f16)"},
      {"decode:hd=0x80,hd=64", "head_dim given twice (hd=0x80 and hd=64)"},
      // missing '='
      {"decode:hd", "'hd': expected <field>=<value> " + kFields},
      {"decode:hd128,page=16", "'hd128': expected <field>=<value> " + kFields},
      {"decode:hd=128,,gqa=4", "'': expected <field>=<value> " + kFields},
      // empty
      {"", "empty spec: expected <kind>:<field>=<value>,... (kind: decode, append)"},
      {" \t ", "empty spec: expected <kind>:<field>=<value>,... (kind: decode, append)"},
      // numbers: sign, hex, float, exponent, letters, more than 9 digits, separators inside a value
      {"decode:hd=0x80", "head_dim=0x80: must be a decimal integer; a multiple of 16 in [32, 512]"},
      {"decode:hd=-16", "head_dim=-16: " + kHeadDimNotInteger},
      {"decode:page=+16", "page_size=+16: " + kPageNotInteger},
      {"decode:gqa=-1", "gqa=-1: " + kGqaNotInteger},
      {"decode:hd=128.0", "head_dim=128.0: " + kHeadDimNotInteger},
      {"decode:hd=1e2", "head_dim=1e2: " + kHeadDimNotInteger},
      {"decode:hd=abc", "head_dim=abc: " + kHeadDimNotInteger},
      {"decode:gqa=4.5", "gqa=4.5: " + kGqaNotInteger},
      {"decode:page=0x10", "page_size=0x10: " + kPageNotInteger},
      {"decode:hd=99999999999999999999", "head_dim=99999999999999999999: " + kHeadDimNotInteger},
      {"decode:page=4294967312", "page_size=4294967312: " + kPageNotInteger},
      {"decode:gqa=1000000004", "gqa=1000000004: " + kGqaNotInteger},
      {"decode:gqa=4 4", "gqa=4 4: " + kGqaNotInteger},
      {"decode:hd=128;gqa=4", "head_dim=128;gqa=4: " + kHeadDimNotInteger},
      {"decode:hd=128:page=16", "head_dim=128:page=16: " + kHeadDimNotInteger},
      // empty values
      {"decode:hd=", "head_dim=: missing value; must be a multiple of 16 in [32, 512]"},
      {"decode:page=", "page_size=: " + kMissing + kPageRule},
      {"decode:gqa= ", "gqa=: " + kMissing + kGqaRule},
      {"decode:kv=", "kv=: missing value; must be one of f16, bf16, int8, q8, e4m3, e5m2"},
      {"decode:q=", "q=: " + kMissing + "must be one of f16, bf16"},
      {"decode:layout=", "layout=: " + kMissing + "must be one of nhd, hnd"},
      {"decode:paging=", "paging=: " + kMissing + kPagingRule},
      {"decode:arch=", "arch=: " + kMissing + kArchList},
  };
  return rows;
}

TEST(SpecErrorsTest, TableHasEnoughRows) { EXPECT_GE(bad_specs().size(), 40u); }

TEST(SpecErrorsTest, EachInvalidSpecHasItsExactMessage) {
  for (const BadSpec& row : bad_specs()) {
    SCOPED_TRACE("spec: '" + row.text + "'");
    auto r = parse_spec(row.text);
    ASSERT_FALSE(r.ok()) << "parsed as " << to_string(*r);
    EXPECT_EQ(r.error().kind, ErrorKind::invalid_spec);
    EXPECT_EQ(r.error().message, row.message);
  }
}

// The text is split first: a wrong name, a missing '=' or a field given twice is reported, in text order,
// before any value is read. Values are then checked enum fields first (head_dim's rule depends on kv),
// each group in canonical field order, so the order of the fields in the text never changes the message.
TEST(SpecErrorsTest, FirstErrorIsReported) {
  auto r = parse_spec("decode:kv=nope,hd=100");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "kv=nope: " + kKvRule);
  r = parse_spec("decode:hd=100,foo=1");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "unknown field 'foo' " + kFields);
  r = parse_spec("decode:gqa=0,hd=100");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "head_dim=100: " + kHeadDimRule);
}

TEST(SpecErrorsTest, FieldOrderDoesNotChangeTheMessage) {
  const std::vector<std::vector<std::string>> cases = {
      {"hd=100", "kv=nope"}, {"hd=80", "kv=q8"},  {"hd=0x40", "kv=q8"},     {"hd=", "kv=q8"},
      {"gqa=0", "hd=100"},   {"page=3", "q=f32"}, {"arch=sm_75", "gqa=-1"}, {"layout=x", "paging=y", "hd=7"},
  };
  for (const std::vector<std::string>& items : cases) {
    std::string forward = "decode:", backward = "decode:";
    for (size_t i = 0; i < items.size(); ++i) {
      forward += (i ? "," : "") + items[i];
      backward += (i ? "," : "") + items[items.size() - 1 - i];
    }
    SCOPED_TRACE(forward + " / " + backward);
    auto a = parse_spec(forward);
    auto b = parse_spec(backward);
    ASSERT_FALSE(a.ok());
    ASSERT_FALSE(b.ok());
    EXPECT_EQ(a.error().message, b.error().message);
  }
}

// Leniencies that are part of the grammar, pinned so that a change is a decision.
TEST(SpecErrorsTest, AcceptedEdgeCases) {
  auto trailing_comma = parse_spec("decode:hd=64,");
  ASSERT_TRUE(trailing_comma.ok());
  EXPECT_EQ(trailing_comma->head_dim, 64);
  auto leading_zero = parse_spec("decode:hd=0128,gqa=007");
  ASSERT_TRUE(leading_zero.ok());
  EXPECT_EQ(leading_zero->head_dim, 128);
  EXPECT_EQ(leading_zero->gqa, 7);
  auto largest = parse_spec("decode:hd=512,page=256,gqa=64");
  ASSERT_TRUE(largest.ok());
  auto smallest = parse_spec("decode:hd=32,page=1,gqa=1");
  ASSERT_TRUE(smallest.ok());
}

struct BadBuilt {
  const char* what;
  Spec spec;
  std::string message;
};

TEST(SpecErrorsTest, ValidateSpecsBuiltInCode) {
  const std::vector<BadBuilt> rows = {
      {"head_dim 0", Spec{.head_dim = 0}, "head_dim=0: " + kHeadDimRule},
      {"head_dim negative", Spec{.head_dim = -32}, "head_dim=-32: " + kHeadDimRule},
      {"head_dim 8", Spec{.head_dim = 8}, "head_dim=8: " + kHeadDimRule},
      {"head_dim 120", Spec{.head_dim = 120}, "head_dim=120: " + kHeadDimRule},
      {"head_dim 544", Spec{.head_dim = 544}, "head_dim=544: " + kHeadDimRule},
      {"q8 head_dim 48", Spec{.head_dim = 48, .kv = KvDtype::q8}, "head_dim=48: " + kQ8HeadDimRule},
      {"page 0", Spec{.page_size = 0}, "page_size=0: " + kPageRule},
      {"page negative", Spec{.page_size = -16}, "page_size=-16: " + kPageRule},
      {"page 12", Spec{.page_size = 12}, "page_size=12: " + kPageRule},
      {"page 512", Spec{.page_size = 512}, "page_size=512: " + kPageRule},
      {"gqa 0", Spec{.gqa = 0}, "gqa=0: " + kGqaRule},
      {"gqa 65", Spec{.gqa = 65}, "gqa=65: " + kGqaRule},
      {"gqa negative", Spec{.gqa = -4}, "gqa=-4: " + kGqaRule},
      {"arch sm_75", Spec{.arch = {75, false}}, "arch=sm_75: " + kArchList},
      {"arch sm_80a", Spec{.arch = {80, true}}, "arch=sm_80a: " + kArchList},
      {"arch negative", Spec{.arch = {-1, false}}, "arch=sm_-1: " + kArchList},
      {"kind out of range", Spec{.kind = static_cast<Kind>(7)}, "kind=7: must be one of decode, append"},
      {"kv out of range", Spec{.kv = static_cast<KvDtype>(6)}, "kv=6: " + kKvRule},
      {"q out of range", Spec{.q = static_cast<QDtype>(2)}, "q=2: must be one of f16, bf16"},
      {"layout out of range", Spec{.layout = static_cast<Layout>(2)}, "layout=2: must be one of nhd, hnd"},
      {"paging out of range", Spec{.paging = static_cast<Paging>(3)}, "paging=3: " + kPagingRule},
      {"scale out of range", Spec{.kv = KvDtype::q8, .scale = static_cast<ScaleDtype>(2)},
       "scale_dtype=2: must be one of f16, f32"},
      {"f32 scales without a pool", Spec{.kv = KvDtype::bf16, .scale = ScaleDtype::f32},
       "scale_dtype=f32: needs kv=int8 or kv=q8 (the formats with scale pools); kv=bf16 has none"},
      // Several problems: the first in field order is reported.
      {"head_dim and gqa", Spec{.head_dim = 8, .gqa = 0}, "head_dim=8: " + kHeadDimRule},
  };
  for (const BadBuilt& row : rows) {
    SCOPED_TRACE(row.what);
    auto r = validate(row.spec);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().kind, ErrorKind::invalid_spec);
    EXPECT_EQ(r.error().message, row.message);
  }
}

// sm == 0 means auto, which has no arch-specific variant; such a value cannot come from text, and the
// message shows it as stored (sm_0a), not as "auto", which is allowed.
TEST(SpecErrorsTest, ValidateRejectsArchSpecificAuto) {
  Spec s;
  s.arch = Arch{0, true};
  auto r = validate(s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::invalid_spec);
  EXPECT_EQ(r.error().message, "arch=sm_0a: " + kArchList);
}

TEST(SpecErrorsTest, ValidateAcceptsRangeEnds) {
  for (int hd : {32, 512})
    for (int page : {1, 256})
      for (int gqa : {1, 64}) {
        Spec s;
        s.head_dim = hd;
        s.page_size = page;
        s.gqa = gqa;
        EXPECT_TRUE(validate(s).ok()) << to_string(s);
      }
}

}  // namespace
}  // namespace kvjit
