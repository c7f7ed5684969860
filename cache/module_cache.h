// ModuleCache: the cache the rest of kvjit uses. Spec in, verified entry out:
//
//   memory (this process) -> bundles (read-only) -> disk (this user, every process) -> compile, then publish
//   to memory and disk.
//
// Whether a kernel found in no tier may be compiled is the missing-kernel policy (cache/missing_kernel.h).
//
// On a miss it follows check, lock, check again, compile, publish: concurrent threads for one key share one
// compile (single flight), concurrent processes serialize on a per-key file lock so each key compiles once.
// Storage failures never fail a request: the compiled entry is returned and served from memory, the failure is
// counted and reported once. A compile failure is a hard error carrying the compiler's log, options and spec.
//
// A runtime that finds an entry unusable (the driver rejects the cubin) says so with evict(entry->key) and asks
// again once; the second call compiles afresh.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "cache/bundle_tier.h"
#include "cache/cache_config.h"
#include "cache/counters.h"
#include "cache/disk_tier.h"
#include "cache/entry.h"
#include "cache/file_ops.h"
#include "cache/key.h"
#include "cache/memory_tier.h"
#include "cache/spec_index.h"
#include "cache/verdict_store.h"

namespace kvjit {

using CompileFn = std::function<Result<CompiledKernel>(const Spec&)>;
using WarnFn = std::function<void(const std::string&)>;

struct ModuleCacheOptions {
  CacheConfig config;   // disk tier location and bound; an empty dir means memory only
  KeyContext context;   // hashed into every key; the default compiler compiles exactly these templates
  FileOps* files = nullptr;  // default: posix_file_ops()
  WarnFn warn;               // default: "kvjit: cache: <message>" on stderr
  std::chrono::milliseconds lock_wait{std::chrono::minutes(2)};  // then compile without the lock
};

class ModuleCache {
 public:
  explicit ModuleCache(ModuleCacheOptions options);
  ModuleCache(const ModuleCache&) = delete;
  ModuleCache& operator=(const ModuleCache&) = delete;

  // The process-wide cache: configured from the environment (cache_config.h), default key context.
  static ModuleCache& global();

  // With default_compiler().
  Result<std::shared_ptr<const Entry>> get_or_compile(const Spec& spec);
  Result<std::shared_ptr<const Entry>> get_or_compile(const Spec& spec, const CompileFn& compile);
  // evict(key of spec), then get_or_compile: for an entry the runtime could not load.
  Result<std::shared_ptr<const Entry>> recompile(const Spec& spec, const CompileFn& compile);

  Result<Key> key_for(const Spec& spec);
  // Memory tier only; nullptr when absent.
  std::shared_ptr<const Entry> find(const Key& key) const;
  // Forgets the key in memory and removes it from disk; bundles no longer serve it in this process. Holders of
  // the entry keep their shared_ptr.
  void evict(const Key& key);

  // Mounts a bundle (cache/bundle.h) behind the bundles already mounted; fails when it cannot be opened or its
  // index is bad. KVJIT_BUNDLE's bundles are mounted when the cache is made.
  Status mount_bundle(const std::string& path);

  // Self-test verdicts of the key's kernel per device (cache/verdict_store.h): kept in memory, and on disk when
  // the disk tier is on so that other processes see them. evict() drops them with the entry.
  std::optional<SelfTestVerdict> verdict(const Key& key, const std::string& device) const;
  // Always kept in memory; a disk write that fails is reported once and otherwise ignored (the test reruns).
  void record_verdict(const Key& key, const std::string& device, const SelfTestVerdict& verdict);
  std::vector<std::string> bundles() const { return bundles_.paths(); }
  void set_missing_kernel_policy(MissingKernelPolicy policy) { missing_kernel_.store(policy); }
  MissingKernelPolicy missing_kernel_policy() const { return missing_kernel_.load(); }

  Counters counters() const;
  bool disk_enabled() const { return disk_ != nullptr; }
  const DiskTier* disk() const { return disk_.get(); }
  const CacheConfig& config() const { return config_; }
  const KeyContext& context() const { return context_; }
  // specialize + compile_source (the spec's backend) with this cache's templates and options: the bytes
  // hashed are the bytes compiled.
  CompileFn default_compiler() const;

 private:
  ModuleCache(ModuleCacheOptions options, std::optional<Error> context_error);
  Result<Key> compute_key(const Spec& spec);
  Result<std::shared_ptr<const Entry>> load_or_compile(const Key& key, const Spec& spec, const CompileFn& compile);
  std::shared_ptr<const Entry> load_from_disk(const Key& key);
  std::shared_ptr<const Entry> load_from_bundles(const Key& key);
  // Under the warn and error policies: reports the miss, and for error returns the error that replaces the compile.
  Status check_missing_kernel(const Spec& spec);
  Result<std::shared_ptr<const Entry>> compile_and_store(const Key& key, const Spec& spec, const CompileFn& compile);
  void warn_once(std::atomic<bool>& flag, const std::string& message);

  CacheConfig config_;
  KeyContext context_;
  std::optional<Error> context_error_;  // the global cache could not load its templates
  FileOps* files_;
  WarnFn warn_;
  std::chrono::milliseconds lock_wait_;
  BundleTier bundles_;
  std::unique_ptr<DiskTier> disk_;
  SpecIndex index_;
  MemoryTier memory_;
  CompileFn default_compile_;
  mutable CounterSet counters_;
  mutable std::mutex verdicts_mu_;
  std::map<std::pair<Key, std::string>, SelfTestVerdict> verdicts_;  // (key, device)
  std::atomic<bool> warned_write_{false}, warned_corrupt_{false}, warned_verdict_{false};
  std::atomic<MissingKernelPolicy> missing_kernel_{MissingKernelPolicy::compile};
};

}  // namespace kvjit
