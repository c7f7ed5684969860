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
};

// Most KV partitions a split launch uses (the workspace is sized for this many).
inline constexpr int kMaxSplits = 32;

// Bytes of split-KV workspace for a batch (see SplitWorkspace in templates/kvjit/decode.cuh).
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

// Partitions per sequence (each at least 256 tokens). The grid runs in waves of device.slots() CTAs and the
// last wave is usually partial: at batch 64 on an H100, 512 CTAs over 396 slots left 35% of the second wave's
// SM time idle. No split where one partition per sequence already fills 80% of its waves; otherwise, of the
// split counts allowed, the fewest within 3% of the best fill.
int choose_splits(const Spec& spec, const LaunchShape& shape, int batch, int num_kv_heads, int max_seq_len,
                  DeviceSlots device);

Result<LaunchPlan> plan_decode(const Spec& spec, const LaunchShape& shape, const DecodeArgs& args,
                               DeviceSlots device, DecodeParams* params);
Result<LaunchPlan> plan_append(const Spec& spec, const LaunchShape& shape, const AppendArgs& args,
                               AppendParams* params);

}  // namespace kvjit
