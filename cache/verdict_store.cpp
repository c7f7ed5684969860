#include "cache/verdict_store.h"

#include <sys/stat.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "cache/atomic_file.h"
#include "cache/entry_file.h"

namespace kvjit {
namespace {

using json = nlohmann::json;

constexpr int kVerdictFormat = 1;
// A few hundred bytes per device; anything near this is not a verdict file of ours.
constexpr off_t kMaxVerdictBytes = 64 * 1024;

// The whole file as JSON, or null when it is absent or cannot be trusted (see the header).
json read_verdicts(const CacheRoot& root, const Key& key) {
  if (!root.check_dir(verdicts_dir(root)).ok()) return nullptr;  // absent, or not our own directory
  const std::string path = verdict_path(root, key);
  struct stat st {};
  if (root.files().lstat(path, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > kMaxVerdictBytes) return nullptr;
  auto file = read_entry_file(root.files(), path);
  if (!file) return nullptr;
  json doc = json::parse(file->bytes, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object() || doc.value("format", 0) != kVerdictFormat || doc.value("key", "") != key.hex() ||
      !doc.contains("devices") || !doc["devices"].is_object())
    return nullptr;
  return doc;
}

std::optional<SelfTestVerdict> parse_verdict(const json& v) {
  if (!v.is_object()) return std::nullopt;
  const auto passed = v.find("passed");
  const auto rel_l2 = v.find("rel_l2");
  const auto budget = v.find("budget");
  const auto harness = v.find("harness");
  // JSON has no infinity: a non-finite error (the usual sign of a broken kernel) is stored as null.
  if (passed == v.end() || !passed->is_boolean() || rel_l2 == v.end() || !(rel_l2->is_number() || rel_l2->is_null()) ||
      budget == v.end() || !budget->is_number() || harness == v.end() || !harness->is_number_integer())
    return std::nullopt;
  SelfTestVerdict out;
  out.passed = passed->get<bool>();
  out.rel_l2 = rel_l2->is_null() ? INFINITY : rel_l2->get<double>();
  out.budget = budget->get<double>();
  out.harness = harness->get<int>();
  if (out.passed != (std::isfinite(out.rel_l2) && out.rel_l2 <= out.budget)) return std::nullopt;
  if (auto note = v.find("note"); note != v.end() && note->is_string()) out.note = note->get<std::string>();
  return out;
}

}  // namespace

std::string verdicts_dir(const CacheRoot& root) { return root.dir() + "/verdicts"; }

std::string verdict_path(const CacheRoot& root, const Key& key) {
  return verdicts_dir(root) + "/" + key.hex() + ".json";
}

std::optional<SelfTestVerdict> load_verdict(const CacheRoot& root, const Key& key, const std::string& device) {
  try {
    const json doc = read_verdicts(root, key);
    if (doc.is_null()) return std::nullopt;
    const auto it = doc["devices"].find(device);
    if (it == doc["devices"].end()) return std::nullopt;
    return parse_verdict(*it);
  } catch (const json::exception&) {  // a value of an unexpected type deep inside: untrusted, test again
    return std::nullopt;
  }
}

Status store_verdict(const CacheRoot& root, const Key& key, const std::string& device, const SelfTestVerdict& verdict) {
  json doc;
  try {
    doc = read_verdicts(root, key);
  } catch (const json::exception&) {
    doc = nullptr;
  }
  if (doc.is_null()) doc = json{{"format", kVerdictFormat}, {"key", key.hex()}, {"devices", json::object()}};
  doc["devices"][device] = json{{"passed", verdict.passed},
                                {"rel_l2", std::isfinite(verdict.rel_l2) ? json(verdict.rel_l2) : json(nullptr)},
                                {"budget", verdict.budget},
                                {"note", verdict.note},
                                {"harness", verdict.harness}};
  // dump() throws on strings that are not UTF-8 (a device name is the driver's, a note ours): replace instead.
  const std::string bytes = doc.dump(1, ' ', false, json::error_handler_t::replace) + "\n";
  if (bytes.size() > static_cast<size_t>(kMaxVerdictBytes))
    return make_error(ErrorKind::io, "verdicts of " + key.hex() + " exceed " + std::to_string(kMaxVerdictBytes) +
                                         " bytes; not recorded");
  KVJIT_TRY(root.ensure_dir(verdicts_dir(root)));
  auto file = AtomicFile::create(root.files(), root.tmp_dir(), verdict_path(root, key));
  if (!file) return file.error();
  KVJIT_TRY(file->write(bytes));
  return file->commit();
}

void remove_verdicts(const CacheRoot& root, const Key& key) {
  if (!root.check_dir(verdicts_dir(root)).ok()) return;  // absent, or not our directory: nothing to unlink through
  (void)root.files().unlink(verdict_path(root, key));
}

}  // namespace kvjit
