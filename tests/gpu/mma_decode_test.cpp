// The tensor-core decode body (mma=1) against the CPU reference: every format it serves, both q dtypes,
// head_dims 32..256, gqa up to 16, both paged layouts and pagings, both FP8 code paths (arch=sm_80 runs
// the software conversion), and against the CUDA-core body on the same data.
#include <fmt/format.h>

#include <map>

#include "runtime/self_test.h"
#include "tests/gpu/decode_case.h"

namespace kvjit::test {
namespace {

Engine& engine() {
  static Engine e;
  return e;
}

std::vector<int> lengths(size_t i, int page, std::mt19937& rng) {
  std::uniform_int_distribution<int> any(2, 900);
  std::vector<int> lens = {1, page * 3, any(rng), 17};
  lens.resize(1 + i % 4);
  if (i % 10 == 0) lens.back() = i % 20 == 0 ? 32768 : 8191;
  return lens;
}

std::vector<DecodeCase> mma_matrix() {
  std::vector<DecodeCase> cases;
  std::mt19937 rng(4242);
  const int pages[] = {1, 16, 32, 256};
  const int gqas[] = {1, 4, 8, 16, 6};
  for (KvDtype kv : {KvDtype::f16, KvDtype::bf16, KvDtype::int8, KvDtype::q8, KvDtype::e4m3, KvDtype::e5m2})
    for (QDtype q : {QDtype::f16, QDtype::bf16})
      for (int hd : {32, 64, 96, 128, 256})
        for (Layout layout : {Layout::nhd, Layout::hnd})
          for (Paging paging : {Paging::table, Paging::csr}) {
            DecodeCase c;
            const size_t i = cases.size();
            c.spec.kv = kv;
            c.spec.q = q;
            c.spec.head_dim = hd;
            c.spec.layout = layout;
            c.spec.paging = paging;
            c.spec.mma = Mma::on;
            if (!mma_supported(c.spec)) continue;
            if (has_scale_pool(kv) && i % 2 == 1) c.spec.scale = ScaleDtype::f32;
            c.spec.page_size = pages[i % 4];
            c.spec.gqa = gqas[(i / 4) % 5];
            if (i % 3 == 0) c.spec.arch = Arch{80, false};
            c.num_kv_heads = 1 + static_cast<int>(i % 3);
            c.seed = static_cast<uint32_t>(7000 + i);
            c.seq_lens = lengths(i, c.spec.page_size, rng);
            cases.push_back(c);
          }
  return cases;
}

TEST(GpuMmaDecode, MatrixMatchesReference) {
  KVJIT_REQUIRE_GPU();
  const std::vector<DecodeCase> cases = mma_matrix();
  ASSERT_GE(cases.size(), 150u);
  std::vector<Spec> specs;
  for (const DecodeCase& c : cases) specs.push_back(c.spec);
  engine().prefetch(specs);
  engine().wait_prefetch();
  std::map<std::string, std::pair<int, double>> worst;
  for (const DecodeCase& c : cases) {
    SCOPED_TRACE(to_string(c.spec));
    const DecodeOutcome out = run_decode_case(engine(), c);
    EXPECT_EQ(out.unwritten, 0u);
    EXPECT_LE(out.rel_l2, self_test_budget(c.spec)) << "lens[0]=" << c.seq_lens[0] << " batch=" << c.seq_lens.size();
    EXPECT_LE(out.lse_max_abs, 2e-3);
    auto& w = worst[fmt::format("kv={} q={}", format_name(c.spec), to_string(c.spec.q))];
    w.first++;
    w.second = std::max(w.second, out.rel_l2);
  }
  for (const auto& [name, w] : worst)
    fmt::print("KVJIT_RESULT mma decode {} configs={} worst_rel_l2={:.3g}\n", name, w.first, w.second);
}

// The one-byte kernels at head_dim 128 run CTAs of 4 or 6 warps, chosen per launch: both sizes, split and
// unsplit, every format and both q dtypes against the reference and against each other. Sequences of 1 to
// 8191 tokens leave some warps of a CTA without a tile.
TEST(GpuMmaDecode, BothCtaSizesMatchTheReference) {
  KVJIT_REQUIRE_GPU();
  std::map<std::string, std::pair<int, double>> worst;
  double worst_between = 0;
  uint32_t seed = 9100;
  for (KvDtype kv : {KvDtype::int8, KvDtype::q8, KvDtype::e4m3, KvDtype::e5m2})
    for (QDtype q : {QDtype::f16, QDtype::bf16})
      for (int splits : {-1, 0, 5}) {
        DecodeCase c;
        c.spec.kv = kv;
        c.spec.q = q;
        c.spec.gqa = splits == 5 ? 8 : 4;
        c.spec.layout = seed % 2 ? Layout::hnd : Layout::nhd;
        c.spec.paging = seed % 3 == 0 ? Paging::csr : Paging::table;
        if (has_scale_pool(kv) && seed % 4 == 1) c.spec.scale = ScaleDtype::f32;
        c.seq_lens = {8191, 1, 333, 16, 2048, 95};
        c.num_kv_heads = 2;
        c.num_splits = splits;
        c.seed = seed++;
        auto kernel = engine().get(c.spec);
        ASSERT_TRUE(kernel) << kernel.error().message;
        ASSERT_EQ((*kernel)->shape().wide_warps, 6) << to_string(c.spec);
        ASSERT_GT((*kernel)->device_slots().wide_ctas_per_sm, 0) << to_string(c.spec);
        std::vector<uint16_t> outputs[2];
        for (int warps : {4, 6}) {
          c.cta_warps = warps;
          SCOPED_TRACE(fmt::format("{} warps={} splits={}", to_string(c.spec), warps, splits));
          const DecodeOutcome out = run_decode_case(engine(), c);
          EXPECT_EQ(out.unwritten, 0u);
          EXPECT_LE(out.rel_l2, self_test_budget(c.spec));
          EXPECT_LE(out.lse_max_abs, 2e-3);
          auto& w = worst[fmt::format("kv={} warps={}", format_name(c.spec), warps)];
          w.first++;
          w.second = std::max(w.second, out.rel_l2);
          outputs[warps == 6] = out.output;
        }
        // The two sizes split the tiles among warps differently: the outputs differ only by rounding.
        std::vector<double> a(outputs[0].size()), b(outputs[1].size());
        for (size_t i = 0; i < a.size(); ++i) {
          a[i] = ref::q_to_f32(c.spec.q, outputs[0][i]);
          b[i] = ref::q_to_f32(c.spec.q, outputs[1][i]);
        }
        const double between = ref::rel_l2(a, b);
        EXPECT_LE(between, self_test_budget(c.spec)) << to_string(c.spec);
        worst_between = std::max(worst_between, between);
      }
  for (const auto& [name, w] : worst)
    fmt::print("KVJIT_RESULT two cta sizes {} configs={} worst_rel_l2={:.3g}\n", name, w.first, w.second);
  fmt::print("KVJIT_RESULT two cta sizes worst_rel_l2_between={:.3g}\n", worst_between);
  const Spec e4m3 = parse_spec("decode:hd=128,gqa=4,kv=e4m3,arch=auto").value_or_throw();
  auto kernel = engine().get(e4m3);
  ASSERT_TRUE(kernel);
  const DeviceSlots& slots = (*kernel)->device_slots();
  fmt::print("KVJIT_RESULT two cta sizes e4m3 resident ctas an sm: {} of 4 warps, {} of 6; 64 x 4096 takes {} warps\n",
             slots.ctas_per_sm, slots.wide_ctas_per_sm, (*kernel)->decode_cta_warps(64, 8, 4096));
}

// Same data through both bodies: they differ only by f16 rounding of q and p on the tensor-core side.
TEST(GpuMmaDecode, AgreesWithCudaCoreBody) {
  KVJIT_REQUIRE_GPU();
  double worst = 0;
  int n = 0;
  for (KvDtype kv : {KvDtype::f16, KvDtype::bf16, KvDtype::int8, KvDtype::q8, KvDtype::e4m3, KvDtype::e5m2})
    for (int gqa : {1, 4, 8}) {
      DecodeCase c;
      c.spec.kv = kv;
      c.spec.gqa = gqa;
      c.seq_lens = {4096, 1, 333, 16};
      c.num_kv_heads = 2;
      c.seed = static_cast<uint32_t>(800 + n);
      c.spec.mma = Mma::off;
      const DecodeOutcome simt = run_decode_case(engine(), c);
      c.spec.mma = Mma::on;
      SCOPED_TRACE(to_string(c.spec));
      const DecodeOutcome mma = run_decode_case(engine(), c);
      EXPECT_EQ(mma.unwritten, 0u);
      EXPECT_LE(mma.rel_l2, 1e-3);
      // Both measured against the same reference: the tensor-core error stays within a few times the
      // CUDA-core one (its extra error is f16 rounding of q and p, ~2^-11 relative per term).
      EXPECT_LE(mma.rel_l2, std::max(5e-4, 20 * simt.rel_l2));
      worst = std::max(worst, mma.rel_l2);
      ++n;
    }
  fmt::print("KVJIT_RESULT mma vs cuda-core configs={} worst_mma_rel_l2={:.3g}\n", n, worst);
}

}  // namespace
}  // namespace kvjit::test
