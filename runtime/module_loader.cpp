#include "runtime/module_loader.h"

#include <fmt/format.h>

#include <algorithm>

namespace kvjit {

bool cubin_runs_on(Arch built, Arch device) { return built.sm == device.sm; }

Result<LoadedModule> load_module(const DeviceContext& device, const Artifact& artifact) {
  auto api = driver();
  if (!api) return api.error();
  const DriverApi* cu = *api;
  LoadedModule out;
  const std::string context = to_string(artifact.spec);
  const bool use_cubin = !artifact.cubin.empty() && cubin_runs_on(artifact.spec.arch, device.arch);
  if (!use_cubin && artifact.ptx.empty())
    return make_error(ErrorKind::driver, fmt::format("{}: no PTX to JIT for {} and no cubin for it", context,
                                                     to_string(device.arch)));
  // JIT error log for PTX loads: the driver writes into this buffer.
  char error_log[4096] = {0};
  CUjit_option options[] = {CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
  void* values[] = {error_log, reinterpret_cast<void*>(sizeof(error_log))};
  const void* image = use_cubin ? static_cast<const void*>(artifact.cubin.data())
                                : static_cast<const void*>(artifact.ptx.c_str());
  CUresult rc = cu->cuModuleLoadDataEx_(&out.module, image, 2, options, values);
  if (rc != CUDA_SUCCESS) {
    Error e = driver_error(rc, "cuModuleLoadDataEx", fmt::format("{} from {}", context, use_cubin ? "cubin" : "PTX"));
    if (error_log[0] != '\0') e.message += fmt::format("\n{}", error_log);
    return e;
  }
  rc = cu->cuModuleGetFunction_(&out.function, out.module, artifact.symbol.c_str());
  if (rc != CUDA_SUCCESS) {
    cu->cuModuleUnload_(out.module);
    return driver_error(rc, "cuModuleGetFunction", context + " symbol " + artifact.symbol);
  }
  // The specializer bakes the largest CTA size into __launch_bounds__ (and sizes shared memory for it), and
  // the launch takes its sizes from the artifact's shape. A module built for another shape (PTX dumped by an
  // older build, another provider's) would run with the wrong number of warps and leave outputs unwritten,
  // or overrun its shared memory: refuse it rather than launch it.
  int bound = 0;
  if (cu->cuFuncGetAttribute_(&bound, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, out.function) == CUDA_SUCCESS &&
      bound != artifact.shape.bound_threads()) {
    cu->cuModuleUnload_(out.module);
    return make_error(ErrorKind::invalid_argument,
                      fmt::format("{}: the module's kernel takes CTAs of up to {} threads, this build launches "
                                  "up to {} (a module from another kvjit build? compile or dump it again)",
                                  context, bound, artifact.shape.bound_threads()));
  }
  out.from_cubin = use_cubin;
  // Asked only where the spec's kernels have the marker: elsewhere the lookup would fail every load, and
  // compute-sanitizer reports each failed driver call.
  if (uses_grid_dependency(artifact.spec)) {
    CUdeviceptr marker = 0;
    size_t marker_bytes = 0;
    out.waits_for_prior_grid =
        cu->cuModuleGetGlobal_(&marker, &marker_bytes, out.module, kGridDependencyMarker) == CUDA_SUCCESS;
  }
  // How many CTAs an SM runs at once decides how a split launch fills the waves (choose_splits). A failed
  // query is not fatal: 1 only makes the split choice conservative.
  const auto resident_ctas = [&](int warps) {
    int ctas = 0;
    const size_t dynamic_bytes = static_cast<size_t>(artifact.shape.dynamic_shared_bytes(artifact.spec, warps));
    const CUresult queried =
        cu->cuOccupancyMaxActiveBlocksPerMultiprocessor_(&ctas, out.function, 32 * warps, dynamic_bytes);
    return queried == CUDA_SUCCESS ? ctas : 0;
  };
  out.ctas_per_sm = std::max(1, resident_ctas(artifact.shape.warps));
  // 0 where the query fails: the plan then keeps the first size, whose split choice it knows.
  if (artifact.shape.wide_warps > 0) out.wide_ctas_per_sm = resident_ctas(artifact.shape.wide_warps);
  return out;
}

}  // namespace kvjit
