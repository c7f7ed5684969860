// Device memory and streams for the toy engine, through kvjit's dlopen'd driver table (no libcuda link).
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "runtime/driver.h"

namespace toy {

const kvjit::DriverApi* cu();
// Throws std::runtime_error naming the call when a driver call fails.
void check(CUresult rc, const char* call);

class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t bytes);
  ~DeviceBuffer();
  DeviceBuffer(DeviceBuffer&& other) noexcept;
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  // Synchronous copies; the caller synchronizes the context before kernels on other streams read them.
  template <typename T>
  void upload(const std::vector<T>& host) {
    upload_bytes(host.data(), host.size() * sizeof(T));
  }
  template <typename T>
  std::vector<T> download() const {
    std::vector<T> host(bytes_ / sizeof(T));
    download_bytes(host.data(), host.size() * sizeof(T));
    return host;
  }
  void zero();

  void* get() const { return reinterpret_cast<void*>(ptr_); }
  template <typename T>
  T* as() const {
    return reinterpret_cast<T*>(ptr_);
  }
  size_t bytes() const { return bytes_; }

 private:
  void upload_bytes(const void* src, size_t n);
  void download_bytes(void* dst, size_t n) const;
  CUdeviceptr ptr_ = 0;
  size_t bytes_ = 0;
};

}  // namespace toy
