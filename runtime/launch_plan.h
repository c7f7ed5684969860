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
  DeviceSlots(int sms, int ctas = 1) : sm_count(sms), ctas_per_sm(ctas) {}  // NOLINT: an SM count converts
  int sm_count;
  int ctas_per_sm;
  long long slots() const;
};

// Partitions per sequence (each at least 256 tokens, at most kAutoMaxSplits). The grid runs in waves of device.slots() CTAs and the
// last wave is usually partial: at batch 64 on an H100, 512 CTAs over 396 slots left 35% of the second wave's
// SM time idle. No split where one partition per sequence already fills 80% of its waves; otherwise, of the
// split counts allowed, the fewest within 3% of the best fill.
int choose_splits(const Spec& spec, const LaunchShape& shape, int batch, int num_kv_heads, int max_seq_len,
                  DeviceSlots device);

// Bytes of workspace that let every launch of up to `batch` sequences take the partitions choose_splits
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
