// NVRTC backend: a sampled matrix of specs compiles to PTX and cubin without spills, compiles are
// reproducible across threads, and a failed compile carries everything needed to reproduce it.
#include "compiler/nvrtc_backend.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace kvjit {
namespace {

namespace fs = std::filesystem;

Spec spec_of(const std::string& text) {
  auto r = parse_spec(text);
  EXPECT_TRUE(r.ok()) << text << ": " << (r.ok() ? "" : r.error().message);
  return r.ok() ? *r : Spec{};
}

// Runs fn(i) for i in [0, n) on `threads` threads.
template <typename Fn>
void parallel_for(size_t n, unsigned threads, Fn fn) {
  std::atomic<size_t> next{0};
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < std::max(1u, threads); ++t)
    pool.emplace_back([&] {
      for (size_t i = next++; i < n; i = next++) fn(i);
    });
  for (std::thread& t : pool) t.join();
}

unsigned compile_threads() { return std::clamp(std::thread::hardware_concurrency(), 2u, 8u); }

// The dimensions of the compile matrix. Its full product (60,480 specs) is too slow for a unit test, so a
// stride walk through it takes a deterministic sample; SampleCoversEveryValue checks what the walk reaches.
constexpr std::array kKinds{Kind::decode, Kind::append};
constexpr std::array kHeadDims{32, 64, 80, 96, 128, 256, 512};
constexpr std::array kPages{1, 16, 256};
constexpr std::array kGqas{1, 4, 7, 8, 64};
constexpr std::array kQs{QDtype::f16, QDtype::bf16};
constexpr std::array kLayouts{Layout::nhd, Layout::hnd};
constexpr std::array kPagings{Paging::table, Paging::csr, Paging::contig};
constexpr std::array kArchs{Arch{80, false}, Arch{89, false}, Arch{90, false}, Arch{90, true}};
constexpr std::array kKvs{KvDtype::f16, KvDtype::bf16, KvDtype::int8, KvDtype::q8, KvDtype::e4m3, KvDtype::e5m2};

constexpr size_t kSamples = 64;
constexpr size_t kStride = 9973;  // prime, so the walk never revisits a spec

std::vector<Spec> sampled_matrix() {
  const size_t total = kKinds.size() * kHeadDims.size() * kPages.size() * kGqas.size() * kQs.size() * kLayouts.size() *
                       kPagings.size() * kArchs.size() * kKvs.size();
  std::vector<Spec> out;
  for (size_t i = 0; i < kSamples; ++i) {
    size_t x = (i * kStride) % total;
    auto digit = [&x](auto& values) {
      const auto v = values[x % values.size()];
      x /= values.size();
      return v;
    };
    Spec s;
    s.kind = digit(kKinds);
    s.head_dim = digit(kHeadDims);
    s.page_size = digit(kPages);
    s.gqa = digit(kGqas);
    s.q = digit(kQs);
    s.layout = digit(kLayouts);
    s.paging = digit(kPagings);
    s.arch = digit(kArchs);
    s.kv = digit(kKvs);
    if (s.kv == KvDtype::q8 && s.head_dim % 32 != 0) s.head_dim += 16;  // q8 blocks are 32 wide: 80 -> 96
    out.push_back(s);
  }
  return out;
}

template <typename T, size_t N, typename Get>
void expect_covers(const std::vector<Spec>& specs, const char* what, const std::array<T, N>& values, Get get) {
  for (const T& v : values)
    EXPECT_TRUE(std::any_of(specs.begin(), specs.end(), [&](const Spec& s) { return get(s) == v; }))
        << "the sample never uses one of the " << what << " values";
}

TEST(NvrtcBackendTest, SampleCoversEveryValue) {
  const std::vector<Spec> specs = sampled_matrix();
  ASSERT_GE(specs.size(), 60u);
  std::set<std::string> distinct;
  for (const Spec& s : specs) {
    EXPECT_TRUE(validate(s).ok()) << to_string(s);
    distinct.insert(to_string(s));
  }
  EXPECT_EQ(distinct.size(), specs.size());
  expect_covers(specs, "kind", kKinds, [](const Spec& s) { return s.kind; });
  expect_covers(specs, "head_dim", kHeadDims, [](const Spec& s) { return s.head_dim; });
  expect_covers(specs, "page_size", kPages, [](const Spec& s) { return s.page_size; });
  expect_covers(specs, "gqa", kGqas, [](const Spec& s) { return s.gqa; });
  expect_covers(specs, "q", kQs, [](const Spec& s) { return s.q; });
  expect_covers(specs, "layout", kLayouts, [](const Spec& s) { return s.layout; });
  expect_covers(specs, "paging", kPagings, [](const Spec& s) { return s.paging; });
  expect_covers(specs, "arch", kArchs, [](const Spec& s) { return s.arch; });
  expect_covers(specs, "kv", kKvs, [](const Spec& s) { return s.kv; });
}

bool has_elf_magic(const std::vector<unsigned char>& cubin) {
  return cubin.size() > 4 && cubin[0] == 0x7f && cubin[1] == 'E' && cubin[2] == 'L' && cubin[3] == 'F';
}

void expect_good_kernel(const Spec& spec, const Result<CompiledKernel>& r) {
  SCOPED_TRACE(to_string(spec));
  ASSERT_TRUE(r.ok()) << r.error().message;
  const CompiledKernel& k = *r;
  const std::string symbol = kernel_symbol(spec);
  EXPECT_EQ(k.spec, spec);
  EXPECT_EQ(k.symbol, symbol);
  EXPECT_NE(k.ptx.find(".entry " + symbol + "("), std::string::npos) << "no .entry for " << symbol;
  EXPECT_NE(k.ptx.find("\n.target " + to_string(spec.arch) + "\n"), std::string::npos);
  EXPECT_EQ(k.ptx.find('\0'), std::string::npos) << "PTX carries its terminating NUL";
  ASSERT_TRUE(has_elf_magic(k.cubin)) << "cubin of " << k.cubin.size() << " bytes is not an ELF image";
  EXPECT_NE(std::search(k.cubin.begin(), k.cubin.end(), symbol.begin(), symbol.end()), k.cubin.end())
      << "the cubin does not name the entry";
  EXPECT_GT(k.resources.registers, 0) << k.log;
  EXPECT_LE(k.resources.registers, 255);
  EXPECT_GE(k.resources.shared_bytes, 0);
  EXPECT_EQ(k.resources.spill_store_bytes, 0) << k.log;
  EXPECT_EQ(k.resources.spill_load_bytes, 0) << k.log;
  EXPECT_EQ(k.options, nvrtc_options(spec, CompileOptions{}));
  EXPECT_EQ(k.backend, nvrtc_version());
  EXPECT_GT(k.compile_ms, 0.0);
}

TEST(NvrtcBackendTest, SampledMatrixCompilesWithoutSpills) {
  const std::vector<Spec> specs = sampled_matrix();
  std::vector<std::optional<Result<CompiledKernel>>> results(specs.size());
  parallel_for(specs.size(), compile_threads(), [&](size_t i) { results[i] = compile_spec(specs[i]); });
  for (size_t i = 0; i < specs.size(); ++i) expect_good_kernel(specs[i], *results[i]);
}

TEST(NvrtcBackendTest, PtxOnly) {
  const Spec spec = spec_of("decode:hd=128,page=16,gqa=4,kv=f16,q=f16,arch=sm_90a");
  auto r = compile_spec(spec, CompileOptions{.cubin = false});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_NE(r->ptx.find(".entry " + kernel_symbol(spec) + "("), std::string::npos);
  EXPECT_NE(r->ptx.find("\n.target sm_90a\n"), std::string::npos);
  EXPECT_TRUE(r->cubin.empty());
  EXPECT_EQ(r->resources.registers, -1);
  EXPECT_EQ(r->options, nvrtc_options(spec, CompileOptions{.cubin = false}));
}

TEST(NvrtcBackendTest, Options) {
  const Spec sm90 = spec_of("decode:arch=sm_90");
  EXPECT_EQ(nvrtc_options(sm90, {}), (std::vector<std::string>{"--gpu-architecture=sm_90", "--std=c++17", "--fmad=true",
                                                               "--minimal", "--diag-suppress=177", "-DKVJIT_DEVICE=1",
                                                               "--ptxas-options=-v"}));
  EXPECT_EQ(nvrtc_options(sm90, {.cubin = false}),
            (std::vector<std::string>{"--gpu-architecture=compute_90", "--std=c++17", "--fmad=true", "--minimal",
                                      "--diag-suppress=177", "-DKVJIT_DEVICE=1"}));
  EXPECT_EQ(nvrtc_options(spec_of("decode:arch=sm_90a"), {})[0], "--gpu-architecture=sm_90a");
  EXPECT_EQ(nvrtc_options(spec_of("decode:arch=sm_120a"), {.cubin = false})[0], "--gpu-architecture=compute_120a");
}

TEST(NvrtcBackendTest, Version) {
  EXPECT_TRUE(std::regex_match(nvrtc_version(), std::regex(R"(nvrtc \d+\.\d+)"))) << nvrtc_version();
  const std::string identity = nvrtc_identity();
  EXPECT_EQ(identity.rfind(nvrtc_version(), 0), 0u) << identity;
  // The library's file name (its build number), not its directory: keys do not depend on the install prefix.
  EXPECT_NE(identity.find("libnvrtc", nvrtc_version().size()), std::string::npos) << "no library name: " << identity;
  EXPECT_EQ(identity.find('/'), std::string::npos) << identity;
}

TEST(NvrtcBackendTest, CompileSpecMatchesCompileNvrtcWithEmbeddedTemplates) {
  const Spec spec = spec_of("append:hd=64,page=16,gqa=1,kv=int8,q=bf16,arch=sm_89");
  auto src = specialize(spec);
  ASSERT_TRUE(src.ok()) << src.error().message;
  auto direct = compile_nvrtc(*src, embedded_templates());
  auto through_spec = compile_spec(spec);
  ASSERT_TRUE(direct.ok()) << direct.error().message;
  ASSERT_TRUE(through_spec.ok()) << through_spec.error().message;
  EXPECT_EQ(direct->ptx, through_spec->ptx);
  EXPECT_EQ(direct->cubin, through_spec->cubin);
}

TEST(NvrtcBackendTest, ConcurrentCompilesMatchSerialOnes) {
  const std::vector<Spec> specs = {
      spec_of("decode:hd=128,page=16,gqa=4,kv=f16,q=f16,arch=sm_90"),
      spec_of("decode:hd=64,page=1,gqa=1,kv=bf16,q=bf16,layout=hnd,arch=sm_80"),
      spec_of("decode:hd=96,page=256,gqa=7,kv=int8,q=f16,paging=csr,arch=sm_89"),
      spec_of("decode:hd=32,page=8,gqa=8,kv=f16,q=bf16,layout=hnd,paging=csr,arch=sm_90a"),
      spec_of("append:hd=128,page=16,gqa=4,kv=f16,q=f16,arch=sm_90"),
      spec_of("append:hd=256,page=32,gqa=1,kv=int8,q=bf16,layout=hnd,arch=sm_80"),
      spec_of("append:hd=80,page=4,gqa=2,kv=bf16,q=bf16,paging=csr,arch=sm_89"),
      spec_of("append:hd=64,page=64,gqa=1,kv=int8,q=f16,layout=hnd,paging=csr,arch=sm_90a"),
  };
  std::vector<std::optional<Result<CompiledKernel>>> serial(specs.size());
  for (size_t i = 0; i < specs.size(); ++i) serial[i] = compile_spec(specs[i]);

  // Each spec twice, so the same spec is also compiled on two threads at once.
  std::vector<std::optional<Result<CompiledKernel>>> concurrent(2 * specs.size());
  parallel_for(concurrent.size(), 4, [&](size_t i) { concurrent[i] = compile_spec(specs[i % specs.size()]); });

  for (size_t i = 0; i < concurrent.size(); ++i) {
    const Result<CompiledKernel>& a = *serial[i % specs.size()];
    const Result<CompiledKernel>& b = *concurrent[i];
    SCOPED_TRACE(to_string(specs[i % specs.size()]));
    ASSERT_TRUE(a.ok()) << a.error().message;
    ASSERT_TRUE(b.ok()) << b.error().message;
    EXPECT_FALSE(a->ptx.empty());
    EXPECT_FALSE(a->cubin.empty());
    EXPECT_TRUE(a->ptx == b->ptx) << "PTX differs between the serial and the concurrent compile";
    EXPECT_TRUE(a->cubin == b->cubin) << "cubin differs between the serial and the concurrent compile";
    EXPECT_EQ(a->resources.registers, b->resources.registers);
  }
}

TEST(NvrtcBackendTest, RejectsSpecsThatCannotCompile) {
  auto auto_arch = compile_spec(spec_of("decode:hd=128"));
  ASSERT_FALSE(auto_arch.ok());
  EXPECT_EQ(auto_arch.error().kind, ErrorKind::invalid_spec);
  EXPECT_NE(auto_arch.error().message.find("arch=auto"), std::string::npos);
  Spec bad;
  bad.arch = Arch{90, false};
  bad.gqa = 65;
  auto out_of_range = compile_spec(bad);
  ASSERT_FALSE(out_of_range.ok());
  EXPECT_EQ(out_of_range.error().kind, ErrorKind::invalid_spec);
  EXPECT_EQ(out_of_range.error().message, "gqa=65: must be an integer in [1, 64]");
}

// Compiles against a template directory (KVJIT_TEMPLATE_DIR) in a fresh temp dir; restores the variable.
class TemplateDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* saved = std::getenv("KVJIT_TEMPLATE_DIR");
    if (saved != nullptr) saved_env_ = saved;
    const testing::TestInfo* info = testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("kvjit_nvrtc_backend_test_" + std::string(info->name()) + "_" + std::to_string(getpid()));
    fs::remove_all(dir_);
    for (const TemplateFile& f : embedded_template_files()) {
      fs::create_directories((dir_ / f.name).parent_path());
      std::ofstream(dir_ / f.name, std::ios::binary) << f.text;
    }
  }
  void TearDown() override {
    if (saved_env_)
      setenv("KVJIT_TEMPLATE_DIR", saved_env_->c_str(), 1);
    else
      unsetenv("KVJIT_TEMPLATE_DIR");
    fs::remove_all(dir_);
  }

  fs::path dir_;
  std::optional<std::string> saved_env_;
};

TEST_F(TemplateDirTest, UnchangedCopyCompilesLikeEmbedded) {
  const Spec spec = spec_of("decode:hd=64,page=16,gqa=2,kv=f16,q=f16,arch=sm_80");
  unsetenv("KVJIT_TEMPLATE_DIR");
  auto embedded = compile_spec(spec, {.cubin = false});
  setenv("KVJIT_TEMPLATE_DIR", dir_.c_str(), 1);
  auto copied = compile_spec(spec, {.cubin = false});
  ASSERT_TRUE(embedded.ok()) << embedded.error().message;
  ASSERT_TRUE(copied.ok()) << copied.error().message;
  EXPECT_EQ(embedded->ptx, copied->ptx);
}

TEST_F(TemplateDirTest, SyntaxErrorGivesCompileFailedWithLogOptionsAndSpec) {
  std::ofstream(dir_ / "kvjit/decode.cuh", std::ios::app) << "\nint kvjit_injected_error = ;\n";
  setenv("KVJIT_TEMPLATE_DIR", dir_.c_str(), 1);
  const Spec spec = spec_of("decode:hd=128,page=16,gqa=4,kv=f16,q=f16,arch=sm_90,mma=0");  // includes decode.cuh
  auto r = compile_spec(spec);
  ASSERT_FALSE(r.ok());
  const Error& e = r.error();
  EXPECT_EQ(e.kind, ErrorKind::compile_failed);
  EXPECT_EQ(e.message.rfind("compile failed for " + to_string(spec) + ": nvrtcCompileProgram returned ", 0), 0u)
      << e.message;
  EXPECT_NE(e.message.find("source: " + file_stem(spec) + ".cu"), std::string::npos) << e.message;
  std::string options = "options:";
  for (const std::string& o : nvrtc_options(spec, {})) options += " " + o;
  EXPECT_NE(e.message.find(options + "\n"), std::string::npos) << e.message;
  // The NVRTC log: the file and line of the injected error, and the diagnostic.
  EXPECT_TRUE(std::regex_search(e.message, std::regex(R"(kvjit/decode\.cuh\(\d+\): error)"))) << e.message;

  // The append kernel does not include decode.cuh and still compiles from the same directory.
  auto append = compile_spec(spec_of("append:hd=128,page=16,gqa=4,kv=f16,q=f16,arch=sm_90"), {.cubin = false});
  EXPECT_TRUE(append.ok()) << append.error().message;
}

TEST_F(TemplateDirTest, MissingDirectoryGivesIoError) {
  const fs::path missing = dir_ / "does-not-exist";
  setenv("KVJIT_TEMPLATE_DIR", missing.c_str(), 1);
  auto r = compile_spec(spec_of("decode:hd=128,page=16,gqa=4,kv=f16,q=f16,arch=sm_90"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::io);
  EXPECT_EQ(r.error().message,
            "KVJIT_TEMPLATE_DIR: cannot read " + (missing / embedded_template_files().front().name).string());
}

}  // namespace
}  // namespace kvjit
