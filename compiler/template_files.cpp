#include "compiler/template_files.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace kvjit {

TemplateSet embedded_templates() {
  TemplateSet set{"embedded", {}, {}};
  for (const TemplateFile& f : embedded_template_files()) {
    set.names.push_back(f.name);
    set.texts.emplace_back(f.text);
  }
  return set;
}

Result<TemplateSet> load_templates_from(const std::string& dir) {
  TemplateSet set{dir, {}, {}};
  for (const TemplateFile& f : embedded_template_files()) {
    const std::string path = dir + "/" + f.name;
    std::ifstream in(path, std::ios::binary);
    if (!in) return make_error(ErrorKind::io, "KVJIT_TEMPLATE_DIR: cannot read " + path);
    std::ostringstream text;
    text << in.rdbuf();
    set.names.push_back(f.name);
    set.texts.push_back(text.str());
  }
  return set;
}

Result<TemplateSet> load_templates() {
  const char* dir = std::getenv("KVJIT_TEMPLATE_DIR");
  if (dir != nullptr && *dir != '\0') return load_templates_from(dir);
  return embedded_templates();
}

}  // namespace kvjit
