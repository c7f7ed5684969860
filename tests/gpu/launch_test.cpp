// Launch behaviour: CUDA graph capture and replay, concurrent launches, self-healing loads.
#include <dlfcn.h>
#include <fmt/format.h>

#include <set>
#include <thread>
#include <tuple>

#include "runtime/launch_plan.h"
#include "tests/gpu/decode_case.h"

namespace kvjit::test {
namespace {

Engine& engine() {
  static Engine e;
  return e;
}

struct Stream {
  CUstream s = nullptr;
  Stream() { check(cu()->cuStreamCreate_(&s, CU_STREAM_NON_BLOCKING), "cuStreamCreate"); }
  ~Stream() { cu()->cuStreamDestroy_(s); }
};

// A decode step captured once and replayed with new sequence lengths equals eager launches, with and
// without split-KV (whose merge counters must reset themselves between replays).
class GpuGraph : public ::testing::TestWithParam<bool> {};
INSTANTIATE_TEST_SUITE_P(Split, GpuGraph, ::testing::Bool());

TEST_P(GpuGraph, ReplayMatchesEager) {
  KVJIT_REQUIRE_GPU();
  const bool split = GetParam();
  Spec spec;
  spec.kv = KvDtype::int8;
  spec.gqa = 4;
  std::mt19937 rng(7);
  const std::vector<int> max_lens = {300, 1024, 77};
  int num_pages = 0;
  ref::HostPaging paging = ref::make_paging(spec, max_lens, 7, &num_pages);
  const ref::HostCache cache = random_cache(spec, num_pages, 2, rng);
  const std::vector<uint16_t> q = random_q(spec, 3 * 8 * 128, rng);
  DeviceCache dev(cache, paging);
  DeviceBuffer qd(q), o_graph(q.size() * 2), o_eager(q.size() * 2);
  DecodeArgs args = dev.args(cache, paging);
  args.q = qd.get();
  args.o = o_graph.get();
  auto kernel = engine().get(spec);
  ASSERT_TRUE(kernel.ok()) << kernel.error().message;
  DeviceBuffer ws;
  if (split) {
    ws = DeviceBuffer((*kernel)->decode_workspace_bytes(3, 2));
    check(cu()->cuMemsetD8_(reinterpret_cast<CUdeviceptr>(ws.get()), 0, ws.bytes()), "cuMemsetD8");
    args.workspace = ws.get();
    args.workspace_bytes = ws.bytes();
    args.max_seq_len = 1024;
  }

  Stream stream;
  CUgraph graph = nullptr;
  CUgraphExec exec = nullptr;
  check(cu()->cuStreamBeginCapture_(stream.s, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL), "cuStreamBeginCapture");
  ASSERT_TRUE((*kernel)->decode(stream.s, args).ok());
  check(cu()->cuStreamEndCapture_(stream.s, &graph), "cuStreamEndCapture");
  check(cu()->cuGraphInstantiate_(&exec, graph, 0), "cuGraphInstantiate");

  for (const std::vector<int>& lens : {std::vector<int>{300, 1024, 77}, {1, 17, 64}, {299, 1000, 0}}) {
    SCOPED_TRACE(lens[0]);
    dev.seq_lens.upload(lens);
    o_graph.poison();
    o_eager.poison();
    check(cu()->cuGraphLaunch_(exec, stream.s), "cuGraphLaunch");
    check(cu()->cuStreamSynchronize_(stream.s), "cuStreamSynchronize");
    DecodeArgs eager = args;
    eager.o = o_eager.get();
    ASSERT_TRUE((*kernel)->decode(stream.s, eager).ok());
    check(cu()->cuStreamSynchronize_(stream.s), "cuStreamSynchronize");
    const auto a = o_graph.download<uint16_t>(), b = o_eager.download<uint16_t>();
    EXPECT_TRUE(a == b);
    // And both are right for these lengths.
    ref::HostPaging now = paging;
    now.seq_lens = lens;
    const std::vector<double> expected = ref::decode(cache, now, q, args.sm_scale);
    std::vector<double> got(a.size());
    for (size_t i = 0; i < a.size(); ++i) got[i] = ref::f16_to_f32(a[i]);
    EXPECT_LE(ref::rel_l2(expected, got), 1e-3);
  }
  cu()->cuGraphExecDestroy_(exec);
  cu()->cuGraphDestroy_(graph);
}

// Programmatic dependent launch (DecodeArgs::pdl): each launch of a chain takes the previous launch's output
// as its q, so a launch that read before the previous one had finished would read the poisoned (NaN) buffer.
// The chain launched with pdl equals the plain chain bit for bit, with and without split-KV (whose merge
// counters every launch reuses), eagerly and replayed from a graph; its first step matches the reference.
// Parameters: split-KV, and the body (tensor cores; CUDA cores, mma=0).
class GpuPdl : public ::testing::TestWithParam<std::tuple<bool, bool>> {};
INSTANTIATE_TEST_SUITE_P(SplitAndBody, GpuPdl, ::testing::Combine(::testing::Bool(), ::testing::Bool()));

TEST_P(GpuPdl, ChainedLaunchesMatchPlainLaunches) {
  KVJIT_REQUIRE_GPU();
  if (current_device_context()->arch.sm < 90) GTEST_SKIP() << "programmatic dependent launch needs sm_90+";
  ASSERT_NE(cu()->cuLaunchKernelEx_, nullptr) << "a driver for an sm_90 GPU has cuLaunchKernelEx";
  const auto [split, cuda_cores] = GetParam();
  Spec spec;
  spec.kv = KvDtype::e4m3;
  spec.gqa = 4;
  spec.mma = cuda_cores ? Mma::off : Mma::auto_;
  std::mt19937 rng(11);
  const std::vector<int> lens = {3000, 1111};
  int num_pages = 0;
  const ref::HostPaging paging = ref::make_paging(spec, lens, 11, &num_pages);
  const ref::HostCache cache = random_cache(spec, num_pages, 2, rng);
  const size_t q_elems = 2 * 8 * 128;
  const std::vector<uint16_t> q = random_q(spec, q_elems, rng);
  DeviceCache dev(cache, paging);
  constexpr int kSteps = 12;
  std::vector<DeviceBuffer> bufs;
  bufs.emplace_back(q);
  for (int i = 0; i < kSteps; ++i) bufs.emplace_back(q_elems * 2);
  auto kernel = engine().get(spec);
  ASSERT_TRUE(kernel.ok()) << kernel.error().message;
  EXPECT_TRUE((*kernel)->waits_for_prior_grid()) << "the module's marker (compiler/launch_shape.h) was not found";
  DecodeArgs args = dev.args(cache, paging);
  DeviceBuffer ws;
  if (split) {
    ws = DeviceBuffer((*kernel)->decode_workspace_bytes(2, 2));
    check(cu()->cuMemsetD8_(reinterpret_cast<CUdeviceptr>(ws.get()), 0, ws.bytes()), "cuMemsetD8");
    args.workspace = ws.get();
    args.workspace_bytes = ws.bytes();
    args.max_seq_len = 3000;
    args.num_splits = 8;
  }
  Stream stream;
  const auto launch_chain = [&](bool pdl) {
    for (int i = 1; i <= kSteps; ++i) bufs[i].poison();
    sync();
    for (int i = 0; i < kSteps; ++i) {
      DecodeArgs step = args;
      step.q = bufs[i].get();
      step.o = bufs[i + 1].get();
      step.pdl = pdl;
      const Status launched = (*kernel)->decode(stream.s, step);
      ASSERT_TRUE(launched.ok()) << launched.error().message;
    }
  };
  const auto outputs = [&] {
    std::vector<std::vector<uint16_t>> out;
    for (int i = 1; i <= kSteps; ++i) out.push_back(bufs[i].download<uint16_t>());
    return out;
  };

  launch_chain(false);
  check(cu()->cuStreamSynchronize_(stream.s), "cuStreamSynchronize");
  const auto plain = outputs();
  for (const auto& step : plain)
    for (const uint16_t h : step) ASSERT_FALSE(std::isnan(ref::f16_to_f32(h)));
  const std::vector<double> expected = ref::decode(cache, paging, q, args.sm_scale);
  std::vector<double> got(plain[0].size());
  for (size_t i = 0; i < got.size(); ++i) got[i] = ref::f16_to_f32(plain[0][i]);
  EXPECT_LE(ref::rel_l2(expected, got), 1e-3);

  launch_chain(true);
  check(cu()->cuStreamSynchronize_(stream.s), "cuStreamSynchronize");
  EXPECT_TRUE(outputs() == plain) << "eager launches with pdl";

  CUgraph graph = nullptr;
  CUgraphExec exec = nullptr;
  for (int i = 1; i <= kSteps; ++i) bufs[i].poison();
  sync();
  check(cu()->cuStreamBeginCapture_(stream.s, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL), "cuStreamBeginCapture");
  for (int i = 0; i < kSteps; ++i) {
    DecodeArgs step = args;
    step.q = bufs[i].get();
    step.o = bufs[i + 1].get();
    step.pdl = true;
    ASSERT_TRUE((*kernel)->decode(stream.s, step).ok());
  }
  check(cu()->cuStreamEndCapture_(stream.s, &graph), "cuStreamEndCapture");
  check(cu()->cuGraphInstantiate_(&exec, graph, 0), "cuGraphInstantiate");
  for (int replay = 0; replay < 3; ++replay) {
    for (int i = 1; i <= kSteps; ++i) bufs[i].poison();
    sync();
    check(cu()->cuGraphLaunch_(exec, stream.s), "cuGraphLaunch");
    check(cu()->cuStreamSynchronize_(stream.s), "cuStreamSynchronize");
    EXPECT_TRUE(outputs() == plain) << "graph replay " << replay;
  }
  cu()->cuGraphExecDestroy_(exec);
  cu()->cuGraphDestroy_(graph);
}

// Engine::get's per-thread recent hits (runtime/recent_hits.h) never hand one engine's kernel to another,
// also when a new engine takes a destroyed one's address; a spec asked with arch=auto and with the device's
// arch is one kernel, and another thread gets the same handle.
TEST(GpuLaunch, RecentHitsKeepEnginesApart) {
  KVJIT_REQUIRE_GPU();
  Spec spec;
  spec.kv = KvDtype::int8;
  spec.gqa = 4;
  auto a = std::make_unique<Engine>();
  auto first = a->get(spec);
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(a->get(spec)->get(), first->get());
  Spec resolved = spec;
  resolved.arch = current_device_context()->arch;
  EXPECT_EQ(a->get(resolved)->get(), first->get());
  Engine b;
  EXPECT_NE(b.get(spec)->get(), first->get());
  a.reset();
  a = std::make_unique<Engine>();  // may take the address of the engine it replaces
  auto renewed = a->get(spec);
  ASSERT_TRUE(renewed.ok());
  EXPECT_NE(renewed->get(), first->get());
  const Kernel* from_thread = nullptr;
  std::thread([&] {
    check(cu()->cuCtxSetCurrent_(current_device_context()->context), "cuCtxSetCurrent");
    from_thread = a->get(spec)->get();
  }).join();
  EXPECT_EQ(from_thread, renewed->get());
}

// The versioned symbol cuda.h maps a name to (cuCtxCreate -> cuCtxCreate_v4), as runtime/driver.cpp resolves it.
#define KVJIT_TEST_SYMBOL_TEXT(x) #x
#define KVJIT_TEST_SYMBOL(x) KVJIT_TEST_SYMBOL_TEXT(x)

// A context this test created: destroyed, and the test's own context current again, however the scope ends.
struct OwnedContext {
  CUcontext context;
  CUcontext outer;
  decltype(&cuCtxDestroy) destroy;
  ~OwnedContext() {
    destroy(context);
    cu()->cuCtxSetCurrent_(outer);
  }
};

// Loaded kernels are keyed by the driver's context id, not the handle: a context created after another
// was destroyed may get the same handle, and must load its own modules (the destroyed context's functions
// are gone with it). One engine serves six contexts in turn, each destroyed after its launch.
TEST(GpuLaunch, EachNewContextLoadsItsOwnKernels) {
  KVJIT_REQUIRE_GPU();
  if (cu()->cuCtxGetId_ == nullptr) GTEST_SKIP() << "this driver has no cuCtxGetId: contexts are keyed by handle";
  void* libcuda = dlopen("libcuda.so.1", RTLD_NOW | RTLD_NOLOAD);
  ASSERT_NE(libcuda, nullptr);
  auto create = reinterpret_cast<decltype(&cuCtxCreate)>(dlsym(libcuda, KVJIT_TEST_SYMBOL(cuCtxCreate)));
  auto destroy = reinterpret_cast<decltype(&cuCtxDestroy)>(dlsym(libcuda, KVJIT_TEST_SYMBOL(cuCtxDestroy)));
  dlclose(libcuda);  // the driver itself stays loaded (runtime/driver.cpp keeps its handle)
  if (create == nullptr || destroy == nullptr) GTEST_SKIP() << "this driver lacks " KVJIT_TEST_SYMBOL(cuCtxCreate);
  CUcontext outer = nullptr;
  check(cu()->cuCtxGetCurrent_(&outer), "cuCtxGetCurrent");
  const CUdevice device = current_device_context()->device;

  Engine one_engine;
  DecodeCase c;
  c.spec.kv = KvDtype::int8;
  c.spec.gqa = 4;
  c.seq_lens = {300, 17};
  std::set<uint64_t> keys;
  std::set<CUcontext> handles;
  std::set<const Kernel*> kernels;
  int reused_handles = 0;
  for (int i = 0; i < 6; ++i) {
    CUcontext ctx = nullptr;
    CUctxCreateParams params{};
    check(create(&ctx, &params, 0, device), "cuCtxCreate");  // and makes it current
    const OwnedContext owned{ctx, outer, destroy};
    keys.insert(context_key(*cu(), ctx));
    if (!handles.insert(ctx).second) ++reused_handles;
    c.seed = 900 + static_cast<uint32_t>(i);
    const DecodeOutcome outcome = run_decode_case(one_engine, c);
    EXPECT_LE(outcome.rel_l2, 1e-3) << "context " << i;
    EXPECT_EQ(outcome.unwritten, 0) << "context " << i;
    kernels.insert(one_engine.get(c.spec).value().get());
  }
  EXPECT_EQ(keys.size(), 6u) << "every context has its own key";
  EXPECT_EQ(keys.count(0), 0u);
  EXPECT_EQ(kernels.size(), 6u) << "every context loads its own kernel";
  fmt::print("KVJIT_RESULT contexts=6 reused_handles={}\n", reused_handles);
  // Without a reused handle, keying by handle would have passed too: the test then proves nothing.
  if (reused_handles == 0) GTEST_SKIP() << "the driver reused no context handle";
}

// A module built without the wait (here sm_80 PTX, JIT-compiled for this GPU) has no marker, so a launch
// with pdl stays a plain launch (runtime/engine.cpp) instead of racing the kernel before it.
TEST(GpuLaunch, ModulesWithoutTheWaitAreNotLaunchedProgrammatically) {
  KVJIT_REQUIRE_GPU();
  if (current_device_context()->arch.sm < 90) GTEST_SKIP() << "programmatic dependent launch needs sm_90+";
  Spec spec;
  spec.kv = KvDtype::e4m3;
  spec.gqa = 4;
  spec.arch = Arch{80, false};
  auto old_build = engine().get(spec);
  ASSERT_TRUE(old_build.ok()) << old_build.error().message;
  EXPECT_FALSE((*old_build)->waits_for_prior_grid());
  spec.arch = current_device_context()->arch;
  EXPECT_TRUE(engine().get(spec).value()->waits_for_prior_grid());
}

// Two threads launching different specs on two streams at once: both right.
TEST(GpuLaunch, ConcurrentThreadsAndStreams) {
  KVJIT_REQUIRE_GPU();
  auto worker = [](KvDtype kv, int gqa, uint32_t seed, double* worst) {
    DecodeCase c;
    c.spec.kv = kv;
    c.spec.gqa = gqa;
    c.seq_lens = {513, 2048, 1};
    for (int i = 0; i < 10; ++i) {
      c.seed = seed + static_cast<uint32_t>(i);
      *worst = std::max(*worst, run_decode_case(engine(), c).rel_l2);
    }
  };
  CUcontext ctx = nullptr;
  check(cu()->cuCtxGetCurrent_(&ctx), "cuCtxGetCurrent");
  double worst_a = 0, worst_b = 0;
  std::thread a([&] { cu()->cuCtxSetCurrent_(ctx); worker(KvDtype::f16, 4, 1, &worst_a); });
  std::thread b([&] { cu()->cuCtxSetCurrent_(ctx); worker(KvDtype::int8, 8, 100, &worst_b); });
  a.join();
  b.join();
  EXPECT_LE(worst_a, 1e-3);
  EXPECT_LE(worst_b, 1e-3);
}

// A provider whose first artifact does not load: the engine evicts it and loads a good one.
class CorruptFirstProvider final : public ArtifactProvider {
 public:
  Result<std::shared_ptr<const Artifact>> get(const Spec& spec) override {
    auto good = inner_->get(spec);
    if (!good || served_corrupt_) return good;
    served_corrupt_ = true;
    // Not an image the driver accepts (as a stale entry from another toolkit would be). Images that pass the
    // cache's checksum are never bit-damaged, so this is the failure the loader must heal from.
    auto bad = std::make_shared<Artifact>(**good);
    bad->cubin.assign(64, 0);
    bad->ptx = "not ptx";
    return std::shared_ptr<const Artifact>(bad);
  }
  void evict(const Artifact& a) override {
    ++evictions;
    inner_->evict(a);
  }
  int evictions = 0;

 private:
  std::shared_ptr<ArtifactProvider> inner_ = make_memory_provider();
  bool served_corrupt_ = false;
};

TEST(GpuLaunch, CorruptEntryIsEvictedAndRecompiled) {
  KVJIT_REQUIRE_GPU();
  auto provider = std::make_shared<CorruptFirstProvider>();
  Engine local(provider);
  Spec spec;
  spec.gqa = 2;
  auto kernel = local.get(spec);
  ASSERT_TRUE(kernel.ok()) << kernel.error().message;
  EXPECT_EQ(provider->evictions, 1);
  DecodeCase c;
  c.spec = spec;
  c.seq_lens = {100};
  EXPECT_LE(run_decode_case(local, c).rel_l2, 1e-3);
}

TEST(GpuLaunch, ArgumentsOfAnotherSpecAreRefused) {
  KVJIT_REQUIRE_GPU();
  Spec spec;
  auto kernel = engine().get(spec);
  ASSERT_TRUE(kernel.ok());
  Spec other = spec;
  other.head_dim = 64;
  DecodeArgs args;
  args.expected_spec = &other;
  auto r = (*kernel)->decode(nullptr, args);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("shaped for decode:hd=64"), std::string::npos) << r.error().message;
}


// The split count a launch chooses and the workspace it needs come from the loaded kernel's device: one
// long sequence splits, short or many sequences do not, and the workspace holds the split it chooses while
// staying far below the most any launch could force.
TEST(GpuLaunch, SplitCountAndWorkspaceFollowTheDevice) {
  KVJIT_REQUIRE_GPU();
  auto kernel = engine().get(parse_spec("decode:hd=128,gqa=4,kv=int8").value_or_throw());
  ASSERT_TRUE(kernel.ok()) << kernel.error().message;
  const Kernel& k = **kernel;
  const int long_split = k.decode_splits(1, 8, 32768);
  EXPECT_GT(long_split, 1);
  EXPECT_LE(long_split, kAutoMaxSplits);
  EXPECT_EQ(k.decode_splits(1, 8, 300), 1);      // too short for two partitions of 256 tokens
  EXPECT_EQ(k.decode_splits(8192, 8, 32768), 1);  // 65536 CTAs fill the GPU alone
  EXPECT_GE(k.decode_workspace_bytes(64, 8), decode_workspace_bytes(k.spec(), k.shape(), 1, 8, long_split));
  EXPECT_LT(k.decode_workspace_bytes(64, 8), decode_workspace_bytes(k.spec(), k.shape(), 64, 8, kMaxSplits) / 4);
}

}  // namespace
}  // namespace kvjit::test
