// Kernels compiled by the LLVM backend, on the GPU. The PTX is made on a machine with LLVM by
// scripts/llvm-ptx-set.sh (`kvjit dump --backend=llvm`; this binary does not link LLVM), loaded here through
// the runtime's module loading (the driver JITs it) from an in-memory provider, and checked against the
// CPU reference with the decode and append checks and error budgets of decode_test.cpp and append_test.cpp.
// Each format also runs through NVRTC on the same data, so the two backends' errors can be compared.
// Skips without a GPU or without KVJIT_LLVM_PTX_DIR (the directory the script wrote).
#include <fmt/format.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <set>

#include "runtime/dumped_ptx.h"
#include "tests/gpu/append_case.h"

namespace kvjit::test {
namespace {

std::string ptx_dir() {
  const char* dir = std::getenv("KVJIT_LLVM_PTX_DIR");
  return dir != nullptr ? dir : "";
}

#define KVJIT_REQUIRE_LLVM_PTX()                                                                     \
  do {                                                                                               \
    KVJIT_REQUIRE_GPU();                                                                             \
    if (ptx_dir().empty()) GTEST_SKIP() << "KVJIT_LLVM_PTX_DIR unset (see scripts/llvm-ptx-set.sh)"; \
  } while (0)

// What `kvjit dump --backend=llvm` wrote for each spec: <dir>/<file stem>.ptx, PTX only.
Engine& llvm_engine() {
  static Engine e(make_memory_provider(dumped_ptx_compiler(ptx_dir())));
  return e;
}

Engine& nvrtc_engine() {
  static Engine e;
  return e;
}

// The specs the script dumped (specs.txt, one per line).
std::vector<Spec> dumped_specs() {
  std::ifstream in(ptx_dir() + "/specs.txt");
  std::vector<Spec> specs;
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) specs.push_back(parse_spec(line).value_or_throw());
  return specs;
}

std::vector<Spec> dumped_specs(Kind kind) {
  std::vector<Spec> out;
  for (const Spec& s : dumped_specs())
    if (s.kind == kind) out.push_back(s);
  return out;
}

std::string format_and_arch(const Spec& spec) {
  return fmt::format("kv={} arch={}", to_string(spec.kv), to_string(spec.arch));
}

// A truncated PTX set must fail, not pass on what is left: every format on both archs, decode and append.
TEST(GpuLlvmBackend, PtxSetCoversEveryFormatAndArch) {
  KVJIT_REQUIRE_LLVM_PTX();
  std::set<std::string> seen;
  for (const Spec& s : dumped_specs()) {
    EXPECT_EQ(s.backend, Backend::llvm) << to_string(s);
    seen.insert(fmt::format("{} {}", to_string(s.kind), format_and_arch(s)));
  }
  for (Kind kind : {Kind::decode, Kind::append})
    for (KvDtype kv : {KvDtype::f16, KvDtype::bf16, KvDtype::int8, KvDtype::q8, KvDtype::e4m3, KvDtype::e5m2})
      for (Arch arch : {Arch{80, false}, Arch{90, false}}) {
        Spec s;
        s.kind = kind;
        s.kv = kv;
        s.arch = arch;
        EXPECT_EQ(seen.count(fmt::format("{} {}", to_string(kind), format_and_arch(s))), 1u)
            << "missing from " << ptx_dir() << "/specs.txt: " << to_string(kind) << " " << format_and_arch(s);
      }
}

// Decode: short, page-aligned and long sequences (the long one makes the launch split the KV and merge).
TEST(GpuLlvmBackend, DecodeMatchesReferenceLikeNvrtc) {
  KVJIT_REQUIRE_LLVM_PTX();
  const std::vector<Spec> specs = dumped_specs(Kind::decode);
  ASSERT_FALSE(specs.empty());
  std::map<std::string, std::pair<double, double>> worst;  // format/arch -> (llvm, nvrtc) worst rel L2
  uint32_t seed = 300;
  for (const Spec& spec : specs) {
    SCOPED_TRACE(to_string(spec));
    DecodeCase c;
    c.spec = spec;
    c.num_kv_heads = 2;
    c.seq_lens = {1, spec.page_size * 3, 517, 8191};
    c.seed = ++seed;
    const DecodeOutcome llvm = run_decode_case(llvm_engine(), c);
    EXPECT_EQ(llvm.unwritten, 0u);
    EXPECT_LE(llvm.rel_l2, 1e-3);
    EXPECT_LE(llvm.lse_max_abs, 2e-3);
    c.spec.backend = Backend::nvrtc;
    const DecodeOutcome nvrtc = run_decode_case(nvrtc_engine(), c);
    auto& w = worst[format_and_arch(spec)];
    w.first = std::max(w.first, llvm.rel_l2);
    w.second = std::max(w.second, nvrtc.rel_l2);
  }
  for (const auto& [name, w] : worst)
    fmt::print("KVJIT_RESULT llvm decode {} worst_rel_l2 llvm={:.3g} nvrtc={:.3g}\n", name, w.first, w.second);
}

TEST(GpuLlvmBackend, AppendBitExactWithCpuQuantizer) {
  KVJIT_REQUIRE_LLVM_PTX();
  const std::vector<Spec> specs = dumped_specs(Kind::append);
  ASSERT_FALSE(specs.empty());
  uint32_t seed = 900;
  for (const Spec& spec : specs) {
    SCOPED_TRACE(to_string(spec));
    const AppendRun r = run_append(llvm_engine(), spec, 37, 3, 8, ++seed);
    EXPECT_TRUE(r.k == r.expected.k);
    EXPECT_TRUE(r.v == r.expected.v);
    EXPECT_TRUE(r.k_scales == r.expected.k_scales);
    EXPECT_TRUE(r.v_scales == r.expected.v_scales);
  }
  fmt::print("KVJIT_RESULT llvm append bit-exact configs={}\n", specs.size());
}

}  // namespace
}  // namespace kvjit::test
