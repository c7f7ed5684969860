// Invalid specs: one row per bad input with its exact message. A message names the field, repeats the value
// as given and says what is allowed, so a user can fix a shape list without reading the source.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "compiler/spec.h"

namespace kvjit {
namespace {

const std::string kFields = "(fields: hd (head_dim), page (page_size), gqa, kv, q, layout, paging, arch)";
const std::string kArchList =
    "must be one of auto, sm_80, sm_86, sm_87, sm_89, sm_90, sm_90a, sm_100, sm_100a, sm_103, sm_103a, sm_120, "
    "sm_120a";
const std::string kHeadDimRule = "must be a multiple of 16 in [32, 512]";
const std::string kPageRule = "must be a power of two in [1, 256]";
const std::string kGqaRule = "must be an integer in [1, 64]";
const std::string kKvRule = "must be one of f16, bf16, int8, q8, e4m3, e5m2";

struct BadSpec {
  std::string text;
  std::string message;
};

const std::vector<BadSpec>& bad_specs() {
  static const std::vector<BadSpec> rows = {
      // head_dim: range, step, q8's step
      {"decode:hd=100", "head_dim=100: " + kHeadDimRule},
      {"decode:hd=16", "head_dim=16: " + kHeadDimRule},
      {"decode:hd=0", "head_dim=0: " + kHeadDimRule},
      {"decode:hd=528", "head_dim=528: " + kHeadDimRule},
      {"decode:hd=1024", "head_dim=1024: " + kHeadDimRule},
      {"decode:head_dim=72", "head_dim=72: " + kHeadDimRule},
      {"decode:hd=48,kv=q8", "head_dim=48: must be a multiple of 32 in [32, 512] for kv=q8"},
      {"decode:kv=q8,hd=80", "head_dim=80: must be a multiple of 32 in [32, 512] for kv=q8"},
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
      // unknown enum values (case matters)
      {"decode:kv=fp8", "kv=fp8: " + kKvRule},
      {"decode:kv=F16", "kv=F16: " + kKvRule},
      {"decode:kv=int4", "kv=int4: " + kKvRule},
      {"decode:q=int8", "q=int8: must be one of f16, bf16"},
      {"decode:q=f32", "q=f32: must be one of f16, bf16"},
      {"decode:layout=nchw", "layout=nchw: must be one of nhd, hnd"},
      {"decode:paging=flat", "paging=flat: must be one of table, csr"},
      {"decode:arch=sm_75", "arch=sm_75: " + kArchList},
      {"decode:arch=sm90", "arch=sm90: " + kArchList},
      {"decode:arch=SM_90", "arch=SM_90: " + kArchList},
      {"decode:arch=sm_89a", "arch=sm_89a: " + kArchList},
      {"decode:arch=90", "arch=90: " + kArchList},
      // kind
      {"prefill:hd=128", "kind=prefill: must be one of decode, append"},
      {"Decode:hd=128", "kind=Decode: must be one of decode, append"},
      {":hd=128", "kind=: must be one of decode, append"},
      {"decode,hd=128", "kind=decode,hd=128: must be one of decode, append"},
      // unknown fields (names are case-sensitive)
      {"decode:foo=1", "unknown field 'foo' " + kFields},
      {"decode:HD=128", "unknown field 'HD' " + kFields},
      {"decode:heads=4", "unknown field 'heads' " + kFields},
      {"decode:=5", "unknown field '' " + kFields},
      // duplicates, also through the long name
      {"decode:hd=128,hd=64", "head_dim given twice"},
      {"decode:hd=128,head_dim=128", "head_dim given twice"},
      {"decode:gqa=4,page=16,gqa=4", "gqa given twice"},
      {"decode:arch=sm_90,arch=sm_80", "arch given twice"},
      // missing '='
      {"decode:hd", "'hd': expected <field>=<value> " + kFields},
      {"decode:hd128,page=16", "'hd128': expected <field>=<value> " + kFields},
      {"decode:hd=128,,gqa=4", "'': expected <field>=<value> " + kFields},
      // empty
      {"", "empty spec: expected <kind>:<field>=<value>,... (kind: decode, append)"},
      {" \t ", "empty spec: expected <kind>:<field>=<value>,... (kind: decode, append)"},
      // numbers: sign, hex, float, exponent, overflow, separators inside a value
      {"decode:hd=-16", "head_dim=-16: " + kHeadDimRule},
      {"decode:page=+16", "page_size=+16: " + kPageRule},
      {"decode:gqa=-1", "gqa=-1: " + kGqaRule},
      {"decode:hd=0x80", "head_dim=0x80: " + kHeadDimRule},
      {"decode:hd=128.0", "head_dim=128.0: " + kHeadDimRule},
      {"decode:hd=1e2", "head_dim=1e2: " + kHeadDimRule},
      {"decode:gqa=4.5", "gqa=4.5: " + kGqaRule},
      {"decode:hd=99999999999999999999", "head_dim=99999999999999999999: " + kHeadDimRule},
      {"decode:page=4294967312", "page_size=4294967312: " + kPageRule},
      {"decode:gqa=1000000004", "gqa=1000000004: " + kGqaRule},
      {"decode:gqa=4 4", "gqa=4 4: " + kGqaRule},
      {"decode:hd=128;gqa=4", "head_dim=128;gqa=4: " + kHeadDimRule},
      {"decode:hd=128:page=16", "head_dim=128:page=16: " + kHeadDimRule},
      // empty values
      {"decode:hd=", "head_dim=: " + kHeadDimRule},
      {"decode:page=", "page_size=: " + kPageRule},
      {"decode:gqa= ", "gqa=: " + kGqaRule},
      {"decode:kv=", "kv=: " + kKvRule},
      {"decode:q=", "q=: must be one of f16, bf16"},
      {"decode:layout=", "layout=: must be one of nhd, hnd"},
      {"decode:paging=", "paging=: must be one of table, csr"},
      {"decode:arch=", "arch=: " + kArchList},
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

// The first error wins: fields are checked as they are read, then validate() runs on the whole spec.
TEST(SpecErrorsTest, FirstErrorIsReported) {
  auto r = parse_spec("decode:kv=nope,hd=100");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "kv=nope: " + kKvRule);
  r = parse_spec("decode:hd=100,foo=1");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "unknown field 'foo' " + kFields);
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
      {"q8 head_dim 48", Spec{.head_dim = 48, .kv = KvDtype::q8},
       "head_dim=48: must be a multiple of 32 in [32, 512] for kv=q8"},
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
      {"paging out of range", Spec{.paging = static_cast<Paging>(3)}, "paging=3: must be one of table, csr"},
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

// sm == 0 means auto, which has no arch-specific variant; such a value cannot come from text.
TEST(SpecErrorsTest, ValidateRejectsArchSpecificAuto) {
  Spec s;
  s.arch = Arch{0, true};
  auto r = validate(s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::invalid_spec);
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
