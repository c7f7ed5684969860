// Launch geometry: the runtime sizes the grid from the same numbers the kernel was specialized with.
#include "compiler/launch_shape.h"

#include <gtest/gtest.h>

namespace kvjit {
namespace {

TEST(LaunchShapeTest, DecodeHeadsPerCtaDividesGqa) {
  for (int hd = 32; hd <= 512; hd += 16)
    for (int gqa = 1; gqa <= 64; ++gqa) {
      Spec s;
      s.head_dim = hd;
      s.gqa = gqa;
      const LaunchShape shape = launch_shape(s);
      SCOPED_TRACE(to_string(s));
      ASSERT_GE(shape.heads_per_cta, 1);
      EXPECT_LE(shape.heads_per_cta, 8);
      EXPECT_EQ(gqa % shape.heads_per_cta, 0);
      EXPECT_EQ(shape.chunks(s) * shape.heads_per_cta, gqa);
      EXPECT_TRUE(shape.unroll == 1 || shape.unroll == 2 || shape.unroll == 4);
      EXPECT_EQ(shape.threads(), 32 * shape.warps);
    }
}

TEST(LaunchShapeTest, KnownShapes) {
  Spec s;
  s.head_dim = 128;
  s.gqa = 4;
  LaunchShape shape = launch_shape(s);
  EXPECT_EQ(shape.warps, 4);
  EXPECT_EQ(shape.heads_per_cta, 4);
  EXPECT_EQ(shape.threads(), 128);
  s.gqa = 7;  // one vector per lane: up to 8 heads, so all 7 in one CTA
  EXPECT_EQ(launch_shape(s).heads_per_cta, 7);
  EXPECT_EQ(launch_shape(s).chunks(s), 1);
  s.gqa = 64;
  EXPECT_EQ(launch_shape(s).heads_per_cta, 8);
  EXPECT_EQ(launch_shape(s).chunks(s), 8);
  s.head_dim = 512;  // two vectors per lane: at most 4 heads
  s.gqa = 8;
  EXPECT_EQ(launch_shape(s).heads_per_cta, 4);
  s.gqa = 7;  // prime above the limit: one head per CTA
  EXPECT_EQ(launch_shape(s).heads_per_cta, 1);
  EXPECT_EQ(launch_shape(s).chunks(s), 7);
}

TEST(LaunchShapeTest, OneByteTensorCoreDecodeAtHeadDim128TakesSixWarps) {
  for (KvDtype kv : {KvDtype::int8, KvDtype::q8, KvDtype::e4m3, KvDtype::e5m2}) {
    Spec s = parse_spec("decode:hd=128,gqa=4,arch=sm_90").value_or_throw();
    s.kv = kv;
    SCOPED_TRACE(to_string(s));
    EXPECT_EQ(launch_shape(s).warps, 6);
    EXPECT_EQ(launch_shape(s).threads(), 192);
    s.gqa = 16;
    EXPECT_EQ(launch_shape(s).warps, 6);
    s.head_dim = 64;
    EXPECT_EQ(launch_shape(s).warps, 4) << "other head dims keep 4";
    s.head_dim = 128;
    s.mma = Mma::off;
    EXPECT_EQ(launch_shape(s).warps, 4) << "the CUDA-core body keeps 4";
  }
  EXPECT_EQ(launch_shape(parse_spec("decode:hd=128,gqa=4,kv=f16,arch=sm_90").value_or_throw()).warps, 4);
  EXPECT_EQ(launch_shape(parse_spec("decode:hd=128,gqa=4,kv=bf16,arch=sm_90").value_or_throw()).warps, 4);
}

TEST(LaunchShapeTest, AppendUsesDefaults) {
  Spec s;
  s.kind = Kind::append;
  s.gqa = 8;
  const LaunchShape shape = launch_shape(s);
  EXPECT_EQ(shape.warps, LaunchShape{}.warps);
  EXPECT_EQ(shape.heads_per_cta, 1);
}

}  // namespace
}  // namespace kvjit
