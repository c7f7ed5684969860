// Cache geometry and the per-format quantizers (store_row / load_row / append).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <vector>

#include "tests/reference/reference.h"

namespace kvjit::ref {
namespace {

Spec spec_of(KvDtype kv, int head_dim = 64, Layout layout = Layout::nhd, int page = 4) {
  Spec s;
  s.head_dim = head_dim;
  s.page_size = page;
  s.kv = kv;
  s.layout = layout;
  return s;
}

// Deterministic values in [-1, 1) from the engine's raw output.
std::vector<float> random_row(uint32_t seed, int n, float amp = 1.0f) {
  std::mt19937 rng(seed);
  std::vector<float> x(static_cast<size_t>(n));
  for (float& v : x) v = amp * (static_cast<float>(rng() >> 8) * (1.0f / 8388608.0f) - 1.0f);
  return x;
}

TEST(Layout, RowFormulas) {
  HostCache nhd = make_cache(spec_of(KvDtype::f16, 64, Layout::nhd, 16), 3, 4);
  HostCache hnd = make_cache(spec_of(KvDtype::f16, 64, Layout::hnd, 16), 3, 4);
  EXPECT_EQ(nhd.rows(), 3u * 16u * 4u);
  EXPECT_EQ(nhd.row(2, 5, 3), (2u * 16u + 5u) * 4u + 3u);  // [pages, page_size, kv_heads, hd]
  EXPECT_EQ(hnd.row(2, 5, 3), (2u * 4u + 3u) * 16u + 5u);  // [pages, kv_heads, page_size, hd]
  EXPECT_EQ(nhd.row(0, 0, 1), 1u);
  EXPECT_EQ(hnd.row(0, 1, 0), 1u);
}

TEST(Cache, SizesPerFormat) {
  struct Row {
    KvDtype kv;
    size_t bytes, scales;
  };
  const size_t rows = 2 * 4 * 3, hd = 64;
  const Row table[] = {{KvDtype::f16, rows * hd * 2, 0},   {KvDtype::bf16, rows * hd * 2, 0},
                       {KvDtype::int8, rows * hd, rows},    {KvDtype::q8, rows * hd, rows * 2},
                       {KvDtype::e4m3, rows * hd, 0},       {KvDtype::e5m2, rows * hd, 0}};
  for (const Row& r : table) {
    const HostCache c = make_cache(spec_of(r.kv), 2, 3);
    EXPECT_EQ(c.k.size(), r.bytes) << to_string(r.kv);
    EXPECT_EQ(c.v.size(), r.bytes) << to_string(r.kv);
    EXPECT_EQ(c.k_scales.size(), r.scales) << to_string(r.kv);
    EXPECT_EQ(c.v_scales.size(), r.scales) << to_string(r.kv);
  }
  EXPECT_THROW(make_cache(spec_of(KvDtype::q8, 48), 1, 1), std::invalid_argument);
}

TEST(Int8Quantizer, AllZeroRowHasZeroScale) {
  const std::vector<float> x(64, 0.0f);
  std::vector<int8_t> q(64, 99);
  EXPECT_EQ(quantize_int8(x.data(), 64, q.data()), 0);
  for (int8_t v : q) EXPECT_EQ(v, 0);
}

TEST(Int8Quantizer, MaxMapsToPlusMinus127) {
  for (float amax : {0.01f, 0.37f, 1.0f, 3.0f, 100.0f, 6e4f}) {
    std::vector<float> x = random_row(7, 32, amax * 0.9f);
    x[3] = amax;
    x[17] = -amax;
    std::vector<int8_t> q(32);
    quantize_int8(x.data(), 32, q.data());
    EXPECT_EQ(q[3], 127) << amax;
    EXPECT_EQ(q[17], -127) << amax;
  }
}

TEST(Int8Quantizer, HandComputedRow) {
  // amax = 2.54: 2.54f / 127 = 0.02 -> f16 0x251f = 1311 * 2^-16 = 0.0200042724609375; inv = 49.98932...
  const float x[8] = {1.0f, -0.5f, 0.25f, 2.54f, 0.0f, -2.54f, 0.01f, 1.27f};
  int8_t q[8];
  EXPECT_EQ(quantize_int8(x, 8, q), 0x251f);
  const int8_t want[8] = {50, -25, 12, 127, 0, -127, 0, 63};
  for (int i = 0; i < 8; ++i) EXPECT_EQ(q[i], want[i]) << i;
}

TEST(Int8Quantizer, HalfwayRoundsToEven) {
  // amax 127 gives scale exactly 1, so x * inv is x and the ties are visible.
  const float x[6] = {127.0f, 0.5f, 1.5f, 2.5f, -0.5f, -1.5f};
  int8_t q[6];
  EXPECT_EQ(quantize_int8(x, 6, q), 0x3c00);
  const int8_t want[6] = {127, 0, 2, 2, 0, -2};
  for (int i = 0; i < 6; ++i) EXPECT_EQ(q[i], want[i]) << i;
}

TEST(StoreRow, Int8WritesRowAndScaleAtTheLayoutRow) {
  HostCache c = make_cache(spec_of(KvDtype::int8, 64, Layout::hnd), 3, 2);
  const std::vector<float> x = random_row(1, 64);
  const size_t row = c.row(2, 1, 1);
  store_row(c, false, row, x.data());
  std::vector<int8_t> q(64);
  const uint16_t scale = quantize_int8(x.data(), 64, q.data());
  EXPECT_EQ(c.v_scales[row], scale);
  for (int d = 0; d < 64; ++d) EXPECT_EQ(static_cast<int8_t>(c.v[row * 64 + static_cast<size_t>(d)]), q[static_cast<size_t>(d)]);
  for (uint8_t b : c.k) EXPECT_EQ(b, 0);  // K untouched

  std::vector<double> back(64);
  load_row(c, false, row, back.data());
  const double s = f16_to_f32(scale);
  for (int d = 0; d < 64; ++d) {
    EXPECT_EQ(back[static_cast<size_t>(d)], q[static_cast<size_t>(d)] * s);
    EXPECT_LE(std::fabs(back[static_cast<size_t>(d)] - x[static_cast<size_t>(d)]), 0.5 * s * (1 + 1e-3));
  }
}

TEST(StoreRow, PlainFormatsAreLittleEndianAndExact) {
  for (KvDtype kv : {KvDtype::f16, KvDtype::bf16}) {
    HostCache c = make_cache(spec_of(kv, 32), 1, 1);
    std::vector<float> x(32);
    for (int d = 0; d < 32; ++d) x[static_cast<size_t>(d)] = static_cast<float>(d) * 0.25f - 3.0f;
    store_row(c, true, 0, x.data());
    const uint16_t one_bits = kv == KvDtype::f16 ? f32_to_f16(x[1]) : f32_to_bf16(x[1]);
    EXPECT_EQ(c.k[2], one_bits & 0xff);
    EXPECT_EQ(c.k[3], one_bits >> 8);
    std::vector<double> back(32);
    load_row(c, true, 0, back.data());
    for (int d = 0; d < 32; ++d) EXPECT_EQ(back[static_cast<size_t>(d)], x[static_cast<size_t>(d)]);
  }
}

TEST(StoreRow, Q8HasOneScalePerBlockOf32) {
  HostCache c = make_cache(spec_of(KvDtype::q8, 64), 1, 2);
  std::vector<float> x = random_row(3, 64, 0.01f);
  for (int d = 32; d < 64; ++d) x[static_cast<size_t>(d)] *= 1000.0f;  // second block much larger
  const size_t row = c.row(0, 2, 1);
  store_row(c, true, row, x.data());
  std::vector<int8_t> q(32);
  EXPECT_EQ(c.k_scales[row * 2], quantize_int8(x.data(), 32, q.data()));
  EXPECT_EQ(c.k_scales[row * 2 + 1], quantize_int8(x.data() + 32, 32, q.data()));
  EXPECT_NE(c.k_scales[row * 2], c.k_scales[row * 2 + 1]);
  for (int d = 0; d < 32; ++d) EXPECT_EQ(static_cast<int8_t>(c.k[row * 64 + 32 + static_cast<size_t>(d)]), q[static_cast<size_t>(d)]);

  std::vector<double> back(64);
  load_row(c, true, row, back.data());
  for (int d = 0; d < 64; ++d) {
    const double s = f16_to_f32(c.k_scales[row * 2 + static_cast<size_t>(d) / 32]);
    EXPECT_LE(std::fabs(back[static_cast<size_t>(d)] - x[static_cast<size_t>(d)]), 0.5 * s * (1 + 1e-3)) << d;
  }
}

TEST(StoreRow, Fp8DividesByTensorScaleAndSaturates) {
  HostCache c = make_cache(spec_of(KvDtype::e4m3, 32), 1, 1);
  c.k_tensor_scale = 0.5f;
  std::vector<float> x(32, 0.0f);
  x[0] = 1.0f;     // 2.0 stored
  x[1] = 300.0f;   // 600 saturates to 448
  x[2] = -1e30f;   // saturates to -448
  x[3] = 0.1f;     // 0.2 -> nearest e4m3 0.203125
  store_row(c, true, 0, x.data());
  EXPECT_EQ(c.k[0], f32_to_e4m3(2.0f));
  EXPECT_EQ(c.k[1], 0x7e);
  EXPECT_EQ(c.k[2], 0xfe);
  std::vector<double> back(32);
  load_row(c, true, 0, back.data());
  EXPECT_EQ(back[0], 1.0);
  EXPECT_EQ(back[1], 224.0);
  EXPECT_EQ(back[2], -224.0);
  EXPECT_EQ(back[3], 0.203125 * 0.5);

  HostCache e5 = make_cache(spec_of(KvDtype::e5m2, 32), 1, 1);
  e5.v_tensor_scale = 2.0f;
  x[1] = 1e6f;  // 5e5 saturates to 57344
  store_row(e5, false, 0, x.data());
  EXPECT_EQ(e5.v[1], 0x7b);
  load_row(e5, false, 0, back.data());
  EXPECT_EQ(back[0], 1.0);
  EXPECT_EQ(back[1], 57344.0 * 2.0);
}

TEST(StoreRow, RowOutOfRangeThrows) {
  HostCache c = make_cache(spec_of(KvDtype::f16, 32), 1, 1);
  std::vector<float> x(32);
  EXPECT_THROW(store_row(c, true, c.rows(), x.data()), std::out_of_range);
}

TEST(Append, WritesMappedSlotsAndSkipsNegative) {
  Spec s = spec_of(KvDtype::int8, 32, Layout::hnd, 4);
  s.q = QDtype::bf16;
  HostCache c = make_cache(s, 3, 2);
  const int tokens = 3;
  std::vector<float> kf = random_row(11, tokens * 2 * 32), vf = random_row(12, tokens * 2 * 32);
  const std::vector<uint16_t> k = to_q_bits(s.q, kf), v = to_q_bits(s.q, vf);
  const std::vector<int64_t> slots = {9, -1, 2};  // page 2 slot 1, skipped, page 0 slot 2
  append(c, k, v, tokens, slots);

  HostCache want = make_cache(s, 3, 2);
  const int pages[3] = {2, 0, 0}, in_page[3] = {1, 0, 2};
  for (int t : {0, 2})
    for (int h = 0; h < 2; ++h) {
      std::vector<float> kr(32), vr(32);
      for (int d = 0; d < 32; ++d) {
        const size_t i = (static_cast<size_t>(t) * 2 + static_cast<size_t>(h)) * 32 + static_cast<size_t>(d);
        kr[static_cast<size_t>(d)] = bf16_to_f32(k[i]);  // the input dtype is spec.q
        vr[static_cast<size_t>(d)] = bf16_to_f32(v[i]);
      }
      const size_t row = want.row(pages[t], in_page[t], h);
      store_row(want, true, row, kr.data());
      store_row(want, false, row, vr.data());
    }
  EXPECT_EQ(c.k, want.k);
  EXPECT_EQ(c.v, want.v);
  EXPECT_EQ(c.k_scales, want.k_scales);
  EXPECT_EQ(c.v_scales, want.v_scales);

  EXPECT_THROW(append(c, k, v, 1, {12}), std::out_of_range);  // 3 pages * 4 slots
}

}  // namespace
}  // namespace kvjit::ref
