#include "cache/cache_config.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <map>

#include "tests/unit/cache/cache_test_support.h"

namespace kvjit {
namespace {

CacheConfig config_with(const std::map<std::string, std::string>& env) {
  return cache_config_from([&](const char* name) -> const char* {
    const auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  });
}

TEST(CacheConfigTest, DirectoryComesFromTheFirstVariableSet) {
  struct Row {
    std::map<std::string, std::string> env;
    std::string dir;
    std::string source;
  };
  const std::vector<Row> rows = {
      {{{"KVJIT_CACHE_DIR", "/c"}, {"XDG_CACHE_HOME", "/x"}, {"HOME", "/h"}}, "/c", "KVJIT_CACHE_DIR"},
      {{{"XDG_CACHE_HOME", "/x"}, {"HOME", "/h"}}, "/x/kvjit", "XDG_CACHE_HOME"},
      {{{"HOME", "/h"}}, "/h/.cache/kvjit", "HOME"},
      {{{"HOME", "/h/"}}, "/h/.cache/kvjit", "HOME"},
      {{{"KVJIT_CACHE_DIR", ""}, {"XDG_CACHE_HOME", ""}, {"HOME", "/h"}}, "/h/.cache/kvjit", "HOME"},
      // The XDG spec ignores relative paths.
      {{{"XDG_CACHE_HOME", "relative"}, {"HOME", "/h"}}, "/h/.cache/kvjit", "HOME"},
      {{}, "", "none of KVJIT_CACHE_DIR, XDG_CACHE_HOME, HOME is set"},
      {{{"HOME", ""}}, "", "none of KVJIT_CACHE_DIR, XDG_CACHE_HOME, HOME is set"},
      {{{"KVJIT_DISABLE_CACHE", "1"}, {"KVJIT_CACHE_DIR", "/c"}}, "", "KVJIT_DISABLE_CACHE=1"},
      {{{"KVJIT_DISABLE_CACHE", "0"}, {"KVJIT_CACHE_DIR", "/c"}}, "/c", "KVJIT_CACHE_DIR"},
  };
  for (const Row& row : rows) {
    const CacheConfig c = config_with(row.env);
    EXPECT_EQ(c.dir, row.dir) << row.source;
    EXPECT_EQ(c.dir_source, row.source);
    EXPECT_EQ(c.disk_enabled(), !row.dir.empty());
  }
}

TEST(CacheConfigTest, RelativeCacheDirIsMadeAbsolute) {
  const CacheConfig c = config_with({{"KVJIT_CACHE_DIR", "some/dir"}});
  EXPECT_EQ(c.dir, (std::filesystem::current_path() / "some/dir").string());
}

TEST(CacheConfigTest, NeverFallsBackToTmp) {
  for (const auto& env : std::vector<std::map<std::string, std::string>>{{}, {{"TMPDIR", "/tmp"}}, {{"USER", "me"}}})
    EXPECT_FALSE(config_with(env).disk_enabled());
}

TEST(CacheConfigTest, ProcessEnvironmentWithoutHomeHasNoDiskTier) {
  std::map<std::string, std::string> saved;
  for (const char* name : {"KVJIT_CACHE_DIR", "XDG_CACHE_HOME", "HOME", "KVJIT_DISABLE_CACHE"}) {
    if (const char* v = getenv(name)) saved[name] = v;
    unsetenv(name);
  }
  const CacheConfig c = cache_config_from_env();
  for (const auto& [name, value] : saved) setenv(name.c_str(), value.c_str(), 1);
  EXPECT_FALSE(c.disk_enabled());
  EXPECT_EQ(c.dir, "");
}

TEST(CacheConfigTest, MaxBytes) {
  EXPECT_EQ(config_with({}).max_bytes, kDefaultCacheMaxBytes);
  EXPECT_EQ(config_with({{"KVJIT_CACHE_MAX_BYTES", "12345"}}).max_bytes, 12345u);
  EXPECT_EQ(config_with({{"KVJIT_CACHE_MAX_BYTES", "64K"}}).max_bytes, 64u << 10);
  EXPECT_EQ(config_with({{"KVJIT_CACHE_MAX_BYTES", "512m"}}).max_bytes, 512u << 20);
  EXPECT_EQ(config_with({{"KVJIT_CACHE_MAX_BYTES", "2G"}}).max_bytes, uint64_t{2} << 30);
  const CacheConfig bad = config_with({{"KVJIT_CACHE_MAX_BYTES", "lots"}});
  EXPECT_EQ(bad.max_bytes, kDefaultCacheMaxBytes);
  ASSERT_EQ(bad.warnings.size(), 1u);
  EXPECT_NE(bad.warnings[0].find("KVJIT_CACHE_MAX_BYTES='lots'"), std::string::npos);
}

TEST(CacheConfigTest, ParseByteSizeRejectsNonsense) {
  for (const char* bad : {"", "0", "-1", "1.5G", "G", "10KB", "1T", " 1", "99999999999999999999", "17179869184G"})
    EXPECT_FALSE(parse_byte_size(bad)) << bad;
  EXPECT_EQ(*parse_byte_size("1"), 1u);
  EXPECT_EQ(*parse_byte_size("1k"), 1024u);
}

}  // namespace
}  // namespace kvjit
