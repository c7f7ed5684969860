#include "cache/module_cache.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <barrier>
#include <filesystem>
#include <thread>

#include "cache/entry_format.h"
#include "tests/unit/cache/cache_test_support.h"
#include "tests/unit/cache/fault_file_ops.h"

namespace kvjit {
namespace {

using namespace std::chrono_literals;
using test::CacheTest;
using test::FakeCompiler;
using test::FaultFileOps;
using test::Op;

class ModuleCacheTest : public CacheTest {
 protected:
  std::vector<std::string> entry_files() {
    std::vector<std::string> out;
    std::error_code ec;
    for (auto it = std::filesystem::recursive_directory_iterator(root(), ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec))
      if (it->path().extension() == ".kvjit") out.push_back(it->path().string());
    return out;
  }
};

TEST_F(ModuleCacheTest, MissCompilesThenMemoryHits) {
  FakeCompiler compiler;
  auto cache = make_cache();
  ASSERT_TRUE(cache->disk_enabled());
  const Spec spec = test::test_spec(0);
  auto first = cache->get_or_compile(spec, compiler.fn());
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_TRUE(test::is_fake_entry_for(**first, spec));
  EXPECT_EQ((*first)->key, cache->key_for(spec).value_or_throw());
  auto second = cache->get_or_compile(spec, compiler.fn());
  ASSERT_TRUE(second);
  EXPECT_EQ(*first, *second) << "the same object from memory";
  EXPECT_EQ(cache->find((*first)->key), *first);
  const Counters c = cache->counters();
  EXPECT_EQ(c.misses, 1u);
  EXPECT_EQ(c.compiles, 1u);
  EXPECT_EQ(c.memory_hits, 2u);  // the second call, and find()
  EXPECT_EQ(c.disk_hits, 0u);
  EXPECT_GT(c.bytes_written, 0u);
  EXPECT_EQ(compiler.calls.load(), 1);
  EXPECT_EQ(entry_files().size(), 1u);
}

TEST_F(ModuleCacheTest, FreshCacheObjectHitsDisk) {
  FakeCompiler compiler;
  const Spec spec = test::test_spec(0);
  ASSERT_TRUE(make_cache()->get_or_compile(spec, compiler.fn()));
  auto fresh = make_cache();
  auto got = fresh->get_or_compile(spec, compiler.fn());
  ASSERT_TRUE(got);
  EXPECT_TRUE(test::is_fake_entry_for(**got, spec));
  EXPECT_EQ(fresh->counters().disk_hits, 1u);
  EXPECT_EQ(fresh->counters().compiles, 0u);
  EXPECT_GT(fresh->counters().bytes_read, 0u);
  EXPECT_EQ(compiler.calls.load(), 1);
}

TEST_F(ModuleCacheTest, SixteenThreadsOneSpecOneCompile) {
  FakeCompiler compiler;
  compiler.delay = 50ms;
  auto cache = make_cache();
  const Spec spec = test::test_spec(5);
  std::barrier start(16);
  std::vector<std::shared_ptr<const Entry>> got(16);
  std::vector<std::thread> threads;
  for (int t = 0; t < 16; ++t)
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      auto r = cache->get_or_compile(spec, compiler.fn());
      if (r) got[t] = *r;
    });
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(compiler.calls.load(), 1);
  for (const auto& e : got) {
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e, got[0]);
  }
  const Counters c = cache->counters();
  EXPECT_EQ(c.compiles, 1u);
  EXPECT_EQ(c.coalesced + c.memory_hits, 15u);
}

TEST_F(ModuleCacheTest, FailedCompileReachesAllWaitersAndIsRetriedLater) {
  FakeCompiler compiler;
  compiler.delay = 50ms;
  compiler.fail_remaining = 1;
  auto cache = make_cache();
  const Spec spec = test::test_spec(6);
  std::barrier start(16);
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 16; ++t)
    threads.emplace_back([&] {
      start.arrive_and_wait();
      auto r = cache->get_or_compile(spec, compiler.fn());
      if (!r && r.error().kind == ErrorKind::compile_failed &&
          r.error().message == "fake compile failed for " + to_string(spec))
        ++failed;
    });
  for (std::thread& t : threads) t.join();
  // Every thread that joined the failing compile got its error; one arriving after the failure compiled again.
  EXPECT_GE(failed.load(), 1);
  EXPECT_EQ(failed.load() + compiler.calls.load() - 1, 16) << "a thread either shared the failure or recompiled";
  EXPECT_EQ(cache->counters().compile_failures, 1u);
  auto later = cache->get_or_compile(spec, compiler.fn());
  ASSERT_TRUE(later) << "a failure is not cached";
  EXPECT_TRUE(test::is_fake_entry_for(**later, spec));
}

TEST_F(ModuleCacheTest, FailedCompileIsNotStoredAnywhere) {
  FakeCompiler compiler;
  compiler.fail_remaining = 1;
  auto cache = make_cache();
  auto r = cache->get_or_compile(test::test_spec(0), compiler.fn());
  ASSERT_FALSE(r);
  EXPECT_TRUE(entry_files().empty());
  EXPECT_EQ(cache->counters().compile_failures, 1u);
  EXPECT_TRUE(cache->get_or_compile(test::test_spec(0), compiler.fn()));
  EXPECT_EQ(compiler.calls.load(), 2);
}

TEST_F(ModuleCacheTest, CompilerReturningTheWrongSpecIsAnError) {
  auto cache = make_cache();
  auto r = cache->get_or_compile(test::test_spec(0), [](const Spec&) -> Result<CompiledKernel> {
    return test::fake_kernel(test::test_spec(1));
  });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::internal);
  EXPECT_TRUE(entry_files().empty());
}

TEST_F(ModuleCacheTest, ArchAutoIsAnError) {
  auto cache = make_cache();
  FakeCompiler compiler;
  Spec spec = test::test_spec(0);
  spec.arch = Arch{};
  auto r = cache->get_or_compile(spec, compiler.fn());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::invalid_argument);
  EXPECT_EQ(compiler.calls.load(), 0);
}

TEST_F(ModuleCacheTest, EvictThenAskAgainRecompiles) {
  FakeCompiler compiler;
  auto cache = make_cache();
  const Spec spec = test::test_spec(0);
  auto first = cache->get_or_compile(spec, compiler.fn()).value_or_throw();
  cache->evict(first->key);
  EXPECT_EQ(cache->find(first->key), nullptr);
  EXPECT_TRUE(entry_files().empty()) << "evict removes the disk entry too";
  auto second = cache->get_or_compile(spec, compiler.fn()).value_or_throw();
  EXPECT_NE(first, second);
  EXPECT_EQ(compiler.calls.load(), 2);
  EXPECT_EQ(cache->counters().invalidations, 1u);
  EXPECT_TRUE(test::is_fake_entry_for(*first, spec)) << "holders keep their entry";

  auto third = cache->recompile(spec, compiler.fn()).value_or_throw();
  EXPECT_NE(third, second);
  EXPECT_EQ(compiler.calls.load(), 3);
}

TEST_F(ModuleCacheTest, ManySpecsManyThreads) {
  FakeCompiler compiler;
  auto cache = make_cache();
  std::vector<std::thread> threads;
  std::atomic<int> bad{0};
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 40; ++i) {
        const Spec spec = test::test_spec((i * 7 + t) % 40);
        auto r = cache->get_or_compile(spec, compiler.fn());
        if (!r || !test::is_fake_entry_for(**r, spec)) ++bad;
      }
    });
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(compiler.calls.load(), 40);
  EXPECT_EQ(entry_files().size(), 40u);
}

// Storage failures: the compile result is still returned and kept in memory, one warning, a counter, no
// partial file; the next write after the fault clears succeeds.
TEST_F(ModuleCacheTest, WriteFaultsFallBackToMemory) {
  struct Row {
    const char* name;
    test::Fault fault;
  };
  const std::vector<Row> rows = {
      {"ENOSPC creating the temp file", {Op::open, ENOSPC, "/cache/tmp/", 0, -1, true}},
      {"ENOSPC writing", {Op::write, ENOSPC, "", 0, -1}},
      {"EIO writing", {Op::write, EIO, "", 0, -1}},
      {"EIO on fsync", {Op::fsync, EIO, "", 0, -1}},
      {"EIO on rename", {Op::rename, EIO, "", 0, -1}},
      {"EROFS on mkdir", {Op::mkdir, EROFS, "", 0, -1}},
      {"EROFS on open", {Op::open, EROFS, "", 0, -1, true}},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.name);
    std::filesystem::remove_all(root());
    warnings_.clear();
    FaultFileOps files;
    auto cache = make_cache(&files);
    ASSERT_TRUE(cache->disk_enabled());
    files.add(row.fault);
    FakeCompiler compiler;
    for (int i = 0; i < 3; ++i) {
      auto r = cache->get_or_compile(test::test_spec(i), compiler.fn());
      ASSERT_TRUE(r) << r.error().message;
      EXPECT_TRUE(test::is_fake_entry_for(**r, test::test_spec(i)));
    }
    EXPECT_GT(files.failures(), 0);
    auto again = cache->get_or_compile(test::test_spec(0), compiler.fn());
    ASSERT_TRUE(again);
    EXPECT_EQ(compiler.calls.load(), 3) << "served from memory";
    const Counters c = cache->counters();
    EXPECT_EQ(c.write_failures, 3u);
    EXPECT_EQ(c.bytes_written, 0u);
    ASSERT_EQ(warnings().size(), 1u) << "one warning, then counting";
    EXPECT_NE(warnings()[0].find("serving from memory"), std::string::npos) << warnings()[0];
    EXPECT_TRUE(entry_files().empty());
    EXPECT_TRUE(test::list_dir(root() + "/tmp").empty()) << "no temporary left behind";

    files.clear();  // space returns
    ASSERT_TRUE(cache->get_or_compile(test::test_spec(9), compiler.fn()));
    EXPECT_EQ(cache->counters().write_failures, 3u);
    EXPECT_EQ(entry_files().size(), 1u) << "writes resume";
  }
}

TEST_F(ModuleCacheTest, ReadOnlyDirectoryServesFromMemory) {
  FakeCompiler compiler;
  ASSERT_TRUE(make_cache()->get_or_compile(test::test_spec(0), compiler.fn()));
  // Permission bits do not stop root: as root, stand in for a read-only mount, where every modifying call fails
  // with EROFS except mkdir of what exists (EEXIST comes first, as on Linux).
  struct ReadOnlyMount : FaultFileOps {
    int mkdir(const std::string& path, mode_t mode) override {
      struct stat st {};
      if (FaultFileOps::lstat(path, &st) == 0) return -EEXIST;
      return FaultFileOps::mkdir(path, mode);
    }
  } files;
  if (::geteuid() == 0) {
    for (Op op : {Op::mkdir, Op::rename, Op::unlink, Op::chmod, Op::utimens, Op::fchmod})
      files.add({op, EROFS, "", 0, -1});
    files.add({Op::open, EROFS, "", 0, -1, true});
  } else {
    for (auto& p : std::filesystem::recursive_directory_iterator(root()))
      if (p.is_directory()) ::chmod(p.path().c_str(), 0500);
    ::chmod(root().c_str(), 0500);
  }
  auto cache = make_cache(&files);
  ASSERT_TRUE(cache->disk_enabled());
  auto hit = cache->get_or_compile(test::test_spec(0), compiler.fn());
  ASSERT_TRUE(hit);
  EXPECT_EQ(cache->counters().disk_hits, 1u) << "entries already there are still read";
  for (int i = 1; i < 4; ++i) ASSERT_TRUE(cache->get_or_compile(test::test_spec(i), compiler.fn()));
  EXPECT_EQ(cache->counters().write_failures, 3u);
  EXPECT_EQ(warnings().size(), 1u);
  EXPECT_EQ(entry_files().size(), 1u);
  ::chmod(root().c_str(), 0700);
}

TEST_F(ModuleCacheTest, RefusedRootWarnsOnceAndStaysInMemory) {
  ASSERT_EQ(::mkdir(root().c_str(), 0700), 0);
  ASSERT_EQ(::chmod(root().c_str(), 0777), 0);
  auto cache = make_cache();
  EXPECT_FALSE(cache->disk_enabled());
  ASSERT_EQ(warnings().size(), 1u);
  EXPECT_NE(warnings()[0].find("refusing cache directory"), std::string::npos) << warnings()[0];
  EXPECT_NE(warnings()[0].find("memory only"), std::string::npos) << warnings()[0];
  FakeCompiler compiler;
  ASSERT_TRUE(cache->get_or_compile(test::test_spec(0), compiler.fn()));
  ASSERT_TRUE(cache->get_or_compile(test::test_spec(0), compiler.fn()));
  EXPECT_EQ(compiler.calls.load(), 1);
  EXPECT_TRUE(test::list_dir(root()).empty());
  EXPECT_EQ(warnings().size(), 1u);
}

TEST_F(ModuleCacheTest, ForeignOwnedRootIsRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give a directory to another user";
  ASSERT_EQ(::mkdir(root().c_str(), 0700), 0);
  ASSERT_EQ(::chown(root().c_str(), 65534, 65534), 0);
  auto cache = make_cache();
  EXPECT_FALSE(cache->disk_enabled());
  ASSERT_EQ(warnings().size(), 1u);
  EXPECT_NE(warnings()[0].find("owned by uid 65534"), std::string::npos) << warnings()[0];
}

TEST_F(ModuleCacheTest, ModesArePrivateUnderUmaskZero) {
  const mode_t old = ::umask(0);
  FakeCompiler compiler;
  auto cache = make_cache();
  auto r = cache->get_or_compile(test::test_spec(0), compiler.fn());
  ::umask(old);
  ASSERT_TRUE(r);
  const std::string path = cache->disk()->root().entry_path((*r)->key);
  EXPECT_EQ(test::mode_of(path), 0600u);
  EXPECT_EQ(test::mode_of(std::filesystem::path(path).parent_path()), 0700u);
  EXPECT_EQ(test::mode_of(std::filesystem::path(path).parent_path().parent_path()), 0700u);
  EXPECT_EQ(test::mode_of(root()), 0700u);
  EXPECT_EQ(test::mode_of(root() + "/tmp"), 0700u);
  EXPECT_EQ(test::mode_of(root() + "/locks"), 0700u);
  EXPECT_EQ(test::mode_of(cache->disk()->root().lock_path((*r)->key)), 0600u);
}

TEST_F(ModuleCacheTest, NoDirectoryMeansMemoryOnlyAndNothingInTmp) {
  const bool tmp_kvjit_existed = test::exists("/tmp/kvjit");
  ModuleCacheOptions o = options();
  o.config = cache_config_from([](const char*) -> const char* { return nullptr; });
  ModuleCache cache(std::move(o));
  EXPECT_FALSE(cache.disk_enabled());
  FakeCompiler compiler;
  ASSERT_TRUE(cache.get_or_compile(test::test_spec(0), compiler.fn()));
  ASSERT_TRUE(cache.get_or_compile(test::test_spec(0), compiler.fn()));
  EXPECT_EQ(compiler.calls.load(), 1);
  EXPECT_EQ(test::exists("/tmp/kvjit"), tmp_kvjit_existed);
  EXPECT_TRUE(warnings().empty());
}

TEST_F(ModuleCacheTest, DisabledByEnvironmentMeansMemoryOnly) {
  ModuleCacheOptions o = options();
  o.config = cache_config_from([&](const char* name) -> const char* {
    if (std::string_view(name) == "KVJIT_DISABLE_CACHE") return "1";
    if (std::string_view(name) == "KVJIT_CACHE_DIR") return "/should/not/be/created";
    return nullptr;
  });
  ModuleCache cache(std::move(o));
  EXPECT_FALSE(cache.disk_enabled());
  EXPECT_FALSE(test::exists("/should"));
}

TEST_F(ModuleCacheTest, CorruptEntryWarnsOnceAndCounts) {
  FakeCompiler compiler;
  auto first = make_cache();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(first->get_or_compile(test::test_spec(i), compiler.fn()));
  for (const std::string& path : entry_files()) test::write_file(path, "junk");
  auto cache = make_cache();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(cache->get_or_compile(test::test_spec(i), compiler.fn()));
  EXPECT_EQ(cache->counters().corrupt_entries, 3u);
  ASSERT_EQ(warnings().size(), 1u);
  EXPECT_NE(warnings()[0].find("truncated"), std::string::npos) << warnings()[0];
}

TEST_F(ModuleCacheTest, LockFailureStillCompiles) {
  FaultFileOps files;
  files.add({Op::flock, ENOLCK, "", 0, -1});
  auto cache = make_cache(&files);
  FakeCompiler compiler;
  ASSERT_TRUE(cache->get_or_compile(test::test_spec(0), compiler.fn()));
  EXPECT_EQ(cache->counters().lock_failures, 1u);
  EXPECT_EQ(entry_files().size(), 1u);
}

TEST_F(ModuleCacheTest, CompileTimeIsCounted) {
  FakeCompiler compiler;
  compiler.delay = 20ms;
  auto cache = make_cache();
  ASSERT_TRUE(cache->get_or_compile(test::test_spec(0), compiler.fn()));
  EXPECT_GE(cache->counters().compile_ms, 19.0);
}

// One real NVRTC compile through the default compiler: the templates hashed are the templates compiled.
TEST_F(ModuleCacheTest, DefaultCompilerCompilesWithTheCachedTemplates) {
  ModuleCacheOptions o = options();
  o.context = default_key_context().value_or_throw();
  ModuleCache cache(std::move(o));
  const Spec spec = parse_spec("decode:hd=64,page=16,gqa=1,kv=f16,arch=sm_80").value_or_throw();
  auto r = cache.get_or_compile(spec);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_NE((*r)->ptx.find(".entry " + kernel_symbol(spec)), std::string::npos);
  EXPECT_FALSE((*r)->cubin.empty());
  EXPECT_EQ((*r)->key, cache_key(spec, embedded_templates(), CompileOptions{}).value_or_throw());
  const CompiledKernel k = to_compiled_kernel(**r).value_or_throw();
  EXPECT_EQ(k.spec, spec);
}

// In a child process, so that this test process never builds the process-wide cache itself.
TEST_F(ModuleCacheTest, GlobalIsConfiguredFromTheEnvironment) {
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::setenv("KVJIT_CACHE_DIR", root().c_str(), 1);
    ::unsetenv("KVJIT_DISABLE_CACHE");
    ModuleCache& global = ModuleCache::global();
    const bool ok = &global == &ModuleCache::global() && global.config().dir == root() && global.disk_enabled() &&
                    global.context().backend == nvrtc_identity() && test::exists(root() + "/tmp");
    ::_exit(ok ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

}  // namespace
}  // namespace kvjit
