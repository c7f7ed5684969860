// Specializer: Spec -> one translation unit with one extern "C" entry. The bytes are part of the cache key,
// so they must depend on the spec alone.
#include "compiler/specializer.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace kvjit {
namespace {

Spec spec_of(const std::string& text) {
  auto r = parse_spec(text);
  EXPECT_TRUE(r.ok()) << text << ": " << (r.ok() ? "" : r.error().message);
  return r.ok() ? *r : Spec{};
}

SpecializedSource specialized(const std::string& text) {
  auto r = specialize(spec_of(text));
  EXPECT_TRUE(r.ok()) << text << ": " << (r.ok() ? "" : r.error().message);
  return r.ok() ? *r : SpecializedSource{};
}

TEST(SpecializerTest, DeterministicBytes) {
  for (const char* text : {"decode:hd=128,page=16,gqa=4,kv=f16,q=f16,arch=sm_90",
                           "append:hd=64,page=1,gqa=8,kv=int8,q=bf16,layout=hnd,paging=csr,arch=sm_80"}) {
    const SpecializedSource a = specialized(text);
    const SpecializedSource b = specialized(text);
    EXPECT_FALSE(a.source.empty());
    EXPECT_EQ(a.source, b.source) << text;
    EXPECT_EQ(a.symbol, b.symbol);
    EXPECT_EQ(a.file_name, b.file_name);
  }
}

TEST(SpecializerTest, NamesComeFromTheSpec) {
  const Spec spec = spec_of("decode:hd=128,page=16,gqa=4,kv=f16,q=f16,arch=sm_90");
  const SpecializedSource src = specialized("decode:hd=128,page=16,gqa=4,kv=f16,q=f16,arch=sm_90");
  EXPECT_EQ(src.spec, spec);
  EXPECT_EQ(src.symbol, kernel_symbol(spec));
  EXPECT_EQ(src.file_name, file_stem(spec) + ".cu");
  EXPECT_EQ(src.shape.warps, launch_shape(spec).warps);
  EXPECT_EQ(src.shape.heads_per_cta, launch_shape(spec).heads_per_cta);
  EXPECT_EQ(src.shape.unroll, launch_shape(spec).unroll);
}

TEST(SpecializerTest, SourceHasExternCEntryNamedBySymbol) {
  for (const char* text : {"decode:hd=128,page=16,gqa=4,kv=f16,q=f16,arch=sm_90",
                           "append:hd=256,page=64,gqa=1,kv=bf16,q=bf16,arch=sm_89"}) {
    const SpecializedSource src = specialized(text);
    EXPECT_NE(src.source.find("extern \"C\" __global__"), std::string::npos) << src.source;
    EXPECT_NE(src.source.find(src.symbol + "("), std::string::npos) << src.source;
    EXPECT_NE(src.source.find("// spec: " + to_string(src.spec) + "\n"), std::string::npos) << src.source;
    EXPECT_NE(src.source.find("__launch_bounds__(" + std::to_string(src.shape.threads()) + ")"), std::string::npos);
  }
}

// A kernel that runs two CTA sizes is bounded by, and sizes its shared memory for, the larger, and reads its
// warps from the launch; a kernel of one size keeps it a constant.
TEST(SpecializerTest, AKernelOfTwoCtaSizesTakesItsWarpsFromTheLaunch) {
  const SpecializedSource two = specialized("decode:hd=128,gqa=4,kv=e4m3,arch=sm_90");
  ASSERT_EQ(two.shape.wide_warps, 6);
  EXPECT_NE(two.source.find("__launch_bounds__(192)"), std::string::npos) << two.source;
  EXPECT_NE(two.source.find("kWarps = 6;"), std::string::npos);
  EXPECT_NE(two.source.find("kWarpsFromLaunch = true;"), std::string::npos);
  const SpecializedSource one = specialized("decode:hd=128,gqa=4,kv=f16,arch=sm_90");
  ASSERT_EQ(one.shape.wide_warps, 0);
  EXPECT_NE(one.source.find("__launch_bounds__(128)"), std::string::npos) << one.source;
  EXPECT_NE(one.source.find("kWarps = 4;"), std::string::npos);
  EXPECT_NE(one.source.find("kWarpsFromLaunch = false;"), std::string::npos);
}

TEST(SpecializerTest, IncludesTheKindsTemplate) {
  const SpecializedSource decode = specialized("decode:hd=128,arch=sm_90,mma=0");
  const SpecializedSource decode_mma = specialized("decode:hd=128,arch=sm_90");  // the default where supported
  const SpecializedSource append = specialized("append:hd=128,arch=sm_90");
  EXPECT_NE(decode.source.find("#include \"kvjit/decode.cuh\""), std::string::npos);
  EXPECT_NE(decode.source.find("kvjit::DecodeParams"), std::string::npos);
  EXPECT_NE(decode_mma.source.find("#include \"kvjit/decode_mma.cuh\""), std::string::npos);
  EXPECT_NE(decode_mma.source.find("kvjit::DecodeParams"), std::string::npos);
  EXPECT_NE(append.source.find("#include \"kvjit/append.cuh\""), std::string::npos);
  EXPECT_NE(append.source.find("kvjit::AppendParams"), std::string::npos);
  // Every include of a specialized source names an embedded template.
  std::set<std::string> names;
  for (const TemplateFile& f : embedded_template_files()) names.insert(f.name);
  EXPECT_TRUE(names.count("kvjit/decode.cuh"));
  EXPECT_TRUE(names.count("kvjit/append.cuh"));
}

TEST(SpecializerTest, SpecConstantsReachTheSource) {
  const SpecializedSource src =
      specialized("decode:hd=96,page=32,gqa=7,kv=int8,q=bf16,layout=hnd,paging=csr,arch=sm_90a");
  EXPECT_NE(src.source.find("kHeadDim = 96;"), std::string::npos) << src.source;
  EXPECT_NE(src.source.find("kPageSize = 32;"), std::string::npos);
  EXPECT_NE(src.source.find("kGqa = 7;"), std::string::npos);
  EXPECT_NE(src.source.find("kvjit::FormatInt8"), std::string::npos);
  EXPECT_NE(src.source.find("kvjit::ElemBF16"), std::string::npos);
  EXPECT_NE(src.source.find("kvjit::PagingCsr<32, Layout>"), std::string::npos);
  EXPECT_NE(src.source.find("typedef kvjit::LayoutHnd<32> Layout;"), std::string::npos);
  EXPECT_NE(src.source.find("kSoftcap = false;"), std::string::npos);
}

TEST(SpecializerTest, OptionsAndContigReachTheSource) {
  const SpecializedSource src = specialized("decode:hd=128,paging=contig,softcap=1,arch=sm_90");
  EXPECT_NE(src.source.find("kvjit::PagingContig<16, Layout>"), std::string::npos) << src.source;
  EXPECT_NE(src.source.find("kSoftcap = true;"), std::string::npos);
  EXPECT_NE(src.source.find("kContig = true;"), std::string::npos);
}

// The decode kernels wait for the grid before them from sm_90 on (griddepcontrol exists there), so the
// runtime may launch them with programmatic dependent launch; older arches and append kernels do not.
TEST(SpecializerTest, GridDependencyFromSm90DecodeKernels) {
  EXPECT_NE(specialized("decode:arch=sm_90").source.find("kGridDependency = true;"), std::string::npos);
  EXPECT_NE(specialized("decode:arch=sm_100,mma=0").source.find("kGridDependency = true;"), std::string::npos);
  EXPECT_NE(specialized("decode:arch=sm_89").source.find("kGridDependency = false;"), std::string::npos);
  EXPECT_NE(specialized("decode:arch=sm_80").source.find("kGridDependency = false;"), std::string::npos);
  EXPECT_NE(specialized("decode:arch=sm_90").source.find(kGridDependencyMarker), std::string::npos);
  EXPECT_EQ(specialized("decode:arch=sm_89").source.find(kGridDependencyMarker), std::string::npos);
  EXPECT_EQ(specialized("append:arch=sm_90").source.find(kGridDependencyMarker), std::string::npos);
  EXPECT_TRUE(uses_grid_dependency(parse_spec("decode:arch=sm_90a").value()));
  EXPECT_FALSE(uses_grid_dependency(parse_spec("append:arch=sm_90").value()));
  EXPECT_FALSE(uses_grid_dependency(parse_spec("decode:arch=sm_86").value()));
}

TEST(SpecializerTest, DistinctSpecsGiveDistinctSources) {
  std::set<std::string> sources;
  const char* texts[] = {"decode:hd=128,arch=sm_90",     "decode:hd=128,arch=sm_90a",    "decode:hd=128,arch=sm_80",
                         "decode:hd=64,arch=sm_90",      "decode:gqa=2,arch=sm_90",      "decode:page=32,arch=sm_90",
                         "decode:kv=bf16,arch=sm_90",    "decode:kv=int8,arch=sm_90",    "decode:q=bf16,arch=sm_90",
                         "decode:layout=hnd,arch=sm_90", "decode:paging=csr,arch=sm_90", "append:hd=128,arch=sm_90"};
  for (const char* text : texts) sources.insert(specialized(text).source);
  EXPECT_EQ(sources.size(), std::size(texts));
}

TEST(SpecializerTest, RejectsAutoArch) {
  auto r = specialize(spec_of("decode:hd=128,page=16,gqa=4,kv=f16,q=f16"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::invalid_spec);
  EXPECT_EQ(r.error().message,
            "arch=auto: compiling needs a concrete arch (e.g. sm_90); the runtime resolves auto from the device");
}

// FP8 picks the hardware conversions from sm_89 on and the integer path before.
TEST(SpecializerTest, Fp8PathFollowsTheArch) {
  EXPECT_NE(specialized("decode:kv=e4m3,arch=sm_80").source.find("FormatFp8<kvjit::E4M3, false>"), std::string::npos);
  EXPECT_NE(specialized("decode:kv=e4m3,arch=sm_89").source.find("FormatFp8<kvjit::E4M3, true>"), std::string::npos);
  EXPECT_NE(specialized("decode:kv=e5m2,arch=sm_90a").source.find("FormatFp8<kvjit::E5M2, true>"), std::string::npos);
  EXPECT_NE(specialized("decode:kv=q8,arch=sm_90").source.find("kvjit::FormatQ8"), std::string::npos);
}

TEST(SpecializerTest, ValidatesSpecsBuiltInCode) {
  Spec s;
  s.arch = Arch{90, false};
  s.head_dim = 100;
  auto r = specialize(s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::invalid_spec);
  EXPECT_EQ(r.error().message, "head_dim=100: must be a multiple of 16 in [32, 512]");
}

}  // namespace
}  // namespace kvjit
