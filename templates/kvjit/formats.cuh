// KV formats. A format is one trait used by both the decode kernel (load + dequantize) and the append
// kernel (quantize + store), so the two can never disagree about the bytes:
//
//   Raw                      the vector loaded for 8 consecutive head_dim elements of one row
//   Scale                    per-row data the dequantizer needs (empty for unquantized formats)
//   load(cache, row, vid)    Raw of elements [8*vid, 8*vid+8) of row `row` (rows are head_dim long)
//   load_scale(pool, row)    the row's Scale
//   dequant(raw, scale, vid, tensor_scale, out)   8 floats
//   store_row(...)           quantize and write one row; called by one warp, lanes striding over vectors
//
// A "row" is one (page, slot, kv_head) head_dim vector; its index comes from the layout (paging.cuh).
#pragma once

#include "kvjit/elements.cuh"

namespace kvjit {

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int off = 16; off > 0; off /= 2) v = fmax2(v, shfl_xor(v, off));
  return v;
}

// Unquantized f16 / bf16 K/V: stored as is; the per-tensor scale is ignored (always 1).
template <class Elem>
struct FormatPlain {
  typedef u32x4 Raw;
  struct Scale {};
  static constexpr int kElemBytes = 2;

  __device__ __forceinline__ static Raw load(const void* cache, i64 row, int head_dim, int vid) {
    return ldg_nc(reinterpret_cast<const u32x4*>(static_cast<const u16*>(cache) + row * head_dim) + vid);
  }
  __device__ __forceinline__ static Scale load_scale(const void*, i64) { return Scale{}; }
  __device__ __forceinline__ static void dequant(const Raw& raw, const Scale&, int, float, float (&out)[8]) {
    unpack8<Elem>(raw, out);
  }

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

// INT8, symmetric, one f16 scale per row (vLLM / ferrum style): value = int8 * scale, scale = max|x| / 127
// rounded to f16; quantized with q = rint(x * (1 / scale)) clamped to [-127, 127] (0 when the row is all 0).
struct FormatInt8 {
  typedef u32x2 Raw;
  typedef float Scale;
  static constexpr int kElemBytes = 1;

  __device__ __forceinline__ static Raw load(const void* cache, i64 row, int head_dim, int vid) {
    return ldg_nc(reinterpret_cast<const u32x2*>(static_cast<const u8*>(cache) + row * head_dim) + vid);
  }
  __device__ __forceinline__ static Scale load_scale(const void* pool, i64 row) {
    return ElemF16::to_f32(ldg_nc(static_cast<const u16*>(pool) + row));
  }
  __device__ __forceinline__ static void dequant(const Raw& raw, const Scale& scale, int, float,
                                                 float (&out)[8]) {
    const u32 w[2] = {raw.x, raw.y};
#pragma unroll
    for (int i = 0; i < 8; ++i) out[i] = static_cast<float>(static_cast<i8>((w[i / 4] >> (8 * (i % 4))) & 0xffu)) * scale;
  }

  template <int NV, int VPT>
  __device__ __forceinline__ static void store_row(void* cache, void* scales, i64 row, float,
                                                   const float (&in)[VPT][8], int lane) {
    float amax = 0.0f;
#pragma unroll
    for (int i = 0; i < VPT; ++i)
      if (lane + 32 * i < NV)
#pragma unroll
        for (int e = 0; e < 8; ++e) amax = fmax2(amax, fabs1(in[i][e]));
    amax = warp_max(amax);
    const u16 scale_h = ElemF16::from_f32(amax / 127.0f);
    const float scale = ElemF16::to_f32(scale_h);
    const float inv = scale == 0.0f ? 0.0f : 1.0f / scale;
    if (lane == 0) static_cast<u16*>(scales)[row] = scale_h;
    u32x2* dst = reinterpret_cast<u32x2*>(static_cast<u8*>(cache) + row * (NV * 8));
#pragma unroll
    for (int i = 0; i < VPT; ++i) {
      const int vid = lane + 32 * i;
      if (vid >= NV) continue;
      u32 w[2] = {0u, 0u};
#pragma unroll
      for (int e = 0; e < 8; ++e) {
        float r;
        asm("cvt.rni.f32.f32 %0, %1;" : "=f"(r) : "f"(in[i][e] * inv));
        r = r > 127.0f ? 127.0f : (r < -127.0f ? -127.0f : r);
        w[e / 4] |= (static_cast<u32>(static_cast<i32>(r)) & 0xffu) << (8 * (e % 4));
      }
      dst[vid] = u32x2{w[0], w[1]};
    }
  }
};

}  // namespace kvjit
