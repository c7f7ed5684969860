#include "cache/module_cache.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "compiler/backend.h"
#include "compiler/specializer.h"

namespace kvjit {
namespace {

void warn_stderr(const std::string& message) { fmt::print(stderr, "kvjit: cache: {}\n", message); }

}  // namespace

ModuleCache::ModuleCache(ModuleCacheOptions options) : ModuleCache(std::move(options), std::nullopt) {}

ModuleCache::ModuleCache(ModuleCacheOptions o, std::optional<Error> context_error)
    : config_(std::move(o.config)),
      context_(std::move(o.context)),
      context_error_(std::move(context_error)),
      files_(o.files != nullptr ? o.files : &posix_file_ops()),
      warn_(o.warn ? std::move(o.warn) : WarnFn(warn_stderr)),
      lock_wait_(o.lock_wait) {
  for (const std::string& w : config_.warnings) warn_(w);
  missing_kernel_.store(config_.missing_kernel);
  // A bundle that cannot be mounted is a storage failure: reported, and its kernels are compiled (or refused,
  // under the error policy) like any other missing kernel.
  for (const std::string& path : config_.bundles)
    if (auto mounted = bundles_.mount(path); !mounted) warn_(mounted.error().message + "; not mounted");
  if (config_.disk_enabled()) {
    auto disk = DiskTier::open(*files_, config_.dir, config_.max_bytes);
    if (disk)
      disk_ = std::move(*disk);
    else
      warn_(disk.error().message + "; caching in memory only");
  }
  default_compile_ = [this](const Spec& spec) -> Result<CompiledKernel> {
    auto src = specialize(spec);
    if (!src) return src.error();
    return compile_source(*src, context_.templates, context_.options);
  };
}

ModuleCache& ModuleCache::global() {
  static ModuleCache cache = [] {
    ModuleCacheOptions o;
    o.config = cache_config_from_env();
    auto context = default_key_context();
    if (context) o.context = std::move(*context);
    return ModuleCache(std::move(o), context ? std::nullopt : std::optional<Error>(context.error()));
  }();
  return cache;
}

CompileFn ModuleCache::default_compiler() const { return default_compile_; }

Result<Key> ModuleCache::key_for(const Spec& spec) {
  if (auto key = index_.key(spec)) return *key;
  return compute_key(spec);
}

Result<Key> ModuleCache::compute_key(const Spec& spec) {
  if (context_error_) return *context_error_;
  auto key = cache_key(spec, context_);
  if (key) index_.set_key(spec, *key);
  return key;
}

std::shared_ptr<const Entry> ModuleCache::find(const Key& key) const { return memory_.find(key); }

Result<std::shared_ptr<const Entry>> ModuleCache::get_or_compile(const Spec& spec) {
  return get_or_compile(spec, default_compile_);
}

Result<std::shared_ptr<const Entry>> ModuleCache::get_or_compile(const Spec& spec, const CompileFn& compile) {
  SpecIndex::Found found = index_.find(spec);
  if (found.entry) return std::move(found.entry);  // the hot path: one shared lock
  const uint64_t generation = index_.generation();
  auto key = found.key ? Result<Key>(*found.key) : compute_key(spec);
  if (!key) return key.error();
  bool waited = false;
  auto result = memory_.get_or_produce(*key, [&] { return load_or_compile(*key, spec, compile); }, &waited);
  if (waited) counters_.coalesced.fetch_add(1, std::memory_order_relaxed);
  if (result) index_.set_entry(spec, *result, generation);
  return result;
}

Result<std::shared_ptr<const Entry>> ModuleCache::recompile(const Spec& spec, const CompileFn& compile) {
  auto key = key_for(spec);
  if (!key) return key.error();
  evict(*key);
  return get_or_compile(spec, compile);
}

Status ModuleCache::mount_bundle(const std::string& path) { return bundles_.mount(path); }

void ModuleCache::evict(const Key& key) {
  bundles_.reject(key);
  index_.drop_entry(key);
  {
    std::lock_guard lock(verdicts_mu_);
    std::erase_if(verdicts_, [&](const auto& kv) { return kv.first.first == key; });
  }
  const bool from_memory = memory_.erase(key);
  const bool from_disk = disk_ && disk_->remove(key);
  if (from_memory || from_disk) counters_.invalidations.fetch_add(1, std::memory_order_relaxed);
}

std::optional<SelfTestVerdict> ModuleCache::verdict(const Key& key, const std::string& device) const {
  {
    std::lock_guard lock(verdicts_mu_);
    if (auto it = verdicts_.find({key, device}); it != verdicts_.end()) return it->second;
  }
  if (!disk_) return std::nullopt;
  return load_verdict(disk_->root(), key, device);
}

void ModuleCache::record_verdict(const Key& key, const std::string& device, const SelfTestVerdict& verdict) {
  {
    std::lock_guard lock(verdicts_mu_);
    verdicts_[{key, device}] = verdict;
  }
  if (!disk_) return;
  if (Status stored = store_verdict(disk_->root(), key, device, verdict); !stored)
    warn_once(warned_verdict_, "kvjit: could not record a self-test verdict in the cache (" +
                                   stored.error().message + "); it is kept for this process only");
}

Counters ModuleCache::counters() const { return counters_.snapshot(index_.hits() + memory_.hits()); }

void ModuleCache::warn_once(std::atomic<bool>& flag, const std::string& message) {
  if (!flag.exchange(true)) warn_(message);
}

std::shared_ptr<const Entry> ModuleCache::load_from_disk(const Key& key) {
  DiskLoad loaded = disk_->load(key);
  counters_.bytes_read.fetch_add(loaded.bytes, std::memory_order_relaxed);
  switch (loaded.outcome) {
    case DiskLoad::Outcome::hit:
      counters_.disk_hits.fetch_add(1, std::memory_order_relaxed);
      return std::move(loaded.entry);
    case DiskLoad::Outcome::rejected:
      counters_.corrupt_entries.fetch_add(1, std::memory_order_relaxed);
      warn_once(warned_corrupt_, "discarded a bad entry (" + loaded.reason + "); recompiling. Further ones are "
                                 "counted, not reported");
      return nullptr;
    case DiskLoad::Outcome::unreadable:
      counters_.read_failures.fetch_add(1, std::memory_order_relaxed);
      return nullptr;
    case DiskLoad::Outcome::absent:
      return nullptr;
  }
  return nullptr;
}

std::shared_ptr<const Entry> ModuleCache::load_from_bundles(const Key& key) {
  BundleLoad loaded = bundles_.load(key);
  if (!loaded.error.empty()) {
    counters_.corrupt_entries.fetch_add(1, std::memory_order_relaxed);
    warn_once(warned_corrupt_, "discarded a bad entry (" + loaded.error + "). Further ones are counted, not reported");
  }
  if (loaded.entry) counters_.bundle_hits.fetch_add(1, std::memory_order_relaxed);
  return std::move(loaded.entry);
}

Status ModuleCache::check_missing_kernel(const Spec& spec) {
  const MissingKernelPolicy policy = missing_kernel_.load();
  if (policy == MissingKernelPolicy::compile) return Ok{};
  counters_.missing_kernels.fetch_add(1, std::memory_order_relaxed);
  const std::vector<std::string> paths = bundles_.paths();
  std::string where = paths.empty() ? "no bundle mounted" : "bundles " + fmt::format("{}", fmt::join(paths, ", "));
  where += disk_ ? ", disk cache " + disk_->root().dir() : ", no disk cache";
  std::string why;
  for (const std::string& other : bundles_.other_builds(to_string(spec)))
    why += "; " + other + " holds this spec for another compiler or kvjit build";
  if (policy == MissingKernelPolicy::warn) {
    warn_(fmt::format("WARNING: kernel {} is missing ({}{}); compiling it on the request path (missing-kernel "
                      "policy: warn)", to_string(spec), where, why));
    return Ok{};
  }
  return make_error(ErrorKind::not_found,
                    fmt::format("kernel {} is missing ({}{}) and the missing-kernel policy 'error' forbids compiling "
                                "it; precompile it into a bundle (kvjit precompile ... --bundle)", to_string(spec),
                                where, why));
}

Result<std::shared_ptr<const Entry>> ModuleCache::load_or_compile(const Key& key, const Spec& spec,
                                                                  const CompileFn& compile) {
  if (auto hit = load_from_bundles(key)) return hit;
  if (!disk_) return compile_and_store(key, spec, compile);
  if (auto hit = load_from_disk(key)) return hit;
  auto lock = disk_->lock(key, lock_wait_);
  if (!lock) counters_.lock_failures.fetch_add(1, std::memory_order_relaxed);
  // Another process may have compiled it while we waited for the lock.
  if (lock)
    if (auto hit = load_from_disk(key)) return hit;
  return compile_and_store(key, spec, compile);  // the lock, if held, is released after the store
}

Result<std::shared_ptr<const Entry>> ModuleCache::compile_and_store(const Key& key, const Spec& spec,
                                                                    const CompileFn& compile) {
  counters_.misses.fetch_add(1, std::memory_order_relaxed);
  KVJIT_TRY(check_missing_kernel(spec));
  counters_.compiles.fetch_add(1, std::memory_order_relaxed);
  const auto start = std::chrono::steady_clock::now();
  Result<CompiledKernel> kernel = compile(spec);
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start);
  counters_.compile_us.fetch_add(static_cast<uint64_t>(us.count()), std::memory_order_relaxed);
  if (kernel && !(kernel->spec == spec))
    kernel = make_error(ErrorKind::internal, fmt::format("compile function returned a kernel for {} when asked for {}",
                                                         to_string(kernel->spec), to_string(spec)));
  if (!kernel) {
    counters_.compile_failures.fetch_add(1, std::memory_order_relaxed);
    return kernel.error();
  }
  auto entry = std::make_shared<const Entry>(make_entry(key, *kernel));
  if (disk_) {
    auto stored = disk_->store(*entry);
    if (stored) {
      counters_.bytes_written.fetch_add(stored->bytes, std::memory_order_relaxed);
      counters_.evictions.fetch_add(stored->evicted, std::memory_order_relaxed);
    } else {
      counters_.write_failures.fetch_add(1, std::memory_order_relaxed);
      warn_once(warned_write_, "cannot store entries in " + disk_->root().dir() + " (" + stored.error().message +
                                   "); serving from memory. Further failures are counted, not reported");
    }
  }
  return std::shared_ptr<const Entry>(std::move(entry));
}

}  // namespace kvjit
