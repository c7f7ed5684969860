#include <regex>
#include <sstream>

#include "compiler/compiled_kernel.h"

namespace kvjit {

ResourceReport parse_ptxas_report(const std::string& log, const std::string& symbol) {
  // ptxas prints, per entry:
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
    if (line.find("Function properties for ") != std::string::npos || line.find("Compiling entry") != std::string::npos)
      in_symbol = line.find(symbol) != std::string::npos;
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
