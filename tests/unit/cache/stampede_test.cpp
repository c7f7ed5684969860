// Many processes, one cache directory: each key is compiled once in total, every process gets every entry,
// and nothing half-written is ever visible — even when a writer is killed mid-write.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "cache/disk_maintenance.h"
#include "cache/entry_format.h"
#include "tests/unit/cache/cache_test_support.h"
#include "tests/unit/cache/fault_file_ops.h"

namespace kvjit {
namespace {

using namespace std::chrono_literals;
using test::CacheTest;

class StampedeTest : public CacheTest {
 protected:
  std::string markers() const { return dir() + "/compiles.log"; }

  // A compiler that appends the compiled spec to a shared log (O_APPEND: one atomic write per line).
  CompileFn logging_compiler() {
    const std::string log = markers();
    return [log](const Spec& spec) -> Result<CompiledKernel> {
      std::this_thread::sleep_for(2ms);  // long enough that processes really overlap
      const std::string line = to_string(spec) + "\n";
      const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
      if (fd < 0 || ::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size()))
        return make_error(ErrorKind::io, "cannot log the compile");
      ::close(fd);
      return test::fake_kernel(spec);
    };
  }
};

TEST_F(StampedeTest, SixteenProcessesFiftySpecsEachCompiledOnce) {
  constexpr int kProcesses = 16, kSpecs = 50;
  int barrier[2];
  ASSERT_EQ(::pipe(barrier), 0);
  std::vector<pid_t> children;
  for (int p = 0; p < kProcesses; ++p) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(barrier[1]);
      char c;
      (void)!::read(barrier[0], &c, 1);  // returns at EOF: when the parent closes its end, all start at once
      auto cache = make_cache();
      int ok = cache->disk_enabled() ? 0 : 1;
      const CompileFn compile = logging_compiler();
      for (int i = 0; i < kSpecs; ++i) {
        auto r = cache->get_or_compile(test::test_spec(i), compile);
        if (!r || !test::is_fake_entry_for(**r, test::test_spec(i))) ok = 2;
      }
      ::_exit(ok);
    }
    children.push_back(pid);
  }
  ::close(barrier[0]);
  ::close(barrier[1]);
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
  }

  std::map<std::string, int> compiled;
  std::istringstream log(test::read_file(markers()));
  for (std::string line; std::getline(log, line);) ++compiled[line];
  EXPECT_EQ(compiled.size(), size_t{kSpecs});
  for (const auto& [spec, n] : compiled) EXPECT_EQ(n, 1) << spec << " compiled " << n << " times";

  const CacheRoot r = CacheRoot::open(posix_file_ops(), root(), CacheRoot::Mode::existing).value_or_throw();
  const auto entries = inspect_entries(r);
  EXPECT_EQ(entries.size(), size_t{kSpecs});
  for (const InspectedEntry& e : entries) EXPECT_EQ(e.error, "") << e.stored.path;
  EXPECT_TRUE(test::list_dir(root() + "/tmp").empty()) << "no temporary files left";
}

// Stops the process in the middle of writing an entry: half the bytes are in the temp file when it dies.
struct DieMidWrite : test::FaultFileOps {
  int notify_fd = -1;
  ssize_t write(int fd, const void* buf, size_t n) override {
    if (path_of(fd).find("/cache/tmp/") == std::string::npos)
      return FaultFileOps::write(fd, buf, n);
    (void)FaultFileOps::write(fd, buf, n / 2);
    const char c = 'w';
    (void)!::write(notify_fd, &c, 1);
    while (true) ::pause();  // SIGKILL arrives here
  }
};

TEST_F(StampedeTest, WriterKilledMidWriteLeavesNoVisibleEntry) {
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    DieMidWrite files;
    files.notify_fd = ready[1];
    auto cache = make_cache(&files);
    (void)cache->get_or_compile(test::test_spec(0), logging_compiler());
    ::_exit(3);
  }
  char c = 0;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  ::kill(pid, SIGKILL);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  ::close(ready[0]);
  ::close(ready[1]);

  const CacheRoot r = CacheRoot::open(posix_file_ops(), root(), CacheRoot::Mode::existing).value_or_throw();
  EXPECT_TRUE(scan_entries(r).empty()) << "the partial write is not visible as an entry";
  const auto temps = test::list_dir(root() + "/tmp");
  ASSERT_EQ(temps.size(), 1u) << "the partial file is in tmp/ only";

  // The next process misses cleanly (no corrupt entry to count) and compiles.
  auto cache = make_cache();
  auto got = cache->get_or_compile(test::test_spec(0), logging_compiler());
  ASSERT_TRUE(got);
  EXPECT_TRUE(test::is_fake_entry_for(**got, test::test_spec(0)));
  EXPECT_EQ(cache->counters().compiles, 1u);
  EXPECT_EQ(cache->counters().corrupt_entries, 0u);
  EXPECT_EQ(inspect_entries(r).size(), 1u);

  // An hour later the leftover is swept.
  const std::string leftover = root() + "/tmp/" + temps[0];
  const struct timespec old[2] = {{time(nullptr) - 3700, 0}, {time(nullptr) - 3700, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, leftover.c_str(), old, 0), 0);
  make_cache();
  EXPECT_FALSE(test::exists(leftover));
}

}  // namespace
}  // namespace kvjit
