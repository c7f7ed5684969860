// Self-test verdicts (runtime/self_test.h) kept with the module cache's entries: one small JSON file per entry
// key, <root>/verdicts/<key hex>.json, mapping each device the entry's kernel was checked on (name, arch,
// driver) to the verdict that numerics check gave there. With KVJIT_SELFTEST=1 a new process then serves a
// variant tested before on the same device without running the test again, and refuses one that failed.
//
// A verdict file is evidence, not code: a missing, unreadable, oversized or malformed file (or one written for
// another key) reads as "not tested here yet", and the test runs again. Writes are atomic (tmp + rename); two
// processes recording different devices at once may lose one of the two, which costs only a re-test.
#pragma once

#include <optional>
#include <string>

#include "cache/cache_root.h"
#include "cache/key.h"
#include "compiler/result.h"

namespace kvjit {

struct SelfTestVerdict {
  bool passed = false;
  double rel_l2 = 0.0;  // the kernel's output against exact attention over its stored bytes (inf: non-finite)
  double budget = 0.0;
  std::string note;  // what failed, when it did
  int harness = 0;   // the self-test's version (runtime/self_test.h): one of another version is not reused
  bool operator==(const SelfTestVerdict&) const = default;
};

// <root>/verdicts: made on the first store.
std::string verdicts_dir(const CacheRoot& root);
std::string verdict_path(const CacheRoot& root, const Key& key);

// The verdict recorded for `device`, or nullopt (none, or a file that cannot be trusted: also a verdict whose
// `passed` disagrees with its own rel_l2 and budget).
std::optional<SelfTestVerdict> load_verdict(const CacheRoot& root, const Key& key, const std::string& device);

// Records (replaces) the verdict for `device`, keeping those of other devices.
Status store_verdict(const CacheRoot& root, const Key& key, const std::string& device, const SelfTestVerdict& verdict);

// Drops every verdict of the key (its entry was evicted or cleared).
void remove_verdicts(const CacheRoot& root, const Key& key);

}  // namespace kvjit
