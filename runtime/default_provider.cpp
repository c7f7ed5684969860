#include "runtime/artifact_provider.h"

namespace kvjit {

std::shared_ptr<ArtifactProvider> default_artifact_provider() {
  static const std::shared_ptr<ArtifactProvider> provider = make_memory_provider();
  return provider;
}

}  // namespace kvjit
