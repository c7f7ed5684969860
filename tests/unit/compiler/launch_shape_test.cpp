// Launch geometry: the runtime sizes the grid from the same numbers the kernel was specialized with.
#include "compiler/launch_shape.h"

#include <fmt/format.h>
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

// The one-byte tensor-core kernels at head_dim 128 run CTAs of 4 or 6 warps (a choice per launch); f16 would
// fit one CTA of 6 an SM, and the CUDA-core body, other head_dims and append keep one size.
TEST(LaunchShapeTest, OneByteTensorCoreKernelsAtHeadDim128AlsoRunSixWarps) {
  for (const char* kv : {"int8", "q8", "e4m3", "e5m2"}) {
    const Spec s = parse_spec(fmt::format("decode:hd=128,gqa=4,kv={},arch=sm_90", kv)).value_or_throw();
    const LaunchShape shape = launch_shape(s);
    SCOPED_TRACE(to_string(s));
    EXPECT_TRUE(shape.tensor_cores);
    EXPECT_EQ(shape.warps, 4);
    EXPECT_EQ(shape.wide_warps, 6);
    EXPECT_EQ(shape.threads(), 128);
    EXPECT_EQ(shape.bound_threads(), 192);
    EXPECT_EQ(shape.with_warps(6).threads(), 192);
    EXPECT_EQ(shape.with_warps(6).wide_warps, 0);
    EXPECT_EQ(shape.with_warps(6).heads_per_cta, shape.heads_per_cta);
    // 6 warps' max and sum, the merge flag, then the launched warps' outputs (4 heads x 128 floats each).
    EXPECT_EQ(shape.dynamic_shared_bytes(s, 4), 4 * (2 * 6 * 4 + 1) + 4 * 4 * 128 * 4);
    EXPECT_EQ(shape.dynamic_shared_bytes(s, 6), 4 * (2 * 6 * 4 + 1) + 6 * 4 * 128 * 4);
  }
  for (const char* text : {"decode:hd=128,gqa=4,kv=f16,arch=sm_90", "decode:hd=128,gqa=4,kv=bf16,arch=sm_90",
                           "decode:hd=64,gqa=4,kv=e4m3,arch=sm_90", "decode:hd=256,gqa=4,kv=int8,arch=sm_90",
                           "decode:hd=128,gqa=4,kv=e4m3,arch=sm_90,mma=0", "append:hd=128,kv=int8,arch=sm_90"}) {
    const LaunchShape shape = launch_shape(parse_spec(text).value_or_throw());
    EXPECT_EQ(shape.wide_warps, 0) << text;
    EXPECT_EQ(shape.bound_threads(), shape.threads()) << text;
    EXPECT_EQ(shape.dynamic_shared_bytes(parse_spec(text).value_or_throw(), shape.warps), 0) << text;
  }
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
