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
