// Launch-path costs on a GPU (each benchmark reports an error and skips without one): the host time of
// Kernel::decode (argument checks, launch planning, cuLaunchKernel) against a raw cuLaunchKernel of the same
// function with the same parameters (goal: at most 1 us more), Engine::get of a loaded kernel (the same spec
// again, cycling over 10 specs, and cycling past the thread's recent hits), and loading a cached module's
// cubin into a launchable function (with cache_bench's disk hit: a disk hit to a launchable function, goal
// 1 ms).
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <memory>
#include <stdexcept>
#include <vector>

#include "compiler/nvrtc_backend.h"
#include "runtime/engine.h"
#include "runtime/launch_plan.h"
#include "runtime/recent_hits.h"

namespace kvjit {
namespace {

constexpr const char* kSpec = "decode:hd=128,page=16,gqa=4,kv=int8";
constexpr int kBatch = 1, kKvHeads = 8, kSeqLen = 16;
// Launches between synchronizations: far below the launch queue's depth, so launches never wait on the GPU.
constexpr int kLaunchesPerSync = 256;

void check(CUresult rc, const char* what) {
  if (rc != CUDA_SUCCESS) throw std::runtime_error(driver_error(rc, what).message);
}

// A one-token-deep decode problem: the GPU work is a few microseconds, so the host side is what is timed.
struct LaunchFixture {
  const DriverApi* api = nullptr;
  DeviceContext device;
  Engine engine;
  std::shared_ptr<const Kernel> kernel;
  std::vector<CUdeviceptr> buffers;
  CUstream stream = nullptr;
  DecodeArgs args;

  CUdeviceptr alloc(size_t bytes) {
    CUdeviceptr p = 0;
    check(api->cuMemAlloc_(&p, bytes), "cuMemAlloc");
    check(api->cuMemsetD8_(p, 0, bytes), "cuMemsetD8");
    buffers.push_back(p);
    return p;
  }

  // Empty string when ready, else why not.
  std::string setup() {
    auto dev = current_device_context();
    if (!dev) return "no GPU: " + dev.error().message;
    device = *dev;
    api = driver().value();
    auto k = engine.get(parse_spec(kSpec).value_or_throw());
    if (!k) return k.error().message;
    kernel = *k;
    check(api->cuStreamCreate_(&stream, 0), "cuStreamCreate");
    const int nq = kKvHeads * kernel->spec().gqa, hd = kernel->spec().head_dim;
    const int rows = kSeqLen * kKvHeads;
    args.q = reinterpret_cast<void*>(alloc(size_t{2} * kBatch * nq * hd));
    args.o = reinterpret_cast<void*>(alloc(size_t{2} * kBatch * nq * hd));
    args.k_cache = reinterpret_cast<void*>(alloc(size_t(rows) * hd));
    args.v_cache = reinterpret_cast<void*>(alloc(size_t(rows) * hd));
    args.k_scales = reinterpret_cast<void*>(alloc(size_t(rows) * 2));
    args.v_scales = reinterpret_cast<void*>(alloc(size_t(rows) * 2));
    args.block_table = reinterpret_cast<const int32_t*>(alloc(4 * kBatch));
    std::vector<int32_t> lens(kBatch, kSeqLen);
    const CUdeviceptr lens_dev = alloc(4 * kBatch);
    check(api->cuMemcpyHtoD_(lens_dev, lens.data(), 4 * kBatch), "cuMemcpyHtoD");
    args.seq_lens = reinterpret_cast<const int32_t*>(lens_dev);
    args.batch = kBatch;
    args.num_kv_heads = kKvHeads;
    args.max_blocks_per_seq = 1;
    args.sm_scale = 0.088f;
    return "";
  }

  ~LaunchFixture() {
    if (!api) return;
    api->cuCtxSynchronize_();
    for (CUdeviceptr p : buffers) api->cuMemFree_(p);
    if (stream) api->cuStreamDestroy_(stream);
  }
};

LaunchFixture& fixture(benchmark::State& state) {
  static LaunchFixture f;
  static const std::string why = f.setup();
  if (!why.empty()) state.SkipWithError(why.c_str());
  return f;
}

void BM_RawCuLaunchKernel(benchmark::State& state) {
  LaunchFixture& f = fixture(state);
  if (!f.kernel) return;
  DecodeParams params;
  // The kernel's own slots plan what Kernel::decode launches (16 tokens are never split).
  auto plan = plan_decode(f.kernel->spec(), f.kernel->shape(), f.args, f.kernel->device_slots(), &params);
  if (!plan) {
    state.SkipWithError(plan.error().message.c_str());
    return;
  }
  void* kernel_params[] = {&params};
  int n = 0;
  for (auto _ : state) {
    check(f.api->cuLaunchKernel_(f.kernel->function(), plan->grid[0], plan->grid[1], plan->grid[2], plan->block[0],
                                 plan->block[1], plan->block[2], plan->shared_bytes, f.stream, kernel_params,
                                 nullptr),
          "cuLaunchKernel");
    if (++n % kLaunchesPerSync == 0) {
      state.PauseTiming();
      check(f.api->cuStreamSynchronize_(f.stream), "cuStreamSynchronize");
      state.ResumeTiming();
    }
  }
  check(f.api->cuStreamSynchronize_(f.stream), "cuStreamSynchronize");
}

void BM_KernelDecode(benchmark::State& state) {
  LaunchFixture& f = fixture(state);
  if (!f.kernel) return;
  int n = 0;
  for (auto _ : state) {
    if (auto r = f.kernel->decode(f.stream, f.args); !r) {
      state.SkipWithError(r.error().message.c_str());
      break;
    }
    if (++n % kLaunchesPerSync == 0) {
      state.PauseTiming();
      check(f.api->cuStreamSynchronize_(f.stream), "cuStreamSynchronize");
      state.ResumeTiming();
    }
  }
  check(f.api->cuStreamSynchronize_(f.stream), "cuStreamSynchronize");
}

void BM_EngineGetLoaded(benchmark::State& state) {
  LaunchFixture& f = fixture(state);
  if (!f.kernel) return;
  const Spec spec = parse_spec(kSpec).value_or_throw();
  for (auto _ : state) benchmark::DoNotOptimize(f.engine.get(spec));
}

// Engine::get of loaded kernels in a sequence of specs, each asked in turn.
void time_engine_get_cycling(benchmark::State& state, LaunchFixture& f, const std::vector<Spec>& specs) {
  f.engine.prefetch(specs);
  for (const Spec& s : specs)
    if (auto k = f.engine.get(s); !k) {
      state.SkipWithError(k.error().message.c_str());
      return;
    }
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(f.engine.get(specs[i]));
    i = i + 1 == specs.size() ? 0 : i + 1;
  }
}

// Cycling over 10 loaded specs: another spec each call, all held by the thread's recent hits.
void BM_EngineGetLoadedRotating(benchmark::State& state) {
  LaunchFixture& f = fixture(state);
  if (!f.kernel) return;
  std::vector<Spec> specs;
  for (const char* kv : {"f16", "int8", "q8", "e4m3", "e5m2"})
    for (const char* mma : {"auto", "0"})
      specs.push_back(parse_spec(fmt::format("decode:hd=128,page=16,gqa=4,kv={},mma={}", kv, mma)).value_or_throw());
  time_engine_get_cycling(state, f, specs);
}

// Cycling over one more spec than a set of the recent hits holds, all falling in one set, so every call
// misses them and takes the engine's shared map: a hit of the map itself.
void BM_EngineGetLoadedPastRecentHits(benchmark::State& state) {
  LaunchFixture& f = fixture(state);
  if (!f.kernel) return;
  const uint64_t context = current_context_key(*f.api);
  std::vector<Spec> specs;
  int set = -1;
  for (const char* kv : {"f16", "int8", "q8", "e4m3", "e5m2"})
    for (int page : {1, 8, 16, 32, 64, 128, 256})
      for (int gqa : {1, 2, 4, 8})
        for (const char* mma : {"auto", "0"}) {
          const Spec s = parse_spec(fmt::format("decode:hd=128,page={},gqa={},kv={},mma={}", page, gqa, kv, mma))
                             .value_or_throw();
          const int s_set = RecentHits<Kernel>::set_of(f.engine.id(), context, s);
          if (set < 0) set = s_set;
          if (s_set == set && specs.size() < RecentHits<Kernel>::kWays + 1) specs.push_back(s);
        }
  if (specs.size() < RecentHits<Kernel>::kWays + 1) {
    state.SkipWithError("too few candidate specs share a set");
    return;
  }
  time_engine_get_cycling(state, f, specs);
}

// A cached entry's cubin to a launchable function: what a disk hit adds after reading the entry.
void BM_ModuleLoadToFunction(benchmark::State& state) {
  LaunchFixture& f = fixture(state);
  if (!f.kernel) return;
  auto compiled = compile_spec(f.kernel->spec());
  if (!compiled) {
    state.SkipWithError(compiled.error().message.c_str());
    return;
  }
  for (auto _ : state) {
    CUmodule module = nullptr;
    CUfunction function = nullptr;
    check(f.api->cuModuleLoadDataEx_(&module, compiled->cubin.data(), 0, nullptr, nullptr), "cuModuleLoadDataEx");
    check(f.api->cuModuleGetFunction_(&function, module, compiled->symbol.c_str()), "cuModuleGetFunction");
    benchmark::DoNotOptimize(function);
    check(f.api->cuModuleUnload_(module), "cuModuleUnload");
  }
}

BENCHMARK(BM_RawCuLaunchKernel)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_KernelDecode)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_EngineGetLoaded)->Unit(benchmark::kNanosecond);
BENCHMARK(BM_EngineGetLoadedRotating)->Unit(benchmark::kNanosecond);
BENCHMARK(BM_EngineGetLoadedPastRecentHits)->Unit(benchmark::kNanosecond);
BENCHMARK(BM_ModuleLoadToFunction)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace kvjit

BENCHMARK_MAIN();
