// One decode run on the GPU against the CPU reference: random cache and query, NaN-poisoned outputs.
#pragma once

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "runtime/engine.h"
#include "tests/gpu/gpu_support.h"
#include "tests/reference/reference.h"

namespace kvjit::test {

struct DecodeCase {
  Spec spec;
  std::vector<int> seq_lens;
  int num_kv_heads = 2;
  uint32_t seed = 1;
  int cta_warps = 0;    // DecodeArgs::cta_warps (0: the launch chooses)
  int num_splits = -1;  // -1: no workspace (no split); else DecodeArgs::num_splits with the kernel's workspace
};

struct DecodeOutcome {
  double rel_l2 = 0.0;
  double lse_max_abs = 0.0;
  size_t unwritten = 0;  // NaN outputs left after the launch
  std::vector<uint16_t> output;  // the kernel's output bits, spec.q
};

// Device copies of a host cache and its paging, reusable across launches.
struct DeviceCache {
  DeviceBuffer k, v, k_scales, v_scales, block_table, seq_lens, indptr, indices, last_page_len;
  DeviceCache(const ref::HostCache& cache, const ref::HostPaging& paging)
      : k(cache.k), v(cache.v), k_scales(cache.k_scales), v_scales(cache.v_scales),
        block_table(paging.block_table), seq_lens(paging.seq_lens), indptr(paging.indptr),
        indices(paging.indices), last_page_len(paging.last_page_len) {}

  DecodeArgs args(const ref::HostCache& cache, const ref::HostPaging& paging) const {
    DecodeArgs a;
    a.k_cache = k.get();
    a.v_cache = v.get();
    a.k_scales = k_scales.get();
    a.v_scales = v_scales.get();
    a.batch = paging.batch;
    a.num_kv_heads = cache.num_kv_heads;
    a.block_table = block_table.as<const int32_t>();
    a.seq_lens = seq_lens.as<const int32_t>();
    a.max_blocks_per_seq = paging.max_blocks_per_seq;
    a.indptr = indptr.as<const int32_t>();
    a.indices = indices.as<const int32_t>();
    a.last_page_len = last_page_len.as<const int32_t>();
    a.sm_scale = 1.0f / std::sqrt(static_cast<float>(cache.spec.head_dim));
    a.k_scale = cache.k_tensor_scale;
    a.v_scale = cache.v_tensor_scale;
    return a;
  }
};

// The spec's KV format for result lines: "q8", or "q8/f32" with f32 scales.
inline std::string format_name(const Spec& spec) {
  std::string name(to_string(spec.kv));
  if (spec.scale == ScaleDtype::f32) name += "/f32";
  return name;
}

// A host cache whose every row holds random N(0, 1) data in the spec's format.
inline ref::HostCache random_cache(const Spec& spec, int num_pages, int num_kv_heads, std::mt19937& rng) {
  ref::HostCache cache = ref::make_cache(spec, num_pages, num_kv_heads);
  // FP8 caches carry a per-tensor scale that maps N(0, 1) data well inside the format's range.
  if (spec.kv == KvDtype::e4m3 || spec.kv == KvDtype::e5m2) {
    cache.k_tensor_scale = 0.02f;
    cache.v_tensor_scale = 0.03f;
  }
  for (size_t row = 0; row < cache.rows(); ++row) {
    const std::vector<float> k = normal_floats(spec.head_dim, rng);
    const std::vector<float> v = normal_floats(spec.head_dim, rng);
    ref::store_row(cache, true, row, k.data());
    ref::store_row(cache, false, row, v.data());
  }
  return cache;
}

inline std::vector<uint16_t> random_q(const Spec& spec, size_t n, std::mt19937& rng) {
  const std::vector<float> f = normal_floats(n, rng);
  std::vector<uint16_t> q(n);
  for (size_t i = 0; i < n; ++i) q[i] = ref::f32_to_q(spec.q, f[i]);
  return q;
}

inline DecodeOutcome run_decode_case(Engine& engine, const DecodeCase& c) {
  std::mt19937 rng(c.seed);
  int num_pages = 0;
  const ref::HostPaging paging = ref::make_paging(c.spec, c.seq_lens, c.seed, &num_pages);
  const ref::HostCache cache = random_cache(c.spec, num_pages, c.num_kv_heads, rng);
  const int num_q_heads = c.num_kv_heads * c.spec.gqa;
  const size_t q_elems = static_cast<size_t>(paging.batch) * num_q_heads * c.spec.head_dim;
  const std::vector<uint16_t> q = random_q(c.spec, q_elems, rng);

  DeviceCache dev(cache, paging);
  DeviceBuffer q_dev(q), o_dev(q_elems * 2), lse_dev(static_cast<size_t>(paging.batch) * num_q_heads * 4);
  o_dev.poison();
  lse_dev.poison();
  DecodeArgs args = dev.args(cache, paging);
  args.q = q_dev.get();
  args.o = o_dev.get();
  args.lse = lse_dev.as<float>();

  auto kernel = engine.get(c.spec);
  if (!kernel) throw std::runtime_error(kernel.error().message);
  args.cta_warps = c.cta_warps;
  std::optional<DeviceBuffer> workspace;
  if (c.num_splits >= 0) {
    // A forced partition count gets a workspace of exactly its size, so the launch cannot take fewer.
    workspace.emplace(c.num_splits > 0 ? decode_workspace_bytes((*kernel)->spec(), (*kernel)->shape(), paging.batch,
                                                                c.num_kv_heads, c.num_splits)
                                       : (*kernel)->decode_workspace_bytes(paging.batch, c.num_kv_heads));
    check(cu()->cuMemsetD8_(reinterpret_cast<CUdeviceptr>(workspace->get()), 0, workspace->bytes()), "cuMemsetD8");
    args.workspace = workspace->get();
    args.workspace_bytes = workspace->bytes();
    args.max_seq_len = *std::max_element(c.seq_lens.begin(), c.seq_lens.end());
    args.num_splits = c.num_splits;
  }
  auto launched = (*kernel)->decode(nullptr, args);
  if (!launched) throw std::runtime_error(launched.error().message);
  sync();

  std::vector<double> ref_lse;
  const std::vector<double> expected = ref::decode(cache, paging, q, args.sm_scale, &ref_lse);
  const std::vector<uint16_t> o_bits = o_dev.download<uint16_t>();
  const std::vector<float> lse = lse_dev.download<float>();
  DecodeOutcome out;
  std::vector<double> got(o_bits.size());
  for (size_t i = 0; i < got.size(); ++i) {
    got[i] = ref::q_to_f32(c.spec.q, o_bits[i]);
    if (std::isnan(got[i])) ++out.unwritten;
  }
  for (size_t i = 0; i < lse.size(); ++i) {
    if (std::isnan(lse[i])) {
      ++out.unwritten;
      continue;
    }
    if (std::isinf(ref_lse[i]) && std::isinf(lse[i])) continue;  // empty sequence: -inf on both sides
    out.lse_max_abs = std::max(out.lse_max_abs, std::abs(lse[i] - ref_lse[i]));
  }
  // The output is stored in spec.q: compare with the reference rounded the same way, so the error measured
  // is the kernel's own (accumulation order, exp2 approximation), not the output format's.
  std::vector<double> rounded(expected.size());
  for (size_t i = 0; i < expected.size(); ++i)
    rounded[i] = ref::q_to_f32(c.spec.q, ref::f32_to_q(c.spec.q, static_cast<float>(expected[i])));
  out.rel_l2 = ref::rel_l2(rounded, got);
  out.output = o_bits;
  return out;
}

}  // namespace kvjit::test
