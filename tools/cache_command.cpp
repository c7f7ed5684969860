// kvjit cache: inspect and maintain the module cache directory (see docs/CACHE.md).
//   path | stats | list | verify | clear | prune [--max-bytes N] | explain SPEC, each with --json.
// Everything reported is read from the directory, so it reflects every process that uses the cache.
#include <fmt/format.h>

#include <ctime>
#include <nlohmann/json.hpp>

#include "cache/cache_config.h"
#include "cache/cache_root.h"
#include "cache/disk_maintenance.h"
#include "cache/key.h"
#include "tools/commands.h"

namespace kvjit::cli {
namespace {

using nlohmann::json;

struct CacheOptions {
  bool json = false;
  std::string max_bytes;
  std::string spec;
};

void print_json(const json& j) { fmt::print("{}\n", j.dump(2)); }

std::string format_time(const struct timespec& t) {
  struct tm tm {};
  localtime_r(&t.tv_sec, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

// The root if the cache has a directory that exists; nullopt (after printing why, for errors) otherwise.
// `absent_ok`: a missing or disabled directory is an empty cache, not an error.
struct Opened {
  std::optional<CacheRoot> root;
  int exit_code = kExitOk;
};
Opened open_root(const CacheConfig& config) {
  if (!config.disk_enabled()) return {};
  auto root = CacheRoot::open(posix_file_ops(), config.dir, CacheRoot::Mode::existing);
  if (root) return {std::move(*root), kExitOk};
  if (root.error().kind == ErrorKind::not_found) return {};
  fmt::print(stderr, "kvjit cache: {}\n", root.error().message);
  return {std::nullopt, kExitFailure};
}

int run_path(const CacheOptions& o, const CacheConfig& c) {
  if (o.json) {
    print_json({{"dir", c.dir}, {"source", c.dir_source}, {"enabled", c.disk_enabled()}, {"max_bytes", c.max_bytes}});
  } else if (c.disk_enabled()) {
    fmt::print("{}\n", c.dir);
  } else {
    fmt::print("memory only ({})\n", c.dir_source);
  }
  return kExitOk;
}

int run_stats(const CacheOptions& o, const CacheConfig& c) {
  Opened opened = open_root(c);
  if (opened.exit_code != kExitOk) return opened.exit_code;
  uint64_t entries = 0, bytes = 0, temp_files = 0;
  if (opened.root) {
    for (const StoredEntry& e : scan_entries(*opened.root)) {
      ++entries;
      bytes += e.size;
    }
    std::vector<std::string> names;
    if (opened.root->files().list_dir(opened.root->tmp_dir(), &names) == 0) temp_files = names.size();
  }
  if (o.json) {
    print_json({{"dir", c.dir},         {"source", c.dir_source}, {"enabled", c.disk_enabled()},
                {"entries", entries},   {"bytes", bytes},         {"max_bytes", c.max_bytes},
                {"temp_files", temp_files}});
    return kExitOk;
  }
  fmt::print("dir         {}\n", c.disk_enabled() ? c.dir : "memory only (" + c.dir_source + ")");
  fmt::print("entries     {}\n", entries);
  fmt::print("bytes       {} of {} ({:.1f}%)\n", bytes, c.max_bytes,
             100.0 * static_cast<double>(bytes) / static_cast<double>(c.max_bytes));
  fmt::print("temp files  {}\n", temp_files);
  return kExitOk;
}

json entry_json(const InspectedEntry& e) {
  json j = {{"key", e.stored.key.hex()},   {"path", e.stored.path},        {"bytes", e.stored.size},
            {"last_used", format_time(e.stored.last_used)}, {"last_used_unix", e.stored.last_used.tv_sec},
            {"ok", e.error.empty()}};
  if (e.error.empty()) {
    j["spec"] = e.spec;
    j["ptx_bytes"] = e.ptx_bytes;
    j["cubin_bytes"] = e.cubin_bytes;
  } else {
    j["error"] = e.error;
  }
  return j;
}

int run_list(const CacheOptions& o, const CacheConfig& c) {
  Opened opened = open_root(c);
  if (opened.exit_code != kExitOk) return opened.exit_code;
  std::vector<InspectedEntry> entries;
  if (opened.root) entries = inspect_entries(*opened.root);
  if (o.json) {
    json list = json::array();
    for (const InspectedEntry& e : entries) list.push_back(entry_json(e));
    print_json(list);
    return kExitOk;
  }
  fmt::print("{:<32} {:>9} {:<19} {}\n", "key", "bytes", "last used", "spec");
  for (const InspectedEntry& e : entries)
    fmt::print("{:<32} {:>9} {:<19} {}\n", e.stored.key.hex(), e.stored.size, format_time(e.stored.last_used),
               e.error.empty() ? e.spec : "(bad: " + e.error + ")");
  return kExitOk;
}

int run_verify(const CacheOptions& o, const CacheConfig& c) {
  Opened opened = open_root(c);
  if (opened.exit_code != kExitOk) return opened.exit_code;
  std::vector<InspectedEntry> entries;
  if (opened.root) entries = inspect_entries(*opened.root);
  json bad = json::array();
  for (const InspectedEntry& e : entries)
    if (!e.error.empty()) bad.push_back({{"key", e.stored.key.hex()}, {"path", e.stored.path}, {"error", e.error}});
  if (o.json) {
    print_json({{"entries", entries.size()}, {"bad", bad}});
  } else {
    for (const json& b : bad)
      fmt::print("BAD {} {}: {}\n", b["key"].get<std::string>(), b["path"].get<std::string>(),
                 b["error"].get<std::string>());
    fmt::print("{} entries checked, {} bad\n", entries.size(), bad.size());
  }
  return bad.empty() ? kExitOk : kExitFailure;
}

int run_clear(const CacheOptions& o, const CacheConfig& c) {
  Opened opened = open_root(c);
  if (opened.exit_code != kExitOk) return opened.exit_code;
  ClearReport r;
  if (opened.root) r = clear_entries(*opened.root);
  if (o.json)
    print_json({{"entries", r.entries},
                {"bytes", r.bytes},
                {"temp_files", r.temp_files},
                {"lock_files", r.lock_files},
                {"verdict_files", r.verdict_files}});
  else
    fmt::print("removed {} entries ({} bytes), {} temp files, {} lock files, {} self-test verdicts\n", r.entries,
               r.bytes, r.temp_files, r.lock_files, r.verdict_files);
  return kExitOk;
}

int run_prune(const CacheOptions& o, const CacheConfig& c) {
  uint64_t max_bytes = c.max_bytes;
  if (!o.max_bytes.empty()) {
    auto parsed = parse_byte_size(o.max_bytes);
    if (!parsed) {
      fmt::print(stderr, "kvjit cache prune: --max-bytes '{}' is not a size (e.g. 1073741824, 512M, 2G)\n",
                 o.max_bytes);
      return kExitUsage;
    }
    max_bytes = *parsed;
  }
  Opened opened = open_root(c);
  if (opened.exit_code != kExitOk) return opened.exit_code;
  PruneReport r;
  if (opened.root) r = prune_entries(*opened.root, max_bytes, max_bytes);
  if (o.json)
    print_json({{"max_bytes", max_bytes},         {"evicted", r.evicted},          {"evicted_bytes", r.evicted_bytes},
                {"entries", r.entries_after()}, {"bytes", r.bytes_after()},      {"temp_removed", r.temp_removed}});
  else
    fmt::print("evicted {} entries ({} bytes); {} entries, {} bytes remain (max {}); {} stale temp files removed\n",
               r.evicted, r.evicted_bytes, r.entries_after(), r.bytes_after(), max_bytes, r.temp_removed);
  return kExitOk;
}

int run_explain(const CacheOptions& o) {
  auto spec = parse_spec(o.spec);
  if (!spec) {
    fmt::print(stderr, "kvjit cache explain: {}\n", spec.error().message);
    return kExitUsage;
  }
  auto context = default_key_context();
  if (!context) throw KvjitError(context.error());
  auto inputs = key_inputs(*spec, *context);
  if (!inputs) {
    fmt::print(stderr, "kvjit cache explain: {}\n", inputs.error().message);
    return kExitUsage;
  }
  const auto lines = explain_key(*inputs, context->templates);
  if (o.json) {
    json j = json::array();
    for (const auto& [name, value] : lines) j.push_back({{"input", name}, {"value", value}});
    print_json(j);
  } else {
    for (const auto& [name, value] : lines) fmt::print("{:<28} {}\n", name, value);
  }
  return kExitOk;
}

}  // namespace

Action add_cache_command(CLI::App& app) {
  auto o = std::make_shared<CacheOptions>();
  CLI::App* cmd = app.add_subcommand("cache", "Inspect and maintain the module cache directory");
  cmd->require_subcommand(1);
  struct Sub {
    CLI::App* app;
    std::function<int(const CacheOptions&, const CacheConfig&)> run;
  };
  auto subs = std::make_shared<std::vector<Sub>>();
  auto add = [&](const char* name, const char* help, std::function<int(const CacheOptions&, const CacheConfig&)> run) {
    CLI::App* sub = cmd->add_subcommand(name, help);
    sub->add_flag("--json", o->json, "Print JSON");
    subs->push_back({sub, std::move(run)});
    return sub;
  };
  add("path", "Print the cache directory (or why there is none)", run_path);
  add("stats", "Entries and bytes on disk", run_stats);
  add("list", "Every entry with its spec, size and last use", run_list);
  add("verify", "Check every entry's header and checksum; exit 1 if any is bad", run_verify);
  add("clear", "Remove every entry, temporary file and lock file", run_clear);
  CLI::App* prune = add("prune", "Evict least recently used entries down to the size bound; sweep stale temp files",
                        run_prune);
  prune->add_option("--max-bytes", o->max_bytes, "Bound in bytes, K/M/G suffixes allowed (default: "
                                                  "KVJIT_CACHE_MAX_BYTES or 1G)");
  CLI::App* explain = add("explain", "List every input hashed into a spec's cache key",
                          [](const CacheOptions& opts, const CacheConfig&) { return run_explain(opts); });
  explain->add_option("spec", o->spec, "Kernel spec, e.g. 'decode:hd=128,gqa=4,arch=sm_90'")->required();
  return [o, subs] {
    const CacheConfig config = cache_config_from_env();
    for (const std::string& w : config.warnings) fmt::print(stderr, "kvjit cache: {}\n", w);
    for (const Sub& s : *subs)
      if (s.app->parsed()) return s.run(*o, config);
    return kExitUsage;
  };
}

}  // namespace kvjit::cli
