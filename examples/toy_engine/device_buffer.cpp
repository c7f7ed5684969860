#include "device_buffer.h"

#include <utility>

namespace toy {

const kvjit::DriverApi* cu() { return kvjit::driver().value(); }

void check(CUresult rc, const char* call) {
  if (rc != CUDA_SUCCESS) throw std::runtime_error(kvjit::driver_error(rc, call).message);
}

DeviceBuffer::DeviceBuffer(size_t bytes) : bytes_(bytes) {
  if (bytes_ > 0) check(cu()->cuMemAlloc_(&ptr_, bytes_), "cuMemAlloc");
}

DeviceBuffer::~DeviceBuffer() {
  if (ptr_ != 0) cu()->cuMemFree_(ptr_);
}

DeviceBuffer::DeviceBuffer(DeviceBuffer&& other) noexcept
    : ptr_(std::exchange(other.ptr_, 0)), bytes_(std::exchange(other.bytes_, 0)) {}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& other) noexcept {
  std::swap(ptr_, other.ptr_);
  std::swap(bytes_, other.bytes_);
  return *this;
}

void DeviceBuffer::zero() {
  if (bytes_ > 0) check(cu()->cuMemsetD8_(ptr_, 0, bytes_), "cuMemsetD8");
}

void DeviceBuffer::upload_bytes(const void* src, size_t n) {
  if (n != bytes_) throw std::runtime_error("upload of " + std::to_string(n) + " bytes into " + std::to_string(bytes_));
  if (n > 0) check(cu()->cuMemcpyHtoD_(ptr_, src, n), "cuMemcpyHtoD");
}

void DeviceBuffer::download_bytes(void* dst, size_t n) const {
  if (n > 0) check(cu()->cuMemcpyDtoH_(dst, ptr_, n), "cuMemcpyDtoH");
}

}  // namespace toy
