// The CUDA Driver API, loaded at run time with dlopen: kvjit has no link-time dependency on libcuda, so
// compiling, precompiling, dumping and every CPU test work on machines without a GPU or driver.
//
// cuda.h supplies the types and prototypes only (never linked). Each entry point is resolved by the exact
// symbol cuda.h maps its name to (cuMemAlloc -> cuMemAlloc_v2), so the ABI matches the prototype.
#pragma once

#include <cuda.h>

#include <string>

#include "compiler/result.h"

namespace kvjit {

#define KVJIT_DRIVER_FUNCTIONS(X)                                                                              \
  X(cuInit)                                                                                                    \
  X(cuDriverGetVersion)                                                                                        \
  X(cuGetErrorName)                                                                                            \
  X(cuGetErrorString)                                                                                          \
  X(cuDeviceGet)                                                                                               \
  X(cuDeviceGetCount)                                                                                          \
  X(cuDeviceGetAttribute)                                                                                      \
  X(cuDeviceGetName)                                                                                           \
  X(cuDevicePrimaryCtxRetain)                                                                                  \
  X(cuDevicePrimaryCtxRelease)                                                                                 \
  X(cuCtxGetCurrent)                                                                                           \
  X(cuCtxSetCurrent)                                                                                           \
  X(cuCtxGetDevice)                                                                                            \
  X(cuCtxSynchronize)                                                                                          \
  X(cuModuleLoadDataEx)                                                                                        \
  X(cuModuleUnload)                                                                                            \
  X(cuModuleGetFunction)                                                                                       \
  X(cuModuleGetGlobal)                                                                                         \
  X(cuFuncGetAttribute)                                                                                        \
  X(cuFuncSetAttribute)                                                                                        \
  X(cuOccupancyMaxActiveBlocksPerMultiprocessor)                                                               \
  X(cuLaunchKernel)                                                                                            \
  X(cuMemAlloc)                                                                                                \
  X(cuMemFree)                                                                                                 \
  X(cuMemGetInfo)                                                                                              \
  X(cuMemcpyHtoD)                                                                                              \
  X(cuMemcpyDtoH)                                                                                              \
  X(cuMemcpyDtoD)                                                                                              \
  X(cuMemsetD8)                                                                                                \
  X(cuMemsetD32)                                                                                               \
  X(cuStreamCreate)                                                                                            \
  X(cuStreamDestroy)                                                                                           \
  X(cuStreamSynchronize)                                                                                       \
  X(cuStreamBeginCapture)                                                                                      \
  X(cuStreamEndCapture)                                                                                        \
  X(cuGraphInstantiate)                                                                                        \
  X(cuGraphLaunch)                                                                                             \
  X(cuGraphExecDestroy)                                                                                        \
  X(cuGraphDestroy)                                                                                            \
  X(cuEventCreate)                                                                                             \
  X(cuEventRecord)                                                                                             \
  X(cuEventSynchronize)                                                                                        \
  X(cuEventElapsedTime)                                                                                        \
  X(cuEventDestroy)

// Resolved entry points; members are named <function>_ (cuMemAlloc_).
struct DriverApi {
#define KVJIT_DECLARE_DRIVER_FN(name) decltype(&name) name##_ = nullptr;
  KVJIT_DRIVER_FUNCTIONS(KVJIT_DECLARE_DRIVER_FN)
#undef KVJIT_DECLARE_DRIVER_FN
  // Optional (drivers from CUDA 12.0 on): null where the driver lacks them. Launches then take
  // cuLaunchKernel; contexts are then told apart by their handles (runtime/device.h, context_key).
  decltype(&cuLaunchKernelEx) cuLaunchKernelEx_ = nullptr;
  decltype(&cuCtxGetId) cuCtxGetId_ = nullptr;
  int driver_version = 0;  // e.g. 13000
};

// Loads libcuda once per process (KVJIT_LIBCUDA overrides the library path) and calls cuInit(0).
// Without a driver: ErrorKind::driver, "no CUDA driver found: ...".
Result<const DriverApi*> driver();

// "cuLaunchKernel failed: CUDA_ERROR_INVALID_VALUE (invalid argument) [context]".
Error driver_error(CUresult rc, const char* call, const std::string& context = {});

}  // namespace kvjit

// Evaluates a driver call and returns its error (with the call's text and `context`) from the enclosing
// function, which must return a Result or Status.
#define KVJIT_CU(api, call, context)                                                 \
  do {                                                                               \
    CUresult kvjit_cu_rc_ = (api)->call;                                             \
    if (kvjit_cu_rc_ != CUDA_SUCCESS) return ::kvjit::driver_error(kvjit_cu_rc_, #call, (context)); \
  } while (0)
