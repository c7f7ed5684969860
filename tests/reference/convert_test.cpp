// Scalar conversions: known bit patterns, exact ties, and exhaustive round trips.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <random>
#include <vector>

#include "tests/reference/reference.h"

namespace kvjit::ref {
namespace {

float from_bits(uint32_t b) { return std::bit_cast<float>(b); }

bool f16_is_nan(uint16_t h) { return (h & 0x7c00u) == 0x7c00u && (h & 0x3ffu) != 0; }

struct F16Case {
  float x;
  uint16_t bits;
};

TEST(F16, KnownBitPatterns) {
  const F16Case cases[] = {
      {1.0f, 0x3c00},
      {-2.0f, 0xc000},
      {65504.0f, 0x7bff},                 // max finite
      {65519.99f, 0x7bff},                // just below the tie with 65536
      {65520.0f, 0x7c00},                 // tie between 65504 (odd) and 65536 (even, overflows) -> inf
      {1e6f, 0x7c00},
      {-1e6f, 0xfc00},
      {INFINITY, 0x7c00},
      {-INFINITY, 0xfc00},
      {0.0f, 0x0000},
      {-0.0f, 0x8000},
      {std::ldexp(1.0f, -14), 0x0400},    // min normal
      {std::ldexp(1023.0f, -24), 0x03ff}, // max subnormal
      {std::ldexp(1.0f, -24), 0x0001},    // min subnormal
      {std::ldexp(1.0f, -25), 0x0000},    // tie between 0 and 2^-24 -> even (0)
      {-std::ldexp(1.0f, -25), 0x8000},
      {std::ldexp(1.5f, -25), 0x0001},    // above the tie
      {std::ldexp(3.0f, -25), 0x0002},    // tie between 1 and 2 ulps -> 2
      {std::ldexp(5.0f, -25), 0x0002},    // tie between 2 and 3 ulps -> 2
      {std::ldexp(1.0f, -30), 0x0000},
      {1.0f + std::ldexp(1.0f, -11), 0x3c00},      // tie -> even mantissa 0
      {1.0f + std::ldexp(3.0f, -11), 0x3c02},      // tie -> even mantissa 2
      {1.0f + std::ldexp(1.0f, -11) + std::ldexp(1.0f, -20), 0x3c01},
      {2047.0f / 1024.0f + std::ldexp(1.0f, -11), 0x4000},  // rounding carries into the exponent
      {0.1f, 0x2e66},
  };
  for (const F16Case& c : cases) EXPECT_EQ(f32_to_f16(c.x), c.bits) << "x = " << c.x;
  EXPECT_EQ(f16_to_f32(0x3c00), 1.0f);
  EXPECT_EQ(f16_to_f32(0x7bff), 65504.0f);
  EXPECT_EQ(f16_to_f32(0x0001), std::ldexp(1.0f, -24));
  EXPECT_TRUE(std::signbit(f16_to_f32(0x8000)));
}

TEST(F16, NanStaysNan) {
  EXPECT_TRUE(f16_is_nan(f32_to_f16(NAN)));
  EXPECT_TRUE(f16_is_nan(f32_to_f16(-NAN)));
  EXPECT_TRUE(f16_is_nan(f32_to_f16(from_bits(0x7f800001u))));  // payload only in the low bits
  EXPECT_TRUE(std::isnan(f16_to_f32(0x7e00)));
  EXPECT_TRUE(std::isnan(f16_to_f32(0xfc01)));
  EXPECT_EQ(f16_to_f32(0x7c00), INFINITY);
  EXPECT_EQ(f16_to_f32(0xfc00), -INFINITY);
}

TEST(F16, AllValuesRoundTrip) {
  for (uint32_t h = 0; h < 0x10000u; ++h) {
    const uint16_t bits = static_cast<uint16_t>(h);
    const float f = f16_to_f32(bits);
    if (f16_is_nan(bits)) {
      ASSERT_TRUE(std::isnan(f)) << std::hex << h;
      ASSERT_TRUE(f16_is_nan(f32_to_f16(f))) << std::hex << h;
      continue;
    }
    // Independent value: (-1)^s * 2^(e-15) * (1 + m/1024), or m * 2^-24 for subnormals.
    const int e = (h >> 10) & 0x1f, m = h & 0x3ff;
    const double mag = e == 0x1f ? INFINITY : e == 0 ? std::ldexp(m, -24) : std::ldexp(1024 + m, e - 25);
    ASSERT_EQ(static_cast<double>(f), (h & 0x8000u) ? -mag : mag) << std::hex << h;
    ASSERT_EQ(f32_to_f16(f), bits) << std::hex << h;
  }
}

// Every midpoint between neighbouring f16 values is an exact tie (it fits in a float): it must go to the
// even code, and the floats just either side of it to the nearer neighbour.
TEST(F16, AllTiesRoundToEven) {
  for (uint16_t lo = 0; lo < 0x7bff; ++lo) {
    const uint16_t hi = static_cast<uint16_t>(lo + 1);
    const float mid = (f16_to_f32(lo) + f16_to_f32(hi)) / 2.0f;
    ASSERT_EQ(f32_to_f16(mid), (lo & 1u) ? hi : lo) << std::hex << lo;
    ASSERT_EQ(f32_to_f16(std::nextafter(mid, 0.0f)), lo) << std::hex << lo;
    ASSERT_EQ(f32_to_f16(std::nextafter(mid, INFINITY)), hi) << std::hex << lo;
    ASSERT_EQ(f32_to_f16(-mid), 0x8000u | ((lo & 1u) ? hi : lo)) << std::hex << lo;
  }
}

TEST(Bf16, KnownBitPatterns) {
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(f32_to_bf16(-0.0f), 0x8000);
  EXPECT_EQ(f32_to_bf16(from_bits(0x3f808000u)), 0x3f80);  // tie -> even
  EXPECT_EQ(f32_to_bf16(from_bits(0x3f818000u)), 0x3f82);  // tie -> even
  EXPECT_EQ(f32_to_bf16(from_bits(0x3f808001u)), 0x3f81);  // above the tie
  EXPECT_EQ(f32_to_bf16(from_bits(0x3f807fffu)), 0x3f80);  // below the tie
  EXPECT_EQ(f32_to_bf16(from_bits(0x7f7f8000u)), 0x7f80);  // tie at the top rounds to inf
  EXPECT_EQ(f32_to_bf16(from_bits(0x7f7f7fffu)), 0x7f7f);
  EXPECT_EQ(f32_to_bf16(INFINITY), 0x7f80);
  EXPECT_EQ(f32_to_bf16(from_bits(0x00008000u)), 0x0000);  // subnormal tie -> even
  EXPECT_EQ(f32_to_bf16(from_bits(0x00018000u)), 0x0002);
  const uint16_t nan = f32_to_bf16(from_bits(0x7f800001u));  // payload only in the dropped bits
  EXPECT_TRUE(std::isnan(bf16_to_f32(nan)));
  EXPECT_EQ(bf16_to_f32(0x4049), 3.140625f);
}

TEST(Bf16, AllValuesRoundTrip) {
  for (uint32_t h = 0; h < 0x10000u; ++h) {
    const uint16_t bits = static_cast<uint16_t>(h);
    const float f = bf16_to_f32(bits);
    if (std::isnan(f)) {
      ASSERT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(f)))) << std::hex << h;
    } else {
      ASSERT_EQ(f32_to_bf16(f), bits) << std::hex << h;
    }
  }
}

struct Fp8Case {
  float x;
  uint8_t bits;
};

TEST(E4m3, KnownBitPatterns) {
  const Fp8Case cases[] = {
      {1.0f, 0x38},     {-1.0f, 0xb8},    {448.0f, 0x7e},   {-448.0f, 0xfe},
      {464.0f, 0x7e},   {1e6f, 0x7e},     {-1e6f, 0xfe},    {INFINITY, 0x7e},
      {-INFINITY, 0xfe}, {0.0f, 0x00},    {-0.0f, 0x80},    {std::ldexp(1.0f, -6), 0x08},  // min normal
      {std::ldexp(1.0f, -9), 0x01},       // min subnormal
      {std::ldexp(1.0f, -10), 0x00},      // tie with 0 -> even
      {std::ldexp(3.0f, -10), 0x02},      // tie between 1 and 2 -> 2
      {1.0625f, 0x38},                    // tie between 1 and 1.125 -> even (1)
      {1.1875f, 0x3a},                    // tie between 1.125 and 1.25 -> even (1.25)
      {15.5f, 0x58},                      // tie between 15 (odd) and 16 -> 16, carrying into the exponent
  };
  for (const Fp8Case& c : cases) EXPECT_EQ(f32_to_e4m3(c.x), c.bits) << "x = " << c.x;
  EXPECT_EQ(f32_to_e4m3(NAN), 0x7f);
  EXPECT_TRUE(std::isnan(e4m3_to_f32(0x7f)));
  EXPECT_TRUE(std::isnan(e4m3_to_f32(0xff)));
  EXPECT_EQ(e4m3_to_f32(0x7e), 448.0f);
  EXPECT_EQ(e4m3_to_f32(0x78), 256.0f);  // exponent field 15 is finite in E4M3
  EXPECT_EQ(e4m3_to_f32(0x01), std::ldexp(1.0f, -9));
}

TEST(E5m2, KnownBitPatterns) {
  const Fp8Case cases[] = {
      {1.0f, 0x3c},     {-1.0f, 0xbc},     {57344.0f, 0x7b},  {-57344.0f, 0xfb},
      {61440.0f, 0x7b}, {1e6f, 0x7b},      {INFINITY, 0x7b},  {-INFINITY, 0xfb},
      {0.0f, 0x00},     {-0.0f, 0x80},     {std::ldexp(1.0f, -14), 0x04},  // min normal
      {std::ldexp(1.0f, -16), 0x01},       // min subnormal
      {std::ldexp(1.0f, -17), 0x00},       // tie with 0 -> even
      {1.125f, 0x3c},                      // tie between 1 and 1.25 -> even (1)
      {1.375f, 0x3e},                      // tie between 1.25 and 1.5 -> even (1.5)
  };
  for (const Fp8Case& c : cases) EXPECT_EQ(f32_to_e5m2(c.x), c.bits) << "x = " << c.x;
  EXPECT_EQ(f32_to_e5m2(NAN), 0x7f);
  EXPECT_EQ(e5m2_to_f32(0x7c), INFINITY);
  EXPECT_EQ(e5m2_to_f32(0xfc), -INFINITY);
  for (uint8_t nan : {0x7d, 0x7e, 0x7f, 0xfd, 0xfe, 0xff}) EXPECT_TRUE(std::isnan(e5m2_to_f32(nan)));
  EXPECT_EQ(e5m2_to_f32(0x7b), 57344.0f);
}

// Exhaustive over the 8-bit codes: decode/encode round trips, and every midpoint between neighbours is a
// tie to the even code.
void check_fp8_exhaustive(uint8_t (*enc)(float), float (*dec)(uint8_t), uint8_t max_code) {
  for (int c = 0; c < 256; ++c) {
    const uint8_t code = static_cast<uint8_t>(c);
    const float f = dec(code);
    if (std::isnan(f) || std::isinf(f)) continue;
    ASSERT_EQ(enc(f), code) << std::hex << c;
  }
  for (int lo = 0; lo < max_code; ++lo) {
    const uint8_t l = static_cast<uint8_t>(lo), h = static_cast<uint8_t>(lo + 1);
    const float mid = (dec(l) + dec(h)) / 2.0f;
    ASSERT_EQ(enc(mid), (lo & 1) ? h : l) << std::hex << lo;
    ASSERT_EQ(enc(std::nextafter(mid, 0.0f)), l) << std::hex << lo;
    ASSERT_EQ(enc(std::nextafter(mid, INFINITY)), h) << std::hex << lo;
    ASSERT_EQ(enc(-mid), 0x80 | ((lo & 1) ? h : l)) << std::hex << lo;
  }
  ASSERT_EQ(enc(std::nextafter(dec(max_code), INFINITY)), max_code);
}

TEST(E4m3, Exhaustive) { check_fp8_exhaustive(f32_to_e4m3, e4m3_to_f32, 0x7e); }
TEST(E5m2, Exhaustive) { check_fp8_exhaustive(f32_to_e5m2, e5m2_to_f32, 0x7b); }

TEST(QDtypes, DispatchOnSpecQ) {
  EXPECT_EQ(f32_to_q(QDtype::f16, 1.0f), 0x3c00);
  EXPECT_EQ(f32_to_q(QDtype::bf16, 1.0f), 0x3f80);
  EXPECT_EQ(q_to_f32(QDtype::f16, 0x3c00), 1.0f);
  EXPECT_EQ(q_to_f32(QDtype::bf16, 0x3f80), 1.0f);
  EXPECT_EQ(to_q_bits(QDtype::f16, {1.0f, -2.0f}), (std::vector<uint16_t>{0x3c00, 0xc000}));
}

}  // namespace
}  // namespace kvjit::ref
