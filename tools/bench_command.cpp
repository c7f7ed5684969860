// kvjit bench: times decode kernels with CUDA events on random data and reports effective bandwidth
// against the device's copy bandwidth measured in the same run (decode is memory-bound: its floor is the
// bytes of K, V and their scales over the memory bandwidth).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <random>

#include "compiler/nvrtc_backend.h"
#include "runtime/dumped_ptx.h"
#include "runtime/engine.h"
#include "runtime/launch_plan.h"
#include "tools/commands.h"

namespace kvjit::cli {
namespace {

// The soft cap a softcap=1 spec is timed with: Gemma 2's attention logit cap.
constexpr float kBenchSoftcap = 50.0f;

struct BenchOptions {
  std::vector<std::string> specs = {"decode:hd=128,page=16,gqa=4,kv=f16", "decode:hd=128,page=16,gqa=4,kv=int8"};
  std::vector<int> batches = {1, 8, 32, 128};
  std::vector<int> contexts = {1024, 4096, 16384};
  std::vector<int> splits = {0};  // KV partitions per sequence; 0: the launch chooses
  std::vector<int> pdl = {0};     // 1: launches with programmatic dependent launch (DecodeArgs::pdl)
  std::vector<int> warps = {0};   // warps a CTA (DecodeArgs::cta_warps); 0: the launch chooses
  int kv_heads = 8;
  int runs = 100;
  int back_to_back = 20;  // launches between one pair of events (their mean is one sample)
  bool json = false;
  bool baseline = true;  // dequantize-then-attend rows for the quantized formats
  std::string ptx_dir;    // kernels of other backends from `kvjit dump` output
};

#define BENCH_CU(call)                                                                  \
  do {                                                                                  \
    CUresult rc_ = api->call;                                                           \
    if (rc_ != CUDA_SUCCESS) throw KvjitError(driver_error(rc_, #call, "kvjit bench")); \
  } while (0)

struct DeviceMemory {
  const DriverApi* api;
  CUdeviceptr ptr = 0;
  size_t bytes;
  DeviceMemory(const DriverApi* a, size_t n) : api(a), bytes(n) { BENCH_CU(cuMemAlloc_(&ptr, std::max<size_t>(n, 16))); }
  ~DeviceMemory() { api->cuMemFree_(ptr); }
  // Random bytes, or finite non-zero f16 values (|x| in [0.5, 1)) when f16_values, uploaded in 16 MiB tiles.
  void fill_random(bool f16_values, uint32_t seed) {
    std::mt19937 rng(seed);
    std::vector<uint16_t> tile(8u << 20);
    std::uniform_int_distribution<int> bits(0, 0xffff);
    for (uint16_t& t : tile) {
      uint16_t v = static_cast<uint16_t>(bits(rng));
      if (f16_values) v = static_cast<uint16_t>((v & 0x83ff) | 0x3800);
      t = v;
    }
    upload(tile);
  }
  // Scale-pool entries of the spec's scale dtype, |x| in [0.5, 1).
  void fill_scales(ScaleDtype dtype, uint32_t seed) {
    if (dtype == ScaleDtype::f16) return fill_random(true, seed);
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> value(0.5f, 1.0f);
    std::vector<uint16_t> tile(8u << 20);
    for (size_t i = 0; i + 1 < tile.size(); i += 2) {
      const float x = value(rng);
      std::memcpy(&tile[i], &x, 4);
    }
    upload(tile);
  }
  void upload(const std::vector<uint16_t>& tile) {
    for (size_t off = 0; off < bytes; off += tile.size() * 2)
      BENCH_CU(cuMemcpyHtoD_(ptr + off, tile.data(), std::min(tile.size() * 2, bytes - off)));
  }
};

struct Timer {
  const DriverApi* api;
  CUevent start = nullptr, stop = nullptr;
  explicit Timer(const DriverApi* a) : api(a) {
    BENCH_CU(cuEventCreate_(&start, CU_EVENT_DEFAULT));
    BENCH_CU(cuEventCreate_(&stop, CU_EVENT_DEFAULT));
  }
  ~Timer() {
    api->cuEventDestroy_(start);
    api->cuEventDestroy_(stop);
  }
  float ms() {
    BENCH_CU(cuEventSynchronize_(stop));
    float t = 0;
    BENCH_CU(cuEventElapsedTime_(&t, start, stop));
    return t;
  }
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Device-to-device copy bandwidth (bytes read + written per second) of a 1 GiB buffer.
double copy_bandwidth_gbs(const DriverApi* api) {
  const size_t bytes = size_t{1} << 30;
  DeviceMemory a(api, bytes), b(api, bytes);
  Timer t(api);
  std::vector<double> times;
  for (int i = 0; i < 12; ++i) {
    BENCH_CU(cuEventRecord_(t.start, nullptr));
    BENCH_CU(cuMemcpyDtoD_(b.ptr, a.ptr, bytes));
    BENCH_CU(cuEventRecord_(t.stop, nullptr));
    if (i >= 2) times.push_back(t.ms());
  }
  return 2.0 * bytes / (median(times) * 1e-3) / 1e9;
}

struct Row {
  std::string spec;
  int batch, context;
  double us, gbs, pct;
  int splits = 1;  // KV partitions per sequence the launch used
  int warps = 4;   // warps a CTA of the launch
  bool pdl = false;  // launched with programmatic dependent launch (the kernel waits and the driver has it)
};

struct Timing {
  int runs;          // samples; the median is reported
  int back_to_back;  // calls of step between the two events of a sample
};

// Median µs of one step(i) call over `runs` samples (after 10 warm-up samples), each sample the mean of
// back_to_back calls between two events on the null stream. With one call the GPU sits idle from the start
// event until the host has submitted the launch, so the sample includes that submission. Back-to-back calls
// queue behind each other as an engine's steps do: where a launch runs longer on the GPU than the host takes
// to submit the next (about 3.6 µs for Kernel::decode), the sample is the GPU's time; below that it is the
// host's submission rate, an upper bound of the GPU's time.
template <typename Step>
double median_us(const DriverApi* api, const Timing& timing, Step step) {
  Timer t(api);
  std::vector<double> times;
  long long call = 0;
  for (int i = 0; i < timing.runs + 10; ++i) {
    BENCH_CU(cuEventRecord_(t.start, nullptr));
    for (int r = 0; r < timing.back_to_back; ++r) step(call++);
    BENCH_CU(cuEventRecord_(t.stop, nullptr));
    const double ms = t.ms() / timing.back_to_back;
    if (i >= 10) times.push_back(ms);
  }
  return median(times) * 1e3;
}

// The bytes a decode of this shape must move: K and V rows with their scales, Q and O, the page table.
double decode_bytes(const Spec& spec, int batch, int context, int kv_heads, int pages_per_seq) {
  const double row_bytes = static_cast<double>(spec.head_dim) * kv_element_bytes(spec.kv);
  const double scale_bytes = scale_bytes_per_row(spec);
  const double qo_bytes = 2.0 * 2.0 * batch * kv_heads * spec.gqa * spec.head_dim;
  return static_cast<double>(batch) * context * kv_heads * 2.0 * (row_bytes + scale_bytes) + qo_bytes +
         static_cast<double>(batch) * pages_per_seq * 4;
}

Row make_row(std::string name, int batch, int context, double us, double bytes, double copy_gbs) {
  const double gbs = bytes / (us * 1e-6) / 1e9;
  return Row{std::move(name), batch, context, us, gbs, 100.0 * gbs / copy_gbs};
}

Row bench_decode(Engine& engine, const DriverApi* api, const Spec& spec, int batch, int context, int kv_heads,
                 int splits, int warps, bool pdl, const Timing& timing, double copy_gbs) {
  auto kernel = engine.get(spec);
  if (!kernel) throw KvjitError(kernel.error());
  const int pages_per_seq = (context + spec.page_size - 1) / spec.page_size;
  const size_t row_bytes = static_cast<size_t>(spec.head_dim) * kv_element_bytes(spec.kv);
  const size_t rows_per_set = static_cast<size_t>(batch) * pages_per_seq * spec.page_size * kv_heads;
  const size_t scale_bytes = static_cast<size_t>(scale_bytes_per_row(spec));
  const size_t set_bytes = rows_per_set * 2 * (row_bytes + scale_bytes);
  // Rotate over enough copies of the cache that K/V in flight exceed the L2 several times (>= 256 MiB).
  const int sets = static_cast<int>(std::clamp<size_t>((size_t{256} << 20) / set_bytes + 1, 1, 64));
  const int q_heads = kv_heads * spec.gqa;
  DeviceMemory k(api, rows_per_set * row_bytes * sets), v(api, rows_per_set * row_bytes * sets);
  DeviceMemory ks(api, rows_per_set * scale_bytes * sets), vs(api, rows_per_set * scale_bytes * sets);
  DeviceMemory q(api, static_cast<size_t>(batch) * q_heads * spec.head_dim * 2);
  DeviceMemory o(api, q.bytes);
  const bool f16_storage = spec.kv == KvDtype::f16 || spec.kv == KvDtype::bf16;
  k.fill_random(f16_storage, 1);
  v.fill_random(f16_storage, 2);
  ks.fill_scales(spec.scale, 3);
  vs.fill_scales(spec.scale, 4);
  q.fill_random(true, 5);
  // Each set's block table maps its sequences to a shuffled range of its own pages.
  std::vector<int32_t> table(static_cast<size_t>(sets) * batch * pages_per_seq);
  std::mt19937 rng(9);
  for (int s = 0; s < sets; ++s) {
    std::vector<int32_t> pages(static_cast<size_t>(batch) * pages_per_seq);
    for (size_t i = 0; i < pages.size(); ++i) pages[i] = static_cast<int32_t>(s * pages.size() + i);
    std::shuffle(pages.begin(), pages.end(), rng);
    std::copy(pages.begin(), pages.end(), table.begin() + static_cast<long>(s * pages.size()));
  }
  std::vector<int32_t> lens(static_cast<size_t>(batch), context);
  DeviceMemory table_dev(api, table.size() * 4), lens_dev(api, lens.size() * 4);
  BENCH_CU(cuMemcpyHtoD_(table_dev.ptr, table.data(), table.size() * 4));
  BENCH_CU(cuMemcpyHtoD_(lens_dev.ptr, lens.data(), lens.size() * 4));

  DecodeArgs args;
  args.q = reinterpret_cast<const void*>(q.ptr);
  args.o = reinterpret_cast<void*>(o.ptr);
  args.k_cache = reinterpret_cast<const void*>(k.ptr);
  args.v_cache = reinterpret_cast<const void*>(v.ptr);
  args.k_scales = reinterpret_cast<const void*>(ks.ptr);
  args.v_scales = reinterpret_cast<const void*>(vs.ptr);
  args.batch = batch;
  args.num_kv_heads = kv_heads;
  args.seq_lens = reinterpret_cast<const int32_t*>(lens_dev.ptr);
  args.max_blocks_per_seq = pages_per_seq;
  args.sm_scale = 1.0f / std::sqrt(static_cast<float>(spec.head_dim));
  if (spec.softcap) args.softcap = kBenchSoftcap;
  // Split-KV workspace, zeroed once: small batches spread long contexts over the SMs. A forced partition
  // count gets a workspace of exactly its size.
  DeviceMemory workspace(api, splits > 0 ? decode_workspace_bytes((*kernel)->spec(), (*kernel)->shape(), batch,
                                                                  kv_heads, splits)
                                         : (*kernel)->decode_workspace_bytes(batch, kv_heads));
  BENCH_CU(cuMemsetD8_(workspace.ptr, 0, workspace.bytes));
  args.workspace = reinterpret_cast<void*>(workspace.ptr);
  args.workspace_bytes = workspace.bytes;
  args.max_seq_len = context;
  args.num_splits = splits;
  args.cta_warps = warps;
  args.pdl = pdl;
  const double us = median_us(api, timing, [&](long long i) {
    const size_t set = static_cast<size_t>(i % sets);
    args.block_table = reinterpret_cast<const int32_t*>(table_dev.ptr) + set * batch * pages_per_seq;
    if (auto r = (*kernel)->decode(nullptr, args); !r) throw KvjitError(r.error());
  });
  Row row = make_row(to_string((*kernel)->spec()), batch, context, us,
                     decode_bytes(spec, batch, context, kv_heads, pages_per_seq), copy_gbs);
  // Each launch of a sample then overlaps the previous one's end; where the kernel or the driver cannot,
  // DecodeArgs::pdl launches plainly and the row says so.
  row.pdl = pdl && (*kernel)->launches_programmatically();
  row.splits = splits > 0 ? splits : (*kernel)->decode_splits(batch, kv_heads, context);
  row.warps = warps > 0 ? warps : (*kernel)->decode_cta_warps(batch, kv_heads, context);
  return row;
}

// The baseline engines without a quantized-cache kernel use (realizar's path): a kernel dequantizes the whole
// cache to f16, then an f16 decode runs over it. The dequantizer is built from the same format trait as
// kvjit's kernels, one thread per 8-element vector.
struct DequantKernel {
  const DriverApi* api;
  CUmodule module = nullptr;
  CUfunction function = nullptr;
  DequantKernel(const DriverApi* a, const Spec& spec) : api(a) {
    const std::string source = fmt::format(
        "#include \"kvjit/formats.cuh\"\n"
        "extern \"C\" __global__ void __launch_bounds__(256)\n"
        "kvjit_bench_dequant(const void* cache, const void* scales, kvjit::u32x4* out, long long vectors,\n"
        "                    float tensor_scale) {{\n"
        "  typedef {format} Fmt;\n"
        "  constexpr int kHeadDim = {hd}, kVectors = kHeadDim / 8;\n"
        "  const long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;\n"
        "  if (i >= vectors) return;\n"
        "  const long long row = i / kVectors;\n"
        "  const int vid = static_cast<int>(i % kVectors);\n"
        "  float x[8];\n"
        "  Fmt::dequant(Fmt::load(cache, row, kHeadDim, vid), x);\n"
        "  const float s = Fmt::scale_of(Fmt::load_scale(scales, row, kHeadDim, vid)) * Fmt::kPostScale *\n"
        "                  (Fmt::kTensorScaled ? tensor_scale : 1.0f);\n"
        "  for (int e = 0; e < 8; ++e) x[e] *= s;\n"
        "  out[i] = kvjit::pack8<kvjit::ElemF16>(x);\n"
        "}}\n",
        fmt::arg("format", format_type(spec)), fmt::arg("hd", spec.head_dim));
    SpecializedSource src{spec, "kvjit_bench_dequant", "bench_dequant.cu", source, launch_shape(spec)};
    auto templates = load_templates();
    if (!templates) throw KvjitError(templates.error());
    auto compiled = compile_nvrtc(src, *templates, CompileOptions{.cubin = false});
    if (!compiled) throw KvjitError(compiled.error());
    // PTX through the driver's JIT: loads whatever the spec's arch and the device's are.
    BENCH_CU(cuModuleLoadDataEx_(&module, compiled->ptx.c_str(), 0, nullptr, nullptr));
    BENCH_CU(cuModuleGetFunction_(&function, module, "kvjit_bench_dequant"));
  }
  ~DequantKernel() { api->cuModuleUnload_(module); }
  void launch(CUdeviceptr cache, CUdeviceptr scales, CUdeviceptr out, long long rows, int head_dim, float scale) {
    long long vectors = rows * (head_dim / 8);
    void* params[] = {&cache, &scales, &out, &vectors, &scale};
    const unsigned blocks = static_cast<unsigned>((vectors + 255) / 256);
    BENCH_CU(cuLaunchKernel_(function, blocks, 1, 1, 256, 1, 1, 0, nullptr, params, nullptr));
  }
};

// Dequantize-then-attend for `spec`'s format: both caches to f16, then kvjit's f16 decode of the same shape.
// Reported against the bytes the quantized kernel needs, so its %copy compares with that kernel's row.
Row bench_dequant_then_decode(Engine& engine, const DriverApi* api, const Spec& spec, int batch, int context,
                              int kv_heads, const Timing& timing, double copy_gbs) {
  Spec f16 = spec;
  f16.kv = KvDtype::f16;
  f16.scale = ScaleDtype::f16;  // f16 KV has no scale pool
  f16.mma = Mma::auto_;  // the best f16 body: that is what a dequantize-then-attend engine would run
  auto kernel = engine.get(f16);
  if (!kernel) throw KvjitError(kernel.error());
  Spec resolved = spec;
  resolved.arch = (*kernel)->spec().arch;  // arch=auto: the device's, as the engine resolved it
  DequantKernel dequant(api, resolved);
  const int pages_per_seq = (context + spec.page_size - 1) / spec.page_size;
  const long long rows = static_cast<long long>(batch) * pages_per_seq * spec.page_size * kv_heads;
  const size_t row_bytes = static_cast<size_t>(spec.head_dim) * kv_element_bytes(spec.kv);
  const size_t scale_bytes = static_cast<size_t>(scale_bytes_per_row(spec));
  DeviceMemory k(api, rows * row_bytes), v(api, rows * row_bytes);
  DeviceMemory ks(api, rows * scale_bytes), vs(api, rows * scale_bytes);
  DeviceMemory k16(api, rows * spec.head_dim * 2), v16(api, rows * spec.head_dim * 2);
  const int q_heads = kv_heads * spec.gqa;
  DeviceMemory q(api, static_cast<size_t>(batch) * q_heads * spec.head_dim * 2), o(api, q.bytes);
  k.fill_random(false, 1);
  v.fill_random(false, 2);
  ks.fill_scales(spec.scale, 3);
  vs.fill_scales(spec.scale, 4);
  q.fill_random(true, 5);
  std::vector<int32_t> table(static_cast<size_t>(batch) * pages_per_seq);
  for (size_t i = 0; i < table.size(); ++i) table[i] = static_cast<int32_t>(i);
  std::shuffle(table.begin(), table.end(), std::mt19937(9));
  std::vector<int32_t> lens(static_cast<size_t>(batch), context);
  DeviceMemory table_dev(api, table.size() * 4), lens_dev(api, lens.size() * 4);
  BENCH_CU(cuMemcpyHtoD_(table_dev.ptr, table.data(), table.size() * 4));
  BENCH_CU(cuMemcpyHtoD_(lens_dev.ptr, lens.data(), lens.size() * 4));
  DecodeArgs args;
  args.q = reinterpret_cast<const void*>(q.ptr);
  args.o = reinterpret_cast<void*>(o.ptr);
  args.k_cache = reinterpret_cast<const void*>(k16.ptr);
  args.v_cache = reinterpret_cast<const void*>(v16.ptr);
  args.batch = batch;
  args.num_kv_heads = kv_heads;
  args.block_table = reinterpret_cast<const int32_t*>(table_dev.ptr);
  args.seq_lens = reinterpret_cast<const int32_t*>(lens_dev.ptr);
  args.max_blocks_per_seq = pages_per_seq;
  args.sm_scale = 1.0f / std::sqrt(static_cast<float>(spec.head_dim));
  if (spec.softcap) args.softcap = kBenchSoftcap;
  DeviceMemory workspace(api, (*kernel)->decode_workspace_bytes(batch, kv_heads));
  BENCH_CU(cuMemsetD8_(workspace.ptr, 0, workspace.bytes));
  args.workspace = reinterpret_cast<void*>(workspace.ptr);
  args.workspace_bytes = workspace.bytes;
  args.max_seq_len = context;
  const double us = median_us(api, timing, [&](long long) {
    dequant.launch(k.ptr, ks.ptr, k16.ptr, rows, spec.head_dim, 0.02f);
    dequant.launch(v.ptr, vs.ptr, v16.ptr, rows, spec.head_dim, 0.02f);
    if (auto r = (*kernel)->decode(nullptr, args); !r) throw KvjitError(r.error());
  });
  // Against the bytes the quantized kernel needs, so its %copy compares with that kernel's row.
  Row row = make_row("dequant+f16 decode for kv=" + std::string(to_string(spec.kv)), batch, context, us,
                     decode_bytes(spec, batch, context, kv_heads, pages_per_seq), copy_gbs);
  row.splits = (*kernel)->decode_splits(batch, kv_heads, context);
  row.warps = (*kernel)->decode_cta_warps(batch, kv_heads, context);
  return row;
}

// Whether the spec's kernel runs CTAs of `warps` warps (one of its launch shape's sizes).
bool runs_cta_warps(Engine& engine, const Spec& spec, int warps) {
  auto kernel = engine.get(spec);
  if (!kernel) throw KvjitError(kernel.error());
  const LaunchShape& shape = (*kernel)->shape();
  if (warps == shape.warps || warps == shape.wide_warps) return true;
  fmt::print(stderr, "kvjit bench: {} runs no CTAs of {} warps; skipped for it\n", to_string((*kernel)->spec()),
             warps);
  return false;
}

int run_bench(const BenchOptions& o) {
  auto api = driver();
  if (!api) {
    fmt::print(stderr, "kvjit bench: {}\n", api.error().message);
    return kExitFailure;
  }
  auto device = current_device_context();
  if (!device) {
    fmt::print(stderr, "kvjit bench: {}\n", device.error().message);
    return kExitFailure;
  }
  std::vector<Spec> specs;
  for (const std::string& text : o.specs) {
    auto s = parse_spec(text);
    if (!s) {
      fmt::print(stderr, "kvjit bench: {}\n", s.error().message);
      return kExitUsage;
    }
    specs.push_back(*s);
  }
  Engine engine(o.ptx_dir.empty() ? nullptr : make_memory_provider(dumped_ptx_compiler(o.ptx_dir)));
  const double copy = copy_bandwidth_gbs(*api);
  const Timing timing{o.runs, o.back_to_back};
  std::vector<Row> rows;
  for (const Spec& s : specs) {
    std::vector<int> warps;
    for (int w : o.warps)
      if (w == 0 || runs_cta_warps(engine, s, w)) warps.push_back(w);
    for (int b : o.batches)
      for (int c : o.contexts) {
        for (int n : o.splits)
          for (int w : warps)
            for (int pdl : o.pdl)
              rows.push_back(bench_decode(engine, *api, s, b, c, o.kv_heads, n, w, pdl != 0, timing, copy));
        if (o.baseline && kv_element_bytes(s.kv) == 1)
          rows.push_back(bench_dequant_then_decode(engine, *api, s, b, c, o.kv_heads, timing, copy));
      }
  }
  if (o.json) {
    nlohmann::json j = {{"copy_gbs", copy},
                        {"kv_heads", o.kv_heads},
                        {"runs", o.runs},
                        {"back_to_back", o.back_to_back},
                        {"rows", nlohmann::json::array()}};
    for (const Row& r : rows)
      j["rows"].push_back({{"spec", r.spec}, {"batch", r.batch}, {"context", r.context}, {"us", r.us},
                           {"gbs", r.gbs}, {"pct_of_copy", r.pct}, {"splits", r.splits}, {"cta_warps", r.warps},
                           {"pdl", r.pdl}});
    fmt::print("{}\n", j.dump(2));
    return kExitOk;
  }
  fmt::print("device copy bandwidth: {:.0f} GB/s (read + write); median of {} runs of {} back-to-back launches\n",
             copy, o.runs, o.back_to_back);
  fmt::print("{:<78} {:>6} {:>8} {:>6} {:>5} {:>10} {:>8} {:>7}\n", "spec", "batch", "context", "splits", "warps",
             "us", "GB/s", "%copy");
  for (const Row& r : rows)
    fmt::print("{:<78} {:>6} {:>8} {:>6} {:>5} {:>10.1f} {:>8.0f} {:>6.1f}%\n", r.spec + (r.pdl ? " +pdl" : ""),
               r.batch, r.context, r.splits, r.warps, r.us, r.gbs, r.pct);
  return kExitOk;
}

}  // namespace

Action add_bench_command(CLI::App& app) {
  auto o = std::make_shared<BenchOptions>();
  CLI::App* cmd = app.add_subcommand("bench", "Time decode kernels on the GPU (us, GB/s, % of copy bandwidth)");
  cmd->add_option("--spec", o->specs, "Decode specs to time")->capture_default_str();
  cmd->add_option("--batch", o->batches, "Batch sizes")->capture_default_str();
  cmd->add_option("--context", o->contexts, "Context lengths (tokens per sequence)")->capture_default_str();
  cmd->add_option("--splits", o->splits, "KV partitions per sequence to time (0: the launch chooses)")
      ->capture_default_str()
      ->check(CLI::Range(0, kMaxSplits));
  cmd->add_option("--warps", o->warps,
                  "Warps a CTA to time (0: the launch chooses); a spec whose kernel runs no such CTA size is "
                  "skipped for it, so `--warps 4 6` compares a one-byte spec's two sizes")
      ->capture_default_str()
      ->check(CLI::Range(0, 32));
  cmd->add_option("--pdl", o->pdl,
                  "1: launch with programmatic dependent launch (sm_90+), so back-to-back launches overlap; "
                  "`--pdl 0 1` times both")
      ->capture_default_str()
      ->check(CLI::Range(0, 1));
  cmd->add_option("--kv-heads", o->kv_heads, "KV heads (query heads = gqa x this)")->capture_default_str();
  cmd->add_option("--runs", o->runs, "Timed runs per shape (median reported)")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  cmd->add_option("--back-to-back", o->back_to_back,
                  "Launches per timed run, queued without a host wait between them (the run's mean is one "
                  "sample); 1 also times the host's submission of the launch")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  cmd->add_flag("--json", o->json, "JSON output");
  cmd->add_flag("!--no-baseline", o->baseline,
                "Skip the dequantize-then-attend rows (whole cache to f16, then the f16 decode)");
  cmd->add_option("--ptx-dir", o->ptx_dir,
                  "Specs whose backend is not nvrtc load the PTX `kvjit dump` wrote here (arch must be explicit: "
                  "the file name has it), so a build without that backend can time its kernels");
  return [o] { return run_bench(*o); };
}

}  // namespace kvjit::cli
