// kvjit dump: compile specs and write everything needed to inspect them.
#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "cache/module_cache.h"
#include "compiler/backend.h"
#include "compiler/models.h"
#include "tools/commands.h"

namespace kvjit::cli {
namespace {

namespace fs = std::filesystem;

struct DumpOptions {
  std::vector<std::string> specs;
  std::string out_dir = "kvjit-dump";
  std::string model;
  std::string kv = "f16";
  std::string arch = "sm_90";
  std::string backend;  // empty: as each spec says (default nvrtc)
  int jobs = 0;
};

void write_file(const fs::path& path, const void* data, size_t size) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
  if (!out) throw KvjitError(make_error(ErrorKind::io, "cannot write " + path.string()));
}
void write_text(const fs::path& path, const std::string& text) { write_file(path, text.data(), text.size()); }

bool on_path(const char* tool) {
  const char* path = std::getenv("PATH");
  if (path == nullptr) return false;
  std::string_view rest(path);
  while (!rest.empty()) {
    const size_t colon = rest.find(':');
    const fs::path candidate = fs::path(std::string(rest.substr(0, colon))) / tool;
    if (access(candidate.c_str(), X_OK) == 0) return true;
    rest = colon == std::string_view::npos ? std::string_view{} : rest.substr(colon + 1);
  }
  return false;
}

// The exact compiler build, as the cache key names it.
std::string backend_identity(const Spec& spec) {
  auto ops = find_backend(spec.backend);
  return ops ? ops->identity() : std::string(to_string(spec.backend));
}

nlohmann::json report_json(const CompiledKernel& k) {
  return {{"spec", to_string(k.spec)},
          {"symbol", k.symbol},
          {"backend", backend_identity(k.spec)},
          {"options", k.options},
          {"compile_ms", k.compile_ms},
          {"registers", k.resources.registers},
          {"shared_bytes", k.resources.shared_bytes},
          {"stack_bytes", k.resources.stack_bytes},
          {"spill_store_bytes", k.resources.spill_store_bytes},
          {"spill_load_bytes", k.resources.spill_load_bytes},
          {"threads_per_cta", k.shape.threads()},
          {"wide_threads_per_cta", 32 * k.shape.wide_warps},
          {"dynamic_shared_bytes", k.shape.dynamic_shared_bytes(k.spec, k.shape.warps)},
          {"wide_dynamic_shared_bytes", k.shape.dynamic_shared_bytes(k.spec, k.shape.wide_warps)},
          {"heads_per_cta", k.shape.heads_per_cta},
          {"ptx_bytes", k.ptx.size()},
          {"cubin_bytes", k.cubin.size()}};
}

void write_dump(const fs::path& dir, const SpecializedSource& src, const CompiledKernel& k) {
  const fs::path stem = dir / file_stem(k.spec);
  write_text(stem.string() + ".cu", src.source);
  write_text(stem.string() + ".ptx", k.ptx);
  write_text(stem.string() + ".log", k.log);
  write_text(stem.string() + ".json", report_json(k).dump(2) + "\n");
  // backend=llvm makes PTX only: the driver's JIT makes the cubin at load time.
  if (k.cubin.empty()) return;
  write_file(stem.string() + ".cubin", k.cubin.data(), k.cubin.size());
  const char* disassembler = on_path("cuobjdump") ? "cuobjdump -sass" : on_path("nvdisasm") ? "nvdisasm" : nullptr;
  if (disassembler != nullptr) {
    const std::string cmd = fmt::format("{} '{}.cubin' > '{}.sass' 2>/dev/null", disassembler, stem.string(), stem.string());
    if (std::system(cmd.c_str()) != 0) fs::remove(stem.string() + ".sass");
  }
}

// Writes the templates next to the .cu files so a dump recompiles as is (nvcc -I DIR).
void write_templates(const fs::path& dir, const TemplateSet& templates) {
  for (size_t i = 0; i < templates.names.size(); ++i) {
    const fs::path path = dir / templates.names[i];
    fs::create_directories(path.parent_path());
    write_text(path, templates.texts[i]);
  }
}

// Specs from the command line that leave arch=auto get --arch: a dump compiles for a concrete target.
Result<std::vector<Spec>> collect_specs(const DumpOptions& o) {
  auto arch = parse_arch(o.arch);
  if (!arch) return arch.error();
  std::optional<Backend> backend;
  if (!o.backend.empty()) {
    for (Backend b : {Backend::nvrtc, Backend::llvm})
      if (to_string(b) == o.backend) backend = b;
    if (!backend) return make_error(ErrorKind::invalid_spec, "--backend=" + o.backend + ": must be one of nvrtc, llvm");
  }
  std::vector<Spec> specs;
  for (const std::string& text : o.specs) {
    auto spec = parse_spec(text);
    if (!spec) return spec.error();
    if (spec->arch.is_auto()) spec->arch = *arch;
    specs.push_back(*spec);
  }
  if (!o.model.empty()) {
    auto model = find_model(o.model);
    if (!model) return make_error(ErrorKind::invalid_spec, model.error().message);
    auto base = parse_spec(fmt::format("decode:kv={},arch={}", o.kv, o.arch));
    if (!base) return base.error();
    for (const Spec& s : model_specs(*model, *base)) specs.push_back(s);
  }
  if (specs.empty()) return make_error(ErrorKind::invalid_spec, "nothing to dump: give SPEC... or --model NAME");
  if (backend)
    for (Spec& s : specs) s.backend = *backend;
  // A backend this program lacks is a usage error before anything compiles, like a spec with no template.
  for (const Spec& s : specs)
    if (auto ops = find_backend(s.backend); !ops) return make_error(ErrorKind::invalid_spec, ops.error().message);
  return specs;
}

// Specializes every spec before anything compiles, so that a spec no template can serve is a usage error
// (exit 2) reported up front, like a spec that does not parse, rather than one failed row among compiles.
// Prints each such spec with its reason; returns false if there was one.
bool specialize_all(const std::vector<Spec>& specs, std::vector<Result<SpecializedSource>>& sources) {
  bool all_valid = true;
  for (const Spec& spec : specs) {
    sources.push_back(specialize(spec));
    if (sources.back() || sources.back().error().kind != ErrorKind::invalid_spec) continue;
    fmt::print(stderr, "kvjit dump: {}: {}\n", to_string(spec), sources.back().error().message);
    all_valid = false;
  }
  return all_valid;
}

int run_dump(const DumpOptions& o) {
  auto specs = collect_specs(o);
  if (!specs) {
    fmt::print(stderr, "kvjit dump: {}\n", specs.error().message);
    return kExitUsage;
  }
  std::vector<Result<SpecializedSource>> sources;
  if (!specialize_all(*specs, sources)) return kExitUsage;
  auto templates = load_templates();
  if (!templates) {
    fmt::print(stderr, "kvjit dump: {}\n", templates.error().message);
    return kExitFailure;
  }
  const fs::path dir(o.out_dir);
  fs::create_directories(dir);
  write_templates(dir, *templates);

  const size_t n = specs->size();
  std::vector<std::optional<Result<CompiledKernel>>> results(n);
  // Through the module cache, like every other way in: a dump fills the cache, and a spec compiled before
  // (by precompile, an engine, an earlier dump) is read back instead of compiled again.
  ModuleCache& cache = ModuleCache::global();
  cache.set_missing_kernel_policy(MissingKernelPolicy::compile);  // compiling is what a dump is for
  const CompileFn compile = cache.default_compiler();
  std::vector<char> cache_hit(n, 0);
  std::atomic<size_t> next{0};
  const int jobs = o.jobs > 0 ? o.jobs : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::vector<std::thread> pool;
  for (int t = 0; t < std::min<int>(jobs, static_cast<int>(n)); ++t)
    pool.emplace_back([&] {
      for (size_t i = next++; i < n; i = next++) {
        if (!sources[i].ok()) {
          results[i] = sources[i].error();
          continue;
        }
        bool compiled = false;
        auto entry = cache.get_or_compile((*specs)[i], [&](const Spec& s) {
          compiled = true;
          return compile(s);
        });
        results[i] = entry ? to_compiled_kernel(**entry) : Result<CompiledKernel>(entry.error());
        cache_hit[i] = entry && !compiled;
      }
    });
  for (std::thread& t : pool) t.join();

  int failed = 0;
  fmt::print("{:<76} {:>10} {:>5} {:>7} {:>7} {:>6}\n", "spec", "compile_ms", "regs", "smem", "spills", "cache");
  for (size_t i = 0; i < n; ++i) {
    const Result<CompiledKernel>& r = *results[i];
    if (!r) {
      ++failed;
      // Keep the specialized source of a failed compile: the error points into it.
      if (sources[i].ok())
        write_text((dir / file_stem((*specs)[i])).string() + ".cu", sources[i].value().source);
      fmt::print("{:<76} {:>10}\n", to_string((*specs)[i]), "FAILED");
      fmt::print(stderr, "kvjit dump: {}\n", r.error().message);
      continue;
    }
    write_dump(dir, sources[i].value(), *r);
    const ResourceReport& res = r->resources;
    // -1: not reported (backend=llvm has no ptxas report; the driver JIT assembles its PTX).
    const int spills = res.spill_store_bytes < 0 ? -1 : res.spill_store_bytes + res.spill_load_bytes;
    fmt::print("{:<76} {:>10.1f} {:>5} {:>7} {:>7} {:>6}\n", to_string(r->spec), r->compile_ms, res.registers,
               res.shared_bytes, spills, cache_hit[i] ? "hit" : "miss");
  }
  fmt::print("wrote {} kernel(s) to {}{}\n", n - failed, dir.string(), failed ? fmt::format(", {} failed", failed) : "");
  return failed ? kExitFailure : kExitOk;
}

}  // namespace

Action add_dump_command(CLI::App& app) {
  auto o = std::make_shared<DumpOptions>();
  CLI::App* cmd = app.add_subcommand("dump", "Compile specs and write .cu, .ptx, .cubin, .log, .json (and .sass)");
  cmd->add_option("spec", o->specs, "Kernel specs, e.g. 'decode:hd=128,page=16,gqa=4,kv=f16,q=f16,arch=sm_90'");
  cmd->add_option("-o,--out", o->out_dir, "Output directory")->capture_default_str();
  cmd->add_option("--model", o->model, "Also dump the kernels of a built-in model preset (kvjit models)");
  cmd->add_option("--kv", o->kv, "KV dtype for --model")->capture_default_str();
  cmd->add_option("--arch", o->arch, "Target arch for --model and for specs that leave arch=auto")
      ->capture_default_str();
  cmd->add_option("--backend", o->backend,
                  "Compiler for every spec: nvrtc (PTX + cubin) or llvm (PTX only; overrides backend= in SPEC)");
  cmd->add_option("-j,--jobs", o->jobs, "Parallel compiles (default: CPU count)");
  return [o] { return run_dump(*o); };
}

}  // namespace kvjit::cli
