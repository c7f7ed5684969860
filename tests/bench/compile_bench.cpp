// Cold compile time: what a cache miss costs. NVRTC keeps nothing between programs, so every iteration
// is a full compile of the same spec (specialize, load templates, NVRTC, and ptxas for the cubin).
#include <benchmark/benchmark.h>

#include "compiler/nvrtc_backend.h"

namespace kvjit {
namespace {

constexpr const char* kSpec = "decode:hd=128,page=16,gqa=4,kv=f16,q=f16,arch=sm_90";

void compile(benchmark::State& state, const CompileOptions& options) {
  auto spec = parse_spec(kSpec);
  if (!spec) {
    state.SkipWithError(spec.error().message.c_str());
    return;
  }
  size_t ptx_bytes = 0, cubin_bytes = 0;
  for (auto _ : state) {
    auto kernel = compile_spec(*spec, options);
    if (!kernel) {
      state.SkipWithError(kernel.error().message.c_str());
      return;
    }
    ptx_bytes = kernel->ptx.size();
    cubin_bytes = kernel->cubin.size();
    benchmark::DoNotOptimize(kernel->ptx.data());
  }
  state.counters["ptx_bytes"] = static_cast<double>(ptx_bytes);
  state.counters["cubin_bytes"] = static_cast<double>(cubin_bytes);
  state.SetLabel(nvrtc_version());
}

void BM_CompilePtx(benchmark::State& state) { compile(state, CompileOptions{.cubin = false}); }
void BM_CompileCubin(benchmark::State& state) { compile(state, CompileOptions{.cubin = true}); }

// Wall time per compile; a few iterations per repetition, as each compile takes a good fraction of a second.
BENCHMARK(BM_CompilePtx)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3)->Repetitions(5);
BENCHMARK(BM_CompileCubin)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3)->Repetitions(5);

}  // namespace
}  // namespace kvjit

BENCHMARK_MAIN();
