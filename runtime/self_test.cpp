#include "runtime/self_test.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "runtime/engine.h"
#include "runtime/host_formats.h"

namespace kvjit {
namespace {

constexpr int kKvHeads = 2;
// FP8 caches store x / scale: N(0, 1) data over these scales stays well inside E4M3's and E5M2's range.
constexpr float kFp8KScale = 0.02f, kFp8VScale = 0.03f;

// Device memory freed on scope exit; zeroed on allocation.
class DeviceBytes {
 public:
  explicit DeviceBytes(const DriverApi* api) : api_(api) {}
  ~DeviceBytes() {
    if (ptr_) api_->cuMemFree_(ptr_);
  }
  DeviceBytes(const DeviceBytes&) = delete;
  DeviceBytes& operator=(const DeviceBytes&) = delete;
  Status alloc(size_t bytes, const void* host = nullptr) {
    bytes_ = std::max<size_t>(bytes, 16);
    KVJIT_CU(api_, cuMemAlloc_(&ptr_, bytes_), "self-test");
    KVJIT_CU(api_, cuMemsetD8_(ptr_, 0, bytes_), "self-test");
    if (host && bytes) KVJIT_CU(api_, cuMemcpyHtoD_(ptr_, host, bytes), "self-test");
    return Ok{};
  }
  template <typename T>
  Result<std::vector<T>> download(size_t count) const {
    std::vector<T> out(count);
    if (count) KVJIT_CU(api_, cuMemcpyDtoH_(out.data(), ptr_, count * sizeof(T)), "self-test");
    return out;
  }
  template <typename T = void>
  T* get() const {
    return reinterpret_cast<T*>(ptr_);
  }

 private:
  const DriverApi* api_;
  CUdeviceptr ptr_ = 0;
  size_t bytes_ = 0;
};

uint16_t to_q(QDtype q, float x) { return q == QDtype::f16 ? host::f32_to_f16(x) : host::f32_to_bf16(x); }
float from_q(QDtype q, uint16_t h) { return q == QDtype::f16 ? host::f16_to_f32(h) : host::bf16_to_f32(h); }

// The row index of (page, slot, kv head) in the spec's layout (templates/kvjit/paging.cuh).
size_t row_of(const Spec& s, int page, int slot, int kv_head) {
  return s.layout == Layout::nhd ? (static_cast<size_t>(page) * s.page_size + slot) * kKvHeads + kv_head
                                 : (static_cast<size_t>(page) * kKvHeads + kv_head) * s.page_size + slot;
}

}  // namespace

double self_test_budget(const Spec& spec) {
  // The GPU tests' budget (docs/ACCURACY.md). Kernel and reference are both compared after rounding to the
  // output dtype (spec.q). bf16's grid is 2^-8, so a small f32 error flips outputs that sit near a rounding
  // boundary by a whole unit. The tensor-core body rounds p and K to f16: on an H100 it measured at most
  // 4.7e-4 with f16 outputs and up to 2.5e-3 on the same kind of data with bf16 outputs. So bf16 outputs are
  // allowed one bf16 unit, 2^-8.
  return spec.q == QDtype::bf16 ? 0.00390625 : 1e-3;
}

bool self_test_covers(const Spec& spec) { return spec.kind == Kind::decode; }

bool self_test_enabled() {
  const char* v = std::getenv("KVJIT_SELFTEST");
  return v != nullptr && std::strcmp(v, "1") == 0;
}

Result<SelfTestResult> run_self_test(Engine& engine, const Kernel& decode) {
  const Spec& spec = decode.spec();
  if (spec.kind != Kind::decode)
    return make_error(ErrorKind::invalid_argument, "self-test: " + to_string(spec) + " is not a decode kernel");
  SelfTestResult result;
  result.budget = self_test_budget(spec);
  const bool contig = spec.paging == Paging::contig;
  auto api_or = driver();
  if (!api_or) return api_or.error();
  const DriverApi* api = *api_or;

  Spec append_spec = spec;
  append_spec.kind = Kind::append;
  append_spec.mma = Mma::auto_;
  append_spec.softcap = false;
  auto append = engine.get(append_spec);
  if (!append) return append.error();

  // Two sequences: a single token and a few pages plus a partial one; pages scattered over the pool.
  const int hd = spec.head_dim, page = spec.page_size, nq = kKvHeads * spec.gqa;
  const std::vector<int> lens = {1, 2 * page + std::min(page, 7) + 1};
  std::vector<std::vector<int>> pages_of(lens.size());
  int num_pages = 0;
  for (size_t b = 0; b < lens.size(); ++b)
    for (int p = 0; p < (lens[b] + page - 1) / page; ++p) pages_of[b].push_back(num_pages++);
  std::mt19937 rng(20261123u + static_cast<uint32_t>(hd * 131 + spec.gqa));
  std::vector<int> perm(num_pages);
  for (int i = 0; i < num_pages; ++i) perm[i] = i;
  std::shuffle(perm.begin(), perm.end(), rng);
  for (auto& pages : pages_of)
    for (int& p : pages) p = perm[p];

  // Random K/V for every token (in the q dtype, as append takes them) and a random query.
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const int tokens = lens[0] + lens[1];
  std::vector<uint16_t> k_in(static_cast<size_t>(tokens) * kKvHeads * hd), v_in(k_in.size());
  for (uint16_t& x : k_in) x = to_q(spec.q, normal(rng));
  for (uint16_t& x : v_in) x = to_q(spec.q, normal(rng));
  std::vector<uint16_t> q(static_cast<size_t>(lens.size()) * nq * hd);
  for (uint16_t& x : q) x = to_q(spec.q, normal(rng));
  // paging=contig: sequence b's cache is [kKvHeads, capacity, hd] at row b * kKvHeads * capacity of one
  // buffer (the sequences one after another, with room to spare); a slot is b * capacity + position.
  const int capacity = lens[1] + 3;
  std::vector<int64_t> slots;
  for (size_t b = 0; b < lens.size(); ++b)
    for (int t = 0; t < lens[b]; ++t)
      slots.push_back(contig ? static_cast<int64_t>(b) * capacity + t
                             : static_cast<int64_t>(pages_of[b][t / page]) * page + t % page);
  auto row_of_token = [&](size_t b, int t, int kvh) {
    return contig ? (b * kKvHeads + static_cast<size_t>(kvh)) * capacity + static_cast<size_t>(t)
                  : row_of(spec, pages_of[b][t / page], t % page, kvh);
  };

  const size_t rows = contig ? lens.size() * kKvHeads * capacity : static_cast<size_t>(num_pages) * page * kKvHeads;
  const size_t elem = static_cast<size_t>(kv_element_bytes(spec.kv));
  const int scale_cols = scales_per_row(spec.kv, hd);
  const size_t scale_row_bytes = static_cast<size_t>(scale_bytes_per_row(spec));
  const bool fp8 = spec.kv == KvDtype::e4m3 || spec.kv == KvDtype::e5m2;
  DeviceBytes k_cache(api), v_cache(api), k_scales(api), v_scales(api), k_dev(api), v_dev(api), slot_dev(api);
  KVJIT_TRY(k_cache.alloc(rows * hd * elem));
  KVJIT_TRY(v_cache.alloc(rows * hd * elem));
  KVJIT_TRY(k_scales.alloc(rows * scale_row_bytes));
  KVJIT_TRY(v_scales.alloc(rows * scale_row_bytes));
  KVJIT_TRY(k_dev.alloc(k_in.size() * 2, k_in.data()));
  KVJIT_TRY(v_dev.alloc(v_in.size() * 2, v_in.data()));
  KVJIT_TRY(slot_dev.alloc(slots.size() * 8, slots.data()));
  // paging=contig: per-sequence base pointers, as device arrays.
  std::vector<uint64_t> seq_bases[4];
  for (size_t b = 0; b < lens.size(); ++b) {
    const size_t first_row = b * kKvHeads * capacity;
    seq_bases[0].push_back(reinterpret_cast<uint64_t>(k_cache.get<uint8_t>() + first_row * hd * elem));
    seq_bases[1].push_back(reinterpret_cast<uint64_t>(v_cache.get<uint8_t>() + first_row * hd * elem));
    seq_bases[2].push_back(reinterpret_cast<uint64_t>(k_scales.get<uint8_t>() + first_row * scale_row_bytes));
    seq_bases[3].push_back(reinterpret_cast<uint64_t>(v_scales.get<uint8_t>() + first_row * scale_row_bytes));
  }
  DeviceBytes seq_k(api), seq_v(api), seq_ks(api), seq_vs(api);
  KVJIT_TRY(seq_k.alloc(lens.size() * 8, seq_bases[0].data()));
  KVJIT_TRY(seq_v.alloc(lens.size() * 8, seq_bases[1].data()));
  KVJIT_TRY(seq_ks.alloc(lens.size() * 8, seq_bases[2].data()));
  KVJIT_TRY(seq_vs.alloc(lens.size() * 8, seq_bases[3].data()));
  AppendArgs aa;
  aa.k = k_dev.get();
  aa.v = v_dev.get();
  if (contig) {
    aa.seq_k = seq_k.get<void* const>();
    aa.seq_v = seq_v.get<void* const>();
    aa.seq_k_scales = scale_cols ? seq_ks.get<void* const>() : nullptr;
    aa.seq_v_scales = scale_cols ? seq_vs.get<void* const>() : nullptr;
    aa.seq_capacity = capacity;
  } else {
    aa.k_cache = k_cache.get();
    aa.v_cache = v_cache.get();
    aa.k_scales = scale_cols ? k_scales.get() : nullptr;
    aa.v_scales = scale_cols ? v_scales.get() : nullptr;
  }
  aa.slot_mapping = slot_dev.get<const int64_t>();
  aa.num_tokens = tokens;
  aa.num_kv_heads = kKvHeads;
  aa.k_scale = fp8 ? kFp8KScale : 1.0f;
  aa.v_scale = fp8 ? kFp8VScale : 1.0f;
  KVJIT_TRY((*append)->append(nullptr, aa));

  // Paging arguments for both schemes.
  const int max_blocks = static_cast<int>(pages_of[1].size());
  std::vector<int32_t> table(lens.size() * max_blocks, 0), seq_lens(lens.begin(), lens.end()), indptr{0}, indices,
      last_page_len;
  for (size_t b = 0; b < lens.size(); ++b) {
    for (size_t p = 0; p < pages_of[b].size(); ++p) {
      table[b * max_blocks + p] = pages_of[b][p];
      indices.push_back(pages_of[b][p]);
    }
    indptr.push_back(static_cast<int32_t>(indices.size()));
    last_page_len.push_back(lens[b] - (static_cast<int>(pages_of[b].size()) - 1) * page);
  }
  DeviceBytes q_dev(api), o_dev(api), table_dev(api), lens_dev(api), indptr_dev(api), indices_dev(api), last_dev(api);
  KVJIT_TRY(q_dev.alloc(q.size() * 2, q.data()));
  KVJIT_TRY(o_dev.alloc(q.size() * 2));
  KVJIT_TRY(table_dev.alloc(table.size() * 4, table.data()));
  KVJIT_TRY(lens_dev.alloc(seq_lens.size() * 4, seq_lens.data()));
  KVJIT_TRY(indptr_dev.alloc(indptr.size() * 4, indptr.data()));
  KVJIT_TRY(indices_dev.alloc(indices.size() * 4, indices.data()));
  KVJIT_TRY(last_dev.alloc(last_page_len.size() * 4, last_page_len.data()));
  DecodeArgs da;
  da.q = q_dev.get();
  da.o = o_dev.get();
  if (contig) {
    da.seq_k = seq_k.get<const void* const>();
    da.seq_v = seq_v.get<const void* const>();
    da.seq_k_scales = scale_cols ? seq_ks.get<const void* const>() : nullptr;
    da.seq_v_scales = scale_cols ? seq_vs.get<const void* const>() : nullptr;
    da.seq_capacity = capacity;
  } else {
    da.k_cache = k_cache.get();
    da.v_cache = v_cache.get();
    da.k_scales = aa.k_scales;
    da.v_scales = aa.v_scales;
  }
  da.batch = static_cast<int>(lens.size());
  da.num_kv_heads = kKvHeads;
  da.block_table = table_dev.get<const int32_t>();
  da.seq_lens = lens_dev.get<const int32_t>();
  da.max_blocks_per_seq = max_blocks;
  da.indptr = indptr_dev.get<const int32_t>();
  da.indices = indices_dev.get<const int32_t>();
  da.last_page_len = last_dev.get<const int32_t>();
  da.sm_scale = 1.0f / std::sqrt(static_cast<float>(hd));
  da.k_scale = aa.k_scale;
  da.v_scale = aa.v_scale;
  da.softcap = spec.softcap ? 30.0f : 0.0f;
  KVJIT_TRY(decode.decode(nullptr, da));
  KVJIT_CU(api, cuCtxSynchronize_(), "self-test of " + to_string(spec));

  auto k_bytes = k_cache.download<uint8_t>(rows * hd * elem);
  auto v_bytes = v_cache.download<uint8_t>(rows * hd * elem);
  auto ks = k_scales.download<uint8_t>(rows * scale_row_bytes);
  auto vs = v_scales.download<uint8_t>(rows * scale_row_bytes);
  auto out = o_dev.download<uint16_t>(q.size());
  for (auto* r : {&k_bytes, &v_bytes})
    if (!*r) return r->error();
  if (!ks) return ks.error();
  if (!vs) return vs.error();
  if (!out) return out.error();

  // Exact attention over the stored bytes, rounded to the output dtype.
  double err2 = 0.0, ref2 = 0.0;
  bool finite = true;
  std::vector<double> k(hd), v(hd), acc(hd);
  for (size_t b = 0; b < lens.size(); ++b)
    for (int qh = 0; qh < nq; ++qh) {
      const int kvh = qh / spec.gqa;
      const uint16_t* qrow = q.data() + (b * nq + qh) * hd;
      std::vector<double> scores;
      std::vector<std::vector<double>> values;
      for (int t = 0; t < lens[b]; ++t) {
        const size_t row = row_of_token(b, t, kvh);
        double dot = 0.0;
        for (int d = 0; d < hd; ++d) {
          k[d] = host::kv_element(spec, k_bytes->data() + row * hd * elem, ks->data() + row * scale_row_bytes, d,
                                  aa.k_scale);
          v[d] = host::kv_element(spec, v_bytes->data() + row * hd * elem, vs->data() + row * scale_row_bytes, d,
                                  aa.v_scale);
          dot += from_q(spec.q, qrow[d]) * k[d];
        }
        double s = dot * da.sm_scale;
        if (spec.softcap) s = da.softcap * std::tanh(s / da.softcap);
        scores.push_back(s);
        values.push_back(v);
      }
      const double mx = *std::max_element(scores.begin(), scores.end());
      double sum = 0.0;
      for (double& s : scores) sum += (s = std::exp(s - mx));
      std::fill(acc.begin(), acc.end(), 0.0);
      for (size_t i = 0; i < scores.size(); ++i)
        for (int d = 0; d < hd; ++d) acc[d] += scores[i] / sum * values[i][d];
      for (int d = 0; d < hd; ++d) {
        const double want = from_q(spec.q, to_q(spec.q, static_cast<float>(acc[d])));
        const double got = from_q(spec.q, (*out)[(b * nq + qh) * hd + d]);
        finite = finite && std::isfinite(got);
        err2 += (got - want) * (got - want);
        ref2 += want * want;
      }
    }
  result.ran = true;
  result.rel_l2 = finite ? std::sqrt(err2 / std::max(ref2, 1e-30)) : INFINITY;
  result.passed = finite && result.rel_l2 <= result.budget;
  result.note = fmt::format("{}: rel L2 {:.3g} (budget {:.0e}) over {} outputs{}", to_string(spec), result.rel_l2,
                            result.budget, out->size(), finite ? "" : ", non-finite outputs");
  return result;
}

}  // namespace kvjit
