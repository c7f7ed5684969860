// Decode attention in double: O = softmax(sm_scale * q K^T) V per query head, LSE = log(sum exp(...)).
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "tests/reference/reference.h"

namespace kvjit::ref {
namespace {

// One query head against n rows of K and V; row t of K starts at k + t * stride (likewise V).
// o: [head_dim]. Max-subtracted softmax so large scores cannot overflow.
void attend_head(const double* q, const double* k, const double* v, int n, size_t stride, int head_dim,
                 double sm_scale, double* o, double* lse) {
  for (int d = 0; d < head_dim; ++d) o[d] = 0.0;
  if (n == 0) {  // attends to nothing
    *lse = -std::numeric_limits<double>::infinity();
    return;
  }
  std::vector<double> s(static_cast<size_t>(n));
  double m = -std::numeric_limits<double>::infinity();
  for (int t = 0; t < n; ++t) {
    const double* kt = k + static_cast<size_t>(t) * stride;
    double dot = 0.0;
    for (int d = 0; d < head_dim; ++d) dot += q[d] * kt[d];
    s[static_cast<size_t>(t)] = sm_scale * dot;
    m = std::fmax(m, s[static_cast<size_t>(t)]);
  }
  double l = 0.0;
  for (int t = 0; t < n; ++t) {
    const double p = std::exp(s[static_cast<size_t>(t)] - m);
    l += p;
    const double* vt = v + static_cast<size_t>(t) * stride;
    for (int d = 0; d < head_dim; ++d) o[d] += p * vt[d];
  }
  for (int d = 0; d < head_dim; ++d) o[d] /= l;
  *lse = m + std::log(l);
}

}  // namespace

std::vector<double> attend(const std::vector<std::vector<double>>& k, const std::vector<std::vector<double>>& v,
                           const std::vector<double>& q, int num_kv_heads, int gqa, int head_dim, double sm_scale,
                           std::vector<double>* lse) {
  const size_t batch = k.size(), hd = static_cast<size_t>(head_dim);
  const size_t heads = static_cast<size_t>(num_kv_heads), q_heads = heads * static_cast<size_t>(gqa);
  const size_t token_elems = heads * hd;
  if (v.size() != batch || q.size() != batch * q_heads * hd)
    throw std::invalid_argument("attend: " + std::to_string(batch) + " K sequences, " + std::to_string(v.size()) +
                                " V sequences, q of " + std::to_string(q.size()) + " elements (expected " +
                                std::to_string(batch * q_heads * hd) + ")");
  std::vector<double> o(batch * q_heads * hd);
  if (lse != nullptr) lse->assign(batch * q_heads, 0.0);
  for (size_t b = 0; b < batch; ++b) {
    if (k[b].size() != v[b].size() || k[b].size() % token_elems != 0)
      throw std::invalid_argument("attend: sequence " + std::to_string(b) + " has " + std::to_string(k[b].size()) +
                                  " K and " + std::to_string(v[b].size()) + " V elements; need equal multiples of " +
                                  std::to_string(token_elems));
    const int n = static_cast<int>(k[b].size() / token_elems);
    for (size_t qh = 0; qh < q_heads; ++qh) {
      const size_t kvh = qh / static_cast<size_t>(gqa), q_row = b * q_heads + qh;
      double row_lse = 0.0;
      attend_head(q.data() + q_row * hd, k[b].data() + kvh * hd, v[b].data() + kvh * hd, n, token_elems, head_dim,
                  sm_scale, o.data() + q_row * hd, &row_lse);
      if (lse != nullptr) (*lse)[q_row] = row_lse;
    }
  }
  return o;
}

std::vector<double> decode(const HostCache& cache, const HostPaging& paging, const std::vector<uint16_t>& q,
                           float sm_scale, std::vector<double>* lse) {
  const Spec& s = cache.spec;
  const size_t hd = static_cast<size_t>(s.head_dim), heads = static_cast<size_t>(cache.num_kv_heads);
  const size_t batch = static_cast<size_t>(paging.batch), q_heads = heads * static_cast<size_t>(s.gqa);
  if (q.size() != batch * q_heads * hd)
    throw std::invalid_argument("decode: q has " + std::to_string(q.size()) + " elements, expected " +
                                std::to_string(batch * q_heads * hd) + " for batch " + std::to_string(batch) +
                                " of " + to_string(s));
  // Dequantize each sequence's rows in token order, then attend on plain doubles.
  std::vector<std::vector<double>> k(batch), v(batch);
  for (size_t b = 0; b < batch; ++b) {
    const int n = seq_len(s, paging, static_cast<int>(b));
    k[b].resize(static_cast<size_t>(n) * heads * hd);
    v[b].resize(k[b].size());
    for (int t = 0; t < n; ++t) {
      const int page = page_of(s, paging, static_cast<int>(b), t / s.page_size);
      for (size_t h = 0; h < heads; ++h) {
        const size_t row = cache.row(page, t % s.page_size, static_cast<int>(h));
        const size_t dst = (static_cast<size_t>(t) * heads + h) * hd;
        load_row(cache, true, row, k[b].data() + dst);
        load_row(cache, false, row, v[b].data() + dst);
      }
    }
  }
  std::vector<double> qd(q.size());
  for (size_t i = 0; i < q.size(); ++i) qd[i] = q_to_f32(s.q, q[i]);
  return attend(k, v, qd, cache.num_kv_heads, s.gqa, s.head_dim, static_cast<double>(sm_scale), lse);
}

}  // namespace kvjit::ref
