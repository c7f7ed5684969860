// Where the runtime gets compiled kernels from. The module cache implements it for the product; tests
// plug in doubles (a provider that first hands out a corrupt cubin, say) to exercise self-healing.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cache/verdict_store.h"
#include "compiler/compiled_kernel.h"
#include "compiler/launch_shape.h"
#include "compiler/result.h"
#include "compiler/spec.h"

namespace kvjit {

struct Artifact {
  std::string key;  // identifies the entry to evict when it fails to load
  Spec spec;        // concrete arch
  std::string symbol;
  // The CTA shape the kernel was built for: its __launch_bounds__ must be shape.bound_threads(), as the
  // specializer emits it. load_module refuses a kernel whose thread bound differs (one built for another shape).
  LaunchShape shape;
  std::string ptx;
  std::vector<unsigned char> cubin;
};

class ArtifactProvider {
 public:
  virtual ~ArtifactProvider() = default;
  // Compiles at most once per spec, however many threads ask (the provider's promise).
  virtual Result<std::shared_ptr<const Artifact>> get(const Spec& spec) = 0;
  // The entry failed to load: drop it so that the next get() compiles afresh.
  virtual void evict(const Artifact& artifact) = 0;
  // Self-test verdicts of an artifact's kernel per device (runtime/self_test.h), kept with its cache entry.
  // A provider without a store keeps none: every process tests again.
  virtual std::optional<SelfTestVerdict> find_verdict(const std::string& /*artifact_key*/,
                                                      const std::string& /*device*/) {
    return std::nullopt;
  }
  virtual void record_verdict(const std::string& /*artifact_key*/, const std::string& /*device*/,
                              const SelfTestVerdict& /*verdict*/) {}
};

// Kernels kept in memory only (single-flight per spec). `compile` makes them: by default compile_spec (the
// spec's backend); tests pass one that reads prebuilt PTX (a backend this program does not link).
using SpecCompiler = std::function<Result<CompiledKernel>(const Spec&)>;
std::shared_ptr<ArtifactProvider> make_memory_provider(SpecCompiler compile = nullptr);

}  // namespace kvjit

namespace kvjit {
// The provider an Engine uses when given none: the module cache (memory + disk tiers), one per process.
std::shared_ptr<ArtifactProvider> default_artifact_provider();
}  // namespace kvjit
