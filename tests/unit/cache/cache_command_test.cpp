// kvjit cache ...: run the real binary against a directory filled by the library.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "cache/entry_format.h"
#include "tests/unit/cache/cache_test_support.h"

namespace kvjit {
namespace {

using nlohmann::json;
using test::CacheTest;

struct CliRun {
  int exit_code = -1;
  std::string out;
};

class CacheCommandTest : public CacheTest {
 protected:
  CliRun cli(const std::string& args, const std::string& env = "") {
    const std::string cmd = "env -u KVJIT_DISABLE_CACHE -u KVJIT_CACHE_MAX_BYTES KVJIT_CACHE_DIR='" + root() + "' " +
                            env + " '" + KVJIT_CLI_PATH + "' cache " + args + " 2>&1";
    CliRun r;
    FILE* p = ::popen(cmd.c_str(), "r");
    if (p == nullptr) return r;
    char buf[4096];
    for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) r.out.append(buf, n);
    const int status = ::pclose(p);
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
  }
  json cli_json(const std::string& args) {
    const CliRun r = cli(args + " --json");
    EXPECT_EQ(r.exit_code, 0) << r.out;
    return json::parse(r.out, nullptr, false);
  }
  void populate(int n) {
    test::FakeCompiler compiler;
    auto cache = make_cache();
    for (int i = 0; i < n; ++i) ASSERT_TRUE(cache->get_or_compile(test::test_spec(i), compiler.fn()));
  }
  std::string entry_path(int i) {
    return make_cache()->disk()->root().entry_path(cache_key(test::test_spec(i), test::fake_context()).value_or_throw());
  }
};

TEST_F(CacheCommandTest, Path) {
  EXPECT_EQ(cli("path").out, root() + "\n");
  const json j = cli_json("path");
  EXPECT_EQ(j["dir"], root());
  EXPECT_EQ(j["source"], "KVJIT_CACHE_DIR");
  EXPECT_EQ(j["enabled"], true);
  const CliRun disabled = cli("path", "KVJIT_DISABLE_CACHE=1");
  EXPECT_EQ(disabled.out, "memory only (KVJIT_DISABLE_CACHE=1)\n");
}

TEST_F(CacheCommandTest, StatsOfAnAbsentCacheIsEmpty) {
  const json j = cli_json("stats");
  EXPECT_EQ(j["entries"], 0);
  EXPECT_FALSE(test::exists(root())) << "looking does not create";
}

TEST_F(CacheCommandTest, StatsCountsWhatOtherProcessesWrote) {
  populate(3);
  const json j = cli_json("stats");
  EXPECT_EQ(j["entries"], 3);
  EXPECT_GT(j["bytes"].get<uint64_t>(), 3 * kEntryHeaderBytes);
  EXPECT_EQ(j["max_bytes"], kDefaultCacheMaxBytes);
  const CliRun text = cli("stats", "KVJIT_CACHE_MAX_BYTES=2G");
  EXPECT_NE(text.out.find("entries     3"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("of 2147483648"), std::string::npos) << text.out;
}

TEST_F(CacheCommandTest, ListShowsSpecs) {
  populate(2);
  const json j = cli_json("list");
  ASSERT_EQ(j.size(), 2u);
  std::set<std::string> specs;
  for (const json& e : j) {
    specs.insert(e["spec"].get<std::string>());
    EXPECT_EQ(e["ok"], true);
    EXPECT_EQ(e["key"].get<std::string>().size(), 32u);
  }
  EXPECT_EQ(specs, (std::set<std::string>{to_string(test::test_spec(0)), to_string(test::test_spec(1))}));
  const CliRun text = cli("list");
  EXPECT_NE(text.out.find(to_string(test::test_spec(1))), std::string::npos) << text.out;
}

TEST_F(CacheCommandTest, VerifyReportsBadEntriesAndFails) {
  populate(3);
  EXPECT_EQ(cli("verify").exit_code, 0);
  std::string bytes = test::read_file(entry_path(1));
  bytes[bytes.size() / 2] ^= 4;
  test::write_file(entry_path(1), bytes);
  const CliRun r = cli("verify");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("checksum mismatch"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("3 entries checked, 1 bad"), std::string::npos) << r.out;
  const CliRun j = cli("verify --json");
  EXPECT_EQ(j.exit_code, 1);
  const json parsed = json::parse(j.out);
  ASSERT_EQ(parsed["bad"].size(), 1u);
  EXPECT_EQ(parsed["bad"][0]["error"], "checksum mismatch");
}

TEST_F(CacheCommandTest, PruneAndClear) {
  populate(6);
  const CliRun bad = cli("prune --max-bytes lots");
  EXPECT_EQ(bad.exit_code, 2) << bad.out;
  const uint64_t bytes = cli_json("stats")["bytes"].get<uint64_t>();
  const json pruned = cli_json("prune --max-bytes " + std::to_string(bytes / 2));
  EXPECT_EQ(pruned["evicted"], 3);
  EXPECT_LE(pruned["bytes"].get<uint64_t>(), bytes / 2);
  EXPECT_EQ(cli_json("stats")["entries"], 3);
  const json cleared = cli_json("clear");
  EXPECT_EQ(cleared["entries"], 3);
  EXPECT_EQ(cli_json("stats")["entries"], 0);
}

TEST_F(CacheCommandTest, RefusedDirectoryIsAnError) {
  ASSERT_EQ(::mkdir(root().c_str(), 0700), 0);
  ASSERT_EQ(::chmod(root().c_str(), 0777), 0);
  const CliRun r = cli("stats");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("writable by group or others"), std::string::npos) << r.out;
}

TEST_F(CacheCommandTest, ExplainListsTheKeyInputs) {
  const json j = cli_json("explain 'decode:gqa=4,arch=sm_90'");
  std::map<std::string, std::string> inputs;
  for (const json& row : j) inputs[row["input"]] = row["value"];
  EXPECT_EQ(inputs["spec"], to_string(parse_spec("decode:gqa=4,arch=sm_90").value_or_throw()));
  EXPECT_EQ(inputs["backend"], nvrtc_identity());
  EXPECT_EQ(inputs["arch"], "sm_90");
  EXPECT_EQ(inputs["format"], std::to_string(kEntryFormatVersion));
  EXPECT_EQ(inputs["key"], cache_key(parse_spec("decode:gqa=4,arch=sm_90").value_or_throw(), embedded_templates(),
                                     CompileOptions{})
                               .value_or_throw()
                               .hex());
  const CliRun auto_arch = cli("explain decode:gqa=4");
  EXPECT_EQ(auto_arch.exit_code, 2);
  EXPECT_NE(auto_arch.out.find("arch=auto"), std::string::npos) << auto_arch.out;
  EXPECT_EQ(cli("explain decode:gqa=999").exit_code, 2);
}

}  // namespace
}  // namespace kvjit
