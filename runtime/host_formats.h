// Host-side reading of what the kernels store: the value of one stored KV element in every format, and f16 /
// bf16 conversions. The self-test (runtime/self_test.h) uses it to check a kernel's output against exact
// attention over the bytes the append kernel wrote. docs/FORMATS.md defines the formats.
#pragma once

#include <cstdint>

#include "compiler/spec.h"

namespace kvjit::host {

float f16_to_f32(uint16_t h);
float bf16_to_f32(uint16_t h);
uint16_t f32_to_f16(float x);   // round to nearest even; overflow to inf
uint16_t f32_to_bf16(float x);  // round to nearest even
float e4m3_to_f32(uint8_t v);   // bias 7, no infinities, 0x7f / 0xff NaN
float e5m2_to_f32(uint8_t v);   // the top byte of an f16

// Entry i of a scale pool's bytes (little-endian f16 or f32, as `dtype` says).
double scale_entry(ScaleDtype dtype, const uint8_t* scales, int i);

// Element d of a stored row of `spec`'s format: `row` points at the row's first byte, `scales` at its first
// scale byte (int8, q8; else unused); FP8 values take the per-tensor scale.
double kv_element(const Spec& spec, const uint8_t* row, const uint8_t* scales, int d, float tensor_scale);

}  // namespace kvjit::host
