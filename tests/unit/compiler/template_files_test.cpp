// Template files: the embedded bytes are the source files' bytes, and KVJIT_TEMPLATE_DIR replaces them
// under the same names.
#include "compiler/template_files.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>

namespace kvjit {
namespace {

namespace fs = std::filesystem;

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void write_file(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  ASSERT_TRUE(out.good()) << path;
}

// A fresh directory per test, removed afterwards; KVJIT_TEMPLATE_DIR is restored to what it was.
class TemplateFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* saved = std::getenv("KVJIT_TEMPLATE_DIR");
    if (saved != nullptr) saved_env_ = saved;
    unsetenv("KVJIT_TEMPLATE_DIR");
    const testing::TestInfo* info = testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("kvjit_template_files_test_" + std::string(info->name()) + "_" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (saved_env_)
      setenv("KVJIT_TEMPLATE_DIR", saved_env_->c_str(), 1);
    else
      unsetenv("KVJIT_TEMPLATE_DIR");
    fs::remove_all(dir_);
  }
  void write_embedded_copy() {
    for (const TemplateFile& f : embedded_template_files()) write_file(dir_ / f.name, std::string(f.text));
  }

  fs::path dir_;
  std::optional<std::string> saved_env_;
};

TEST_F(TemplateFilesTest, EmbeddedNamesAreSortedAndUnderKvjit) {
  const auto& files = embedded_template_files();
  ASSERT_FALSE(files.empty());
  std::set<std::string> names;
  for (size_t i = 0; i < files.size(); ++i) {
    EXPECT_EQ(files[i].name.rfind("kvjit/", 0), 0u) << files[i].name;
    EXPECT_TRUE(files[i].name.ends_with(".cuh")) << files[i].name;
    EXPECT_FALSE(files[i].text.empty()) << files[i].name;
    EXPECT_TRUE(names.insert(files[i].name).second) << "duplicate " << files[i].name;
    if (i > 0) {
      EXPECT_LT(files[i - 1].name, files[i].name);
    }
  }
  EXPECT_TRUE(names.count("kvjit/decode.cuh"));
  EXPECT_TRUE(names.count("kvjit/append.cuh"));
}

TEST_F(TemplateFilesTest, EmbeddedBytesMatchTheSourceTree) {
  const fs::path root = KVJIT_TEST_TEMPLATE_SOURCE_DIR;
  std::set<std::string> on_disk;
  for (const auto& e : fs::recursive_directory_iterator(root / "kvjit"))
    if (e.is_regular_file() && e.path().extension() == ".cuh")
      on_disk.insert(fs::relative(e.path(), root).generic_string());
  std::set<std::string> embedded;
  for (const TemplateFile& f : embedded_template_files()) {
    embedded.insert(f.name);
    EXPECT_EQ(std::string(f.text), read_file(root / f.name)) << f.name << " differs from the embedded bytes";
  }
  EXPECT_EQ(embedded, on_disk);
}

// Templates are self-contained: every include names another embedded template (no system headers).
TEST_F(TemplateFilesTest, TemplatesIncludeOnlyEmbeddedTemplates) {
  std::set<std::string> names;
  for (const TemplateFile& f : embedded_template_files()) names.insert(f.name);
  const std::regex include(R"(^\s*#\s*include\s*([<"])([^>"]+)[>"])");
  for (const TemplateFile& f : embedded_template_files()) {
    std::istringstream lines{std::string(f.text)};
    std::string line;
    while (std::getline(lines, line)) {
      std::smatch m;
      if (!std::regex_search(line, m, include)) continue;
      EXPECT_EQ(m[1].str(), "\"") << f.name << ": " << line;
      EXPECT_TRUE(names.count(m[2].str())) << f.name << ": " << line;
    }
  }
}

TEST_F(TemplateFilesTest, EmbeddedByDefault) {
  auto set = load_templates();
  ASSERT_TRUE(set.ok()) << set.error().message;
  EXPECT_EQ(set->origin, "embedded");
  const auto& files = embedded_template_files();
  ASSERT_EQ(set->names.size(), files.size());
  ASSERT_EQ(set->texts.size(), files.size());
  for (size_t i = 0; i < files.size(); ++i) {
    EXPECT_EQ(set->names[i], files[i].name);
    EXPECT_EQ(set->texts[i], files[i].text);
  }
  setenv("KVJIT_TEMPLATE_DIR", "", 1);  // empty means unset
  auto empty = load_templates();
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->origin, "embedded");
}

TEST_F(TemplateFilesTest, OverrideDirectoryReplacesTheBytes) {
  write_embedded_copy();
  write_file(dir_ / "kvjit/types.cuh", "// edited\n" + read_file(dir_ / "kvjit/types.cuh"));
  setenv("KVJIT_TEMPLATE_DIR", dir_.c_str(), 1);
  auto set = load_templates();
  ASSERT_TRUE(set.ok()) << set.error().message;
  EXPECT_EQ(set->origin, dir_.string());
  ASSERT_EQ(set->names.size(), embedded_template_files().size());
  for (size_t i = 0; i < set->names.size(); ++i) {
    EXPECT_EQ(set->names[i], embedded_template_files()[i].name);
    EXPECT_EQ(set->texts[i], read_file(dir_ / set->names[i]));
  }
  size_t edited = 0;
  for (size_t i = 0; i < set->names.size(); ++i)
    if (set->texts[i].rfind("// edited\n", 0) == 0) {
      EXPECT_EQ(set->names[i], "kvjit/types.cuh");
      ++edited;
    }
  EXPECT_EQ(edited, 1u);
}

TEST_F(TemplateFilesTest, OverrideDirectoryMissingAFile) {
  write_embedded_copy();
  fs::remove(dir_ / "kvjit/decode.cuh");
  auto set = load_templates_from(dir_.string());
  ASSERT_FALSE(set.ok());
  EXPECT_EQ(set.error().kind, ErrorKind::io);
  EXPECT_EQ(set.error().message, "KVJIT_TEMPLATE_DIR: cannot read " + (dir_ / "kvjit/decode.cuh").string());
}

TEST_F(TemplateFilesTest, OverrideDirectoryThatDoesNotExist) {
  const fs::path missing = dir_ / "missing";
  setenv("KVJIT_TEMPLATE_DIR", missing.c_str(), 1);
  auto set = load_templates();
  ASSERT_FALSE(set.ok());
  EXPECT_EQ(set.error().kind, ErrorKind::io);
  EXPECT_EQ(set.error().message,
            "KVJIT_TEMPLATE_DIR: cannot read " + (missing / embedded_template_files().front().name).string());
}

}  // namespace
}  // namespace kvjit
