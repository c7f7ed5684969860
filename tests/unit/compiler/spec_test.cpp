// Spec text: canonical printing, parsing (order, long names, whitespace, defaults) and the names derived
// from it (kernel symbol, file stem). Invalid input lives in spec_errors_test.cpp.
#include "compiler/spec.h"

#include <gtest/gtest.h>

#include <array>
#include <set>
#include <string>
#include <vector>

namespace kvjit {
namespace {

constexpr std::array kKinds{Kind::decode, Kind::append};
constexpr std::array kKvs{KvDtype::f16, KvDtype::bf16, KvDtype::int8, KvDtype::q8, KvDtype::e4m3, KvDtype::e5m2};
constexpr std::array kQs{QDtype::f16, QDtype::bf16};
constexpr std::array kLayouts{Layout::nhd, Layout::hnd};
constexpr std::array kPagings{Paging::table, Paging::csr};
constexpr std::array kArchs{Arch{0, false},  Arch{80, false},  Arch{86, false},  Arch{87, false}, Arch{89, false},
                            Arch{90, false}, Arch{90, true},   Arch{100, false}, Arch{100, true}, Arch{103, false},
                            Arch{103, true}, Arch{120, false}, Arch{120, true}};

Spec parsed(const std::string& text) {
  auto r = parse_spec(text);
  EXPECT_TRUE(r.ok()) << text << ": " << (r.ok() ? "" : r.error().message);
  return r.ok() ? *r : Spec{};
}

void expect_round_trip(const Spec& s) {
  ASSERT_TRUE(validate(s).ok()) << to_string(s) << ": " << validate(s).error().message;
  const std::string text = to_string(s);
  auto back = parse_spec(text);
  ASSERT_TRUE(back.ok()) << text << ": " << back.error().message;
  EXPECT_EQ(*back, s) << text;
  EXPECT_EQ(to_string(*back), text);
}

// Every combination of the enum fields, with the integer fields at their defaults.
std::vector<Spec> enum_product() {
  std::vector<Spec> out;
  for (Kind kind : kKinds)
    for (KvDtype kv : kKvs)
      for (QDtype q : kQs)
        for (Layout layout : kLayouts)
          for (Paging paging : kPagings)
            for (Arch arch : kArchs) {
              Spec s;
              s.kind = kind;
              s.kv = kv;
              s.q = q;
              s.layout = layout;
              s.paging = paging;
              s.arch = arch;
              out.push_back(s);
            }
  return out;
}

TEST(SpecTest, CanonicalTextOfDefaults) {
  EXPECT_EQ(to_string(Spec{}), "decode:hd=128,page=16,gqa=1,kv=f16,q=f16,layout=nhd,paging=table,arch=auto");
}

TEST(SpecTest, CanonicalTextOfEveryField) {
  Spec s;
  s.kind = Kind::append;
  s.head_dim = 96;
  s.page_size = 256;
  s.gqa = 7;
  s.kv = KvDtype::e5m2;
  s.q = QDtype::bf16;
  s.layout = Layout::hnd;
  s.paging = Paging::csr;
  s.arch = Arch{90, true};
  EXPECT_EQ(to_string(s), "append:hd=96,page=256,gqa=7,kv=e5m2,q=bf16,layout=hnd,paging=csr,arch=sm_90a");
}

TEST(SpecTest, EnumNames) {
  EXPECT_EQ(to_string(Kind::decode), "decode");
  EXPECT_EQ(to_string(Kind::append), "append");
  const std::array<std::string_view, 6> kv_names{"f16", "bf16", "int8", "q8", "e4m3", "e5m2"};
  for (size_t i = 0; i < kKvs.size(); ++i) EXPECT_EQ(to_string(kKvs[i]), kv_names[i]);
  EXPECT_EQ(to_string(QDtype::f16), "f16");
  EXPECT_EQ(to_string(QDtype::bf16), "bf16");
  EXPECT_EQ(to_string(Layout::nhd), "nhd");
  EXPECT_EQ(to_string(Layout::hnd), "hnd");
  EXPECT_EQ(to_string(Paging::table), "table");
  EXPECT_EQ(to_string(Paging::csr), "csr");
  EXPECT_EQ(to_string(Arch{}), "auto");
  EXPECT_EQ(to_string(Arch{0, true}), "sm_0a");  // not auto: invalid, printed as stored
  EXPECT_EQ(to_string(Arch{80, false}), "sm_80");
  EXPECT_EQ(to_string(Arch{120, true}), "sm_120a");
}

TEST(SpecTest, RoundTripsEveryEnumCombination) {
  const std::vector<Spec> specs = enum_product();
  ASSERT_EQ(specs.size(), 2u * 6 * 2 * 2 * 2 * 13);
  for (const Spec& s : specs) expect_round_trip(s);
}

TEST(SpecTest, RoundTripsEveryHeadDim) {
  int count = 0;
  for (KvDtype kv : kKvs)
    for (int hd = 32; hd <= 512; hd += 16) {
      Spec s;
      s.kv = kv;
      s.head_dim = hd;
      if (kv == KvDtype::q8 && hd % 32 != 0) {
        EXPECT_FALSE(validate(s).ok()) << to_string(s);
        continue;
      }
      expect_round_trip(s);
      ++count;
    }
  EXPECT_EQ(count, 5 * 31 + 16);
}

TEST(SpecTest, RoundTripsEveryPageSize) {
  for (int page = 1; page <= 256; page *= 2) {
    Spec s;
    s.page_size = page;
    expect_round_trip(s);
  }
}

TEST(SpecTest, RoundTripsEveryGqa) {
  for (int gqa = 1; gqa <= 64; ++gqa) {
    Spec s;
    s.gqa = gqa;
    expect_round_trip(s);
  }
}

TEST(SpecTest, FieldsInAnyOrder) {
  const Spec canonical = parsed("append:hd=64,page=32,gqa=8,kv=int8,q=bf16,layout=hnd,paging=csr,arch=sm_89");
  EXPECT_EQ(parsed("append:arch=sm_89,paging=csr,layout=hnd,q=bf16,kv=int8,gqa=8,page=32,hd=64"), canonical);
  EXPECT_EQ(parsed("append:kv=int8,arch=sm_89,hd=64,layout=hnd,gqa=8,paging=csr,page=32,q=bf16"), canonical);
  EXPECT_EQ(to_string(parsed("append:paging=csr,hd=64,arch=sm_89,q=bf16,gqa=8,layout=hnd,kv=int8,page=32")),
            "append:hd=64,page=32,gqa=8,kv=int8,q=bf16,layout=hnd,paging=csr,arch=sm_89");
}

TEST(SpecTest, LongNames) {
  EXPECT_EQ(parsed("decode:head_dim=256,page_size=64"), parsed("decode:hd=256,page=64"));
  EXPECT_EQ(parsed("decode:head_dim=256").head_dim, 256);
  EXPECT_EQ(parsed("decode:page_size=1").page_size, 1);
  // Long names never appear in the canonical text.
  EXPECT_EQ(to_string(parsed("decode:head_dim=64,page_size=8")),
            "decode:hd=64,page=8,gqa=1,kv=f16,q=f16,layout=nhd,paging=table,arch=auto");
}

TEST(SpecTest, Whitespace) {
  const Spec expected = parsed("decode:hd=128,page=16,gqa=4,kv=f16,q=f16,arch=sm_90");
  EXPECT_EQ(parsed("  decode : hd = 128 , page=16,\tgqa =4 ,kv= f16, q=f16 , arch=sm_90\t"), expected);
  EXPECT_EQ(parsed("\tdecode:hd=128,page=16,gqa=4,kv=f16,q=f16,arch=sm_90  "), expected);
}

TEST(SpecTest, Defaults) {
  EXPECT_EQ(parsed("decode"), Spec{});
  EXPECT_EQ(parsed("decode:"), Spec{});
  Spec append;
  append.kind = Kind::append;
  EXPECT_EQ(parsed("append"), append);
  const Spec s = parsed("decode:gqa=4");
  EXPECT_EQ(s.head_dim, 128);
  EXPECT_EQ(s.page_size, 16);
  EXPECT_EQ(s.gqa, 4);
  EXPECT_EQ(s.kv, KvDtype::f16);
  EXPECT_EQ(s.q, QDtype::f16);
  EXPECT_EQ(s.layout, Layout::nhd);
  EXPECT_EQ(s.paging, Paging::table);
  EXPECT_TRUE(s.arch.is_auto());
}

TEST(SpecTest, Q8HeadDimRuleFollowsKvWhateverTheFieldOrder) {
  EXPECT_EQ(parsed("decode:hd=64,kv=q8").head_dim, 64);
  EXPECT_EQ(parsed("decode:kv=q8,hd=64").head_dim, 64);
  EXPECT_FALSE(parse_spec("decode:hd=80,kv=q8").ok());
  EXPECT_FALSE(parse_spec("decode:kv=q8,hd=80").ok());
}

TEST(SpecTest, ParseArch) {
  for (Arch a : kArchs) {
    auto r = parse_arch(to_string(a));
    ASSERT_TRUE(r.ok()) << to_string(a);
    EXPECT_EQ(*r, a);
  }
  auto auto_arch = parse_arch("auto");
  ASSERT_TRUE(auto_arch.ok());
  EXPECT_TRUE(auto_arch->is_auto());
  auto bad = parse_arch("sm_75");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().kind, ErrorKind::invalid_spec);
  EXPECT_EQ(bad.error().message,
            "arch=sm_75: must be one of auto, sm_80, sm_86, sm_87, sm_89, sm_90, sm_90a, sm_100, sm_100a, sm_103, "
            "sm_103a, sm_120, sm_120a");
}

// scale=f32 (int8 / q8 pools of f32, realizar's Q8 cache) prints only when set; f16 is the default and
// never prints, so existing kernels keep their names.
TEST(SpecTest, ScaleDtypePrintsOnlyWhenF32) {
  EXPECT_EQ(parsed("decode:kv=q8,scale=f16,arch=sm_90"), parsed("decode:kv=q8,arch=sm_90"));
  const Spec f32 = parsed("decode:scale_dtype=f32,kv=q8,arch=sm_90");
  EXPECT_EQ(f32.scale, ScaleDtype::f32);
  EXPECT_EQ(to_string(f32), "decode:hd=128,page=16,gqa=1,kv=q8,q=f16,layout=nhd,paging=table,arch=sm_90,scale=f32");
  EXPECT_NE(kernel_symbol(f32), kernel_symbol(parsed("decode:kv=q8,arch=sm_90")));
  expect_round_trip(f32);
  expect_round_trip(parsed("append:kv=int8,scale=f32,mma=0,backend=llvm"));
  EXPECT_EQ(to_string(ScaleDtype::f32), "f32");
}

TEST(SpecTest, ScalePoolSizes) {
  Spec q8;
  q8.kv = KvDtype::q8;
  q8.head_dim = 256;
  EXPECT_EQ(scales_per_row(KvDtype::q8, 256), 8);
  EXPECT_EQ(scale_bytes_per_row(q8), 16);
  q8.scale = ScaleDtype::f32;
  EXPECT_EQ(scale_bytes_per_row(q8), 32);
  Spec int8;
  int8.kv = KvDtype::int8;
  int8.scale = ScaleDtype::f32;
  EXPECT_EQ(scale_bytes_per_row(int8), 4);
  Spec e4m3;
  e4m3.kv = KvDtype::e4m3;
  EXPECT_EQ(scale_bytes_per_row(e4m3), 0);
  EXPECT_TRUE(has_scale_pool(KvDtype::int8));
  EXPECT_TRUE(has_scale_pool(KvDtype::q8));
  EXPECT_FALSE(has_scale_pool(KvDtype::f16));
  EXPECT_FALSE(has_scale_pool(KvDtype::e5m2));
}

TEST(SpecTest, KvElementBytes) {
  EXPECT_EQ(kv_element_bytes(KvDtype::f16), 2);
  EXPECT_EQ(kv_element_bytes(KvDtype::bf16), 2);
  EXPECT_EQ(kv_element_bytes(KvDtype::int8), 1);
  EXPECT_EQ(kv_element_bytes(KvDtype::q8), 1);
  EXPECT_EQ(kv_element_bytes(KvDtype::e4m3), 1);
  EXPECT_EQ(kv_element_bytes(KvDtype::e5m2), 1);
}

bool is_c_identifier(const std::string& s) {
  if (s.empty() || (s[0] >= '0' && s[0] <= '9')) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) return false;
  return true;
}

// Every enum combination, plus each integer field walked through its range.
std::vector<Spec> name_sample() {
  std::vector<Spec> out = enum_product();
  for (int hd = 32; hd <= 512; hd += 16) {
    Spec s;
    s.head_dim = hd;
    out.push_back(s);
  }
  for (int page = 1; page <= 256; page *= 2) {
    Spec s;
    s.page_size = page;
    out.push_back(s);
  }
  for (int gqa = 1; gqa <= 64; ++gqa) {
    Spec s;
    s.gqa = gqa;
    out.push_back(s);
  }
  return out;
}

TEST(SpecTest, KernelSymbolOfKnownSpec) {
  const Spec s = parsed("decode:hd=128,page=16,gqa=4,kv=f16,q=f16,arch=sm_90");
  EXPECT_EQ(kernel_symbol(s), "kvjit_decode_hd_128_page_16_gqa_4_kv_f16_q_f16_layout_nhd_paging_table_arch_sm_90");
  EXPECT_EQ(file_stem(s), "decode_hd_128_page_16_gqa_4_kv_f16_q_f16_layout_nhd_paging_table_arch_sm_90");
}

// The backend is an option: the default (nvrtc) never prints, so NVRTC kernels keep their names and cache
// keys; backend=llvm prints last and so names its own symbol and dump files.
TEST(SpecTest, BackendPrintsOnlyWhenNotNvrtc) {
  EXPECT_EQ(parsed("decode:backend=nvrtc,arch=sm_90"), parsed("decode:arch=sm_90"));
  const Spec llvm = parsed("decode:backend=llvm,hd=128,page=16,gqa=4,arch=sm_90");
  EXPECT_EQ(llvm.backend, Backend::llvm);
  EXPECT_EQ(to_string(llvm), "decode:hd=128,page=16,gqa=4,kv=f16,q=f16,layout=nhd,paging=table,arch=sm_90,backend=llvm");
  EXPECT_EQ(kernel_symbol(llvm),
            "kvjit_decode_hd_128_page_16_gqa_4_kv_f16_q_f16_layout_nhd_paging_table_arch_sm_90_backend_llvm");
  EXPECT_EQ(to_string(Backend::nvrtc), "nvrtc");
  EXPECT_EQ(to_string(Backend::llvm), "llvm");
  expect_round_trip(llvm);
}

TEST(SpecTest, KernelSymbolIsCIdentifierAndUniquePerSpec) {
  const std::vector<Spec> sample = name_sample();
  std::set<std::string> specs, symbols, stems;
  for (const Spec& s : sample) {
    const std::string symbol = kernel_symbol(s);
    EXPECT_TRUE(is_c_identifier(symbol)) << symbol;
    EXPECT_EQ(symbol.rfind("kvjit_", 0), 0u) << symbol;
    specs.insert(to_string(s));
    symbols.insert(symbol);
    stems.insert(file_stem(s));
  }
  // Distinct specs (by canonical text) must never share a symbol or a dump file name.
  EXPECT_GT(specs.size(), 1300u);
  EXPECT_EQ(symbols.size(), specs.size());
  EXPECT_EQ(stems.size(), specs.size());
}

TEST(SpecTest, FileStemHasNoSeparators) {
  for (const Spec& s : name_sample()) {
    const std::string stem = file_stem(s);
    EXPECT_EQ(stem.find_first_of(":,=/ \\"), std::string::npos) << stem;
    EXPECT_EQ(kernel_symbol(s), "kvjit_" + stem);
  }
}

}  // namespace
}  // namespace kvjit
