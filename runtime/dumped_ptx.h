// Kernels that `kvjit dump` wrote: <dir>/<file_stem(spec)>.ptx, loaded as PTX (the driver JITs it). Lets a
// program run kernels of a compiler it does not link, such as the LLVM backend's dumped on another machine,
// through the ordinary Engine (make_memory_provider(dumped_ptx_compiler(dir))).
#pragma once

#include <string>

#include "runtime/artifact_provider.h"

namespace kvjit {

// The dumped PTX of `spec`, or not_found naming the path it looked for.
Result<CompiledKernel> read_dumped_ptx(const std::string& dir, const Spec& spec);

// A SpecCompiler that reads dumped PTX for specs whose backend is not NVRTC and compiles the rest with NVRTC.
SpecCompiler dumped_ptx_compiler(std::string dir);

}  // namespace kvjit
