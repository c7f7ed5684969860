// Scalar conversions. Written on the bit patterns (not through a compiler's _Float16 or a CUDA header) so the
// reference does not depend on the very conversions it checks.
#include <algorithm>
#include <bit>
#include <cmath>

#include "tests/reference/reference.h"

namespace kvjit::ref {
namespace {

// Rounds m >> shift to nearest, ties to even (shift in [1, 31]).
uint32_t shift_rne(uint32_t m, int shift) {
  const uint32_t kept = m >> shift;
  const uint32_t rest = m & ((1u << shift) - 1u);
  const uint32_t half = 1u << (shift - 1);
  return kept + ((rest > half || (rest == half && (kept & 1u))) ? 1u : 0u);
}

// An 8-bit float with E exponent bits, M mantissa bits, bias B. Values are built and read through
// frexp / ldexp, which are exact for every magnitude involved.
struct Fp8 {
  int exp_bits, man_bits, bias;
  uint8_t max_code;  // largest finite magnitude
  bool has_inf;      // E5M2: exponent all ones is inf / NaN; E4M3: only 0x7f is NaN

  float decode(uint8_t v) const {
    const bool neg = (v & 0x80u) != 0;
    const int e = (v >> man_bits) & ((1 << exp_bits) - 1);
    const int m = v & ((1 << man_bits) - 1);
    const int e_max = (1 << exp_bits) - 1;
    float mag;
    if (has_inf && e == e_max) {
      mag = m == 0 ? INFINITY : NAN;
    } else if (!has_inf && (v & 0x7fu) == 0x7fu) {
      mag = NAN;
    } else if (e == 0) {
      mag = std::ldexp(static_cast<float>(m), 1 - bias - man_bits);
    } else {
      mag = std::ldexp(static_cast<float>(m + (1 << man_bits)), e - bias - man_bits);
    }
    return neg ? -mag : mag;
  }

  uint8_t encode(float x) const {
    if (std::isnan(x)) return 0x7f;
    const uint8_t sign = std::signbit(x) ? 0x80 : 0x00;
    const double a = std::fabs(static_cast<double>(x));
    const double max_value = std::fabs(static_cast<double>(decode(max_code)));
    if (a >= max_value) return sign | max_code;  // saturate (infinities included)
    if (a == 0.0) return sign;
    int e2;
    std::frexp(a, &e2);                           // a in [2^(e2-1), 2^e2)
    const int exp = std::max(e2 - 1, 1 - bias);   // binade exponent; subnormals share the lowest one
    const double units = std::ldexp(a, man_bits - exp);  // a in units of the binade's spacing (exact)
    double r = std::floor(units);
    const double frac = units - r;
    if (frac > 0.5 || (frac == 0.5 && std::fmod(r, 2.0) != 0.0)) r += 1.0;
    // r * 2^(exp - man_bits) is the rounded value; r == 2^(man_bits+1) carries into the next binade, which
    // the encoding below handles because it re-derives the fields from r.
    const int ri = static_cast<int>(r);
    if (ri == 0) return sign;
    const int implicit = 1 << man_bits;
    if (exp == 1 - bias && ri < implicit) return static_cast<uint8_t>(sign | ri);  // subnormal
    int field_e = exp + bias, field_m = ri - implicit;
    if (ri >= 2 * implicit) {
      field_e += 1;
      field_m = ri / 2 - implicit;
    }
    return static_cast<uint8_t>(sign | (field_e << man_bits) | field_m);
  }
};

constexpr Fp8 kE4m3{4, 3, 7, 0x7e, false};
constexpr Fp8 kE5m2{5, 2, 15, 0x7b, true};

}  // namespace

uint16_t f32_to_f16(float x) {
  const uint32_t f = std::bit_cast<uint32_t>(x);
  const uint16_t sign = static_cast<uint16_t>((f >> 16) & 0x8000u);
  const uint32_t a = f & 0x7fffffffu;
  if (a > 0x7f800000u) return sign | 0x7e00u | static_cast<uint16_t>((a >> 13) & 0x3ffu);  // NaN, quiet
  if (a >= 0x477ff000u) return sign | 0x7c00u;  // >= 65520 (65504 + half ulp, a tie to even) or inf
  if (a >= 0x38800000u) {                       // normal f16 (>= 2^-14)
    // Re-bias the exponent in place; rounding may carry into the exponent, which is still correct.
    const uint32_t rebased = a - (112u << 23);
    return sign | static_cast<uint16_t>(shift_rne(rebased, 13));
  }
  if (a <= 0x33000000u) return sign;  // <= 2^-25: rounds to zero (2^-25 is a tie with 0)
  // Subnormal f16: value = h * 2^-24 with the float's significand m * 2^(e - 150).
  const int e = static_cast<int>(a >> 23);
  const uint32_t m = (a & 0x7fffffu) | 0x800000u;
  return sign | static_cast<uint16_t>(shift_rne(m, 126 - e));
}

float f16_to_f32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const int e = (h >> 10) & 0x1f;
  const uint32_t m = h & 0x3ffu;
  if (e == 0x1f) return std::bit_cast<float>(sign | 0x7f800000u | (m << 13));
  if (e == 0) {
    const float mag = std::ldexp(static_cast<float>(m), -24);
    return sign ? -mag : mag;
  }
  return std::bit_cast<float>(sign | (static_cast<uint32_t>(e + 112) << 23) | (m << 13));
}

uint16_t f32_to_bf16(float x) {
  const uint32_t f = std::bit_cast<uint32_t>(x);
  if ((f & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((f >> 16) | 0x40u);
  return static_cast<uint16_t>((f + 0x7fffu + ((f >> 16) & 1u)) >> 16);
}

float bf16_to_f32(uint16_t h) { return std::bit_cast<float>(static_cast<uint32_t>(h) << 16); }

uint8_t f32_to_e4m3(float x) { return kE4m3.encode(x); }
float e4m3_to_f32(uint8_t v) { return kE4m3.decode(v); }
uint8_t f32_to_e5m2(float x) { return kE5m2.encode(x); }
float e5m2_to_f32(uint8_t v) { return kE5m2.decode(v); }

float q_to_f32(QDtype q, uint16_t bits) { return q == QDtype::bf16 ? bf16_to_f32(bits) : f16_to_f32(bits); }
uint16_t f32_to_q(QDtype q, float x) { return q == QDtype::bf16 ? f32_to_bf16(x) : f32_to_f16(x); }

std::vector<uint16_t> to_q_bits(QDtype q, const std::vector<float>& x) {
  std::vector<uint16_t> out(x.size());
  for (size_t i = 0; i < x.size(); ++i) out[i] = f32_to_q(q, x[i]);
  return out;
}

}  // namespace kvjit::ref
