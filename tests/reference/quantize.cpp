// Per-format store (quantize) and load (dequantize) of one cache row. This is the byte-level definition of
// each KV format; the kernels' format traits must produce and read exactly these bytes.
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

#include "tests/reference/reference.h"

namespace kvjit::ref {
namespace {

void check_row(const HostCache& c, size_t row, const char* what) {
  if (row >= c.rows())
    throw std::out_of_range(std::string(what) + ": row " + std::to_string(row) + " of a cache with " +
                            std::to_string(c.rows()) + " rows (" + to_string(c.spec) + ")");
}

// Where a row's elements and scales start in the cache's vectors.
size_t data_offset(const HostCache& c, size_t row) {
  return row * static_cast<size_t>(c.spec.head_dim) * static_cast<size_t>(kv_element_bytes(c.spec.kv));
}
size_t scale_offset(const HostCache& c, size_t row) { return row * static_cast<size_t>(scale_words_per_row(c.spec)); }

// Two-byte elements are little-endian, as on the device.
void put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v & 0xffu);
  p[1] = static_cast<uint8_t>(v >> 8);
}
uint16_t get16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }

float abs_max(const float* x, int n) {
  float amax = 0.0f;
  for (int i = 0; i < n; ++i) amax = std::fmax(amax, std::fabs(x[i]));
  return amax;
}

// q = rint(x * (1 / scale)) clamped to [-127, 127], with `scale` exactly the value the pool stores.
void quantize_with(const float* x, int n, float scale, int8_t* q) {
  const float inv = scale == 0.0f ? 0.0f : 1.0f / scale;
  for (int i = 0; i < n; ++i) {
    const float prod = x[i] * inv;   // one float multiply, as the kernel
    float r = std::nearbyint(prod);  // default rounding mode: to nearest, ties to even
    r = r > 127.0f ? 127.0f : (r < -127.0f ? -127.0f : r);
    q[i] = static_cast<int8_t>(r);
  }
}

// Quantizes x[0, n) into q and writes its scale as scale i of a row's words, in the spec's scale dtype.
void put_scale(const Spec& spec, uint16_t* words, int i, const float* x, int n, int8_t* q) {
  if (spec.scale == ScaleDtype::f32) {
    const float scale = quantize_int8_f32(x, n, q);
    uint32_t bits;
    std::memcpy(&bits, &scale, 4);
    words[2 * i] = static_cast<uint16_t>(bits & 0xffffu);
    words[2 * i + 1] = static_cast<uint16_t>(bits >> 16);
  } else {
    words[i] = quantize_int8(x, n, q);
  }
}

}  // namespace

uint16_t quantize_int8(const float* x, int n, int8_t* q) {
  const uint16_t scale_h = f32_to_f16(abs_max(x, n) / 127.0f);
  quantize_with(x, n, f16_to_f32(scale_h), q);
  return scale_h;
}

float quantize_int8_f32(const float* x, int n, int8_t* q) {
  const float scale = abs_max(x, n) / 127.0f;
  quantize_with(x, n, scale, q);
  return scale;
}

void store_row(HostCache& cache, bool is_k, size_t row, const float* x) {
  check_row(cache, row, "store_row");
  const int hd = cache.spec.head_dim;
  uint8_t* data = (is_k ? cache.k : cache.v).data() + data_offset(cache, row);
  uint16_t* scales = (is_k ? cache.k_scales : cache.v_scales).data() + scale_offset(cache, row);
  const float tensor_scale = is_k ? cache.k_tensor_scale : cache.v_tensor_scale;
  switch (cache.spec.kv) {
    case KvDtype::f16:
      for (int d = 0; d < hd; ++d) put16(data + 2 * d, f32_to_f16(x[d]));
      return;
    case KvDtype::bf16:
      for (int d = 0; d < hd; ++d) put16(data + 2 * d, f32_to_bf16(x[d]));
      return;
    case KvDtype::int8:
      put_scale(cache.spec, scales, 0, x, hd, reinterpret_cast<int8_t*>(data));
      return;
    case KvDtype::q8:
      for (int b = 0; b < hd / kQ8Block; ++b)
        put_scale(cache.spec, scales, b, x + b * kQ8Block, kQ8Block, reinterpret_cast<int8_t*>(data) + b * kQ8Block);
      return;
    case KvDtype::e4m3:
      for (int d = 0; d < hd; ++d) data[d] = f32_to_e4m3(x[d] / tensor_scale);
      return;
    case KvDtype::e5m2:
      for (int d = 0; d < hd; ++d) data[d] = f32_to_e5m2(x[d] / tensor_scale);
      return;
  }
  throw std::invalid_argument("store_row: unknown kv dtype in " + to_string(cache.spec));
}

void load_row(const HostCache& cache, bool is_k, size_t row, double* out) {
  check_row(cache, row, "load_row");
  const int hd = cache.spec.head_dim;
  const uint8_t* data = (is_k ? cache.k : cache.v).data() + data_offset(cache, row);
  const uint16_t* scales = (is_k ? cache.k_scales : cache.v_scales).data() + scale_offset(cache, row);
  const double tensor_scale = is_k ? cache.k_tensor_scale : cache.v_tensor_scale;
  const int8_t* q = reinterpret_cast<const int8_t*>(data);
  switch (cache.spec.kv) {
    case KvDtype::f16:
      for (int d = 0; d < hd; ++d) out[d] = f16_to_f32(get16(data + 2 * d));
      return;
    case KvDtype::bf16:
      for (int d = 0; d < hd; ++d) out[d] = bf16_to_f32(get16(data + 2 * d));
      return;
    case KvDtype::int8: {
      const double scale = scale_at(cache.spec, scales, 0);
      for (int d = 0; d < hd; ++d) out[d] = q[d] * scale;
      return;
    }
    case KvDtype::q8:
      for (int d = 0; d < hd; ++d) out[d] = q[d] * scale_at(cache.spec, scales, d / kQ8Block);
      return;
    case KvDtype::e4m3:
      for (int d = 0; d < hd; ++d) out[d] = static_cast<double>(e4m3_to_f32(data[d])) * tensor_scale;
      return;
    case KvDtype::e5m2:
      for (int d = 0; d < hd; ++d) out[d] = static_cast<double>(e5m2_to_f32(data[d])) * tensor_scale;
      return;
  }
  throw std::invalid_argument("load_row: unknown kv dtype in " + to_string(cache.spec));
}

}  // namespace kvjit::ref
