// Context keys (runtime/device.h): the driver's context id where it has cuCtxGetId, else the handle; 0 for
// no context. Checked against a stand-in driver table, so no GPU is needed.
#include <gtest/gtest.h>

#include "runtime/device.h"

namespace kvjit {
namespace {

CUcontext handle(uintptr_t n) { return reinterpret_cast<CUcontext>(n); }

// The stand-in driver: context 0x1000 has id 7, 0x2000 has id 9; 0x2000 is current when `current_set`.
bool current_set = false;
CUresult CUDAAPI fake_get_id(CUcontext ctx, unsigned long long* id) {
  if (ctx == nullptr) {
    if (!current_set) return CUDA_ERROR_INVALID_CONTEXT;
    ctx = handle(0x2000);
  }
  if (ctx == handle(0x1000)) *id = 7;
  else if (ctx == handle(0x2000)) *id = 9;
  else return CUDA_ERROR_INVALID_CONTEXT;
  return CUDA_SUCCESS;
}
CUresult CUDAAPI fake_get_current(CUcontext* ctx) {
  *ctx = current_set ? handle(0x2000) : nullptr;
  return CUDA_SUCCESS;
}

TEST(ContextKey, TheDriverIdWhereItHasOne) {
  DriverApi api;
  api.cuCtxGetId_ = fake_get_id;
  api.cuCtxGetCurrent_ = fake_get_current;
  EXPECT_EQ(context_key(api, handle(0x1000)), 7u);
  EXPECT_EQ(context_key(api, handle(0x2000)), 9u);
  EXPECT_EQ(context_key(api, nullptr), 0u);
  EXPECT_EQ(context_key(api, handle(0x3000)), 0u) << "a context the driver does not know has no key";
  current_set = false;
  EXPECT_EQ(current_context_key(api), 0u);
  current_set = true;
  EXPECT_EQ(current_context_key(api), 9u);
  EXPECT_EQ(current_context_key(api), context_key(api, handle(0x2000)));
}

TEST(ContextKey, TheHandleOnDriversWithoutIds) {
  DriverApi api;
  api.cuCtxGetCurrent_ = fake_get_current;
  EXPECT_EQ(context_key(api, handle(0x1000)), 0x1000u);
  EXPECT_EQ(context_key(api, nullptr), 0u);
  current_set = false;
  EXPECT_EQ(current_context_key(api), 0u);
  current_set = true;
  EXPECT_EQ(current_context_key(api), 0x2000u);
}

}  // namespace
}  // namespace kvjit
