#include "runtime/device.h"

#include <fmt/format.h>

#include <atomic>

namespace kvjit {

namespace {
constexpr int kMaxCachedDevices = 64;  // devices past this are read each time, still correct
}  // namespace

uint64_t context_key(const DriverApi& api, CUcontext context) {
  if (context == nullptr) return 0;
  if (api.cuCtxGetId_ == nullptr) return static_cast<uint64_t>(reinterpret_cast<uintptr_t>(context));
  unsigned long long id = 0;
  return api.cuCtxGetId_(context, &id) == CUDA_SUCCESS ? static_cast<uint64_t>(id) : 0;
}

uint64_t current_context_key(const DriverApi& api) {
  if (api.cuCtxGetId_ == nullptr) {
    CUcontext current = nullptr;
    return api.cuCtxGetCurrent_(&current) == CUDA_SUCCESS ? context_key(api, current) : 0;
  }
  // A null context asks for the current one's id; with none current the call fails.
  unsigned long long id = 0;
  return api.cuCtxGetId_(nullptr, &id) == CUDA_SUCCESS ? static_cast<uint64_t>(id) : 0;
}

Result<DeviceContext> current_device_context() {
  auto api = driver();
  if (!api) return api.error();
  return current_device_context(**api);
}

Result<DeviceContext> current_device_context(const DriverApi& api, uint64_t current_key) {
  // Keys that are ids name one context for the life of the process; a handle key may name a later context.
  if (current_key == 0 || api.cuCtxGetId_ == nullptr) return current_device_context(api);
  struct LastAnswer {
    const DriverApi* api = nullptr;
    DeviceContext device;
  };
  thread_local LastAnswer last;
  if (last.api == &api && last.device.context_key == current_key) return last.device;
  auto device = current_device_context(api);
  if (device) last = LastAnswer{&api, *device};
  return device;
}

Result<DeviceContext> current_device_context(const DriverApi& api) {
  const DriverApi* cu = &api;
  DeviceContext out;
  KVJIT_CU(cu, cuCtxGetCurrent_(&out.context), "current context");
  if (out.context == nullptr) {
    int count = 0;
    KVJIT_CU(cu, cuDeviceGetCount_(&count), "no current context");
    if (count == 0) return make_error(ErrorKind::driver, "no CUDA device found (driver loaded, 0 devices)");
    KVJIT_CU(cu, cuDeviceGet_(&out.device, 0), "device 0");
    // Retained for the life of the process; the runtime API shares the same primary context.
    KVJIT_CU(cu, cuDevicePrimaryCtxRetain_(&out.context, out.device), "device 0");
    KVJIT_CU(cu, cuCtxSetCurrent_(out.context), "device 0 primary context");
  } else {
    KVJIT_CU(cu, cuCtxGetDevice_(&out.device), "current context");
  }
  if (cu->cuCtxGetId_ != nullptr) {
    unsigned long long id = 0;
    KVJIT_CU(cu, cuCtxGetId_(out.context, &id), "current context's id");
    out.context_key = id;
  } else {
    out.context_key = context_key(*cu, out.context);
  }
  // A device's attributes never change: read once per device, then every call (Engine::get asks each
  // time) costs the two context queries above only.
  struct CachedAttributes {
    std::atomic<int> state{0};  // 0: not read, 1: being written, 2: ready
    Arch arch;
    int sm_count = 0;
    size_t max_shared_per_block_optin = 0;
  };
  static CachedAttributes cached[kMaxCachedDevices];
  CachedAttributes* slot = out.device >= 0 && out.device < kMaxCachedDevices ? &cached[out.device] : nullptr;
  if (slot != nullptr && slot->state.load(std::memory_order_acquire) == 2) {
    out.arch = slot->arch;
    out.sm_count = slot->sm_count;
    out.max_shared_per_block_optin = slot->max_shared_per_block_optin;
    return out;
  }
  int major = 0, minor = 0, sms = 0, smem = 0;
  KVJIT_CU(cu, cuDeviceGetAttribute_(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, out.device), "arch");
  KVJIT_CU(cu, cuDeviceGetAttribute_(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, out.device), "arch");
  KVJIT_CU(cu, cuDeviceGetAttribute_(&sms, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, out.device), "sm count");
  KVJIT_CU(cu, cuDeviceGetAttribute_(&smem, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, out.device),
           "shared memory");
  out.arch = Arch{major * 10 + minor, false};
  out.sm_count = sms;
  out.max_shared_per_block_optin = static_cast<size_t>(smem);
  int expected = 0;
  if (slot != nullptr && slot->state.compare_exchange_strong(expected, 1, std::memory_order_acq_rel)) {
    slot->arch = out.arch;
    slot->sm_count = out.sm_count;
    slot->max_shared_per_block_optin = out.max_shared_per_block_optin;
    slot->state.store(2, std::memory_order_release);
  }
  return out;
}

Result<std::string> device_identity(const DeviceContext& device) {
  auto api = driver();
  if (!api) return api.error();
  const DriverApi* cu = *api;
  char name[256] = {};
  KVJIT_CU(cu, cuDeviceGetName_(name, sizeof name - 1, device.device), "device name");
  int version = 0;
  KVJIT_CU(cu, cuDriverGetVersion_(&version), "driver version");
  return fmt::format("{} ({}, {} SMs, CUDA driver {}.{})", name, to_string(device.arch), device.sm_count,
                     version / 1000, (version % 1000) / 10);
}

Spec resolve_arch(Spec spec, const DeviceContext& device) {
  if (spec.arch.is_auto()) spec.arch = device.arch;
  return spec;
}

}  // namespace kvjit
