// Host-side checks and the kernel parameters / grid for one launch. Pure functions of (spec, shape, args):
// no driver, no allocation, testable on any machine.
#pragma once

#include <cstddef>

#include "compiler/launch_shape.h"
#include "compiler/result.h"
#include "runtime/launch_args.h"
#include "templates/kvjit/params.cuh"

namespace kvjit {

struct LaunchPlan {
  unsigned grid[3] = {1, 1, 1};
  unsigned block[3] = {1, 1, 1};
  unsigned shared_bytes = 0;  // dynamic shared memory: a kernel of two CTA sizes takes its CTA's (LaunchShape)
  bool empty = false;  // nothing to do (e.g. zero tokens to append): no launch
  // Launch with programmatic stream serialization (DecodeArgs::pdl, where the kernel waits for the grid
  // before it: uses_grid_dependency). The launch falls back to a plain one where the driver lacks the entry.
  bool programmatic = false;
};

// kMaxSplits, the most KV partitions a split launch uses, is in params.cuh: the kernels' merge relies on it.
// The launch's own choice stops lower: on an H100 (hd 128, gqa 4, one sequence over 8 KV heads) 32
// partitions were as fast as 49 and faster than 64 at 16K and 32K tokens, as each partition adds fixed
// costs (its Q load and page lookups, its partial write, a share of the merge) that filling the last
// CTA slots does not repay (docs/PERFORMANCE.md).
inline constexpr int kAutoMaxSplits = 32;

// Bytes of split-KV workspace for a batch with num_splits partitions per sequence (see SplitWorkspace in
// templates/kvjit/decode_finish.cuh).
size_t decode_workspace_bytes(const Spec& spec, const LaunchShape& shape, int batch, int num_kv_heads,
                              int num_splits = kMaxSplits);

// Where a launch's CTAs run: SMs times the CTAs of this kernel one SM holds at once (the driver's occupancy
// for the loaded kernel). An SM count alone counts one CTA per SM.
struct DeviceSlots {
  DeviceSlots(int sms, int ctas = 1, int wide_ctas = 0)  // NOLINT: an SM count converts
      : sm_count(sms), ctas_per_sm(ctas), wide_ctas_per_sm(wide_ctas) {}
  int sm_count;
  int ctas_per_sm;
  int wide_ctas_per_sm;  // CTAs of the shape's wide_warps an SM holds; 0: none (the shape has no second size)
  long long slots() const;
  // The slots of the second CTA size.
  DeviceSlots wide() const { return DeviceSlots(sm_count, wide_ctas_per_sm); }
};

// Partitions per sequence (each at least 256 tokens, at most kAutoMaxSplits). The grid runs in waves of device.slots() CTAs and the
// last wave is usually partial: at batch 64 on an H100, 512 CTAs over 396 slots left 35% of the second wave's
// SM time idle. No split where one partition per sequence already fills 80% of its waves; otherwise, of the
// split counts allowed, the fewest within 3% of the best fill.
int choose_splits(const Spec& spec, const LaunchShape& shape, int batch, int num_kv_heads, int max_seq_len,
                  DeviceSlots device);

// The CTA size of a launch whose kernel runs two (shape.wide_warps > 0): shape.warps or shape.wide_warps,
// whichever fits the grid to its own waves better. The two hold the same warps an SM (3 CTAs of 4 or 2 of 6
// at head_dim 128 on an H100) but not the same CTAs, so one batch fills the last wave of one size and leaves
// the other's a third idle: at 64 x 4096 512 CTAs fill 264 slots in 1.94 waves but 396 in 1.29, where 4 warps
// split 3 ways and pay the merge (docs/PERFORMANCE.md §3j). If either size fills at least 80% of its waves
// with one partition a sequence, the one that fills more (a tie: shape.warps); otherwise the one whose split
// choice (choose_splits) is smaller, fewer partitions to merge (a tie: the better fill at that choice). This
// picked the faster size at all 17 e4m3 shapes measured with both on an H100. `max_seq_len` as for
// choose_splits; 0 (no workspace) compares one partition.
int choose_cta_warps(const Spec& spec, const LaunchShape& shape, int batch, int num_kv_heads, int max_seq_len,
                     DeviceSlots device);

// A launch's automatic choices: its CTA size, then its partitions for that size.
struct DecodeGrid {
  int warps = 4;
  int splits = 1;
};
DecodeGrid choose_decode_grid(const Spec& spec, const LaunchShape& shape, int batch, int num_kv_heads,
                              int max_seq_len, DeviceSlots device);

// Bytes of workspace that let every launch of up to `batch` sequences take the partitions choose_decode_grid
// gives it on this device, whatever the sequence lengths, one launch after another in the same workspace.
// Smaller batches split more, so the partial region is the largest over batch sizes 1..batch (far below
// `batch` sequences at kMaxSplits each), and the merge counters of `batch` sequences follow it.
size_t decode_workspace_bytes_for_device(const Spec& spec, const LaunchShape& shape, int batch, int num_kv_heads,
                                         DeviceSlots device);

Result<LaunchPlan> plan_decode(const Spec& spec, const LaunchShape& shape, const DecodeArgs& args,
                               DeviceSlots device, DecodeParams* params);
Result<LaunchPlan> plan_append(const Spec& spec, const LaunchShape& shape, const AppendArgs& args,
                               AppendParams* params);

}  // namespace kvjit
