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

// Partitions per sequence: enough CTAs for two waves over `sm_count` SMs, at least 256 tokens each.
int choose_splits(const Spec& spec, const LaunchShape& shape, int batch, int num_kv_heads, int max_seq_len,
                  int sm_count);

// sm_count: the device's SM count (for choose_splits).
Result<LaunchPlan> plan_decode(const Spec& spec, const LaunchShape& shape, const DecodeArgs& args, int sm_count,
                               DecodeParams* params);
Result<LaunchPlan> plan_append(const Spec& spec, const LaunchShape& shape, const AppendArgs& args,
                               AppendParams* params);

}  // namespace kvjit
