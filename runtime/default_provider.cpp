#include <optional>

#include "cache/module_cache.h"
#include "runtime/artifact_provider.h"

namespace kvjit {
namespace {

// Kernels from the module cache: memory tier, then disk tier (KVJIT_CACHE_DIR, ...), then NVRTC; a cached
// entry that fails to load is evicted from both tiers so the next get() compiles afresh.
class CacheProvider final : public ArtifactProvider {
 public:
  Result<std::shared_ptr<const Artifact>> get(const Spec& spec) override {
    auto entry = ModuleCache::global().get_or_compile(spec);
    if (!entry) return entry.error();
    const Entry& e = **entry;
    auto art = std::make_shared<Artifact>();
    art->key = e.key.hex();
    art->spec = spec;
    art->symbol = e.symbol;
    art->shape = e.shape;
    art->ptx = e.ptx;
    art->cubin = e.cubin;
    return std::shared_ptr<const Artifact>(std::move(art));
  }

  void evict(const Artifact& artifact) override {
    if (std::optional<Key> key = parse_key(artifact.key)) ModuleCache::global().evict(*key);
  }

  std::optional<SelfTestVerdict> find_verdict(const std::string& artifact_key, const std::string& device) override {
    std::optional<Key> key = parse_key(artifact_key);
    return key ? ModuleCache::global().verdict(*key, device) : std::nullopt;
  }

  void record_verdict(const std::string& artifact_key, const std::string& device,
                      const SelfTestVerdict& verdict) override {
    if (std::optional<Key> key = parse_key(artifact_key)) ModuleCache::global().record_verdict(*key, device, verdict);
  }
};

}  // namespace

std::shared_ptr<ArtifactProvider> default_artifact_provider() {
  static const std::shared_ptr<ArtifactProvider> provider = std::make_shared<CacheProvider>();
  return provider;
}

}  // namespace kvjit
