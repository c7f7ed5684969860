// Test support for GPU tests: skip without a GPU, device buffers, random host data, specs sampling.
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "runtime/device.h"
#include "runtime/driver.h"

namespace kvjit::test {

// Skips the test (GTEST_SKIP) when no driver or device is present; otherwise makes a context current.
#define KVJIT_REQUIRE_GPU()                                                                 \
  do {                                                                                      \
    auto kvjit_dev_ = ::kvjit::current_device_context();                                    \
    if (!kvjit_dev_.ok()) GTEST_SKIP() << "no GPU: " << kvjit_dev_.error().message;         \
  } while (0)

inline const DriverApi* cu() { return driver().value(); }

inline void check(CUresult rc, const char* what) {
  if (rc != CUDA_SUCCESS) throw std::runtime_error(driver_error(rc, what).message);
}

class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t bytes) : bytes_(bytes) {
    if (bytes_ > 0) check(cu()->cuMemAlloc_(&ptr_, bytes_), "cuMemAlloc");
  }
  template <typename T>
  explicit DeviceBuffer(const std::vector<T>& host) : DeviceBuffer(host.size() * sizeof(T)) {
    upload(host);
  }
  ~DeviceBuffer() {
    if (ptr_) cu()->cuMemFree_(ptr_);
  }
  DeviceBuffer(DeviceBuffer&& o) noexcept : ptr_(o.ptr_), bytes_(o.bytes_) { o.ptr_ = 0; }
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    std::swap(ptr_, o.ptr_);
    std::swap(bytes_, o.bytes_);
    return *this;
  }
  template <typename T>
  void upload(const std::vector<T>& host) {
    if (host.size() * sizeof(T) != bytes_) throw std::runtime_error("upload size mismatch");
    if (bytes_) check(cu()->cuMemcpyHtoD_(ptr_, host.data(), bytes_), "cuMemcpyHtoD");
  }
  template <typename T>
  std::vector<T> download() const {
    std::vector<T> host(bytes_ / sizeof(T));
    if (bytes_) check(cu()->cuMemcpyDtoH_(host.data(), ptr_, bytes_), "cuMemcpyDtoH");
    return host;
  }
  // Fills with 0xFF bytes: NaN for f16/bf16/f32, so unwritten outputs are detected.
  void poison() {
    if (bytes_) check(cu()->cuMemsetD8_(ptr_, 0xff, bytes_), "cuMemsetD8");
  }
  void* get() const { return reinterpret_cast<void*>(ptr_); }
  template <typename T>
  T* as() const {
    return reinterpret_cast<T*>(ptr_);
  }
  size_t bytes() const { return bytes_; }

 private:
  CUdeviceptr ptr_ = 0;
  size_t bytes_ = 0;
};

inline std::vector<float> normal_floats(size_t n, std::mt19937& rng, float stddev = 1.0f) {
  std::normal_distribution<float> dist(0.0f, stddev);
  std::vector<float> out(n);
  for (float& x : out) x = dist(rng);
  return out;
}

inline void sync() { check(cu()->cuCtxSynchronize_(), "cuCtxSynchronize"); }

}  // namespace kvjit::test
