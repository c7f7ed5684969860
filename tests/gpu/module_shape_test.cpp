// A module whose kernel was built for another CTA size than the launch shape the runtime reads (PTX dumped by
// an older build, whose launch shapes differed) is refused at load, never launched with the wrong number of
// warps. Skips without a GPU.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "compiler/nvrtc_backend.h"
#include "compiler/specializer.h"
#include "compiler/template_files.h"
#include "runtime/dumped_ptx.h"
#include "runtime/engine.h"
#include "tests/gpu/gpu_support.h"

namespace kvjit::test {
namespace {

// Replaces the one occurrence of `from` in `text` (throws where there is none: the specializer changed).
void replace_once(std::string& text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  if (at == std::string::npos) throw std::logic_error("specialized source lacks \"" + from + "\"");
  text.replace(at, from.size(), to);
}

// `spec`'s kernel compiled by NVRTC, its largest CTA made `warps` warps, written where `kvjit dump` writes it.
void dump_with_warps(const std::string& dir, const Spec& spec, int warps) {
  SpecializedSource src = specialize(spec).value_or_throw();
  replace_once(src.source, fmt::format("kWarps = {};", src.shape.bound_threads() / 32),
               fmt::format("kWarps = {};", warps));
  replace_once(src.source, fmt::format("__launch_bounds__({})", src.shape.bound_threads()),
               fmt::format("__launch_bounds__({})", 32 * warps));
  const CompiledKernel k = compile_nvrtc(src, embedded_templates()).value_or_throw();
  std::ofstream(dir + "/" + file_stem(spec) + ".ptx") << k.ptx;
}

TEST(GpuModuleShape, AModuleBuiltForAnotherCtaSizeIsRefused) {
  KVJIT_REQUIRE_GPU();
  // backend=llvm: the dumped-PTX provider reads these specs from the directory. sm_80 PTX JITs on any GPU
  // from sm_80 on.
  const Spec spec = parse_spec("decode:hd=128,gqa=4,kv=e4m3,arch=sm_80,backend=llvm").value_or_throw();
  const std::string dir = (std::filesystem::temp_directory_path() /
                           ("kvjit-module-shape-" + std::to_string(::getpid()))).string();
  std::filesystem::create_directories(dir);
  struct RemoveWhenDone {
    std::string dir;
    ~RemoveWhenDone() { std::filesystem::remove_all(dir); }
  } remove_when_done{dir};

  // This kernel runs CTAs of 4 or 6 warps: one bounded by 4 (an older build's) would fail the 6-warp launches.
  ASSERT_EQ(launch_shape(spec).bound_threads(), 192);
  dump_with_warps(dir, spec, 4);
  {
    Engine engine(make_memory_provider(dumped_ptx_compiler(dir)));
    auto kernel = engine.get(spec);
    ASSERT_FALSE(kernel.ok()) << "a kernel of 4-warp CTAs loaded for launches of up to 6";
    EXPECT_EQ(kernel.error().kind, ErrorKind::invalid_argument);
    EXPECT_NE(kernel.error().message.find("CTAs of up to 128 threads, this build launches up to 192"),
              std::string::npos)
        << kernel.error().message;
  }
  // The same kernel at the shape the runtime launches loads.
  dump_with_warps(dir, spec, launch_shape(spec).bound_threads() / 32);
  {
    Engine engine(make_memory_provider(dumped_ptx_compiler(dir)));
    auto kernel = engine.get(spec);
    EXPECT_TRUE(kernel.ok()) << kernel.error().message;
  }
}

}  // namespace
}  // namespace kvjit::test
