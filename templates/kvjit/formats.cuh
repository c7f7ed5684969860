// KV formats. A format is one trait used by both the decode kernel (load + dequantize) and the append
// kernel (quantize + store), so the two can never disagree about the bytes:
//
//   Raw                           the vector loaded for 8 consecutive head_dim elements of one row
//   Scale                         what the dequantizer needs besides Raw (empty for unquantized formats)
//   load(cache, row, hd, vid)     Raw of elements [8*vid, 8*vid+8) of row `row` (rows are hd long)
//   load_scale(pool, row, hd, vid)  the Scale of that vector
//   dequant(raw, out)             8 floats, before the vector's scale
//   scale_of(scale)               the vector's scale as a float: the kernel applies it once per dot
//                                 product (K) or probability (V) instead of once per element
//   kTensorScaled                 true if value = dequant * per-tensor scale (k_scale / v_scale); the decode
//                                 kernel folds that scale into q and into the output instead of each element
//   kPostScale                    a constant factor dequant leaves out, folded the same way
//   store_row(...)                quantize and write one row; one warp, lanes striding over vectors
//
// The tensor-core decode (decode_mma.cuh) reads the same bytes as f16 pairs:
//   kMma                          true if the format has that path (its values are exact in f16, or bf16)
//   kMmaBf16                      true if its pairs are bf16 (bf16 caches): Q and the probabilities are
//                                 rounded to bf16 for the products, instead of f16
//   kMmaElemBytes                 bytes per stored element (1 or 2)
//   kMmaPostScale                 a constant factor the f16 decode leaves out (folded into scores / output)
//   kRowScale, kBlockScale        scale per row (int8: applied to scores and probabilities) or per 32-element
//                                 block (q8: multiplied into the f16 pairs); load_scale reads both
//   to_f16x2(w, lo, hi)           one-byte formats: 4 codes (lowest byte first) to two f16 pairs (bytes 0, 1
//                                 in lo; 2, 3 in hi), before kMmaPostScale
//
// A "row" is one (page, slot, kv_head) head_dim vector; its index comes from the layout (paging.cuh).
#pragma once

#include "kvjit/fp8.cuh"
#include "kvjit/mma.cuh"

namespace kvjit {

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int off = 16; off > 0; off /= 2) v = fmax2(v, shfl_xor(v, off));
  return v;
}

// ---- Shared pieces of the one-byte formats ------------------------------------------------------------
__device__ __forceinline__ u32x2 load_bytes8(const void* cache, i64 row, int head_dim, int vid) {
  return ldg_nc(reinterpret_cast<const u32x2*>(static_cast<const u8*>(cache) + row * head_dim) + vid);
}
__device__ __forceinline__ void store_bytes8(void* cache, i64 row, int head_dim, int vid, u32x2 v) {
  reinterpret_cast<u32x2*>(static_cast<u8*>(cache) + row * head_dim)[vid] = v;
}
__device__ __forceinline__ float abs_max8(const float (&x)[8]) {
  float m = 0.0f;
#pragma unroll
  for (int e = 0; e < 8; ++e) m = fmax2(m, fabs1(x[e]));
  return m;
}
// int8 to f32 without the (slow, quarter-rate) integer conversion unit: flip the sign bit so each byte is
// b + 128, byte-permute it under the exponent of 2^23, and subtract 2^23 + 128. Exact for every byte.
__device__ __forceinline__ void int8x4_to_f32(u32 w, float* out) {
  const u32 biased = w ^ 0x80808080u;
#pragma unroll
  for (int j = 0; j < 4; ++j) {
    u32 bits;
    asm("prmt.b32 %0, %1, %2, %3;" : "=r"(bits) : "r"(biased), "r"(0x4b000000u), "r"(0x7540u | j));
    out[j] = bits_to_f32(bits) - 8388736.0f;
  }
}
__device__ __forceinline__ void int8x8_to_f32(const u32x2& raw, float (&out)[8]) {
  int8x4_to_f32(raw.x, out);
  int8x4_to_f32(raw.y, out + 4);
}
// Scale pool elements of the int8 and q8 formats: f16 (vLLM, GGUF) or f32 (realizar's Q8 cache), chosen by
// the spec's scale field. round() is the value the pool will hold, so quantization uses exactly that value.
// The tensor-core body keeps scales as loaded (Raw) and converts them only where the math uses them: a
// conversion right after the load would wait for it there, before the current tile's math, and so undo the
// prefetch of the next tile (measured on an H100: q8 with f16 scales at 56% of copy bandwidth converting at the
// load, against 81% with f32 scales, which need no conversion).
struct ScaleF16 {
  typedef u16 Raw;
  __device__ __forceinline__ static float round(float s) { return ElemF16::to_f32(ElemF16::from_f32(s)); }
  __device__ __forceinline__ static Raw load_raw(const void* pool, i64 i) {
    return ldg_nc(static_cast<const u16*>(pool) + i);
  }
  __device__ __forceinline__ static float value(Raw r) { return ElemF16::to_f32(r); }
  __device__ __forceinline__ static u32 f16x2(Raw lo, Raw hi) {
    return static_cast<u32>(lo) | (static_cast<u32>(hi) << 16);
  }
  __device__ __forceinline__ static float load(const void* pool, i64 i) { return value(load_raw(pool, i)); }
  __device__ __forceinline__ static void store(void* pool, i64 i, float s) {
    static_cast<u16*>(pool)[i] = ElemF16::from_f32(s);
  }
};
struct ScaleF32 {
  typedef float Raw;
  __device__ __forceinline__ static float round(float s) { return s; }
  __device__ __forceinline__ static Raw load_raw(const void* pool, i64 i) {
    return bits_to_f32(ldg_nc_u32(static_cast<const u32*>(pool) + i));
  }
  __device__ __forceinline__ static float value(Raw r) { return r; }
  __device__ __forceinline__ static u32 f16x2(Raw lo, Raw hi) { return pack_f16x2(lo, hi); }
  __device__ __forceinline__ static float load(const void* pool, i64 i) { return load_raw(pool, i); }
  __device__ __forceinline__ static void store(void* pool, i64 i, float s) { static_cast<float*>(pool)[i] = s; }
};

// Symmetric int8 (int8 rows, q8 blocks): scale = round(max|x| / 127) to the pool's element type;
// q = rint(x * (1 / scale)) in [-127, 127].
__device__ __forceinline__ u32x2 quantize_int8x8(const float (&x)[8], float scale) {
  const float inv = scale == 0.0f ? 0.0f : 1.0f / scale;
  u32 w[2] = {0u, 0u};
#pragma unroll
  for (int e = 0; e < 8; ++e) {
    float r;
    asm("cvt.rni.f32.f32 %0, %1;" : "=f"(r) : "f"(x[e] * inv));
    r = r > 127.0f ? 127.0f : (r < -127.0f ? -127.0f : r);
    w[e / 4] |= (static_cast<u32>(static_cast<i32>(r)) & 0xffu) << (8 * (e % 4));
  }
  return u32x2{w[0], w[1]};
}

// Four int8 codes to two exact f16 pairs: flip the sign bit (b + 128), put each byte under the f16 exponent
// of 1024 (0x64xx = 1024 + byte), subtract 1152.
__device__ __forceinline__ void int8x4_to_f16x2(u32 w, u32& lo, u32& hi) {
  const u32 biased = w ^ 0x80808080u;
  lo = sub_f16x2(prmt(biased, 0x64646464u, 0x4140u), 0x64806480u);
  hi = sub_f16x2(prmt(biased, 0x64646464u, 0x4342u), 0x64806480u);
}

// Unquantized f16 / bf16 K/V: stored as is; the per-tensor scale is ignored (always 1).
template <class Elem>
struct FormatPlain {
  typedef u32x4 Raw;
  struct Scale {};
  static constexpr int kElemBytes = 2;
  static constexpr bool kTensorScaled = false;
  static constexpr float kPostScale = 1.0f;
  // bf16 values are not all f16 values: bf16 caches multiply bf16 pairs.
  static constexpr bool kMma = true;
  static constexpr bool kMmaBf16 = !Elem::kIsF16;
  static constexpr int kMmaElemBytes = 2;
  static constexpr float kMmaPostScale = 1.0f;
  static constexpr bool kRowScale = false, kBlockScale = false;

  __device__ __forceinline__ static Raw load(const void* cache, i64 row, int head_dim, int vid) {
    return ldg_nc(reinterpret_cast<const u32x4*>(static_cast<const u16*>(cache) + row * head_dim) + vid);
  }
  __device__ __forceinline__ static Scale load_scale(const void*, i64, int, int) { return Scale{}; }
  __device__ __forceinline__ static void dequant(const Raw& raw, float (&out)[8]) { unpack8<Elem>(raw, out); }
  __device__ __forceinline__ static float scale_of(const Scale&) { return 1.0f; }

  // in: 8 floats per vector, vectors vid = lane, lane + 32, ...; NV vectors in the row.
  template <int NV, int VPT>
  __device__ __forceinline__ static void store_row(void* cache, void*, i64 row, float, const float (&in)[VPT][8],
                                                   int lane) {
    u32x4* dst = reinterpret_cast<u32x4*>(static_cast<u16*>(cache) + row * (NV * 8));
#pragma unroll
    for (int i = 0; i < VPT; ++i) {
      const int vid = lane + 32 * i;
      if (vid < NV) dst[vid] = pack8<Elem>(in[i]);
    }
  }
};

typedef FormatPlain<ElemF16> FormatF16;
typedef FormatPlain<ElemBF16> FormatBF16;

// INT8, symmetric, one scale per row (vLLM / ferrum style): value = int8 * scale, scale = max|x| / 127
// rounded to the pool's element type (SP: ScaleF16 or ScaleF32); quantized with q = rint(x * (1 / scale))
// clamped to [-127, 127] (0 when the row is all 0).
template <class SP>
struct FormatInt8T {
  typedef u32x2 Raw;
  // Scales stay in the pool's type until used: a conversion right after the load would make the warp wait
  // for that load before issuing the next ones (measured on the tensor-core body: docs/PERFORMANCE.md).
  typedef typename SP::Raw Scale;
  static constexpr int kElemBytes = 1;
  static constexpr bool kTensorScaled = false;
  static constexpr float kPostScale = 1.0f;
  static constexpr bool kMma = true;
  static constexpr bool kMmaBf16 = false;
  static constexpr int kMmaElemBytes = 1;
  static constexpr float kMmaPostScale = 1.0f;
  static constexpr bool kRowScale = true, kBlockScale = false;
  __device__ __forceinline__ static void to_f16x2(u32 w, u32& lo, u32& hi) { int8x4_to_f16x2(w, lo, hi); }

  __device__ __forceinline__ static Raw load(const void* cache, i64 row, int head_dim, int vid) {
    return load_bytes8(cache, row, head_dim, vid);
  }
  __device__ __forceinline__ static Scale load_scale(const void* pool, i64 row, int, int) {
    return SP::load_raw(pool, row);
  }
  __device__ __forceinline__ static void dequant(const Raw& raw, float (&out)[8]) { int8x8_to_f32(raw, out); }
  __device__ __forceinline__ static float scale_of(const Scale& s) { return SP::value(s); }

  template <int NV, int VPT>
  __device__ __forceinline__ static void store_row(void* cache, void* scales, i64 row, float, const float (&in)[VPT][8],
                                                   int lane) {
    float amax = 0.0f;
#pragma unroll
    for (int i = 0; i < VPT; ++i)
      if (lane + 32 * i < NV) amax = fmax2(amax, abs_max8(in[i]));
    amax = warp_max(amax);
    const float scale = SP::round(amax / 127.0f);
    if (lane == 0) SP::store(scales, row, scale);
#pragma unroll
    for (int i = 0; i < VPT; ++i) {
      const int vid = lane + 32 * i;
      if (vid < NV) store_bytes8(cache, row, NV * 8, vid, quantize_int8x8(in[i], scale));
    }
  }
};
typedef FormatInt8T<ScaleF16> FormatInt8;
typedef FormatInt8T<ScaleF32> FormatInt8F32;

// Q8 (GGUF Q8_0 style): 32-element blocks along head_dim, int8 values, one scale per block (f16 as GGUF,
// or f32 as realizar: SP), quantized as int8 is. Scale pool: [rows, head_dim / 32], rows in the cache's
// layout order. The tensor-core body multiplies the f16 pairs by the scale rounded to f16.
template <class SP>
struct FormatQ8T {
  typedef u32x2 Raw;
  typedef typename SP::Raw Scale;  // converted at use, as int8's
  static constexpr int kElemBytes = 1;
  static constexpr bool kTensorScaled = false;
  static constexpr float kPostScale = 1.0f;
  static constexpr bool kMma = true;
  static constexpr bool kMmaBf16 = false;
  static constexpr int kMmaElemBytes = 1;
  static constexpr float kMmaPostScale = 1.0f;
  static constexpr bool kRowScale = false, kBlockScale = true;
  __device__ __forceinline__ static void to_f16x2(u32 w, u32& lo, u32& hi) { int8x4_to_f16x2(w, lo, hi); }

  __device__ __forceinline__ static Raw load(const void* cache, i64 row, int head_dim, int vid) {
    return load_bytes8(cache, row, head_dim, vid);
  }
  __device__ __forceinline__ static Scale load_scale(const void* pool, i64 row, int head_dim, int vid) {
    return SP::load_raw(pool, row * (head_dim / 32) + vid / 4);
  }
  // Two block scales as an f16 pair (lo, hi), to multiply f16 pairs of values.
  __device__ __forceinline__ static u32 scale_f16x2(Scale lo, Scale hi) { return SP::f16x2(lo, hi); }
  __device__ __forceinline__ static void dequant(const Raw& raw, float (&out)[8]) { int8x8_to_f32(raw, out); }
  __device__ __forceinline__ static float scale_of(const Scale& s) { return SP::value(s); }

  // A block is 4 vectors held by 4 consecutive lanes (vid = lane + 32 i), reduced with two shuffles.
  template <int NV, int VPT>
  __device__ __forceinline__ static void store_row(void* cache, void* scales, i64 row, float, const float (&in)[VPT][8],
                                                   int lane) {
#pragma unroll
    for (int i = 0; i < VPT; ++i) {
      const int vid = lane + 32 * i;
      float amax = vid < NV ? abs_max8(in[i]) : 0.0f;
      amax = fmax2(amax, shfl_xor(amax, 1));
      amax = fmax2(amax, shfl_xor(amax, 2));
      if (vid >= NV) continue;
      const float scale = SP::round(amax / 127.0f);
      if (vid % 4 == 0) SP::store(scales, row * (NV / 4) + vid / 4, scale);
      store_bytes8(cache, row, NV * 8, vid, quantize_int8x8(in[i], scale));
    }
  }
};
typedef FormatQ8T<ScaleF16> FormatQ8;
typedef FormatQ8T<ScaleF32> FormatQ8F32;

// FP8 stored directly (vLLM's fp8 cache): value = fp8 * per-tensor scale; append stores fp8(x / scale),
// saturating. kHardware: sm_89+ cvt instructions; otherwise the integer path (same values).
template <class F, bool kHardware>
struct FormatFp8 {
  typedef u32x2 Raw;
  struct Scale {};
  static constexpr int kElemBytes = 1;
  static constexpr bool kTensorScaled = true;
  typedef Fp8Convert<F, kHardware> Convert;
  static constexpr float kPostScale = Convert::kPostScale;
  static constexpr bool kMma = true;
  static constexpr bool kMmaBf16 = false;
  static constexpr int kMmaElemBytes = 1;
  static constexpr float kMmaPostScale = Convert::kMmaPostScale;
  static constexpr bool kRowScale = false, kBlockScale = false;
  __device__ __forceinline__ static void to_f16x2(u32 w, u32& lo, u32& hi) { Convert::to_f16x2(w, lo, hi); }

  __device__ __forceinline__ static Raw load(const void* cache, i64 row, int head_dim, int vid) {
    return load_bytes8(cache, row, head_dim, vid);
  }
  __device__ __forceinline__ static Scale load_scale(const void*, i64, int, int) { return Scale{}; }
  __device__ __forceinline__ static void dequant(const Raw& raw, float (&out)[8]) {
    Convert::decode4(raw.x, out);
    Convert::decode4(raw.y, out + 4);
  }
  __device__ __forceinline__ static float scale_of(const Scale&) { return 1.0f; }

  template <int NV, int VPT>
  __device__ __forceinline__ static void store_row(void* cache, void*, i64 row, float tensor_scale,
                                                   const float (&in)[VPT][8], int lane) {
#pragma unroll
    for (int i = 0; i < VPT; ++i) {
      const int vid = lane + 32 * i;
      if (vid >= NV) continue;
      float x[8];
#pragma unroll
      for (int e = 0; e < 8; ++e) x[e] = in[i][e] / tensor_scale;  // a true division, as the reference
      const u32 w0 = Convert::encode2(x[0], x[1]) | (Convert::encode2(x[2], x[3]) << 16);
      const u32 w1 = Convert::encode2(x[4], x[5]) | (Convert::encode2(x[6], x[7]) << 16);
      store_bytes8(cache, row, NV * 8, vid, u32x2{w0, w1});
    }
  }
};

}  // namespace kvjit
