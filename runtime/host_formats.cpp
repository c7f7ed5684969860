#include "runtime/host_formats.h"

#include <cmath>
#include <cstring>

namespace kvjit::host {

float f16_to_f32(uint16_t h) {
  const uint32_t sign = (h >> 15) & 1u, exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
  float v;
  if (exp == 0) v = std::ldexp(static_cast<float>(mant), -24);
  else if (exp == 31) v = mant ? std::nanf("") : INFINITY;
  else v = std::ldexp(static_cast<float>(mant | 0x400u), static_cast<int>(exp) - 25);
  return sign ? -v : v;
}

float bf16_to_f32(uint16_t h) {
  const uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t f32_to_f16(float x) {
  uint32_t bits;
  std::memcpy(&bits, &x, 4);
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  const float a = std::fabs(x);
  if (std::isnan(x)) return static_cast<uint16_t>(sign | 0x7e00u);
  if (a >= 65520.0f) return static_cast<uint16_t>(sign | 0x7c00u);  // rounds past the largest finite
  if (a < std::ldexp(1.0f, -14)) {  // subnormal: multiples of 2^-24, nearbyint rounds ties to even
    return static_cast<uint16_t>(sign | static_cast<uint16_t>(std::nearbyint(std::ldexp(a, 24))));
  }
  int e;
  const float m = std::frexp(a, &e);  // a = m * 2^e, m in [0.5, 1)
  const float scaled = std::nearbyint(std::ldexp(m, 11));  // 11 significant bits, [1024, 2048]
  uint32_t mant = static_cast<uint32_t>(scaled);
  int exp = e - 1 + 15;
  if (mant == 2048) {
    mant = 1024;
    ++exp;
  }
  if (exp >= 31) return static_cast<uint16_t>(sign | 0x7c00u);
  return static_cast<uint16_t>(sign | (exp << 10) | (mant & 0x3ffu));
}

uint16_t f32_to_bf16(float x) {
  uint32_t bits;
  std::memcpy(&bits, &x, 4);
  if (std::isnan(x)) return static_cast<uint16_t>((bits >> 16) | 0x40u);
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>(bits >> 16);
}

float e4m3_to_f32(uint8_t v) {
  const uint32_t sign = v >> 7, exp = (v >> 3) & 0xfu, mant = v & 7u;
  if ((v & 0x7fu) == 0x7fu) return std::nanf("");
  const float a = exp == 0 ? std::ldexp(static_cast<float>(mant), -9)
                           : std::ldexp(static_cast<float>(mant | 8u), static_cast<int>(exp) - 10);
  return sign ? -a : a;
}

float e5m2_to_f32(uint8_t v) { return f16_to_f32(static_cast<uint16_t>(v << 8)); }

double scale_entry(ScaleDtype dtype, const uint8_t* scales, int i) {
  if (dtype == ScaleDtype::f32) {
    float s;
    std::memcpy(&s, scales + 4 * i, 4);
    return s;
  }
  uint16_t h;
  std::memcpy(&h, scales + 2 * i, 2);
  return f16_to_f32(h);
}

double kv_element(const Spec& spec, const uint8_t* row, const uint8_t* scales, int d, float tensor_scale) {
  switch (spec.kv) {
    case KvDtype::f16: {
      uint16_t h;
      std::memcpy(&h, row + 2 * d, 2);
      return f16_to_f32(h);
    }
    case KvDtype::bf16: {
      uint16_t h;
      std::memcpy(&h, row + 2 * d, 2);
      return bf16_to_f32(h);
    }
    case KvDtype::int8: return static_cast<int8_t>(row[d]) * scale_entry(spec.scale, scales, 0);
    case KvDtype::q8: return static_cast<int8_t>(row[d]) * scale_entry(spec.scale, scales, d / 32);
    case KvDtype::e4m3: return static_cast<double>(e4m3_to_f32(row[d])) * tensor_scale;
    case KvDtype::e5m2: return static_cast<double>(e5m2_to_f32(row[d])) * tensor_scale;
  }
  return 0.0;
}

}  // namespace kvjit::host
