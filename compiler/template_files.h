// The kernel template sources: embedded in the library at build time, or read from KVJIT_TEMPLATE_DIR
// (for kernel development) under the same relative names. The bytes returned are exactly what is compiled
// and what the cache key hashes.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "compiler/result.h"

namespace kvjit {

struct TemplateFile {
  std::string name;     // include name, e.g. "kvjit/decode.cuh"
  std::string_view text;
};

// The set used for compiling: owns the bytes when they come from a directory.
struct TemplateSet {
  std::string origin;  // "embedded" or the override directory
  std::vector<std::string> names;
  std::vector<std::string> texts;
};

const std::vector<TemplateFile>& embedded_template_files();

// Embedded templates, or those in $KVJIT_TEMPLATE_DIR when it is set (every embedded name must exist there).
Result<TemplateSet> load_templates();
Result<TemplateSet> load_templates_from(const std::string& dir);
TemplateSet embedded_templates();

}  // namespace kvjit
