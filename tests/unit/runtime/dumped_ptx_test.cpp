// Dumped PTX as a kernel source: the file a dump names for a spec is read back with that spec's symbol and
// launch shape; a missing file is not_found naming the path; NVRTC specs are still compiled.
#include "runtime/dumped_ptx.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace kvjit {
namespace {

class DumpedPtxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("kvjit-dumped-ptx-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  static Spec llvm_spec() {
    Spec s = parse_spec("decode:hd=128,gqa=4,kv=int8,arch=sm_90,backend=llvm").value();
    return s;
  }
  std::filesystem::path dir_;
};

TEST_F(DumpedPtxTest, ReadsTheFileADumpNamesForTheSpec) {
  const Spec spec = llvm_spec();
  const std::string text = "// dumped\n.version 8.0\n.target sm_90\n";
  std::ofstream(dir_ / (file_stem(spec) + ".ptx")) << text;
  auto k = read_dumped_ptx(dir_.string(), spec);
  ASSERT_TRUE(k.ok()) << k.error().message;
  EXPECT_EQ(k->ptx, text);
  EXPECT_TRUE(k->cubin.empty());
  EXPECT_EQ(k->symbol, kernel_symbol(spec));
  EXPECT_EQ(k->shape.tensor_cores, launch_shape(spec).tensor_cores);
  EXPECT_EQ(k->shape.heads_per_cta, launch_shape(spec).heads_per_cta);
  EXPECT_EQ(k->spec, spec);
  EXPECT_EQ(k->backend, "llvm (dumped)");
}

TEST_F(DumpedPtxTest, MissingFileIsNotFoundNamingThePath) {
  const Spec spec = llvm_spec();
  auto k = read_dumped_ptx(dir_.string(), spec);
  ASSERT_FALSE(k.ok());
  EXPECT_EQ(k.error().kind, ErrorKind::not_found);
  EXPECT_NE(k.error().message.find(file_stem(spec) + ".ptx"), std::string::npos) << k.error().message;
  EXPECT_NE(k.error().message.find(to_string(spec)), std::string::npos);
}

TEST_F(DumpedPtxTest, CompilerReadsOtherBackendsAndCompilesNvrtcSpecs) {
  const SpecCompiler compile = dumped_ptx_compiler(dir_.string());
  EXPECT_EQ(compile(llvm_spec()).error().kind, ErrorKind::not_found);  // nothing dumped: not compiled instead
  const Spec nvrtc = parse_spec("decode:hd=64,gqa=2,kv=f16,arch=sm_90,mma=0").value();
  auto k = compile(nvrtc);
  ASSERT_TRUE(k.ok()) << k.error().message;
  EXPECT_NE(k->ptx.find(".entry " + kernel_symbol(nvrtc)), std::string::npos);
}

}  // namespace
}  // namespace kvjit
