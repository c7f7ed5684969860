#include "compiler/launch_shape.h"

#include "templates/kvjit/params.cuh"

namespace kvjit {

LaunchShape launch_shape(const Spec& spec) {
  LaunchShape shape;
  if (spec.kind == Kind::append) return shape;
  // The tensor-core body, templates/kvjit/decode_mma.cuh (mma=1, or mma=auto where supported).
  if (uses_tensor_cores(spec)) {
    shape.tensor_cores = true;
    for (int h = 8; h >= 1; --h)
      if (spec.gqa % h == 0) {
        shape.heads_per_cta = h;
        break;
      }
    // Prefetching the next tile (unroll 2) doubles the registers a tile's loads take (head_dim * bytes / 4
    // a lane): up to head_dim 128 the kernel still fits without spilling. f16 at head_dim 128 then holds
    // 210-218 registers (gqa 4 to 16, sm_90) and fits 2 CTAs an SM instead of 3; there the prefetch more
    // than repays that (measured on an H100 from batch 1 to 128; head_dim 64 gains too, head_dim 96 loses a
    // point at 64 x 4096: docs/PERFORMANCE.md §3h). Beyond 128 the one-byte formats would drop to 2 CTAs an
    // SM too, unmeasured.
    shape.unroll = spec.head_dim <= 128 ? 2 : 1;
    // 4 warps a CTA. The one-byte formats at head_dim 128 (142-155 registers) also run CTAs of 6, 2 an SM
    // instead of 3 of 4, chosen per launch: 6 won 2-7% where the grid fits 2 CTAs an SM's waves (batch 32,
    // 64, 128; 1 x 32768) and lost up to 35% where it fits 3 (batch 24, 40, 48) on an H100
    // (docs/PERFORMANCE.md §3j). f16 (214 registers) fits one CTA of 6 an SM; other head_dims are unmeasured.
    if (spec.head_dim == 128 && kv_element_bytes(spec.kv) == 1) shape.wide_warps = 6;
    return shape;
  }
  // Mirrors DecodeShape in templates/kvjit/decode.cuh: lanes per row and 8-element vectors per lane.
  const int vectors = spec.head_dim / 8;
  int lanes = 1;
  while (lanes < vectors && lanes < 32) lanes *= 2;
  const int vec_per_lane = (vectors + lanes - 1) / lanes;
  // Each head costs 2 * 8 * vec_per_lane registers per lane (q slice and output accumulator); keep that
  // at 128 so nothing spills, then take the largest divisor of gqa that fits.
  const int max_heads = vec_per_lane == 1 ? 8 : 4;
  for (int h = max_heads; h >= 1; --h)
    if (spec.gqa % h == 0) {
      shape.heads_per_cta = h;
      break;
    }
  // Loads in flight per step, as registers allow: wide head groups (7-8 heads) keep one step.
  const int per_lane = shape.heads_per_cta * vec_per_lane;
  shape.unroll = per_lane <= 4 ? 4 : per_lane <= 6 ? 2 : 1;
  return shape;
}

int LaunchShape::dynamic_shared_bytes(const Spec& spec, int n) const {
  if (wide_warps <= 0) return 0;
  return decode_dynamic_smem_bytes(bound_threads() / 32, n, heads_per_cta, spec.head_dim);
}

bool uses_grid_dependency(const Spec& spec) { return spec.kind == Kind::decode && spec.arch.sm >= 90; }

}  // namespace kvjit
