// The device side of "where does this kernel run": the current context, its device and that device's arch.
#pragma once

#include <string>

#include "compiler/spec.h"
#include "runtime/driver.h"

namespace kvjit {

struct DeviceContext {
  CUcontext context = nullptr;
  CUdevice device = 0;
  Arch arch;  // sm_<major><minor>; arch-specific ('a') on sm_90 and newer datacenter parts is not implied
  int sm_count = 0;
  size_t max_shared_per_block_optin = 0;
};

// The calling thread's current context. When none is current, device 0's primary context is retained and
// made current (what the CUDA runtime does on first use), so plain host programs need no setup.
Result<DeviceContext> current_device_context();

// Fills spec.arch from the device when it is auto.
Spec resolve_arch(Spec spec, const DeviceContext& device);

}  // namespace kvjit
