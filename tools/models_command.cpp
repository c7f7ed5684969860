#include <fmt/format.h>

#include "compiler/models.h"
#include "tools/commands.h"

namespace kvjit::cli {

Action add_models_command(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand("models", "List the built-in model presets");
  (void)cmd;
  return [] {
    fmt::print("{:<14} {:>8} {:>8} {:>8} {:>5}  {}\n", "model", "head_dim", "q_heads", "kv_heads", "gqa", "source");
    for (const ModelPreset& m : model_presets())
      fmt::print("{:<14} {:>8} {:>8} {:>8} {:>5}  {}\n", m.name, m.head_dim, m.num_q_heads, m.num_kv_heads, m.gqa(),
                 m.source);
    return kExitOk;
  };
}

}  // namespace kvjit::cli
