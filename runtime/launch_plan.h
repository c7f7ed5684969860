// Host-side checks and the kernel parameters / grid for one launch. Pure functions of (spec, shape, args):
// no driver, no allocation, testable on any machine.
#pragma once

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

Result<LaunchPlan> plan_decode(const Spec& spec, const LaunchShape& shape, const DecodeArgs& args,
                               DecodeParams* params);
Result<LaunchPlan> plan_append(const Spec& spec, const LaunchShape& shape, const AppendArgs& args,
                               AppendParams* params);

}  // namespace kvjit
