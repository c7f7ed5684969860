// Launch geometry decided at specialization time. The specializer bakes it into the kernel and the runtime
// uses the same numbers for the grid, so there is one source of truth.
#pragma once

#include "compiler/spec.h"

namespace kvjit {

struct LaunchShape {
  int warps = 4;          // threads per CTA = 32 * warps
  int heads_per_cta = 1;  // decode: query heads of one KV group handled by one CTA (divides gqa)
  int unroll = 2;         // decode: token steps whose loads are issued together (tensor cores: 2 = the next
                          // 16-token tile's loads are issued before this tile's math)
  bool tensor_cores = false;  // decode: the mma.sync body (templates/kvjit/decode_mma.cuh)
  // decode: a second CTA size, in warps, the same kernel runs with (0: none). Each launch takes `warps` or
  // this, whichever fits its grid to the device's waves better (runtime/launch_plan.h choose_cta_warps).
  int wide_warps = 0;
  int threads() const { return 32 * warps; }
  // The most threads a CTA of this kernel has: its __launch_bounds__, and the shared memory's room.
  int bound_threads() const { return 32 * (wide_warps > warps ? wide_warps : warps); }
  int chunks(const Spec& spec) const { return spec.gqa / heads_per_cta; }
  // Bytes of dynamic shared memory a CTA of `n` warps takes: a kernel of two sizes keeps its warps' partial
  // states there, sized per launch (templates/kvjit/params.cuh decode_dynamic_smem_bytes); 0 for one size.
  int dynamic_shared_bytes(const Spec& spec, int n) const;
  // This shape launched with CTAs of `n` warps (one of warps, wide_warps).
  LaunchShape with_warps(int n) const {
    LaunchShape s = *this;
    s.warps = n;
    s.wide_warps = 0;
    return s;
  }
};

LaunchShape launch_shape(const Spec& spec);

// Whether the spec's kernel waits for the grid before it in the stream with griddepcontrol
// (templates/kvjit/grid_dependency.cuh), so the runtime may launch it with programmatic dependent launch:
// decode kernels from sm_90 on.
bool uses_grid_dependency(const Spec& spec);

// A module whose kernel waits that way defines this global (the specializer emits it); the runtime launches
// with programmatic dependent launch only a module that has it, never one built without the wait (PTX from
// an older build or another provider).
inline constexpr const char* kGridDependencyMarker = "kvjit_waits_for_prior_grid";

}  // namespace kvjit
