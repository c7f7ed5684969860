// Numerics self-test of one decode variant on the current device: quantize random K/V with the spec's append
// kernel, decode, and compare with exact attention (double precision, on the host) over the bytes the append
// kernel wrote. It checks the decode kernel's own error; the format's quantization error is the same for any
// kernel (docs/ACCURACY.md).
//
// Opt-in at run time with KVJIT_SELFTEST=1: Engine::get then checks each decode variant the first time it is
// loaded, and a failing variant is an error, never served. The verdict is kept with the kernel's cache entry
// per device (cache/verdict_store.h), so later processes on the same device take it instead of testing again.
// `kvjit precompile --selftest` runs the test on every decode kernel it compiles (with a GPU) and records it.
#pragma once

#include <string>

#include "compiler/result.h"
#include "compiler/spec.h"

namespace kvjit {

class Engine;
class Kernel;

struct SelfTestResult {
  bool ran = false;        // false: the variant has no self-test; `note` says why
  bool passed = false;
  double rel_l2 = 0.0;     // decode output vs exact attention over the stored bytes
  double budget = 0.0;
  std::string note;
  bool recorded = false;   // the verdict was recorded for this device earlier (Engine::self_test), not run now
};

// The self-test's version, kept in each recorded verdict: bumped whenever what the test runs or how it judges
// changes, so verdicts of an older harness are tested again rather than trusted.
inline constexpr int kSelfTestHarness = 2;

// Whether this build has a self-test for the variant (every decode variant; append is checked through it).
bool self_test_covers(const Spec& decode_spec);

// Relative L2 error budget of a decode variant against exact attention over its stored bytes.
double self_test_budget(const Spec& decode_spec);

// KVJIT_SELFTEST is set to 1.
bool self_test_enabled();

// Runs the test for `decode` (a loaded decode kernel of `engine`); the append kernel of the same format comes
// from `engine` too. Errors: no GPU, a failed launch or allocation.
Result<SelfTestResult> run_self_test(Engine& engine, const Kernel& decode);

}  // namespace kvjit
