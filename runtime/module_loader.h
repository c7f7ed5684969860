// Loads a compiled kernel into a context: the cubin when it was built for this device's arch, else the PTX
// through the driver's JIT (a newer GPU than the spec's arch).
#pragma once

#include "runtime/artifact_provider.h"
#include "runtime/device.h"

namespace kvjit {

struct LoadedModule {
  CUmodule module = nullptr;
  CUfunction function = nullptr;
  bool from_cubin = false;
  int ctas_per_sm = 1;  // resident CTAs of the artifact's launch shape an SM holds (the driver's occupancy)
  int wide_ctas_per_sm = 0;  // the same for CTAs of shape.wide_warps warps; 0 where the shape has none
  bool waits_for_prior_grid = false;  // the module defines kGridDependencyMarker (compiler/launch_shape.h)
};

Result<LoadedModule> load_module(const DeviceContext& device, const Artifact& artifact);

// Whether a cubin for `built` runs on a device of arch `device` (same major.minor; 'a' only on its own arch).
bool cubin_runs_on(Arch built, Arch device);

}  // namespace kvjit
