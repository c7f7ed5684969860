// CompiledKernel: what a backend produces for one spec — PTX, cubin, and the report a user inspects.
#pragma once

#include <string>
#include <vector>

#include "compiler/launch_shape.h"
#include "compiler/spec.h"

namespace kvjit {

// Resource use reported by ptxas (-v) for the entry function; -1 where the log did not say.
struct ResourceReport {
  int registers = -1;
  int shared_bytes = -1;  // static shared memory
  int stack_bytes = -1;
  int spill_store_bytes = -1;
  int spill_load_bytes = -1;
};

struct CompiledKernel {
  Spec spec;
  std::string symbol;
  LaunchShape shape;
  std::string ptx;                   // for compute_XX: loadable by newer GPUs and drivers through the JIT
  std::vector<unsigned char> cubin;  // for sm_XX exactly; empty when only PTX was asked for
  std::string log;                   // NVRTC log, ptxas -v included
  std::vector<std::string> options;
  std::string backend;               // e.g. "nvrtc 13.0"
  ResourceReport resources;
  double compile_ms = 0.0;           // wall time of the compile call
};

// Parses ptxas -v lines ("Used 40 registers, ... 384 bytes smem", "... spill stores ...") for `symbol`.
ResourceReport parse_ptxas_report(const std::string& log, const std::string& symbol);

}  // namespace kvjit
