// The device side of "where does this kernel run": the current context, its device and that device's arch.
#pragma once

#include <cstdint>
#include <string>

#include "compiler/spec.h"
#include "runtime/driver.h"

namespace kvjit {

struct DeviceContext {
  CUcontext context = nullptr;
  uint64_t context_key = 0;  // context_key(context): what loaded kernels are keyed by
  CUdevice device = 0;
  Arch arch;  // sm_<major><minor>; arch-specific ('a') on sm_90 and newer datacenter parts is not implied
  int sm_count = 0;
  size_t max_shared_per_block_optin = 0;
};

// A context's key for the kernels loaded in it: the driver's context id, unique for the life of the process
// (cuCtxGetId, CUDA 12.0+). A handle can be reused by a context created after another was destroyed, so a
// kernel keyed by handle could be served into a context that never loaded its module. Drivers without
// cuCtxGetId key by handle. 0 for no context, or when the driver cannot say.
uint64_t context_key(const DriverApi& api, CUcontext context);

// The key of the calling thread's current context, in one driver call; 0 when none is current or the driver
// cannot say.
uint64_t current_context_key(const DriverApi& api);

// The calling thread's current context. When none is current, device 0's primary context is retained and
// made current (what the CUDA runtime does on first use), so plain host programs need no setup.
Result<DeviceContext> current_device_context();
// The same through a given driver table.
Result<DeviceContext> current_device_context(const DriverApi& api);
// The same where the caller has just read the current context's key (current_context_key): this thread's
// last answer when it was for that key, with no driver call. Only where keys are the driver's ids, which no
// later context takes; with handle keys (drivers before CUDA 12.0) it asks the driver each time.
Result<DeviceContext> current_device_context(const DriverApi& api, uint64_t current_key);

// What a self-test verdict is valid for: the device's name, arch and SM count, and the driver's CUDA version
// (its JIT compiles the PTX of archs it has no cubin for), e.g. "NVIDIA H100 80GB HBM3 (sm_90, 132 SMs, CUDA
// driver 13.0)".
Result<std::string> device_identity(const DeviceContext& device);

// Fills spec.arch from the device when it is auto.
Spec resolve_arch(Spec spec, const DeviceContext& device);

}  // namespace kvjit
