// Error metrics for comparing a kernel's output with the reference.
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "tests/reference/reference.h"

namespace kvjit::ref {
namespace {

void check_sizes(const char* what, const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size())
    throw std::invalid_argument(std::string(what) + ": sizes differ (" + std::to_string(a.size()) + " vs " +
                                std::to_string(b.size()) + ")");
}

}  // namespace

double rel_l2(const std::vector<double>& ref, const std::vector<double>& got) {
  check_sizes("rel_l2", ref, got);
  double diff = 0.0, norm = 0.0;
  for (size_t i = 0; i < ref.size(); ++i) {
    diff += (got[i] - ref[i]) * (got[i] - ref[i]);
    norm += ref[i] * ref[i];
  }
  return norm == 0.0 ? std::sqrt(diff) : std::sqrt(diff / norm);
}

double cosine(const std::vector<double>& a, const std::vector<double>& b) {
  check_sizes("cosine", a, b);
  double dot = 0.0, na = 0.0, nb = 0.0;
  for (size_t i = 0; i < a.size(); ++i) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  if (na == 0.0 && nb == 0.0) return 1.0;
  if (na == 0.0 || nb == 0.0) return 0.0;
  return dot / (std::sqrt(na) * std::sqrt(nb));
}

double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
  check_sizes("max_abs_diff", a, b);
  double m = 0.0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double d = std::fabs(a[i] - b[i]);
    if (std::isnan(d)) return d;  // a NaN anywhere must fail any bound
    m = std::max(m, d);
  }
  return m;
}

}  // namespace kvjit::ref
