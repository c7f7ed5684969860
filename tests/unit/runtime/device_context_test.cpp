// current_device_context (runtime/device.h) against a stand-in driver table that counts its calls: the
// overload given the current context's key answers from the thread's last answer for that key without a
// driver call, asks again for another key, and asks every time where keys are handles.
#include <gtest/gtest.h>

#include "runtime/device.h"

namespace kvjit {
namespace {

CUcontext handle(uintptr_t n) { return reinterpret_cast<CUcontext>(n); }

// Context 0x1000 (id 11) is on device 0, 0x2000 (id 12) on device 1; `current` is the current one.
CUcontext current = nullptr;
int queries = 0;  // cuCtxGetCurrent calls: one for each time the driver is asked
CUresult id_result = CUDA_SUCCESS;

CUresult CUDAAPI fake_get_current(CUcontext* ctx) {
  ++queries;
  *ctx = current;
  return CUDA_SUCCESS;
}
CUresult CUDAAPI fake_get_device(CUdevice* device) {
  *device = current == handle(0x2000) ? 1 : 0;
  return CUDA_SUCCESS;
}
CUresult CUDAAPI fake_get_id(CUcontext ctx, unsigned long long* id) {
  if (id_result != CUDA_SUCCESS) return id_result;
  if (ctx == nullptr) ctx = current;
  if (ctx == handle(0x1000)) *id = 11;
  else if (ctx == handle(0x2000)) *id = 12;
  else return CUDA_ERROR_INVALID_CONTEXT;
  return CUDA_SUCCESS;
}
// Device 0 is an sm_90 with 132 SMs, device 1 an sm_80 with 108.
CUresult CUDAAPI fake_attribute(int* value, CUdevice_attribute attribute, CUdevice device) {
  switch (attribute) {
    case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR: *value = device == 0 ? 9 : 8; break;
    case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR: *value = 0; break;
    case CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT: *value = device == 0 ? 132 : 108; break;
    default: *value = 228 * 1024;
  }
  return CUDA_SUCCESS;
}

DriverApi fake_driver(bool with_ids) {
  DriverApi api;
  api.cuCtxGetCurrent_ = fake_get_current;
  api.cuCtxGetDevice_ = fake_get_device;
  api.cuDeviceGetAttribute_ = fake_attribute;
  if (with_ids) api.cuCtxGetId_ = fake_get_id;
  return api;
}

TEST(DeviceContext, AKnownKeyIsAnsweredWithoutTheDriver) {
  const DriverApi api = fake_driver(/*with_ids=*/true);
  current = handle(0x1000);
  queries = 0;
  auto first = current_device_context(api, current_context_key(api));
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(first->context, handle(0x1000));
  EXPECT_EQ(first->context_key, 11u);
  EXPECT_EQ(first->arch.sm, 90);
  EXPECT_EQ(first->sm_count, 132);
  EXPECT_EQ(queries, 1);
  auto again = current_device_context(api, 11);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->context, handle(0x1000));
  EXPECT_EQ(again->sm_count, 132);
  EXPECT_EQ(queries, 1) << "the same key again needs no driver call";

  // Another context current: its key differs, so the driver is asked and the answer is the new device's.
  current = handle(0x2000);
  auto other = current_device_context(api, current_context_key(api));
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(other->context, handle(0x2000));
  EXPECT_EQ(other->context_key, 12u);
  EXPECT_EQ(other->arch.sm, 80);
  EXPECT_EQ(other->sm_count, 108);
  EXPECT_EQ(queries, 2);
}

TEST(DeviceContext, HandleKeysAskTheDriverEachTime) {
  const DriverApi api = fake_driver(/*with_ids=*/false);
  current = handle(0x1000);
  queries = 0;
  for (int i = 0; i < 3; ++i) {
    auto device = current_device_context(api, current_context_key(api));
    ASSERT_TRUE(device.ok()) << device.error().message;
    EXPECT_EQ(device->context_key, 0x1000u);
  }
  EXPECT_EQ(queries, 6) << "each call: the key's query, then the context's";
}

TEST(DeviceContext, AFailedIdQueryNamesTheDriversError) {
  const DriverApi api = fake_driver(/*with_ids=*/true);
  current = handle(0x1000);
  id_result = CUDA_ERROR_CONTEXT_IS_DESTROYED;
  auto device = current_device_context(api);
  id_result = CUDA_SUCCESS;
  ASSERT_FALSE(device.ok());
  EXPECT_EQ(device.error().kind, ErrorKind::driver);
  EXPECT_NE(device.error().message.find("cuCtxGetId"), std::string::npos) << device.error().message;
}

}  // namespace
}  // namespace kvjit
