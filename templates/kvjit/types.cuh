// Basic types and the few device primitives kvjit's kernels need, written as inline PTX so the templates
// include no CUDA toolkit header: NVRTC compiles them without its builtin header set, and LLVM's NVPTX
// backend compiles the same text. Requires sm_80+ (cvt.rn.bf16.f32, cvt.rn.f16x2.f32).
#pragma once

namespace kvjit {

typedef unsigned char u8;
typedef signed char i8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef int i32;
typedef long long i64;
typedef unsigned long long u64;

struct alignas(16) u32x4 { u32 x, y, z, w; };
struct alignas(8) u32x2 { u32 x, y; };

// A finite stand-in for -inf in online softmax: ex2(kNegBig - s) underflows to 0 for any finite score,
// and kNegBig - kNegBig is 0 rather than NaN when a thread saw no token.
constexpr float kNegBig = -3.0e38f;
constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;

__device__ __forceinline__ float bits_to_f32(u32 x) {
  float f;
  asm("mov.b32 %0, %1;" : "=f"(f) : "r"(x));
  return f;
}
__device__ __forceinline__ u32 f32_to_bits(float f) {
  u32 x;
  asm("mov.b32 %0, %1;" : "=r"(x) : "f"(f));
  return x;
}

__device__ __forceinline__ float ex2(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}
// a / b within 2 ulp over the full range (PTX div.full). An IEEE division (div.rn) is a longer sequence with
// a slow-path subroutine for ptxas to compile: the CTA end's three cost ~20 ms of a decode kernel's cold
// compile (NVRTC 13), and the soft cap's two sit in the tile loop.
__device__ __forceinline__ float div_full(float a, float b) {
  float y;
  asm("div.full.f32 %0, %1, %2;" : "=f"(y) : "f"(a), "f"(b));
  return y;
}
__device__ __forceinline__ float lg2(float x) {
  float y;
  asm("lg2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}

__device__ __forceinline__ float shfl_xor(float v, int lane_mask) {
  float r;
  asm volatile("shfl.sync.bfly.b32 %0, %1, %2, 0x1f, 0xffffffff;" : "=f"(r) : "f"(v), "r"(lane_mask));
  return r;
}

// Read-only, non-coherent global loads: the KV cache is not written while a decode kernel reads it.
__device__ __forceinline__ u32x4 ldg_nc(const u32x4* p) {
  u32x4 v;
  asm volatile("ld.global.nc.v4.u32 {%0, %1, %2, %3}, [%4];"
               : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
               : "l"(p));
  return v;
}
__device__ __forceinline__ u32x2 ldg_nc(const u32x2* p) {
  u32x2 v;
  asm volatile("ld.global.nc.v2.u32 {%0, %1}, [%2];" : "=r"(v.x), "=r"(v.y) : "l"(p));
  return v;
}
__device__ __forceinline__ u16 ldg_nc(const u16* p) {
  u16 v;
  asm volatile("ld.global.nc.u16 %0, [%1];" : "=h"(v) : "l"(p));
  return v;
}

__device__ __forceinline__ float fmax2(float a, float b) { return a > b ? a : b; }
__device__ __forceinline__ float fabs1(float a) { return a < 0.0f ? -a : a; }

__host__ __device__ constexpr int next_pow2(int v) {
  int p = 1;
  while (p < v) p *= 2;
  return p;
}

}  // namespace kvjit
