// Decode kernels against the CPU reference over a sampled matrix of shapes, formats, layouts and pagings: the
// CUDA-core body (mma=0). The tensor-core body, the default where a spec has one, is mma_decode_test.cpp's.
#include <fmt/format.h>

#include <map>

#include "tests/gpu/decode_case.h"

namespace kvjit::test {
namespace {

Engine& engine() {
  static Engine e;
  return e;
}

// Mixed lengths: 1, exact page multiples, odd lengths; every 12th case adds one long (up to 32K) sequence.
std::vector<int> mixed_lengths(int batch, int page, size_t index, std::mt19937& rng) {
  std::vector<int> lens;
  std::uniform_int_distribution<int> any(2, 700);
  for (int b = 0; b < batch; ++b) {
    switch (b % 4) {
      case 0: lens.push_back(1); break;
      case 1: lens.push_back(page * (1 + b % 5)); break;
      default: lens.push_back(any(rng));
    }
  }
  if (index % 12 == 0) lens.back() = index % 24 == 0 ? 32768 : 8191;
  return lens;
}

std::vector<DecodeCase> matrix() {
  std::vector<DecodeCase> cases;
  std::mt19937 rng(2024);
  const int batches[] = {1, 3, 7, 16};
  for (int hd : {64, 80, 96, 128, 256})
    for (int page : {1, 16, 32})
      for (int gqa : {1, 4, 8})
        for (Layout layout : {Layout::nhd, Layout::hnd})
          for (Paging paging : {Paging::table, Paging::csr})
            for (KvDtype kv : {KvDtype::f16, KvDtype::int8}) {
              DecodeCase c;
              c.spec.mma = Mma::off;
              c.spec.head_dim = hd;
              c.spec.page_size = page;
              c.spec.gqa = gqa;
              c.spec.layout = layout;
              c.spec.paging = paging;
              c.spec.kv = kv;
              if (kv == KvDtype::int8 && cases.size() % 4 == 1) c.spec.scale = ScaleDtype::f32;
              c.num_kv_heads = 1 + static_cast<int>(cases.size() % 3);
              c.seed = static_cast<uint32_t>(cases.size() + 1);
              c.seq_lens = mixed_lengths(batches[cases.size() % 4], page, cases.size(), rng);
              cases.push_back(c);
            }
  return cases;
}

void prefetch_all(const std::vector<DecodeCase>& cases) {
  // Compile in parallel: one prefetch batch per hardware thread.
  const size_t lanes = std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::vector<Spec>> batches(lanes);
  for (size_t i = 0; i < cases.size(); ++i) batches[i % lanes].push_back(cases[i].spec);
  for (const auto& b : batches) engine().prefetch(b);
  engine().wait_prefetch();
}

TEST(GpuDecode, MatrixMatchesReference) {
  KVJIT_REQUIRE_GPU();
  const std::vector<DecodeCase> cases = matrix();
  ASSERT_GE(cases.size(), 150u);
  prefetch_all(cases);
  std::map<std::string, std::pair<int, double>> worst;  // kv -> (count, worst rel L2)
  double worst_lse = 0.0;
  for (const DecodeCase& c : cases) {
    SCOPED_TRACE(to_string(c.spec));
    const DecodeOutcome out = run_decode_case(engine(), c);
    EXPECT_EQ(out.unwritten, 0u);
    EXPECT_LE(out.rel_l2, 1e-3) << "lens[0]=" << c.seq_lens[0] << " batch=" << c.seq_lens.size();
    EXPECT_LE(out.lse_max_abs, 2e-3);
    auto& w = worst[format_name(c.spec)];
    w.first++;
    w.second = std::max(w.second, out.rel_l2);
    worst_lse = std::max(worst_lse, out.lse_max_abs);
  }
  for (const auto& [kv, w] : worst)
    fmt::print("KVJIT_RESULT decode kv={} configs={} worst_rel_l2={:.3g}\n", kv, w.first, w.second);
  fmt::print("KVJIT_RESULT decode lse worst_abs={:.3g}\n", worst_lse);
}

// Every other format and both q dtypes, with page sizes up to 256, gqa up to 64 and both FP8 code paths
// (arch=sm_80 runs the software conversion through the PTX JIT; auto uses the device's cvt instructions).
TEST(GpuDecode, FormatsMatrixMatchesReference) {
  KVJIT_REQUIRE_GPU();
  std::vector<DecodeCase> cases;
  std::mt19937 rng(77);
  const int pages[] = {1, 16, 64, 256};
  const int gqas[] = {1, 3, 8, 64};
  for (KvDtype kv : {KvDtype::q8, KvDtype::e4m3, KvDtype::e5m2, KvDtype::bf16})
    for (QDtype q : {QDtype::f16, QDtype::bf16})
      for (int hd : {32, 64, 128, 256, 512})
        for (Layout layout : {Layout::nhd, Layout::hnd})
          for (Paging paging : {Paging::table, Paging::csr}) {
            DecodeCase c;
            c.spec.mma = Mma::off;
            const size_t i = cases.size();
            c.spec.kv = kv;
            if (kv == KvDtype::q8 && i % 2 == 1) c.spec.scale = ScaleDtype::f32;
            c.spec.q = q;
            c.spec.head_dim = hd;
            c.spec.layout = layout;
            c.spec.paging = paging;
            c.spec.page_size = pages[i % 4];
            c.spec.gqa = gqas[(i / 4) % 4];
            if (i % 3 == 0) c.spec.arch = Arch{80, false};
            c.num_kv_heads = 1 + static_cast<int>(i % 2);
            c.seed = static_cast<uint32_t>(5000 + i);
            c.seq_lens = mixed_lengths(1 + static_cast<int>(i % 5), c.spec.page_size, i, rng);
            cases.push_back(c);
          }
  prefetch_all(cases);
  std::map<std::string, std::pair<int, double>> worst;
  for (const DecodeCase& c : cases) {
    SCOPED_TRACE(to_string(c.spec));
    const DecodeOutcome out = run_decode_case(engine(), c);
    EXPECT_EQ(out.unwritten, 0u);
    EXPECT_LE(out.rel_l2, 1e-3);
    EXPECT_LE(out.lse_max_abs, 2e-3);
    auto& w = worst[fmt::format("kv={} q={}", format_name(c.spec), to_string(c.spec.q))];
    w.first++;
    w.second = std::max(w.second, out.rel_l2);
  }
  for (const auto& [name, w] : worst)
    fmt::print("KVJIT_RESULT decode {} configs={} worst_rel_l2={:.3g}\n", name, w.first, w.second);
}

// bf16 queries and caches (compared with the reference rounded to bf16, as every case is).
TEST(GpuDecode, Bf16MatchesReference) {
  KVJIT_REQUIRE_GPU();
  double worst = 0.0;
  int n = 0;
  for (KvDtype kv : {KvDtype::bf16, KvDtype::f16, KvDtype::int8})
    for (int hd : {64, 128, 512})
      for (Layout layout : {Layout::nhd, Layout::hnd}) {
        DecodeCase c;
        c.spec.mma = Mma::off;
        c.spec.q = QDtype::bf16;
        c.spec.kv = kv;
        c.spec.head_dim = hd;
        c.spec.gqa = hd == 512 ? 8 : 4;
        c.spec.layout = layout;
        c.seq_lens = {1, 16, 300, 1025};
        c.seed = static_cast<uint32_t>(100 + n);
        SCOPED_TRACE(to_string(c.spec));
        const DecodeOutcome out = run_decode_case(engine(), c);
        EXPECT_EQ(out.unwritten, 0u);
        EXPECT_LE(out.rel_l2, 1e-3);
        worst = std::max(worst, out.rel_l2);
        ++n;
      }
  fmt::print("KVJIT_RESULT decode q=bf16 configs={} worst_rel_l2={:.3g}\n", n, worst);
}

// Large gqa and head_dim 512 (several CTAs per KV group, two vectors per lane).
TEST(GpuDecode, WideGroupsAndHeads) {
  KVJIT_REQUIRE_GPU();
  for (int gqa : {5, 7, 16, 64})
    for (int hd : {32, 160, 512}) {
      DecodeCase c;
      c.spec.mma = Mma::off;
      c.spec.gqa = gqa;
      c.spec.head_dim = hd;
      c.spec.kv = gqa % 2 ? KvDtype::int8 : KvDtype::f16;
      c.seq_lens = {37, 1, 512};
      c.seed = static_cast<uint32_t>(gqa * 1000 + hd);
      SCOPED_TRACE(to_string(c.spec));
      const DecodeOutcome out = run_decode_case(engine(), c);
      EXPECT_EQ(out.unwritten, 0u);
      EXPECT_LE(out.rel_l2, 1e-3);
    }
}

TEST(GpuDecode, EmptySequenceGivesZeros) {
  KVJIT_REQUIRE_GPU();
  DecodeCase c;
  c.spec.mma = Mma::off;
  c.spec.gqa = 4;
  c.seq_lens = {0, 5, 0};
  const DecodeOutcome out = run_decode_case(engine(), c);
  EXPECT_EQ(out.unwritten, 0u);
  EXPECT_LE(out.rel_l2, 1e-3);
}

}  // namespace
}  // namespace kvjit::test
