#include "runtime/launch_plan.h"

#include <fmt/format.h>

#include <cmath>
#include <cstddef>

namespace kvjit {

// The kernels read these structs through the same header; pin the layout so an edit to one side that the
// other cannot see (a field reordered under a stale cache entry) fails the build instead of a launch.
static_assert(sizeof(DecodeParams) == 120 && offsetof(DecodeParams, sm_scale) == 96 &&
                  offsetof(DecodeParams, max_blocks_per_seq) == 116,
              "DecodeParams layout changed: bump the cache format version");
static_assert(sizeof(AppendParams) == 72 && offsetof(AppendParams, k_scale) == 56,
              "AppendParams layout changed: bump the cache format version");

namespace {

constexpr unsigned kMaxGridY = 65535;

Error arg_error(const Spec& spec, const std::string& what) {
  return make_error(ErrorKind::invalid_argument, fmt::format("{}: {}", to_string(spec), what));
}

Status check_spec(const Spec& spec, Kind kind, const Spec* expected) {
  if (spec.kind != kind)
    return arg_error(spec, fmt::format("this kernel is a {} kernel; {} arguments given", to_string(spec.kind),
                                       to_string(kind)));
  if (expected != nullptr) {
    // arch=auto in the caller's spec matches whatever arch the kernel was resolved to.
    Spec want = *expected;
    if (want.arch.is_auto()) want.arch = spec.arch;
    if (!(want == spec)) return arg_error(spec, "arguments were shaped for " + to_string(*expected));
  }
  return Ok{};
}

bool needs_row_scales(KvDtype kv) { return kv == KvDtype::int8; }

}  // namespace

Result<LaunchPlan> plan_decode(const Spec& spec, const LaunchShape& shape, const DecodeArgs& a, DecodeParams* p) {
  KVJIT_TRY(check_spec(spec, Kind::decode, a.expected_spec));
  if (a.batch <= 0) return arg_error(spec, fmt::format("batch={}: must be positive", a.batch));
  if (static_cast<unsigned>(a.batch) > kMaxGridY)
    return arg_error(spec, fmt::format("batch={}: must be at most {}", a.batch, kMaxGridY));
  if (a.num_kv_heads <= 0) return arg_error(spec, fmt::format("num_kv_heads={}: must be positive", a.num_kv_heads));
  if (!a.q || !a.o || !a.k_cache || !a.v_cache) return arg_error(spec, "q, o, k_cache and v_cache must be non-null");
  if (needs_row_scales(spec.kv) && (!a.k_scales || !a.v_scales))
    return arg_error(spec, "kv=int8 needs k_scales and v_scales");
  if (spec.paging == Paging::table) {
    if (!a.block_table || !a.seq_lens) return arg_error(spec, "paging=table needs block_table and seq_lens");
    if (a.max_blocks_per_seq <= 0)
      return arg_error(spec, fmt::format("max_blocks_per_seq={}: must be positive", a.max_blocks_per_seq));
  } else if (!a.indptr || !a.indices || !a.last_page_len) {
    return arg_error(spec, "paging=csr needs indptr, indices and last_page_len");
  }
  if (!(a.sm_scale > 0.0f) || !std::isfinite(a.sm_scale))
    return arg_error(spec, fmt::format("sm_scale={}: must be positive and finite", a.sm_scale));
  if (!std::isfinite(a.k_scale) || !std::isfinite(a.v_scale))
    return arg_error(spec, "k_scale and v_scale must be finite");

  *p = DecodeParams{};
  p->q = a.q;
  p->o = a.o;
  p->k_cache = a.k_cache;
  p->v_cache = a.v_cache;
  p->k_scales = a.k_scales;
  p->v_scales = a.v_scales;
  p->block_table = a.block_table;
  p->seq_lens = a.seq_lens;
  p->indptr = a.indptr;
  p->indices = a.indices;
  p->last_page_len = a.last_page_len;
  p->lse = a.lse;
  p->sm_scale = a.sm_scale;
  p->k_scale = a.k_scale;
  p->v_scale = a.v_scale;
  p->batch = a.batch;
  p->num_kv_heads = a.num_kv_heads;
  p->max_blocks_per_seq = a.max_blocks_per_seq;

  LaunchPlan plan;
  const long long grid_x = static_cast<long long>(a.num_kv_heads) * shape.chunks(spec);
  if (grid_x > 0x7fffffffLL) return arg_error(spec, "num_kv_heads too large");
  plan.grid[0] = static_cast<unsigned>(grid_x);
  plan.grid[1] = static_cast<unsigned>(a.batch);
  plan.block[0] = static_cast<unsigned>(shape.threads());
  return plan;
}

Result<LaunchPlan> plan_append(const Spec& spec, const LaunchShape& shape, const AppendArgs& a, AppendParams* p) {
  KVJIT_TRY(check_spec(spec, Kind::append, a.expected_spec));
  if (a.num_tokens < 0) return arg_error(spec, fmt::format("num_tokens={}: must not be negative", a.num_tokens));
  if (a.num_kv_heads <= 0) return arg_error(spec, fmt::format("num_kv_heads={}: must be positive", a.num_kv_heads));
  LaunchPlan plan;
  if (a.num_tokens == 0) {
    plan.empty = true;
    return plan;
  }
  if (!a.k || !a.v || !a.k_cache || !a.v_cache || !a.slot_mapping)
    return arg_error(spec, "k, v, k_cache, v_cache and slot_mapping must be non-null");
  if (needs_row_scales(spec.kv) && (!a.k_scales || !a.v_scales))
    return arg_error(spec, "kv=int8 needs k_scales and v_scales");
  if (!std::isfinite(a.k_scale) || !std::isfinite(a.v_scale) || a.k_scale == 0.0f || a.v_scale == 0.0f)
    return arg_error(spec, "k_scale and v_scale must be finite and non-zero");
  *p = AppendParams{};
  p->k = a.k;
  p->v = a.v;
  p->k_cache = a.k_cache;
  p->v_cache = a.v_cache;
  p->k_scales = a.k_scales;
  p->v_scales = a.v_scales;
  p->slot_mapping = reinterpret_cast<const long long*>(a.slot_mapping);
  p->k_scale = a.k_scale;
  p->v_scale = a.v_scale;
  p->num_tokens = a.num_tokens;
  p->num_kv_heads = a.num_kv_heads;
  const unsigned heads_per_block = static_cast<unsigned>(shape.warps);
  plan.grid[0] = static_cast<unsigned>(a.num_tokens);
  plan.grid[1] = (static_cast<unsigned>(a.num_kv_heads) + heads_per_block - 1) / heads_per_block;
  plan.block[0] = static_cast<unsigned>(shape.threads());
  return plan;
}

}  // namespace kvjit
