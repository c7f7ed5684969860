#include "compiler/models.h"

namespace kvjit {

const std::vector<ModelPreset>& model_presets() {
  // head_dim, attention heads, KV heads as in each checkpoint's config.json (docs/MODELS.md).
  static const std::vector<ModelPreset> presets = {
      {"llama-3-8b", 128, 32, 8, "meta-llama/Meta-Llama-3-8B config.json"},
      {"llama-3-70b", 128, 64, 8, "meta-llama/Meta-Llama-3-70B config.json"},
      {"mistral-7b", 128, 32, 8, "mistralai/Mistral-7B-v0.1 config.json"},
      {"qwen2.5-7b", 128, 28, 4, "Qwen/Qwen2.5-7B config.json"},
      {"gemma-2-9b", 256, 16, 8, "google/gemma-2-9b config.json (head_dim 256)"},
      {"phi-3-mini", 96, 32, 32, "microsoft/Phi-3-mini-4k-instruct config.json (3072 / 32 heads)"},
  };
  return presets;
}

Result<ModelPreset> find_model(std::string_view name) {
  std::string known;
  for (const ModelPreset& m : model_presets()) {
    if (m.name == name) return m;
    known += (known.empty() ? "" : ", ") + std::string(m.name);
  }
  return make_error(ErrorKind::not_found, "model=" + std::string(name) + ": unknown model (known: " + known + ")");
}

std::vector<Spec> model_specs(const ModelPreset& model, const Spec& base) {
  Spec decode = base;
  decode.kind = Kind::decode;
  decode.head_dim = model.head_dim;
  decode.gqa = model.gqa();
  Spec append = decode;
  append.kind = Kind::append;
  return {append, decode};
}

}  // namespace kvjit
