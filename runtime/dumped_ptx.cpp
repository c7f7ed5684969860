#include "runtime/dumped_ptx.h"

#include <fstream>
#include <sstream>

#include "compiler/nvrtc_backend.h"

namespace kvjit {

Result<CompiledKernel> read_dumped_ptx(const std::string& dir, const Spec& spec) {
  const std::string path = dir + "/" + file_stem(spec) + ".ptx";
  std::ifstream in(path);
  if (!in) return make_error(ErrorKind::not_found, "no dumped PTX for " + to_string(spec) + " at " + path);
  std::stringstream text;
  text << in.rdbuf();
  CompiledKernel k;
  k.spec = spec;
  k.symbol = kernel_symbol(spec);
  k.shape = launch_shape(spec);
  k.ptx = text.str();
  k.backend = std::string(to_string(spec.backend)) + " (dumped)";
  return k;
}

SpecCompiler dumped_ptx_compiler(std::string dir) {
  return [dir = std::move(dir)](const Spec& spec) -> Result<CompiledKernel> {
    if (spec.backend != Backend::nvrtc) return read_dumped_ptx(dir, spec);
    return compile_spec(spec);
  };
}

}  // namespace kvjit
