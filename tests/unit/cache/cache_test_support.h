// Shared by the cache tests: a temp-dir fixture, a fake compiler whose bytes derive from the spec (so a test can
// tell a returned entry from a corrupted one), and small file helpers.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <vector>

#include "cache/module_cache.h"

namespace kvjit::test {

// Valid, distinct specs: decode, sm_90, gqa = i + 1 (i < 64) and head_dim cycling for larger i.
Spec test_spec(int i);

// The key context the fake compiler pairs with: one small template, cubin on, a fixed backend name.
KeyContext fake_context();

// What the fake compiler produces for a spec; `ptx_bytes` / `cubin_bytes` set the sizes.
CompiledKernel fake_kernel(const Spec& spec, size_t ptx_bytes = 2048, size_t cubin_bytes = 1024);
// True when `entry` holds exactly fake_kernel(spec)'s bytes for its spec.
bool is_fake_entry_for(const Entry& entry, const Spec& spec, size_t ptx_bytes = 2048, size_t cubin_bytes = 1024);

// A counting fake compiler; optionally slow, optionally failing.
struct FakeCompiler {
  std::atomic<int> calls{0};
  std::atomic<int> fail_remaining{0};  // this many calls fail before calls succeed again
  std::chrono::milliseconds delay{0};
  size_t ptx_bytes = 2048;
  size_t cubin_bytes = 1024;
  CompileFn fn();
};

std::string read_file(const std::string& path);
void write_file(const std::string& path, const std::string& bytes);
bool exists(const std::string& path);
mode_t mode_of(const std::string& path);  // permission bits
std::vector<std::string> list_dir(const std::string& path);

// A fresh directory per test, removed afterwards. dir() holds the cache root root() (not created).
class CacheTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;
  const std::string& dir() const { return dir_; }
  std::string root() const { return dir_ + "/cache"; }

  // A cache over root() with the fake context; warnings are collected in warnings_.
  ModuleCacheOptions options(FileOps* files = nullptr, uint64_t max_bytes = kDefaultCacheMaxBytes);
  std::unique_ptr<ModuleCache> make_cache(FileOps* files = nullptr, uint64_t max_bytes = kDefaultCacheMaxBytes);

  std::vector<std::string> warnings() {
    std::lock_guard lock(warnings_mu_);
    return warnings_;
  }

  std::mutex warnings_mu_;
  std::vector<std::string> warnings_;

 private:
  std::string dir_;
};

}  // namespace kvjit::test
