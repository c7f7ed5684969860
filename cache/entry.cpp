#include "cache/entry.h"

namespace kvjit {

bool operator==(const Entry& a, const Entry& b) {
  const ResourceReport &ra = a.resources, &rb = b.resources;
  return a.key == b.key && a.spec == b.spec && a.symbol == b.symbol && a.backend == b.backend &&
         a.options == b.options && a.log == b.log && a.ptx == b.ptx && a.cubin == b.cubin &&
         ra.registers == rb.registers && ra.shared_bytes == rb.shared_bytes && ra.stack_bytes == rb.stack_bytes &&
         ra.spill_store_bytes == rb.spill_store_bytes && ra.spill_load_bytes == rb.spill_load_bytes &&
         a.shape.warps == b.shape.warps && a.shape.heads_per_cta == b.shape.heads_per_cta &&
         a.shape.unroll == b.shape.unroll && a.shape.tensor_cores == b.shape.tensor_cores &&
         a.shape.wide_warps == b.shape.wide_warps &&
         a.compile_ms == b.compile_ms;
}

Entry make_entry(const Key& key, const CompiledKernel& k) {
  return Entry{key,   to_string(k.spec), k.symbol, k.backend,   k.options,   k.log,
               k.ptx, k.cubin,           k.resources, k.shape, k.compile_ms};
}

Result<CompiledKernel> to_compiled_kernel(const Entry& e) {
  auto spec = parse_spec(e.spec);
  if (!spec) return make_error(ErrorKind::internal, "cache entry " + e.key.hex() + ": " + spec.error().message);
  return CompiledKernel{*spec, e.symbol, e.shape, e.ptx, e.cubin, e.log, e.options, e.backend, e.resources,
                        e.compile_ms};
}

}  // namespace kvjit
