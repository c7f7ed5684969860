// decode() against a direct formula, empty sequences, end-to-end format error, and the metrics.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "tests/reference/reference.h"

namespace kvjit::ref {
namespace {

std::vector<float> uniform(std::mt19937& rng, size_t n, float amp) {
  std::vector<float> x(n);
  for (float& v : x) v = amp * (static_cast<float>(rng() >> 8) * (1.0f / 8388608.0f) - 1.0f);
  return x;
}

// A small problem: random q (spec.q bits) and per-sequence K/V appended into a paged cache.
struct Problem {
  Spec spec;
  int num_kv_heads = 2;
  std::vector<int> lens;
  HostPaging paging;
  HostCache cache;
  std::vector<uint16_t> q;
  std::vector<std::vector<double>> k, v;  // what was appended, as doubles (already rounded to spec.q)
};

Problem make_problem(const Spec& spec, const std::vector<int>& lens, uint32_t seed, int num_kv_heads = 2) {
  Problem pr;
  pr.spec = spec;
  pr.num_kv_heads = num_kv_heads;
  pr.lens = lens;
  int num_pages = 0;
  pr.paging = make_paging(spec, lens, seed, &num_pages);
  pr.cache = make_cache(spec, num_pages, num_kv_heads);
  std::mt19937 rng(seed);
  const size_t hd = static_cast<size_t>(spec.head_dim), heads = static_cast<size_t>(num_kv_heads);
  pr.q = to_q_bits(spec.q, uniform(rng, lens.size() * heads * static_cast<size_t>(spec.gqa) * hd, 1.0f));
  for (size_t b = 0; b < lens.size(); ++b) {
    const int n = lens[b];
    const std::vector<uint16_t> kb = to_q_bits(spec.q, uniform(rng, static_cast<size_t>(n) * heads * hd, 1.0f));
    const std::vector<uint16_t> vb = to_q_bits(spec.q, uniform(rng, kb.size(), 1.0f));
    std::vector<int64_t> slots(static_cast<size_t>(n));
    for (int t = 0; t < n; ++t) slots[static_cast<size_t>(t)] = slot_of(spec, pr.paging, static_cast<int>(b), t);
    append(pr.cache, kb, vb, n, slots);
    pr.k.emplace_back(kb.size());
    pr.v.emplace_back(vb.size());
    for (size_t i = 0; i < kb.size(); ++i) {
      pr.k.back()[i] = q_to_f32(spec.q, kb[i]);
      pr.v.back()[i] = q_to_f32(spec.q, vb[i]);
    }
  }
  return pr;
}

std::vector<double> q_as_double(const Problem& pr) {
  std::vector<double> q(pr.q.size());
  for (size_t i = 0; i < q.size(); ++i) q[i] = q_to_f32(pr.spec.q, pr.q[i]);
  return q;
}

// f16 storage holds the (f16) inputs exactly, so decode must match the textbook formula written out with
// plain loops, for every layout and paging scheme.
TEST(Decode, MatchesDirectFormulaWithF16Storage) {
  for (Layout layout : {Layout::nhd, Layout::hnd})
    for (Paging paging : {Paging::table, Paging::csr}) {
      Spec s;
      s.head_dim = 32;
      s.page_size = 4;
      s.gqa = 2;
      s.layout = layout;
      s.paging = paging;
      const Problem pr = make_problem(s, {5, 9, 1}, 3);
      const float sm_scale = 1.0f / std::sqrt(32.0f);
      std::vector<double> lse;
      const std::vector<double> o = decode(pr.cache, pr.paging, pr.q, sm_scale, &lse);
      const std::vector<double> q = q_as_double(pr);
      ASSERT_EQ(o.size(), 3u * 4u * 32u);
      for (int b = 0; b < 3; ++b)
        for (int qh = 0; qh < 4; ++qh) {
          const int kvh = qh / 2, n = pr.lens[static_cast<size_t>(b)];
          const size_t q_row = static_cast<size_t>(b * 4 + qh);
          std::vector<double> w(static_cast<size_t>(n));
          double sum = 0.0;
          for (int t = 0; t < n; ++t) {
            double dot = 0.0;
            for (int d = 0; d < 32; ++d)
              dot += q[q_row * 32 + static_cast<size_t>(d)] *
                     pr.k[static_cast<size_t>(b)][static_cast<size_t>((t * 2 + kvh) * 32 + d)];
            w[static_cast<size_t>(t)] = std::exp(static_cast<double>(sm_scale) * dot);
            sum += w[static_cast<size_t>(t)];
          }
          EXPECT_NEAR(lse[q_row], std::log(sum), 1e-12);
          for (int d = 0; d < 32; ++d) {
            double want = 0.0;
            for (int t = 0; t < n; ++t)
              want += w[static_cast<size_t>(t)] *
                      pr.v[static_cast<size_t>(b)][static_cast<size_t>((t * 2 + kvh) * 32 + d)];
            EXPECT_NEAR(o[q_row * 32 + static_cast<size_t>(d)], want / sum, 1e-12)
                << to_string(s) << " b " << b << " qh " << qh << " d " << d;
          }
        }
    }
}

TEST(Decode, EmptySequenceGivesZeroAndMinusInfLse) {
  for (Paging paging : {Paging::table, Paging::csr}) {
    Spec s;
    s.head_dim = 32;
    s.page_size = 8;
    s.paging = paging;
    const Problem pr = make_problem(s, {0, 3, 0}, 9, 1);
    std::vector<double> lse;
    const std::vector<double> o = decode(pr.cache, pr.paging, pr.q, 0.125f, &lse);
    for (int b : {0, 2}) {
      EXPECT_EQ(lse[static_cast<size_t>(b)], -std::numeric_limits<double>::infinity());
      for (int d = 0; d < 32; ++d) EXPECT_EQ(o[static_cast<size_t>(b * 32 + d)], 0.0);
    }
    EXPECT_TRUE(std::isfinite(lse[1]));
  }
}

TEST(Decode, SingleTokenReturnsItsValueRow) {
  Spec s;
  s.head_dim = 32;
  s.kv = KvDtype::bf16;
  s.q = QDtype::bf16;
  const Problem pr = make_problem(s, {1}, 4, 1);
  std::vector<double> lse;
  const std::vector<double> o = decode(pr.cache, pr.paging, pr.q, 0.5f, &lse);
  for (int d = 0; d < 32; ++d) EXPECT_EQ(o[static_cast<size_t>(d)], pr.v[0][static_cast<size_t>(d)]);
  double dot = 0.0;
  const std::vector<double> q = q_as_double(pr);
  for (int d = 0; d < 32; ++d) dot += q[static_cast<size_t>(d)] * pr.k[0][static_cast<size_t>(d)];
  EXPECT_NEAR(lse[0], 0.5 * dot, 1e-12);
}

// Attention on each format's cache against attention on the unquantized inputs: the error each format
// brings end to end. Bounds are a few times what these formats give on uniform data.
TEST(Decode, FormatErrorAgainstUnquantized) {
  struct Row {
    KvDtype kv;
    double max_rel_l2;
  };
  const Row table[] = {{KvDtype::f16, 1e-12}, {KvDtype::bf16, 1e-12}, {KvDtype::int8, 1e-2},
                       {KvDtype::q8, 1e-2},   {KvDtype::e4m3, 6e-2},  {KvDtype::e5m2, 1.2e-1}};
  for (const Row& r : table) {
    Spec s;
    s.head_dim = 64;
    s.page_size = 16;
    s.gqa = 4;
    s.kv = r.kv;
    s.q = r.kv == KvDtype::bf16 ? QDtype::bf16 : QDtype::f16;
    const Problem pr = make_problem(s, {37, 100, 16}, 5);
    const float sm_scale = 0.125f;
    const std::vector<double> got = decode(pr.cache, pr.paging, pr.q, sm_scale);
    const std::vector<double> want = attend(pr.k, pr.v, q_as_double(pr), 2, 4, 64, sm_scale);
    const double err = rel_l2(want, got);
    EXPECT_LE(err, r.max_rel_l2) << to_string(r.kv);
    EXPECT_GE(cosine(want, got), 1.0 - 2.0 * err * err - 1e-12) << to_string(r.kv);
    RecordProperty(std::string(to_string(r.kv)) + "_rel_l2", std::to_string(err));
  }
}

TEST(Attend, RejectsMismatchedShapes) {
  const std::vector<std::vector<double>> k = {std::vector<double>(64)}, v = {std::vector<double>(32)};
  EXPECT_THROW(attend(k, v, std::vector<double>(32), 1, 1, 32, 1.0), std::invalid_argument);
  EXPECT_THROW(attend(k, k, std::vector<double>(31), 1, 1, 32, 1.0), std::invalid_argument);
}

TEST(Metrics, RelL2AndCosine) {
  const std::vector<double> a = {3.0, 4.0}, b = {3.0, 4.5}, z = {0.0, 0.0};
  EXPECT_EQ(rel_l2(a, a), 0.0);
  EXPECT_DOUBLE_EQ(rel_l2(a, b), 0.1);
  EXPECT_EQ(rel_l2(z, z), 0.0);
  EXPECT_DOUBLE_EQ(rel_l2(z, a), 5.0);
  EXPECT_DOUBLE_EQ(cosine(a, a), 1.0);
  EXPECT_DOUBLE_EQ(cosine(a, {-3.0, -4.0}), -1.0);
  EXPECT_EQ(cosine(z, z), 1.0);
  EXPECT_EQ(cosine(z, a), 0.0);
  EXPECT_DOUBLE_EQ(max_abs_diff(a, b), 0.5);
  EXPECT_TRUE(std::isnan(max_abs_diff(a, {NAN, 4.0})));
  EXPECT_THROW(rel_l2(a, {1.0}), std::invalid_argument);
}

}  // namespace
}  // namespace kvjit::ref
