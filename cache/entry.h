// Entry: what the cache keeps for one key — the cubin for the exact arch, the PTX (for newer GPUs and drivers,
// through the driver JIT), and the compile report, plus the spec text so `kvjit cache list` can name it.
#pragma once

#include <string>
#include <vector>

#include "cache/key.h"
#include "compiler/compiled_kernel.h"

namespace kvjit {

struct Entry {
  Key key;
  std::string spec;  // canonical spec text
  std::string symbol;
  std::string backend;
  std::vector<std::string> options;
  std::string log;
  std::string ptx;
  std::vector<unsigned char> cubin;  // empty when the compile asked for PTX only
  ResourceReport resources;
  LaunchShape shape;
  double compile_ms = 0.0;

  // Bytes the entry holds in memory (PTX, cubin, log): what a size bound would count.
  size_t payload_bytes() const { return ptx.size() + cubin.size() + log.size(); }
};

// Field-by-field equality (the compiler's report types define none).
bool operator==(const Entry& a, const Entry& b);

Entry make_entry(const Key& key, const CompiledKernel& kernel);

// Fails only when the stored spec text no longer parses (an entry from a build with other spec fields).
Result<CompiledKernel> to_compiled_kernel(const Entry& entry);

}  // namespace kvjit
