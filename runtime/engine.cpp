#include "runtime/engine.h"

#include <fmt/format.h>

#include <atomic>
#include <mutex>
#include <optional>

#include "runtime/launch_plan.h"
#include "runtime/recent_hits.h"
#include "runtime/self_test.h"

namespace kvjit {

namespace {

template <typename Params>
Status launch(const Kernel& k, const DriverApi* api, CUstream stream, const LaunchPlan& plan, Params& params) {
  if (plan.empty) return Ok{};
  void* kernel_params[] = {&params};
  if (plan.programmatic && k.launches_programmatically()) {
    CUlaunchAttribute attribute{};
    attribute.id = CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION;
    attribute.value.programmaticStreamSerializationAllowed = 1;
    CUlaunchConfig config{};
    config.gridDimX = plan.grid[0];
    config.gridDimY = plan.grid[1];
    config.gridDimZ = plan.grid[2];
    config.blockDimX = plan.block[0];
    config.blockDimY = plan.block[1];
    config.blockDimZ = plan.block[2];
    config.sharedMemBytes = plan.shared_bytes;
    config.hStream = stream;
    config.attrs = &attribute;
    config.numAttrs = 1;
    KVJIT_CU(api, cuLaunchKernelEx_(&config, k.function(), kernel_params, nullptr), to_string(k.spec()));
    return Ok{};
  }
  KVJIT_CU(api,
           cuLaunchKernel_(k.function(), plan.grid[0], plan.grid[1], plan.grid[2], plan.block[0], plan.block[1],
                           plan.block[2], plan.shared_bytes, stream, kernel_params, nullptr),
           to_string(k.spec()));
  return Ok{};
}

}  // namespace

Status Kernel::decode(CUstream stream, const DecodeArgs& args) const {
  DecodeParams params;
  auto plan = plan_decode(spec_, shape_, args, slots_, &params);
  if (!plan) return plan.error();
  return launch(*this, api_, stream, *plan, params);
}

size_t Kernel::decode_workspace_bytes(int batch, int num_kv_heads) const {
  return decode_workspace_bytes_for_device(spec_, shape_, batch, num_kv_heads, slots_);
}

int Kernel::decode_splits(int batch, int num_kv_heads, int max_seq_len) const {
  return choose_decode_grid(spec_, shape_, batch, num_kv_heads, max_seq_len, slots_).splits;
}

int Kernel::decode_cta_warps(int batch, int num_kv_heads, int max_seq_len) const {
  return choose_decode_grid(spec_, shape_, batch, num_kv_heads, max_seq_len, slots_).warps;
}

Status Kernel::append(CUstream stream, const AppendArgs& args) const {
  AppendParams params;
  auto plan = plan_append(spec_, shape_, args, &params);
  if (!plan) return plan.error();
  return launch(*this, api_, stream, *plan, params);
}

namespace {

std::atomic<uint64_t> next_engine_id{1};

RecentHits<Kernel>& recent_hits() {
  thread_local RecentHits<Kernel> hits;
  return hits;
}

}  // namespace

Engine::Engine(std::shared_ptr<ArtifactProvider> provider)
    : provider_(provider ? std::move(provider) : default_artifact_provider()),
      id_(next_engine_id.fetch_add(1, std::memory_order_relaxed)) {}

Engine::~Engine() { wait_prefetch(); }

Result<std::shared_ptr<const Kernel>> Engine::get(const Spec& requested) {
  // This thread's recent hits first: one driver query, no lock (recent_hits.h).
  auto api = driver();
  const uint64_t current = api ? current_context_key(**api) : 0;
  if (current != 0)
    if (auto kernel = recent_hits().find(id_, current, requested)) return kernel;
  // Only specs that passed this check are remembered above. It comes before the map too: resolving
  // arch=auto would make an invalid arch (sm_0a) equal to a valid resolved key.
  KVJIT_TRY(validate(requested));
  if (!api) return api.error();
  // With the key just read, the context's device comes from this thread's last answer (no driver call).
  auto device = current_device_context(**api, current);
  if (!device) return device.error();
  const Spec spec = resolve_arch(requested, *device);
  const LoadedKernelKey map_key{device->context_key, spec};
  {
    std::shared_lock lock(mu_);
    if (auto it = kernels_.find(map_key); it != kernels_.end()) {
      recent_hits().remember(id_, device->context_key, requested, it->second);
      return it->second;
    }
  }
  // Two attempts: the second follows the eviction of an entry that failed to load (self-healing).
  Error last_error;
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto artifact = provider_->get(spec);
    if (!artifact) return artifact.error();
    auto loaded = load_module(*device, **artifact);
    if (!loaded) {
      last_error = loaded.error();
      provider_->evict(**artifact);
      continue;
    }
    auto kernel = std::make_shared<Kernel>();
    kernel->spec_ = spec;
    kernel->shape_ = (*artifact)->shape;
    kernel->function_ = loaded->function;
    kernel->from_cubin_ = loaded->from_cubin;
    kernel->waits_for_prior_grid_ = loaded->waits_for_prior_grid;
    kernel->slots_ = DeviceSlots{device->sm_count, loaded->ctas_per_sm, loaded->wide_ctas_per_sm};
    kernel->api_ = *api;
    kernel->artifact_key_ = (*artifact)->key;
    // KVJIT_SELFTEST=1: a decode variant is served only after its numerics check passed on this device, now or
    // in an earlier process (the verdict kept with the cache entry).
    if (self_test_enabled() && spec.kind == Kind::decode) {
      auto verdict = self_test(*kernel, /*recorded_ok=*/true);
      if (!verdict) return verdict.error();
      if (verdict->ran && !verdict->passed)
        return make_error(ErrorKind::internal, std::string("numerics self-test failed") +
                                                   (verdict->recorded ? " (verdict recorded in the cache)" : "") +
                                                   ", kernel not served: " + verdict->note);
    }
    std::unique_lock lock(mu_);
    // Another thread may have loaded it meanwhile; keep the first so every caller shares one handle.
    auto [it, inserted] = kernels_.emplace(map_key, std::move(kernel));
    recent_hits().remember(id_, device->context_key, requested, it->second);
    return it->second;
  }
  return last_error;
}

Result<SelfTestResult> Engine::self_test(const Kernel& decode, bool recorded_ok) {
  auto device = current_device_context();
  if (!device) return device.error();
  auto where = device_identity(*device);
  if (!where) return where.error();
  if (recorded_ok && self_test_covers(decode.spec())) {
    std::optional<SelfTestVerdict> v = provider_->find_verdict(decode.artifact_key_, *where);
    // A verdict of another harness or budget (an older build's) is tested again.
    if (v && v->harness == kSelfTestHarness && v->budget == self_test_budget(decode.spec())) {
      SelfTestResult out;
      out.ran = true;
      out.recorded = true;
      out.passed = v->passed;
      out.rel_l2 = v->rel_l2;
      out.budget = v->budget;
      out.note = v->note;
      return out;
    }
  }
  auto result = run_self_test(*this, decode);
  if (!result) return result.error();  // a failed launch or allocation is not a verdict: nothing is recorded
  if (result->ran)
    provider_->record_verdict(
        decode.artifact_key_, *where,
        SelfTestVerdict{result->passed, result->rel_l2, result->budget, result->note, kSelfTestHarness});
  return result;
}

void Engine::prefetch(const std::vector<Spec>& specs) {
  std::optional<DeviceContext> device;
  if (auto d = current_device_context(); d.ok()) device = *d;
  std::vector<Spec> todo;
  for (const Spec& s : specs) {
    if (!s.arch.is_auto())
      todo.push_back(s);
    else if (device)
      todo.push_back(resolve_arch(s, *device));
  }
  std::lock_guard lock(prefetch_mu_);
  prefetchers_.emplace_back([provider = provider_, todo = std::move(todo)] {
    for (const Spec& s : todo) (void)provider->get(s);  // errors surface again on get()
  });
}

void Engine::wait_prefetch() {
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(prefetch_mu_);
    threads.swap(prefetchers_);
  }
  for (std::thread& t : threads) t.join();
}

}  // namespace kvjit
