// A reset of a device's primary context (cuDevicePrimaryCtxReset, what cudaDeviceReset does) unloads every
// module in it and keeps its handle. An engine that keyed its loaded kernels by something the reset keeps
// would serve a function of an unloaded module. Run in a child process (a death test in the threadsafe style
// re-executes this binary), so the reset takes nothing from the other tests' contexts. On an H100 (driver
// 580.159.04) the reset kept the handle and gave the context a new id (1 -> 2). Under compute-sanitizer the
// child hangs: scripts/gpu-check.sh leaves this test out of its whole-run memcheck.
#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <exception>

#include "tests/gpu/decode_case.h"

namespace kvjit::test {
namespace {

#define KVJIT_TEST_SYMBOL_TEXT(x) #x
#define KVJIT_TEST_SYMBOL(x) KVJIT_TEST_SYMBOL_TEXT(x)

// Exit codes of the child: 0 right before and after the reset; 1 an error; 2 a wrong or unwritten output.
int launch_reset_launch() {
  try {
    void* libcuda = dlopen("libcuda.so.1", RTLD_NOW | RTLD_NOLOAD);
    auto reset = libcuda == nullptr ? nullptr
                                    : reinterpret_cast<decltype(&cuDevicePrimaryCtxReset)>(
                                          dlsym(libcuda, KVJIT_TEST_SYMBOL(cuDevicePrimaryCtxReset)));
    if (reset == nullptr) {
      std::fprintf(stderr, "no " KVJIT_TEST_SYMBOL(cuDevicePrimaryCtxReset) "\n");
      return 1;
    }
    const DeviceContext before = current_device_context().value();  // the primary context, retained
    Engine engine;
    DecodeCase c;
    c.spec.kv = KvDtype::int8;
    c.spec.gqa = 4;
    c.seq_lens = {300, 17};
    c.seed = 950;
    DecodeOutcome outcome = run_decode_case(engine, c);
    if (outcome.rel_l2 > 1e-3 || outcome.unwritten != 0) return 2;
    const Kernel* first = engine.get(c.spec).value().get();

    if (reset(before.device) != CUDA_SUCCESS) return 1;
    CUcontext handle = nullptr;  // the reset keeps the handle; make it current again as a runtime user would
    if (cu()->cuDevicePrimaryCtxRetain_(&handle, before.device) != CUDA_SUCCESS) return 1;
    if (cu()->cuCtxSetCurrent_(handle) != CUDA_SUCCESS) return 1;
    const uint64_t key_after = current_context_key(*cu());
    std::printf("KVJIT_RESULT primary context reset: handle %s, context key %llu -> %llu\n",
                handle == before.context ? "kept" : "changed", static_cast<unsigned long long>(before.context_key),
                static_cast<unsigned long long>(key_after));
    std::fflush(stdout);

    c.seed = 951;
    outcome = run_decode_case(engine, c);
    if (outcome.rel_l2 > 1e-3 || outcome.unwritten != 0) return 2;
    if (engine.get(c.spec).value().get() == first) {
      std::fprintf(stderr, "the kernel loaded before the reset was served after it\n");
      return 2;
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}

TEST(GpuContextReset, APrimaryContextResetLoadsItsKernelsAgain) {
  KVJIT_REQUIRE_GPU();
  if (cu()->cuCtxGetId_ == nullptr) GTEST_SKIP() << "this driver has no cuCtxGetId: contexts are keyed by handle";
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(std::exit(launch_reset_launch()), ::testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace kvjit::test
