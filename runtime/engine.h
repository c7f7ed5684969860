// The host-engine API: an Engine turns specs into launchable Kernels (compiling at most once, loading once
// per context), and a Kernel launches on the caller's stream.
//
//   kvjit::Engine engine;                                   // uses the module cache
//   auto kernel = engine.get(kvjit::parse_spec("decode:hd=128,gqa=4,kv=int8").value());
//   kernel->decode(stream, args);                           // no lock, no allocation, graph-capturable
#pragma once

#include <cstdint>
#include <memory>
#include <shared_mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "runtime/artifact_provider.h"
#include "runtime/device.h"
#include "runtime/launch_args.h"
#include "runtime/launch_plan.h"
#include "runtime/loaded_kernel_key.h"
#include "runtime/module_loader.h"
#include "runtime/self_test.h"

namespace kvjit {

class Kernel {
 public:
  const Spec& spec() const { return spec_; }
  const LaunchShape& shape() const { return shape_; }
  bool loaded_from_cubin() const { return from_cubin_; }
  // Whether the loaded module waits for the grid before it (only such a module may launch programmatically).
  bool waits_for_prior_grid() const { return waits_for_prior_grid_; }
  // Whether a launch with DecodeArgs::pdl is programmatic: the module waits and the driver has cuLaunchKernelEx.
  bool launches_programmatically() const { return waits_for_prior_grid_ && api_->cuLaunchKernelEx_ != nullptr; }
  CUfunction function() const { return function_; }

  Status decode(CUstream stream, const DecodeArgs& args) const;
  Status append(CUstream stream, const AppendArgs& args) const;

  // Split-KV workspace for up to `batch` sequences: allocate once, zero once, pass in DecodeArgs. Sized for
  // the partitions this device's launches choose (num_splits = 0) at any sequence length.
  size_t decode_workspace_bytes(int batch, int num_kv_heads) const;
  // The KV partitions per sequence a launch with num_splits = 0, cta_warps = 0 and a large enough workspace
  // uses.
  int decode_splits(int batch, int num_kv_heads, int max_seq_len) const;
  // The warps a CTA of that launch has: shape().warps, or shape().wide_warps where it fits the waves better.
  int decode_cta_warps(int batch, int num_kv_heads, int max_seq_len) const;
  // Resident CTAs an SM holds of each size (the driver's occupancy; 0 for a size the kernel lacks).
  const DeviceSlots& device_slots() const { return slots_; }

 private:
  friend class Engine;
  Spec spec_;
  LaunchShape shape_;
  CUfunction function_ = nullptr;
  bool from_cubin_ = false;
  bool waits_for_prior_grid_ = false;
  DeviceSlots slots_{1, 1};  // the device's SMs and this kernel's resident CTAs an SM: the grid choice
  const DriverApi* api_ = nullptr;
  std::string artifact_key_;  // the cache entry it was loaded from: self-test verdicts are kept with it
};

class Engine {
 public:
  // With no provider, kernels come from the module cache's global instance (memory + disk).
  explicit Engine(std::shared_ptr<ArtifactProvider> provider = nullptr);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // A kernel for `spec` in the calling thread's current context (arch=auto: the device's arch).
  // Thread-safe; compiles at most once; a cached entry that fails to load is evicted and compiled again once.
  Result<std::shared_ptr<const Kernel>> get(const Spec& spec);

  // Compiles the specs in the background (not loaded; get() then only loads). Specs with arch=auto are
  // resolved against the current context's device when one is available, else skipped.
  void prefetch(const std::vector<Spec>& specs);
  // Waits for prefetches started so far.
  void wait_prefetch();

  // The numerics self-test of a decode kernel of this engine on the current device (runtime/self_test.h),
  // with its verdict kept with the kernel's cache entry. recorded_ok: a verdict recorded earlier for this
  // device is returned as is (SelfTestResult::recorded) instead of testing again.
  Result<SelfTestResult> self_test(const Kernel& decode, bool recorded_ok);

  // Distinct for every Engine of the process, never reused: what the threads' recent hits of get() are keyed
  // by (runtime/recent_hits.h).
  uint64_t id() const { return id_; }

 private:
  std::shared_ptr<ArtifactProvider> provider_;
  const uint64_t id_;
  std::shared_mutex mu_;
  std::unordered_map<LoadedKernelKey, std::shared_ptr<const Kernel>, LoadedKernelKeyHash> kernels_;
  std::mutex prefetch_mu_;
  std::vector<std::thread> prefetchers_;
};

}  // namespace kvjit
