// The self-test's host reading of stored KV bytes agrees with the CPU reference library (tests/reference) on
// every f16, bf16 and FP8 code, on int8 / q8 rows, and on f32 -> f16 / bf16 rounding.
#include "runtime/host_formats.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "runtime/self_test.h"
#include "tests/reference/reference.h"

namespace kvjit {
namespace {

bool same(float a, float b) { return (std::isnan(a) && std::isnan(b)) || a == b; }

TEST(HostFormatsTest, EveryCodeDecodesLikeTheReference) {
  for (uint32_t h = 0; h < 65536; ++h) {
    ASSERT_TRUE(same(host::f16_to_f32(static_cast<uint16_t>(h)), ref::f16_to_f32(static_cast<uint16_t>(h)))) << h;
    ASSERT_TRUE(same(host::bf16_to_f32(static_cast<uint16_t>(h)), ref::bf16_to_f32(static_cast<uint16_t>(h)))) << h;
  }
  for (uint32_t c = 0; c < 256; ++c) {
    ASSERT_TRUE(same(host::e4m3_to_f32(static_cast<uint8_t>(c)), ref::e4m3_to_f32(static_cast<uint8_t>(c)))) << c;
    ASSERT_TRUE(same(host::e5m2_to_f32(static_cast<uint8_t>(c)), ref::e5m2_to_f32(static_cast<uint8_t>(c)))) << c;
  }
}

TEST(HostFormatsTest, RoundingMatchesTheReference) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<uint32_t> bits;
  std::vector<float> xs = {0.0f, -0.0f, 65504.0f, 65519.0f, 65520.0f, 1e-8f, 5.96e-8f, 2.98e-8f, 6.1e-5f, INFINITY,
                           -INFINITY, 3.0e38f};
  for (int i = 0; i < 200000; ++i) {
    uint32_t b = bits(rng);
    float x;
    std::memcpy(&x, &b, 4);
    if (!std::isnan(x)) xs.push_back(x);
    xs.push_back(std::ldexp(static_cast<float>(bits(rng) % 4096) - 2048.0f, static_cast<int>(bits(rng) % 40) - 30));
  }
  for (float x : xs) {
    ASSERT_EQ(host::f32_to_f16(x), ref::f32_to_f16(x)) << x;
    ASSERT_EQ(host::f32_to_bf16(x), ref::f32_to_bf16(x)) << x;
  }
}

TEST(HostFormatsTest, QuantizedRowsReadLikeTheReference) {
  std::mt19937 rng(11);
  std::normal_distribution<float> normal;
  for (KvDtype kv : {KvDtype::f16, KvDtype::bf16, KvDtype::int8, KvDtype::q8, KvDtype::e4m3, KvDtype::e5m2})
    for (ScaleDtype scale : {ScaleDtype::f16, ScaleDtype::f32})
      for (int hd : {32, 128, 256}) {
        if (scale == ScaleDtype::f32 && !has_scale_pool(kv)) continue;
        Spec spec;
        spec.kv = kv;
        spec.scale = scale;
        spec.head_dim = hd;
        ref::HostCache cache = ref::make_cache(spec, 2, 1);
        cache.k_tensor_scale = 0.05f;
        ASSERT_EQ(scales_per_row(kv, hd), ref::scales_per_row(kv, hd));
        const size_t scale_bytes = static_cast<size_t>(scale_bytes_per_row(spec));
        ASSERT_EQ(scale_bytes, 2u * static_cast<size_t>(ref::scale_words_per_row(spec)));
        const auto* pool = reinterpret_cast<const uint8_t*>(cache.k_scales.data());
        for (size_t row = 0; row < cache.rows(); ++row) {
          std::vector<float> x(hd);
          for (float& v : x) v = normal(rng);
          ref::store_row(cache, true, row, x.data());
          std::vector<double> want(hd);
          ref::load_row(cache, true, row, want.data());
          const size_t bytes = static_cast<size_t>(hd) * kv_element_bytes(kv);
          for (int d = 0; d < hd; ++d) {
            const double got = host::kv_element(spec, cache.k.data() + row * bytes,
                                                scale_bytes ? pool + row * scale_bytes : nullptr, d,
                                                cache.k_tensor_scale);
            ASSERT_EQ(got, want[d]) << to_string(spec) << " row " << row << " d " << d;
          }
        }
      }
}

TEST(SelfTestTest, OptInAndBudget) {
  unsetenv("KVJIT_SELFTEST");
  EXPECT_FALSE(self_test_enabled());
  setenv("KVJIT_SELFTEST", "0", 1);
  EXPECT_FALSE(self_test_enabled());
  setenv("KVJIT_SELFTEST", "1", 1);
  EXPECT_TRUE(self_test_enabled());
  unsetenv("KVJIT_SELFTEST");
  Spec f16_out;
  EXPECT_EQ(self_test_budget(f16_out), 1e-3);
  Spec bf16_out;
  bf16_out.q = QDtype::bf16;
  EXPECT_EQ(self_test_budget(bf16_out), 0.00390625);  // one bf16 unit in the last place
}

}  // namespace
}  // namespace kvjit
