#include <optional>
#include <regex>
#include <sstream>
#include <string_view>

#include "compiler/compiled_kernel.h"

namespace kvjit {
namespace {

constexpr std::string_view kEntryHeader = "Compiling entry function '";
constexpr std::string_view kPropertiesHeader = "Function properties for ";

std::string_view trim_right(std::string_view s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// A header line starts one function's section; returns whether that function is `symbol`, or nothing when
// the line is not a header. Names are compared whole: kvjit symbols can be prefixes of one another
// (..._arch_sm_90 and ..._arch_sm_90a).
std::optional<bool> header_names(std::string_view line, std::string_view symbol) {
  if (const size_t at = line.find(kEntryHeader); at != std::string_view::npos) {
    const std::string_view rest = line.substr(at + kEntryHeader.size());
    const size_t close = rest.find('\'');
    return close != std::string_view::npos && rest.substr(0, close) == symbol;
  }
  if (const size_t at = line.find(kPropertiesHeader); at != std::string_view::npos)
    return trim_right(line.substr(at + kPropertiesHeader.size())) == symbol;
  return std::nullopt;
}

}  // namespace

ResourceReport parse_ptxas_report(const std::string& log, const std::string& symbol) {
  // ptxas prints, per entry:
  //   ptxas info    : Compiling entry function '<symbol>' for 'sm_90'
  //   ptxas info    : Function properties for <symbol>
  //       0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
  //   ptxas info    : Used 40 registers, used 1 barriers, 384 bytes smem, 400 bytes cmem[0]
  static const std::regex frame(R"((\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads)");
  static const std::regex used(R"(Used (\d+) registers)");
  static const std::regex smem(R"((\d+) bytes smem)");
  ResourceReport r;
  std::istringstream lines(log);
  std::string line;
  bool in_symbol = false;
  while (std::getline(lines, line)) {
    if (const std::optional<bool> named = header_names(line, symbol)) in_symbol = *named;
    if (!in_symbol) continue;
    std::smatch m;
    if (std::regex_search(line, m, frame)) {
      r.stack_bytes = std::stoi(m[1]);
      r.spill_store_bytes = std::stoi(m[2]);
      r.spill_load_bytes = std::stoi(m[3]);
    }
    if (std::regex_search(line, m, used)) {
      r.registers = std::stoi(m[1]);
      r.shared_bytes = std::regex_search(line, m, smem) ? std::stoi(m[1]) : 0;
    }
  }
  return r;
}

}  // namespace kvjit
