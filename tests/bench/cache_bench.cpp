// Cache hit costs. Goals: a memory hit <= 100 ns (it sits on every launch path that asks by spec), a disk hit in
// a fresh cache object (a new process) <= 200 us to the payload bytes.
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <filesystem>

#include "cache/disk_tier.h"
#include "cache/module_cache.h"

namespace kvjit {
namespace {

// A module of typical size: ~150 KB of PTX, ~60 KB of cubin.
CompiledKernel typical_kernel(const Spec& spec) {
  CompiledKernel k;
  k.spec = spec;
  k.symbol = kernel_symbol(spec);
  k.shape = launch_shape(spec);
  k.ptx.assign(150 * 1024, 'p');
  k.cubin.assign(60 * 1024, 0xcd);
  k.log = "ptxas info    : Used 128 registers";
  k.backend = "bench";
  return k;
}

KeyContext bench_context() {
  return KeyContext{TemplateSet{"bench", {"kvjit/bench.cuh"}, {"// bench\n"}}, CompileOptions{}, "bench-backend"};
}

Spec bench_spec(int gqa) {
  Spec s;
  s.gqa = gqa;
  s.arch = Arch{90, false};
  return s;
}

CompileFn bench_compiler() {
  return [](const Spec& spec) -> Result<CompiledKernel> { return typical_kernel(spec); };
}

// A private directory for the disk benchmarks, removed at exit.
struct BenchDir {
  BenchDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "kvjit-cache-bench-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) std::abort();
    path = pattern;
  }
  ~BenchDir() { std::filesystem::remove_all(path); }
  std::string path;
};

ModuleCacheOptions options(const std::string& dir) {
  ModuleCacheOptions o;
  o.config.dir = dir;
  o.context = bench_context();
  return o;
}

// Spec -> entry when the entry is in memory: the hot path of get_or_compile.
void BM_MemoryHit(benchmark::State& state) {
  ModuleCacheOptions o;
  o.context = bench_context();  // memory only
  ModuleCache cache(std::move(o));
  const CompileFn compile = bench_compiler();
  for (int g = 1; g <= 8; ++g) (void)cache.get_or_compile(bench_spec(g), compile);
  const Spec spec = bench_spec(4);
  for (auto _ : state) {
    auto hit = cache.get_or_compile(spec, compile);
    benchmark::DoNotOptimize(hit);
  }
  state.counters["memory_hits"] = static_cast<double>(cache.counters().memory_hits);
}
BENCHMARK(BM_MemoryHit)->ThreadRange(1, 8)->UseRealTime();

// Key -> entry in the memory tier alone (what a runtime holding the key pays).
void BM_MemoryTierFind(benchmark::State& state) {
  static MemoryTier tier;
  const Key key{0x1234, 0x5678};
  if (state.thread_index() == 0)
    (void)tier.get_or_produce(key, [&] {
      return Result<MemoryTier::Value>(std::make_shared<const Entry>(make_entry(key, typical_kernel(bench_spec(1)))));
    });
  for (auto _ : state) benchmark::DoNotOptimize(tier.find(key));
}
BENCHMARK(BM_MemoryTierFind)->ThreadRange(1, 8)->UseRealTime();

// A fresh cache object (empty memory tier) finding the entry on disk: read, verify header, key and checksum,
// decode. The cache object is built outside the timed region.
void BM_DiskHitFreshCache(benchmark::State& state) {
  BenchDir dir;
  const Spec spec = bench_spec(4);
  {
    ModuleCache writer(options(dir.path));
    (void)writer.get_or_compile(spec, bench_compiler());
  }
  const CompileFn fail = [](const Spec&) -> Result<CompiledKernel> {
    return make_error(ErrorKind::internal, "benchmark expected a disk hit");
  };
  uint64_t bytes = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto cache = std::make_unique<ModuleCache>(options(dir.path));
    state.ResumeTiming();
    auto hit = cache->get_or_compile(spec, fail);
    if (!hit) state.SkipWithError(hit.error().message.c_str());
    benchmark::DoNotOptimize(hit);
    state.PauseTiming();
    bytes = cache->counters().bytes_read;
    cache.reset();
    state.ResumeTiming();
  }
  state.counters["entry_bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_DiskHitFreshCache)->Unit(benchmark::kMicrosecond);

// The disk tier's load alone, on an open tier.
void BM_DiskTierLoad(benchmark::State& state) {
  BenchDir dir;
  auto tier = DiskTier::open(posix_file_ops(), dir.path, kDefaultCacheMaxBytes);
  if (!tier) std::abort();
  const Key key = cache_key(bench_spec(4), bench_context()).value_or_throw();
  (void)(*tier)->store(make_entry(key, typical_kernel(bench_spec(4))));
  for (auto _ : state) {
    DiskLoad loaded = (*tier)->load(key);
    if (loaded.outcome != DiskLoad::Outcome::hit) state.SkipWithError(loaded.reason.c_str());
    benchmark::DoNotOptimize(loaded);
  }
}
BENCHMARK(BM_DiskTierLoad)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace kvjit

BENCHMARK_MAIN();
