// kvjit precompile: compile every kernel a deployment needs into the module cache (and optionally a bundle),
// in parallel, before any request needs one. See docs/PRECOMPILE.md.
#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "cache/bundle.h"
#include "cache/module_cache.h"
#include "compiler/specializer.h"
#include "runtime/engine.h"
#include "runtime/self_test.h"
#include "tools/commands.h"
#include "tools/progress.h"
#include "tools/spec_sources.h"

namespace kvjit::cli {
namespace {

using Clock = std::chrono::steady_clock;

struct PrecompileOptions {
  SpecSources sources;
  int jobs = 0;
  std::string bundle;
  bool json = false;
  bool selftest = false;
};

struct Outcome {
  enum class Kind { compiled, cached, failed } kind = Kind::failed;
  std::shared_ptr<const Entry> entry;
  std::string error;
};

std::string_view kind_name(Outcome::Kind k) {
  return k == Outcome::Kind::compiled ? "compiled" : k == Outcome::Kind::cached ? "cached" : "failed";
}

// Every spec must specialize (a concrete arch, a template that exists) before anything compiles.
bool check_specializable(const std::vector<Spec>& specs) {
  bool ok = true;
  for (const Spec& spec : specs) {
    auto src = specialize(spec);
    if (src || src.error().kind != ErrorKind::invalid_spec) continue;
    fmt::print(stderr, "kvjit precompile: {}: {}\n", to_string(spec), src.error().message);
    ok = false;
  }
  return ok;
}

// One compile through the cache; `compiled` tells a cache hit from a compile (each spec is asked for once).
Outcome precompile_one(ModuleCache& cache, const Spec& spec) {
  std::atomic<bool> compiled{false};
  const CompileFn compile = cache.default_compiler();
  auto entry = cache.get_or_compile(spec, [&](const Spec& s) {
    compiled = true;
    return compile(s);
  });
  if (!entry) return {Outcome::Kind::failed, nullptr, entry.error().message};
  return {compiled ? Outcome::Kind::compiled : Outcome::Kind::cached, *entry, {}};
}

struct Summary {
  size_t compiled = 0, cached = 0, failed = 0;
  double wall_s = 0, compile_s = 0;
};

Summary summarize(const std::vector<Outcome>& outcomes, double wall_s) {
  Summary s;
  s.wall_s = wall_s;
  for (const Outcome& o : outcomes) {
    if (o.kind == Outcome::Kind::compiled) {
      ++s.compiled;
      s.compile_s += o.entry->compile_ms / 1000.0;
    }
    s.cached += o.kind == Outcome::Kind::cached;
    s.failed += o.kind == Outcome::Kind::failed;
  }
  return s;
}

Status write_bundle_of(const std::string& path, const std::vector<Outcome>& outcomes) {
  std::vector<Entry> entries;
  for (const Outcome& o : outcomes) entries.push_back(*o.entry);
  return write_bundle(path, entries);
}

nlohmann::json to_json(const std::vector<Spec>& specs, const std::vector<Outcome>& outcomes, const Summary& s,
                       const PrecompileOptions& o, int jobs) {
  nlohmann::json kernels = nlohmann::json::array();
  for (size_t i = 0; i < specs.size(); ++i) {
    const Outcome& out = outcomes[i];
    nlohmann::json k = {{"spec", to_string(specs[i])}, {"result", kind_name(out.kind)}};
    if (out.entry) {
      k["key"] = out.entry->key.hex();
      k["compile_ms"] = out.entry->compile_ms;
    } else {
      k["error"] = out.error;
    }
    kernels.push_back(std::move(k));
  }
  nlohmann::json j = {{"kernels", kernels}, {"total", specs.size()}, {"compiled", s.compiled},   {"cached", s.cached},
                      {"failed", s.failed}, {"wall_s", s.wall_s},    {"compile_s", s.compile_s}, {"jobs", jobs}};
  if (!o.bundle.empty()) j["bundle"] = o.bundle;
  return j;
}

// --selftest: each decode kernel's numerics check on this machine's GPU (runtime/self_test.h), run afresh and
// recorded with its cache entry for KVJIT_SELFTEST=1 processes. Kernels for an arch newer than the device's
// cannot run here and are reported as skipped. Returns false if any failed.
bool self_test_all(const std::vector<Spec>& specs, bool quiet) {
  auto device = current_device_context();
  if (!device) {
    fmt::print(stderr, "kvjit precompile: --selftest needs a GPU: {}\n", device.error().message);
    return false;
  }
  // Every kernel is tested here, afresh: Engine::get must not also test it (or refuse it on an old record).
  unsetenv("KVJIT_SELFTEST");
  Engine engine;
  int passed = 0, failed = 0, skipped = 0;
  for (const Spec& spec : specs) {
    if (spec.kind != Kind::decode) continue;
    std::string line;
    if (spec.arch.sm > device->arch.sm) {
      ++skipped;
      line = fmt::format("skipped {}: arch newer than the device's {}", to_string(spec), to_string(device->arch));
    } else if (auto kernel = engine.get(spec); !kernel) {
      ++failed;
      line = fmt::format("FAILED  {}: {}", to_string(spec), kernel.error().message);
    } else if (auto verdict = engine.self_test(**kernel, /*recorded_ok=*/false); !verdict) {
      ++failed;
      line = fmt::format("FAILED  {}: {}", to_string(spec), verdict.error().message);
    } else if (!verdict->ran) {
      ++skipped;
      line = "skipped " + verdict->note;
    } else {
      ++(verdict->passed ? passed : failed);
      line = (verdict->passed ? "passed  " : "FAILED  ") + verdict->note;
    }
    if (!quiet || line.rfind("FAILED", 0) == 0) fmt::print("selftest {}\n", line);
  }
  fmt::print("selftest: {} passed, {} failed, {} skipped\n", passed, failed, skipped);
  return failed == 0;
}

int run_precompile(const PrecompileOptions& o) {
  auto collected = collect_specs(o.sources);
  if (!collected) {
    fmt::print(stderr, "kvjit precompile: {}\n", collected.error().message);
    return collected.error().kind == ErrorKind::invalid_spec ? kExitUsage : kExitFailure;
  }
  const std::vector<Spec>& specs = collected->specs;
  if (!check_specializable(specs)) return kExitUsage;
  for (const std::string& note : collected->notes) fmt::print(stderr, "kvjit precompile: note: {}\n", note);

  ModuleCache& cache = ModuleCache::global();
  cache.set_missing_kernel_policy(MissingKernelPolicy::compile);  // making kernels is this command's job
  if (!cache.disk_enabled() && o.bundle.empty())
    fmt::print(stderr,
               "kvjit precompile: no disk cache ({}): the kernels will not outlive this process; "
               "give --bundle\n",
               cache.config().dir_source);

  const int jobs = o.jobs > 0 ? o.jobs : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  Progress progress(specs.size(), o.json                  ? Progress::Style::quiet
                                  : isatty(STDOUT_FILENO) ? Progress::Style::bar
                                                          : Progress::Style::lines);
  std::vector<Outcome> outcomes(specs.size());
  std::atomic<size_t> next{0};
  const auto start = Clock::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < std::min<int>(jobs, static_cast<int>(specs.size())); ++t)
    pool.emplace_back([&] {
      for (size_t i = next++; i < specs.size(); i = next++) {
        outcomes[i] = precompile_one(cache, specs[i]);
        const Outcome& out = outcomes[i];
        progress.done(to_string(specs[i]), kind_name(out.kind), out.entry ? out.entry->compile_ms : 0.0, out.error);
      }
    });
  for (std::thread& t : pool) t.join();
  progress.finish();
  const Summary s = summarize(outcomes, std::chrono::duration<double>(Clock::now() - start).count());

  std::string bundle_note;
  if (!o.bundle.empty() && s.failed == 0) {
    if (auto written = write_bundle_of(o.bundle, outcomes); !written) {
      fmt::print(stderr, "kvjit precompile: cannot write bundle {}: {}\n", o.bundle, written.error().message);
      return kExitFailure;
    }
    bundle_note = fmt::format("; bundle {} ({} kernels)", o.bundle, specs.size());
  } else if (!o.bundle.empty()) {
    bundle_note = fmt::format("; bundle {} not written: {} failed", o.bundle, s.failed);
  }
  if (o.json) {
    fmt::print("{}\n", to_json(specs, outcomes, s, o, jobs).dump(2));
  } else {
    fmt::print("{} kernels: {} compiled, {} already cached, {} failed; wall {:.2f} s, compile {:.2f} s (-j {}){}\n",
               specs.size(), s.compiled, s.cached, s.failed, s.wall_s, s.compile_s, jobs, bundle_note);
  }
  if (s.failed != 0) return kExitFailure;
  if (o.selftest && !self_test_all(specs, o.json)) return kExitFailure;
  return kExitOk;
}

}  // namespace

Action add_precompile_command(CLI::App& app) {
  auto o = std::make_shared<PrecompileOptions>();
  CLI::App* cmd = app.add_subcommand("precompile", "Compile the kernels a deployment needs into the module cache");
  add_spec_source_options(cmd, o->sources);
  cmd->add_option("-j,--jobs", o->jobs, "Parallel compiles (default: CPU count)");
  cmd->add_option("--bundle", o->bundle, "Also write every kernel into this bundle file (.kvjb), atomically");
  cmd->add_flag("--json", o->json, "Print the results as JSON instead of progress and a summary");
  cmd->add_flag("--selftest", o->selftest,
                "Then run each decode kernel's numerics self-test on this machine's GPU (fails without one)");
  return [o] { return run_precompile(*o); };
}

}  // namespace kvjit::cli
