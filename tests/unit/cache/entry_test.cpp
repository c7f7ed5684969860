#include "cache/entry.h"

#include <gtest/gtest.h>

#include "tests/unit/cache/cache_test_support.h"

namespace kvjit {
namespace {

TEST(EntryTest, CompiledKernelRoundTrips) {
  const Spec spec = test::test_spec(3);
  const CompiledKernel k = test::fake_kernel(spec);
  const Key key{1, 2};
  const Entry e = make_entry(key, k);
  EXPECT_EQ(e.key, key);
  EXPECT_EQ(e.spec, to_string(spec));
  EXPECT_EQ(e.resources.registers, 40);
  EXPECT_EQ(e.shape.warps, k.shape.warps);
  EXPECT_EQ(e.payload_bytes(), k.ptx.size() + k.cubin.size() + k.log.size());

  const CompiledKernel back = to_compiled_kernel(e).value_or_throw();
  EXPECT_EQ(back.spec, spec);
  EXPECT_EQ(back.symbol, k.symbol);
  EXPECT_EQ(back.ptx, k.ptx);
  EXPECT_EQ(back.cubin, k.cubin);
  EXPECT_EQ(back.log, k.log);
  EXPECT_EQ(back.options, k.options);
  EXPECT_EQ(back.backend, k.backend);
  EXPECT_EQ(back.resources.shared_bytes, k.resources.shared_bytes);
  EXPECT_EQ(back.shape.heads_per_cta, k.shape.heads_per_cta);
  EXPECT_EQ(back.shape.unroll, k.shape.unroll);
  EXPECT_EQ(back.compile_ms, k.compile_ms);
  EXPECT_TRUE(make_entry(key, back) == e);
}

TEST(EntryTest, UnparsableSpecTextIsAnError) {
  Entry e = make_entry(Key{1, 2}, test::fake_kernel(test::test_spec(0)));
  e.spec = "decode:hd=128,frobnicate=1";
  auto k = to_compiled_kernel(e);
  ASSERT_FALSE(k);
  EXPECT_NE(k.error().message.find(Key{1, 2}.hex()), std::string::npos);
}

TEST(EntryTest, EqualityLooksAtEveryField) {
  const Entry a = make_entry(Key{1, 2}, test::fake_kernel(test::test_spec(0)));
  Entry b = a;
  EXPECT_TRUE(a == b);
  b.resources.spill_load_bytes = 4;
  EXPECT_FALSE(a == b);
  b = a;
  b.shape.unroll += 1;
  EXPECT_FALSE(a == b);
  b = a;
  b.cubin.back() ^= 1;
  EXPECT_FALSE(a == b);
}

}  // namespace
}  // namespace kvjit
