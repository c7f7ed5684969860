#include "tests/unit/cache/cache_test_support.h"

#include <dirent.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace kvjit::test {

Spec test_spec(int i) {
  static const int head_dims[] = {128, 64, 96, 256};
  Spec s;
  s.gqa = 1 + i % 64;
  s.head_dim = head_dims[(i / 64) % 4];
  s.page_size = 16 << ((i / 256) % 3);
  s.arch = Arch{90, false};
  return s;
}

KeyContext fake_context() {
  TemplateSet t{"test", {"kvjit/fake.cuh"}, {"// fake template\n"}};
  return KeyContext{t, CompileOptions{.cubin = true}, "fake-backend 1.0"};
}

CompiledKernel fake_kernel(const Spec& spec, size_t ptx_bytes, size_t cubin_bytes) {
  CompiledKernel k;
  k.spec = spec;
  k.symbol = kernel_symbol(spec);
  k.shape = launch_shape(spec);
  const std::string text = to_string(spec);
  k.ptx = "// fake ptx for " + text + "\n";
  while (k.ptx.size() < ptx_bytes) k.ptx += text;
  k.ptx.resize(ptx_bytes);
  uint64_t h = XXH3_64bits(text.data(), text.size());
  k.cubin.resize(cubin_bytes);
  for (size_t i = 0; i < cubin_bytes; ++i) {
    h = h * 6364136223846793005ull + 1442695040888963407ull;
    k.cubin[i] = static_cast<unsigned char>(h >> 56);
  }
  k.log = "ptxas info: fake for " + text;
  k.options = nvrtc_options(spec, CompileOptions{});
  k.backend = "fake-backend 1.0";
  k.resources = ResourceReport{40, 1024, 0, 0, 0};
  k.compile_ms = 1.5;
  return k;
}

bool is_fake_entry_for(const Entry& entry, const Spec& spec, size_t ptx_bytes, size_t cubin_bytes) {
  const CompiledKernel k = fake_kernel(spec, ptx_bytes, cubin_bytes);
  return entry.spec == to_string(spec) && entry.ptx == k.ptx && entry.cubin == k.cubin && entry.log == k.log &&
         entry.symbol == k.symbol;
}

CompileFn FakeCompiler::fn() {
  return [this](const Spec& spec) -> Result<CompiledKernel> {
    ++calls;
    if (delay.count() > 0) std::this_thread::sleep_for(delay);
    if (fail_remaining.load() > 0 && fail_remaining.fetch_sub(1) > 0)
      return make_error(ErrorKind::compile_failed, "fake compile failed for " + to_string(spec));
    return fake_kernel(spec, ptx_bytes, cubin_bytes);
  };
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

mode_t mode_of(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

std::vector<std::string> list_dir(const std::string& path) {
  std::vector<std::string> out;
  if (DIR* d = ::opendir(path.c_str())) {
    while (const dirent* e = ::readdir(d))
      if (std::string_view(e->d_name) != "." && std::string_view(e->d_name) != "..") out.emplace_back(e->d_name);
    ::closedir(d);
  }
  return out;
}

void CacheTest::SetUp() {
  std::string pattern = (std::filesystem::temp_directory_path() / "kvjit-cache-test-XXXXXX").string();
  ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
  dir_ = pattern;
}

void CacheTest::TearDown() {
  std::error_code ec;
  // Tests may leave read-only or foreign-owned directories behind; make them removable first.
  for (auto it = std::filesystem::recursive_directory_iterator(dir_, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec))
    if (it->is_directory(ec) && !it->is_symlink(ec)) ::chmod(it->path().c_str(), 0700);
  std::filesystem::remove_all(dir_, ec);
}

ModuleCacheOptions CacheTest::options(FileOps* files, uint64_t max_bytes) {
  ModuleCacheOptions o;
  o.config.dir = root();
  o.config.dir_source = "test";
  o.config.max_bytes = max_bytes;
  o.context = fake_context();
  o.files = files;
  o.warn = [this](const std::string& w) {
    std::lock_guard lock(warnings_mu_);
    warnings_.push_back(w);
  };
  return o;
}

std::unique_ptr<ModuleCache> CacheTest::make_cache(FileOps* files, uint64_t max_bytes) {
  return std::make_unique<ModuleCache>(options(files, max_bytes));
}

}  // namespace kvjit::test
