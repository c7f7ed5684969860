// Parses a spec and compiles it to PTX through the installed C++ API; touches the engine API's headers.
#include <cstdio>

#include "compiler/nvrtc_backend.h"
#include "runtime/engine.h"

int main() {
  auto spec = kvjit::parse_spec("decode:hd=128,gqa=4,kv=int8,arch=sm_90");
  if (!spec) {
    std::fprintf(stderr, "%s\n", spec.error().message.c_str());
    return 1;
  }
  kvjit::CompileOptions options;
  options.cubin = false;
  auto compiled = kvjit::compile_spec(*spec, options);
  if (!compiled) {
    std::fprintf(stderr, "%s\n", compiled.error().message.c_str());
    return 1;
  }
  if (compiled->ptx.find(".entry " + compiled->symbol) == std::string::npos) {
    std::fprintf(stderr, "no entry %s in the PTX\n", compiled->symbol.c_str());
    return 1;
  }
  kvjit::Engine engine;  // needs no driver until get()
  kvjit::DecodeArgs args;
  args.expected_spec = &*spec;
  std::printf("consumer_cpp: %s -> %zu bytes of PTX\n", kvjit::to_string(*spec).c_str(), compiled->ptx.size());
  return 0;
}
