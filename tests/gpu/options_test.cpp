// Split-KV, sliding window, soft-cap and contiguous caches against the CPU reference.
#include <fmt/format.h>

#include <cmath>

#include "runtime/launch_plan.h"
#include "tests/gpu/decode_case.h"

namespace kvjit::test {
namespace {

Engine& engine() {
  static Engine e;
  return e;
}

struct Options {
  int window = 0;
  float softcap = 0.0f;
  int num_splits = 1;  // 0 = automatic (needs max_seq_len), 1 = none
  bool workspace = false;
  // A workspace kept across launches (zeroed once by its owner) instead of a fresh one, and the longest
  // sequence the launch is told it may see (0: the longest of lens).
  DeviceBuffer* shared_workspace = nullptr;
  int max_seq_len = 0;
};

// Reference with a window and a soft-cap: rows come from the format's own dequantizer (ref::load_row).
std::vector<double> reference(const ref::HostCache& cache, const ref::HostPaging& paging,
                              const std::vector<uint16_t>& q, float sm_scale, const Options& o) {
  const Spec& spec = cache.spec;
  const int hd = spec.head_dim, nkv = cache.num_kv_heads, nq = nkv * spec.gqa;
  std::vector<double> out(static_cast<size_t>(paging.batch) * nq * hd, 0.0);
  std::vector<double> k(hd), v(hd);
  for (int b = 0; b < paging.batch; ++b) {
    const int len = ref::seq_len(spec, paging, b);
    const int begin = o.window > 0 && len > o.window ? len - o.window : 0;
    for (int qh = 0; qh < nq; ++qh) {
      const int kvh = qh / spec.gqa;
      std::vector<double> scores;
      std::vector<std::vector<double>> values;
      for (int t = begin; t < len; ++t) {
        const int page = ref::page_of(spec, paging, b, t / spec.page_size);
        const size_t row = cache.row(page, t % spec.page_size, kvh);
        ref::load_row(cache, true, row, k.data());
        ref::load_row(cache, false, row, v.data());
        double dot = 0;
        for (int d = 0; d < hd; ++d)
          dot += ref::q_to_f32(spec.q, q[(static_cast<size_t>(b) * nq + qh) * hd + d]) * k[d];
        double s = dot * sm_scale;
        if (o.softcap > 0) s = o.softcap * std::tanh(s / o.softcap);
        scores.push_back(s);
        values.push_back(v);
      }
      if (scores.empty()) continue;
      const double mx = *std::max_element(scores.begin(), scores.end());
      double sum = 0;
      for (double& s : scores) sum += (s = std::exp(s - mx));
      for (size_t i = 0; i < scores.size(); ++i)
        for (int d = 0; d < hd; ++d) out[(static_cast<size_t>(b) * nq + qh) * hd + d] += scores[i] / sum * values[i][d];
    }
  }
  return out;
}

struct RunResult {
  std::vector<double> got, expected;
  std::vector<float> lse;  // the kernel's LSE output, [batch, num_q_heads]
  size_t nan = 0;
};

RunResult run(const Spec& spec, const std::vector<int>& lens, const Options& o, uint32_t seed, int nkv = 2) {
  std::mt19937 rng(seed);
  int num_pages = 0;
  const ref::HostPaging paging = ref::make_paging(spec, lens, seed, &num_pages);
  const ref::HostCache cache = random_cache(spec, num_pages, nkv, rng);
  const size_t q_elems = lens.size() * nkv * spec.gqa * spec.head_dim;
  const std::vector<uint16_t> q = random_q(spec, q_elems, rng);
  DeviceCache dev(cache, paging);
  DeviceBuffer qd(q), od(q_elems * 2);
  od.poison();
  DecodeArgs args = dev.args(cache, paging);
  args.q = qd.get();
  args.o = od.get();
  args.window = o.window;
  args.softcap = o.softcap;
  auto kernel = engine().get(spec);
  if (!kernel) throw std::runtime_error(kernel.error().message);
  const size_t q_rows = lens.size() * nkv * spec.gqa;
  DeviceBuffer lse(q_rows * 4);
  lse.poison();
  args.lse = static_cast<float*>(lse.get());
  DeviceBuffer ws;
  if (o.shared_workspace != nullptr) {
    args.workspace = o.shared_workspace->get();
    args.workspace_bytes = o.shared_workspace->bytes();
    args.max_seq_len = o.max_seq_len;
    args.num_splits = o.num_splits;
  } else if (o.workspace) {
    // A forced partition count gets a workspace of exactly its size, so the launch cannot take fewer.
    ws = DeviceBuffer(o.num_splits > 0 ? decode_workspace_bytes((*kernel)->spec(), (*kernel)->shape(), args.batch,
                                                                nkv, o.num_splits)
                                       : (*kernel)->decode_workspace_bytes(args.batch, nkv));
    check(cu()->cuMemsetD8_(reinterpret_cast<CUdeviceptr>(ws.get()), 0, ws.bytes()), "cuMemsetD8");
    args.workspace = ws.get();
    args.workspace_bytes = ws.bytes();
    args.max_seq_len = *std::max_element(lens.begin(), lens.end());
    args.num_splits = o.num_splits;
  }
  if (auto r = (*kernel)->decode(nullptr, args); !r) throw std::runtime_error(r.error().message);
  sync();
  RunResult out;
  out.lse = lse.download<float>();
  for (uint16_t bits : od.download<uint16_t>()) {
    out.got.push_back(ref::q_to_f32(spec.q, bits));
    if (std::isnan(out.got.back())) ++out.nan;
  }
  out.expected = reference(cache, paging, q, args.sm_scale, o);
  for (double& x : out.expected) x = ref::q_to_f32(spec.q, ref::f32_to_q(spec.q, static_cast<float>(x)));
  return out;
}

// The merged LSE equals the unsplit one (-inf for an empty sequence in both); returns the largest difference.
double expect_same_lse(const RunResult& split, const RunResult& unsplit) {
  EXPECT_EQ(split.lse.size(), unsplit.lse.size());
  double worst = 0;
  for (size_t i = 0; i < split.lse.size() && i < unsplit.lse.size(); ++i) {
    if (std::isinf(unsplit.lse[i])) {
      EXPECT_EQ(split.lse[i], unsplit.lse[i]) << "row " << i;
    } else {
      EXPECT_NEAR(split.lse[i], unsplit.lse[i], 1e-4) << "row " << i;
      worst = std::max(worst, static_cast<double>(std::abs(split.lse[i] - unsplit.lse[i])));
    }
  }
  return worst;
}

TEST(GpuSplit, SplitAgreesWithUnsplitAndReference) {
  KVJIT_REQUIRE_GPU();
  double worst_vs_unsplit = 0, worst_vs_ref = 0, worst_lse = 0;
  int n = 0;
  for (KvDtype kv : {KvDtype::f16, KvDtype::int8, KvDtype::q8, KvDtype::e4m3})
    for (Paging paging : {Paging::table, Paging::csr})
      for (int splits : {0, 2, 7, 32, 128}) {
        Spec spec;
        spec.kv = kv;
        spec.gqa = 4;
        spec.paging = paging;
        spec.mma = n % 2 == 1 ? Mma::on : Mma::off;  // the tensor-core body shares the split merge
        const std::vector<int> lens = {32768, 1, 5000, 0, 131072 / (1 + n % 4)};
        SCOPED_TRACE(fmt::format("{} splits={}", to_string(spec), splits));
        const uint32_t seed = static_cast<uint32_t>(300 + n);
        const RunResult unsplit = run(spec, lens, Options{}, seed, 1);
        Options o;
        o.workspace = true;
        o.num_splits = splits;
        const RunResult split = run(spec, lens, o, seed, 1);
        EXPECT_EQ(split.nan, 0u);
        worst_lse = std::max(worst_lse, expect_same_lse(split, unsplit));
        const double vs_unsplit = ref::rel_l2(unsplit.got, split.got);
        const double vs_ref = ref::rel_l2(split.expected, split.got);
        EXPECT_LE(vs_unsplit, 1e-4);
        EXPECT_LE(vs_ref, 1e-3);
        worst_vs_unsplit = std::max(worst_vs_unsplit, vs_unsplit);
        worst_vs_ref = std::max(worst_vs_ref, vs_ref);
        ++n;
      }
  fmt::print("KVJIT_RESULT split configs={} worst_rel_l2_vs_unsplit={:.3g} worst_vs_ref={:.3g} worst_lse_abs={:.3g}\n", n,
             worst_vs_unsplit, worst_vs_ref, worst_lse);
}

// One workspace, sized once for up to 64 sequences and zeroed once, serves launches whose batch grows and
// shrinks: each launch's partial outputs stay clear of every batch's merge counters. Short sequences with a
// long max_seq_len make each launch take the partitions the rule gives long contexts (on an H100 batch 51
// takes 16 and batch 52 takes 12).
TEST(GpuSplit, OneWorkspaceServesChangingBatches) {
  KVJIT_REQUIRE_GPU();
  const int nkv = 8;
  Spec spec;
  spec.kv = KvDtype::int8;
  spec.gqa = 4;
  auto kernel = engine().get(spec);
  ASSERT_TRUE(kernel.ok()) << kernel.error().message;
  DeviceBuffer ws((*kernel)->decode_workspace_bytes(64, nkv));
  check(cu()->cuMemsetD8_(reinterpret_cast<CUdeviceptr>(ws.get()), 0, ws.bytes()), "cuMemsetD8");
  double worst = 0;
  int n = 0;
  for (int batch : {1, 16, 51, 52, 64, 40, 52, 51, 3}) {
    std::mt19937 rng(static_cast<uint32_t>(700 + n));
    std::vector<int> lens(static_cast<size_t>(batch));
    for (int& len : lens) len = std::uniform_int_distribution<int>(1, 600)(rng);
    SCOPED_TRACE(fmt::format("batch {} splits {}", batch, (*kernel)->decode_splits(batch, nkv, 32768)));
    const uint32_t seed = static_cast<uint32_t>(800 + n);
    const RunResult unsplit = run(spec, lens, Options{}, seed, nkv);
    Options o;
    o.shared_workspace = &ws;
    o.max_seq_len = 32768;
    o.num_splits = 0;
    const RunResult split = run(spec, lens, o, seed, nkv);
    // A launch whose partials overwrote a sequence's merge counter leaves that output unwritten (NaN).
    EXPECT_EQ(split.nan, 0u);
    // Sequences of 257..600 tokens take 2 or 3 partitions of 256: the tensor-core body rounds probabilities
    // to f16 against other running maxima than unsplit, measured up to 1.33e-4 apart on an H100 (long
    // sequences: 1e-5, GpuSplit.SplitAgreesWithUnsplitAndReference).
    const double e = ref::rel_l2(unsplit.got, split.got);
    EXPECT_LE(e, 2e-4);
    worst = std::max(worst, e);
    ++n;
  }
  fmt::print("KVJIT_RESULT split shared-workspace launches={} worst_rel_l2_vs_unsplit={:.3g}\n", n, worst);
}

// The merge's other shapes: two heads per warp (gqa 8), a partial last pass (head_dim 96, one head) and
// several passes (head_dim 256), on both bodies, at few and at the most partitions.
TEST(GpuSplit, MergeShapes) {
  KVJIT_REQUIRE_GPU();
  double worst = 0;
  int n = 0;
  for (const char* text : {"decode:hd=128,gqa=8,kv=int8", "decode:hd=96,gqa=1,kv=f16,mma=0",
                           "decode:hd=256,gqa=16,kv=e4m3", "decode:hd=64,gqa=8,kv=q8,mma=0"})
    for (int splits : {3, 128}) {
      const Spec spec = parse_spec(text).value_or_throw();
      SCOPED_TRACE(fmt::format("{} splits={}", to_string(spec), splits));
      const std::vector<int> lens = {3000, 1, 0, 700};
      const uint32_t seed = static_cast<uint32_t>(900 + n);
      const RunResult unsplit = run(spec, lens, Options{}, seed, 2);
      Options o;
      o.workspace = true;
      o.num_splits = splits;
      const RunResult split = run(spec, lens, o, seed, 2);
      EXPECT_EQ(split.nan, 0u);
      const double e = ref::rel_l2(unsplit.got, split.got);
      EXPECT_LE(e, 1e-4);
      EXPECT_LE(ref::rel_l2(split.expected, split.got), 1e-3);
      expect_same_lse(split, unsplit);
      worst = std::max(worst, e);
      ++n;
    }
  fmt::print("KVJIT_RESULT split merge-shapes configs={} worst_rel_l2_vs_unsplit={:.3g}\n", n, worst);
}

TEST(GpuOptions, SlidingWindowAndSoftcap) {
  KVJIT_REQUIRE_GPU();
  double worst = 0;
  int n = 0;
  for (bool softcap : {false, true})
    for (int window : {0, 1, 100, 4096})
      for (KvDtype kv : {KvDtype::f16, KvDtype::int8, KvDtype::e5m2}) {
        Spec spec;
        spec.kv = kv;
        spec.gqa = 2;
        spec.head_dim = 256;
        spec.softcap = softcap;
        spec.mma = n % 2 == 1 && kv != KvDtype::f16 ? Mma::on : Mma::off;  // f16 at hd 256: no tensor-core body
        Options o;
        o.window = window;
        o.softcap = softcap ? 50.0f : 0.0f;
        o.workspace = n % 2 == 0;
        o.num_splits = 0;
        SCOPED_TRACE(fmt::format("{} window={}", to_string(spec), window));
        const RunResult r = run(spec, {5000, 77, 1, 4097}, o, static_cast<uint32_t>(900 + n));
        EXPECT_EQ(r.nan, 0u);
        const double e = ref::rel_l2(r.expected, r.got);
        EXPECT_LE(e, 1e-3);
        worst = std::max(worst, e);
        ++n;
      }
  fmt::print("KVJIT_RESULT window+softcap configs={} worst_rel_l2={:.3g}\n", n, worst);
}

// paging=contig: one [num_kv_heads, capacity, head_dim] cache per sequence. On the host that is exactly an
// hnd cache whose page is the capacity and whose sequence b owns page b, which the reference understands.
TEST(GpuContig, ContiguousCachesMatchReference) {
  KVJIT_REQUIRE_GPU();
  double worst = 0;
  int n = 0;
  // q8 with f32 scales in a contiguous cache is realizar's layout.
  const std::vector<std::pair<KvDtype, ScaleDtype>> formats = {
      {KvDtype::f16, ScaleDtype::f16},  {KvDtype::int8, ScaleDtype::f16}, {KvDtype::q8, ScaleDtype::f16},
      {KvDtype::e4m3, ScaleDtype::f16}, {KvDtype::bf16, ScaleDtype::f16}, {KvDtype::q8, ScaleDtype::f32},
      {KvDtype::int8, ScaleDtype::f32}};
  for (const auto& [kv, scale] : formats)
    for (int cap : {64, 4096}) {
      const int nkv = 2, batch = 3;
      Spec host_spec;
      host_spec.kv = kv;
      host_spec.scale = scale;
      host_spec.gqa = 4;
      host_spec.layout = Layout::hnd;
      host_spec.page_size = cap > 256 ? 256 : cap;  // spec range; rows are computed with `cap` below
      std::mt19937 rng(static_cast<uint32_t>(40 + n));
      const std::vector<int> lens = {cap, 1, cap / 2 + 3};
      ref::HostPaging paging;
      paging.batch = batch;
      paging.seq_lens = lens;
      // Fill a per-sequence cache by hand: row(kvh, t) = kvh * cap + t inside sequence b's block.
      Spec row_spec = host_spec;
      ref::HostCache cache = ref::make_cache(row_spec, batch * cap / host_spec.page_size, nkv);
      for (size_t row = 0; row < cache.rows(); ++row) {
        const std::vector<float> kx = normal_floats(host_spec.head_dim, rng),
                                 vx = normal_floats(host_spec.head_dim, rng);
        ref::store_row(cache, true, row, kx.data());
        ref::store_row(cache, false, row, vx.data());
      }
      const int nq = nkv * host_spec.gqa, hd = host_spec.head_dim;
      const std::vector<uint16_t> q = random_q(host_spec, static_cast<size_t>(batch) * nq * hd, rng);
      // Reference straight from the rows.
      std::vector<double> expected(q.size(), 0.0);
      std::vector<double> k(hd), v(hd);
      for (int b = 0; b < batch; ++b)
        for (int qh = 0; qh < nq; ++qh) {
          std::vector<double> s;
          std::vector<std::vector<double>> vs;
          for (int t = 0; t < lens[b]; ++t) {
            const size_t row = (static_cast<size_t>(b) * nkv + qh / host_spec.gqa) * cap + t;
            ref::load_row(cache, true, row, k.data());
            ref::load_row(cache, false, row, v.data());
            double dot = 0;
            for (int d = 0; d < hd; ++d) dot += ref::f16_to_f32(q[(static_cast<size_t>(b) * nq + qh) * hd + d]) * k[d];
            s.push_back(dot / std::sqrt(static_cast<double>(hd)));
            vs.push_back(v);
          }
          const double mx = *std::max_element(s.begin(), s.end());
          double sum = 0;
          for (double& x : s) sum += (x = std::exp(x - mx));
          for (size_t i = 0; i < s.size(); ++i)
            for (int d = 0; d < hd; ++d) expected[(static_cast<size_t>(b) * nq + qh) * hd + d] += s[i] / sum * vs[i][d];
        }
      DeviceBuffer kd(cache.k), vd(cache.v), ksd(cache.k_scales), vsd(cache.v_scales), qd(q), od(q.size() * 2),
          lens_dev(lens);
      od.poison();
      const size_t seq_rows = static_cast<size_t>(nkv) * cap;
      const size_t elem = kv_element_bytes(kv);
      const size_t scale_row_bytes = 2 * static_cast<size_t>(ref::scale_words_per_row(host_spec));
      std::vector<uint64_t> kp, vp, ksp, vsp;
      for (int b = 0; b < batch; ++b) {
        kp.push_back(reinterpret_cast<uint64_t>(kd.get()) + b * seq_rows * hd * elem);
        vp.push_back(reinterpret_cast<uint64_t>(vd.get()) + b * seq_rows * hd * elem);
        ksp.push_back(reinterpret_cast<uint64_t>(ksd.get()) + b * seq_rows * scale_row_bytes);
        vsp.push_back(reinterpret_cast<uint64_t>(vsd.get()) + b * seq_rows * scale_row_bytes);
      }
      DeviceBuffer kpd(kp), vpd(vp), kspd(ksp), vspd(vsp);
      Spec spec;
      spec.kv = kv;
      spec.scale = scale;
      spec.gqa = host_spec.gqa;
      spec.paging = Paging::contig;
      spec.mma = n % 2 == 1 && kv != KvDtype::bf16 ? Mma::on : Mma::off;
      DecodeArgs a;
      a.q = qd.get();
      a.o = od.get();
      a.batch = batch;
      a.num_kv_heads = nkv;
      a.seq_k = kpd.as<const void* const>();
      a.seq_v = vpd.as<const void* const>();
      a.seq_k_scales = kspd.as<const void* const>();
      a.seq_v_scales = vspd.as<const void* const>();
      a.seq_lens = lens_dev.as<const int32_t>();
      a.seq_capacity = cap;
      a.sm_scale = 1.0f / std::sqrt(static_cast<float>(hd));
      a.k_scale = cache.k_tensor_scale;
      a.v_scale = cache.v_tensor_scale;
      auto kernel = engine().get(spec);
      ASSERT_TRUE(kernel.ok()) << kernel.error().message;
      ASSERT_TRUE((*kernel)->decode(nullptr, a).ok());
      sync();
      std::vector<double> got;
      size_t nan = 0;
      for (uint16_t bits : od.download<uint16_t>()) {
        got.push_back(ref::f16_to_f32(bits));
        nan += std::isnan(got.back());
      }
      for (double& x : expected) x = ref::f16_to_f32(ref::f32_to_f16(static_cast<float>(x)));
      SCOPED_TRACE(fmt::format("{} cap={}", to_string(spec), cap));
      EXPECT_EQ(nan, 0u);
      const double e = ref::rel_l2(expected, got);
      EXPECT_LE(e, 1e-3);
      worst = std::max(worst, e);
      ++n;
    }
  fmt::print("KVJIT_RESULT contig configs={} worst_rel_l2={:.3g}\n", n, worst);
}

}  // namespace
}  // namespace kvjit::test
