#include "runtime/launch_plan.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>

namespace kvjit {

// The kernels read these structs through the same header; pin the layout so an edit to one side that the
// other cannot see (a field reordered under a stale cache entry) fails the build instead of a launch.
static_assert(sizeof(DecodeParams) == 184 && offsetof(DecodeParams, sm_scale) == 136 &&
                  offsetof(DecodeParams, num_splits) == 172,
              "DecodeParams layout changed: bump the cache format version");
static_assert(sizeof(AppendParams) == 112 && offsetof(AppendParams, k_scale) == 88,
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
    // A caller's spec built in code may hold values no parser produces; it is printed below only once valid.
    if (const Status valid = validate(*expected); !valid)
      return arg_error(spec, "expected_spec: " + valid.error().message);
    // arch=auto in the caller's spec matches whatever arch the kernel was resolved to.
    Spec want = *expected;
    if (want.arch.is_auto()) want.arch = spec.arch;
    if (!(want == spec)) return arg_error(spec, "arguments were shaped for " + to_string(*expected));
  }
  return Ok{};
}


// The workspace's two regions (decode_finish.cuh SplitWorkspace): partial outputs and (max, sum) pairs from
// the start, merge counters from the end.
size_t partial_bytes(const Spec& spec, int batch, int num_kv_heads, int num_splits) {
  const size_t rows = static_cast<size_t>(batch) * num_kv_heads * spec.gqa * num_splits;
  return rows * (spec.head_dim + 2) * sizeof(float);
}
size_t counter_bytes(const Spec& spec, const LaunchShape& shape, int batch, int num_kv_heads) {
  return static_cast<size_t>(batch) * num_kv_heads * shape.chunks(spec) * sizeof(uint32_t);
}

}  // namespace

size_t decode_workspace_bytes(const Spec& spec, const LaunchShape& shape, int batch, int num_kv_heads,
                              int num_splits) {
  return partial_bytes(spec, batch, num_kv_heads, num_splits) + counter_bytes(spec, shape, batch, num_kv_heads);
}

long long DeviceSlots::slots() const {
  return static_cast<long long>(std::max(1, sm_count)) * std::max(1, ctas_per_sm);
}

namespace {

long long ctas_per_partition(const Spec& spec, const LaunchShape& shape, int batch, int num_kv_heads) {
  return std::max(1LL, static_cast<long long>(batch) * num_kv_heads * shape.chunks(spec));
}

// The share of the waves' CTA slots that `splits` partitions of `ctas` CTAs each keep busy. A CTA's time is
// about proportional to its tokens, so the launch takes waves / splits: the fill, inverted and scaled.
double wave_fill(long long ctas, int splits, DeviceSlots device) {
  const long long n = ctas * splits;
  const long long slots = device.slots();
  const long long waves = (n + slots - 1) / slots;
  return static_cast<double>(n) / static_cast<double>(waves * slots);
}

}  // namespace

int choose_splits(const Spec& spec, const LaunchShape& shape, int batch, int num_kv_heads, int max_seq_len,
                  DeviceSlots device) {
  const long long ctas = ctas_per_partition(spec, shape, batch, num_kv_heads);
  const long long slots = device.slots();
  const int most = std::clamp(max_seq_len / 256, 1, kAutoMaxSplits);
  auto fill = [&](int s) { return wave_fill(ctas, s, device); };
  // Waves are not lockstep on the hardware (a partial wave's CTAs get more bandwidth each), and each split
  // adds partial outputs and a merge: at 80% fill and above, splitting measured slower on an H100 (batch 128,
  // 2.6 waves: -7% for e4m3 at 4096 tokens), below it faster (batch 64, 1.3 waves: +5% for f16 to +32% for q8).
  if (fill(1) >= 0.8) return 1;
  // Fill counts idle slots, but a memory-bound kernel needs only enough warps an SM to keep the memory busy,
  // not every slot: where one wave of unsplit CTAs gives every SM 12 warps or more (what 3 CTAs of 4 warps
  // fill at head_dim 128), splitting only adds merges. Tensor-core body at head_dim 64 on an H100, 5-6 CTAs
  // an SM: e4m3 64 x 4096 121 -> 105 us, int8 125 -> 112 us, 56 x 4096 and 64 x 16384 10-20% faster
  // (docs/PERFORMANCE.md §3k). The CUDA-core body keeps the fill rule: unmeasured.
  constexpr long long kSaturatingWarpsPerSm = 12;
  if (shape.tensor_cores && ctas <= slots &&
      ctas * shape.warps >= kSaturatingWarpsPerSm * std::max(1, device.sm_count))
    return 1;
  double best = 0.0;
  for (int s = 1; s <= most; ++s) best = std::max(best, fill(s));
  // Each split adds partial outputs and a merge: take the fewest within 3% of the best.
  for (int s = 1; s <= most; ++s)
    if (fill(s) >= 0.97 * best) return s;
  return 1;
}

DecodeGrid choose_decode_grid(const Spec& spec, const LaunchShape& shape, int batch, int num_kv_heads,
                              int max_seq_len, DeviceSlots device) {
  const LaunchShape narrow = shape.with_warps(shape.warps);
  const DeviceSlots narrow_slots(device.sm_count, device.ctas_per_sm);
  const auto narrow_grid = [&] {
    return DecodeGrid{narrow.warps, choose_splits(spec, narrow, batch, num_kv_heads, max_seq_len, narrow_slots)};
  };
  if (shape.wide_warps <= 0 || device.wide_ctas_per_sm <= 0) return narrow_grid();
  const LaunchShape wide = shape.with_warps(shape.wide_warps);
  const DeviceSlots wide_slots = device.wide();
  const auto wide_grid = [&] {
    return DecodeGrid{wide.warps, choose_splits(spec, wide, batch, num_kv_heads, max_seq_len, wide_slots)};
  };
  // Both sizes cut the work the same way (heads_per_cta is shared), so one partition has the same CTAs.
  const long long ctas = ctas_per_partition(spec, shape, batch, num_kv_heads);
  const double narrow_fill = wave_fill(ctas, 1, narrow_slots), wide_fill = wave_fill(ctas, 1, wide_slots);
  if (std::max(narrow_fill, wide_fill) >= 0.8) return wide_fill > narrow_fill ? wide_grid() : narrow_grid();
  const DecodeGrid n = narrow_grid(), w = wide_grid();
  if (n.splits != w.splits) return w.splits < n.splits ? w : n;
  return wave_fill(ctas, w.splits, wide_slots) > wave_fill(ctas, n.splits, narrow_slots) ? w : n;
}

int choose_cta_warps(const Spec& spec, const LaunchShape& shape, int batch, int num_kv_heads, int max_seq_len,
                     DeviceSlots device) {
  return choose_decode_grid(spec, shape, batch, num_kv_heads, max_seq_len, device).warps;
}

size_t decode_workspace_bytes_for_device(const Spec& spec, const LaunchShape& shape, int batch, int num_kv_heads,
                                         DeviceSlots device) {
  constexpr int kLongest = 1 << 30;  // any length: the partitions are then bound only by the fill rule
  const auto splits_at = [&](int b) {
    return choose_decode_grid(spec, shape, b, num_kv_heads, kLongest, device).splits;
  };
  // The partial region must fit the largest of any batch up to `batch`, and the counters of `batch`
  // sequences must sit past all of them: a smaller batch's partials may never reach a larger batch's
  // counters, which keep their zeros between launches.
  size_t partials = partial_bytes(spec, batch, num_kv_heads, splits_at(batch));
  // Past 4 waves of CTAs one partition per sequence always fills more than 80% of its waves (more than
  // w - 1 of w waves, w >= 5): no split there, whichever CTA size (so the bound takes the larger slot count).
  const long long ctas_per_seq = static_cast<long long>(num_kv_heads) * shape.chunks(spec);
  const long long most_slots = std::max(device.slots(), device.wide_ctas_per_sm > 0 ? device.wide().slots() : 0);
  for (int b = 1; b < batch && b * ctas_per_seq <= 4 * most_slots; ++b)
    partials = std::max(partials, partial_bytes(spec, b, num_kv_heads, splits_at(b)));
  return partials + counter_bytes(spec, shape, batch, num_kv_heads);
}

Result<LaunchPlan> plan_decode(const Spec& spec, const LaunchShape& shape, const DecodeArgs& a, DeviceSlots device,
                               DecodeParams* p) {
  KVJIT_TRY(check_spec(spec, Kind::decode, a.expected_spec));
  if (a.batch <= 0) return arg_error(spec, fmt::format("batch={}: must be positive", a.batch));
  if (static_cast<unsigned>(a.batch) > kMaxGridY)
    return arg_error(spec, fmt::format("batch={}: must be at most {}", a.batch, kMaxGridY));
  if (a.num_kv_heads <= 0) return arg_error(spec, fmt::format("num_kv_heads={}: must be positive", a.num_kv_heads));
  if (!a.q || !a.o) return arg_error(spec, "q and o must be non-null");
  const bool contig = spec.paging == Paging::contig;
  if (contig) {
    if (!a.seq_k || !a.seq_v || !a.seq_lens) return arg_error(spec, "paging=contig needs seq_k, seq_v and seq_lens");
    if (a.seq_capacity <= 0)
      return arg_error(spec, fmt::format("seq_capacity={}: must be positive", a.seq_capacity));
    if (has_scale_pool(spec.kv) && (!a.seq_k_scales || !a.seq_v_scales))
      return arg_error(spec, fmt::format("kv={} needs seq_k_scales and seq_v_scales", to_string(spec.kv)));
  } else {
    if (!a.k_cache || !a.v_cache) return arg_error(spec, "k_cache and v_cache must be non-null");
    if (has_scale_pool(spec.kv) && (!a.k_scales || !a.v_scales))
      return arg_error(spec, fmt::format("kv={} needs k_scales and v_scales", to_string(spec.kv)));
  }
  if (spec.paging == Paging::table) {
    if (!a.block_table || !a.seq_lens) return arg_error(spec, "paging=table needs block_table and seq_lens");
    if (a.max_blocks_per_seq <= 0)
      return arg_error(spec, fmt::format("max_blocks_per_seq={}: must be positive", a.max_blocks_per_seq));
  } else if (spec.paging == Paging::csr && (!a.indptr || !a.indices || !a.last_page_len)) {
    return arg_error(spec, "paging=csr needs indptr, indices and last_page_len");
  }
  if (!(a.sm_scale > 0.0f) || !std::isfinite(a.sm_scale))
    return arg_error(spec, fmt::format("sm_scale={}: must be positive and finite", a.sm_scale));
  if (!std::isfinite(a.k_scale) || !std::isfinite(a.v_scale))
    return arg_error(spec, "k_scale and v_scale must be finite");
  if (spec.softcap && (!(a.softcap > 0.0f) || !std::isfinite(a.softcap)))
    return arg_error(spec, fmt::format("softcap={}: must be positive and finite for a softcap=1 spec", a.softcap));
  if (a.window < 0) return arg_error(spec, fmt::format("window={}: must not be negative", a.window));
  if (a.num_splits < 0 || a.num_splits > kMaxSplits)
    return arg_error(spec, fmt::format("num_splits={}: must be in [0, {}]", a.num_splits, kMaxSplits));
  if (a.max_seq_len < 0) return arg_error(spec, fmt::format("max_seq_len={}: must not be negative", a.max_seq_len));

  // The merge reads partial (max, sum) pairs as 8-byte vectors and counters as words (decode_finish.cuh).
  if (reinterpret_cast<uintptr_t>(a.workspace) % 16 != 0)
    return arg_error(spec, "workspace must be 16-byte aligned (as every allocator returns)");
  if (a.cta_warps != 0 && a.cta_warps != shape.warps && (shape.wide_warps == 0 || a.cta_warps != shape.wide_warps))
    return arg_error(spec, shape.wide_warps > 0
                               ? fmt::format("cta_warps={}: this kernel runs CTAs of {} or {} warps (0: the launch "
                                             "chooses)", a.cta_warps, shape.warps, shape.wide_warps)
                               : fmt::format("cta_warps={}: this kernel runs CTAs of {} warps (0: the launch "
                                             "chooses)", a.cta_warps, shape.warps));

  // Without a workspace nothing splits: the CTA size is then the one whose single partition fills more. A
  // size the caller fixed is not chosen again, only its own split count is (this runs on every launch).
  const int split_len = a.workspace != nullptr ? a.max_seq_len : 0;
  const DecodeGrid chosen = a.cta_warps != 0
                                ? DecodeGrid{a.cta_warps, 1}
                                : choose_decode_grid(spec, shape, a.batch, a.num_kv_heads, split_len, device);
  const int warps = chosen.warps;
  const LaunchShape launched = shape.with_warps(warps);
  const DeviceSlots launched_slots =
      warps != shape.warps ? device.wide() : DeviceSlots(device.sm_count, device.ctas_per_sm);
  int splits = 1;
  if (a.workspace != nullptr) {
    splits = a.num_splits > 0  ? a.num_splits
             : a.cta_warps == 0 ? chosen.splits
                                : choose_splits(spec, launched, a.batch, a.num_kv_heads, a.max_seq_len, launched_slots);
    // Fewer partitions when the caller's workspace holds fewer.
    while (splits > 1 && decode_workspace_bytes(spec, shape, a.batch, a.num_kv_heads, splits) > a.workspace_bytes)
      --splits;
  } else if (a.num_splits > 1) {
    return arg_error(spec, fmt::format("num_splits={} needs a workspace", a.num_splits));
  }

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
  p->seq_k = a.seq_k;
  p->seq_v = a.seq_v;
  p->seq_k_scales = a.seq_k_scales;
  p->seq_v_scales = a.seq_v_scales;
  p->lse = a.lse;
  p->workspace = static_cast<float*>(a.workspace);
  p->sm_scale = a.sm_scale;
  p->k_scale = a.k_scale;
  p->v_scale = a.v_scale;
  p->softcap = a.softcap;
  p->batch = a.batch;
  p->num_kv_heads = a.num_kv_heads;
  p->max_blocks_per_seq = a.max_blocks_per_seq;
  p->seq_capacity = a.seq_capacity;
  p->window = a.window;
  p->num_splits = splits;
  p->workspace_words = static_cast<int>(std::min<size_t>(a.workspace_bytes / 4, 0x7fffffff));

  LaunchPlan plan;
  const long long grid_x = static_cast<long long>(a.num_kv_heads) * shape.chunks(spec);
  if (grid_x > 0x7fffffffLL) return arg_error(spec, "num_kv_heads too large");
  plan.grid[0] = static_cast<unsigned>(grid_x);
  plan.grid[1] = static_cast<unsigned>(a.batch);
  plan.grid[2] = static_cast<unsigned>(splits);
  plan.block[0] = static_cast<unsigned>(launched.threads());
  plan.shared_bytes = static_cast<unsigned>(shape.dynamic_shared_bytes(spec, warps));
  plan.programmatic = a.pdl && uses_grid_dependency(spec);
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
  if (!a.k || !a.v || !a.slot_mapping) return arg_error(spec, "k, v and slot_mapping must be non-null");
  if (spec.paging == Paging::contig) {
    if (!a.seq_k || !a.seq_v) return arg_error(spec, "paging=contig needs seq_k and seq_v");
    if (a.seq_capacity <= 0)
      return arg_error(spec, fmt::format("seq_capacity={}: must be positive", a.seq_capacity));
    if (has_scale_pool(spec.kv) && (!a.seq_k_scales || !a.seq_v_scales))
      return arg_error(spec, fmt::format("kv={} needs seq_k_scales and seq_v_scales", to_string(spec.kv)));
  } else {
    if (!a.k_cache || !a.v_cache) return arg_error(spec, "k_cache and v_cache must be non-null");
    if (has_scale_pool(spec.kv) && (!a.k_scales || !a.v_scales))
      return arg_error(spec, fmt::format("kv={} needs k_scales and v_scales", to_string(spec.kv)));
  }
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
  p->seq_k = a.seq_k;
  p->seq_v = a.seq_v;
  p->seq_k_scales = a.seq_k_scales;
  p->seq_v_scales = a.seq_v_scales;
  p->seq_capacity = a.seq_capacity;
  p->k_scale = a.k_scale;
  p->v_scale = a.v_scale;
  p->num_tokens = a.num_tokens;
  p->num_kv_heads = a.num_kv_heads;
  const unsigned heads_per_block = static_cast<unsigned>(shape.warps);
  plan.grid[0] = static_cast<unsigned>(a.num_tokens);
  plan.grid[1] = (static_cast<unsigned>(a.num_kv_heads) + heads_per_block - 1) / heads_per_block;
  // Checked here rather than left to the driver, whose error would not say which argument was too large.
  if (plan.grid[1] > kMaxGridY)
    return arg_error(spec, fmt::format("num_kv_heads={}: must be at most {}", a.num_kv_heads,
                                       kMaxGridY * heads_per_block));
  plan.block[0] = static_cast<unsigned>(shape.threads());
  return plan;
}

}  // namespace kvjit
