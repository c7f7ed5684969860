// Built-in model presets: the attention shapes of common models, expanded into the kernels they need.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "compiler/spec.h"

namespace kvjit {

struct ModelPreset {
  std::string_view name;
  int head_dim;
  int num_q_heads;
  int num_kv_heads;
  std::string_view source;  // where the numbers come from (config.json of the released checkpoint)
  int gqa() const { return num_q_heads / num_kv_heads; }
};

const std::vector<ModelPreset>& model_presets();
Result<ModelPreset> find_model(std::string_view name);

// The append and decode specs a model needs, with the other fields taken from `base`.
std::vector<Spec> model_specs(const ModelPreset& model, const Spec& base);

}  // namespace kvjit
