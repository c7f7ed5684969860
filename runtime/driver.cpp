#include "runtime/driver.h"

#include <dlfcn.h>
#include <fmt/format.h>

#include <cstdlib>
#include <mutex>

namespace kvjit {
namespace {

#define KVJIT_STRINGIFY_IMPL(x) #x
#define KVJIT_STRINGIFY(x) KVJIT_STRINGIFY_IMPL(x)

struct LoadedDriver {
  DriverApi api;
  Error error;
  bool ok = false;
};

LoadedDriver load_driver() {
  LoadedDriver out;
  const char* override_path = std::getenv("KVJIT_LIBCUDA");
  const char* path = override_path != nullptr && *override_path != '\0' ? override_path : "libcuda.so.1";
  void* handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    out.error = make_error(ErrorKind::driver, fmt::format("no CUDA driver found: dlopen({}) failed: {}", path,
                                                          why != nullptr ? why : "unknown error"));
    return out;
  }
  // The handle is kept for the life of the process: kernels and modules may outlive any owner object.
#define KVJIT_RESOLVE_DRIVER_FN(name)                                                                  \
  out.api.name##_ = reinterpret_cast<decltype(&name)>(dlsym(handle, KVJIT_STRINGIFY(name)));           \
  if (out.api.name##_ == nullptr) {                                                                    \
    out.error = make_error(ErrorKind::driver, fmt::format("no CUDA driver found: {} lacks {} (driver too old?)", \
                                                          path, KVJIT_STRINGIFY(name)));               \
    return out;                                                                                        \
  }
  KVJIT_DRIVER_FUNCTIONS(KVJIT_RESOLVE_DRIVER_FN)
#undef KVJIT_RESOLVE_DRIVER_FN
  out.api.cuLaunchKernelEx_ =
      reinterpret_cast<decltype(&cuLaunchKernelEx)>(dlsym(handle, KVJIT_STRINGIFY(cuLaunchKernelEx)));
  out.api.cuCtxGetId_ = reinterpret_cast<decltype(&cuCtxGetId)>(dlsym(handle, KVJIT_STRINGIFY(cuCtxGetId)));
  CUresult rc = out.api.cuInit_(0);
  if (rc != CUDA_SUCCESS) {
    const char* name = nullptr;
    out.api.cuGetErrorName_(rc, &name);
    out.error = make_error(ErrorKind::driver, fmt::format("no CUDA driver found: cuInit failed: {} ({})",
                                                          name != nullptr ? name : "?", static_cast<int>(rc)));
    return out;
  }
  out.api.cuDriverGetVersion_(&out.api.driver_version);
  out.ok = true;
  return out;
}

}  // namespace

Result<const DriverApi*> driver() {
  static const LoadedDriver loaded = load_driver();
  if (!loaded.ok) return loaded.error;
  return &loaded.api;
}

Error driver_error(CUresult rc, const char* call, const std::string& context) {
  const char* name = nullptr;
  const char* text = nullptr;
  if (auto api = driver(); api.ok()) {
    (*api)->cuGetErrorName_(rc, &name);
    (*api)->cuGetErrorString_(rc, &text);
  }
  // Strip the argument list from the call text: "cuLaunchKernel_(fn, ...)" -> "cuLaunchKernel".
  std::string fn(call);
  if (size_t paren = fn.find('('); paren != std::string::npos) fn.resize(paren);
  if (!fn.empty() && fn.back() == '_') fn.pop_back();
  return make_error(ErrorKind::driver, fmt::format("{} failed: {} ({}){}", fn, name != nullptr ? name : "?",
                                                   text != nullptr ? text : "unknown error",
                                                   context.empty() ? "" : " [" + context + "]"));
}

}  // namespace kvjit
