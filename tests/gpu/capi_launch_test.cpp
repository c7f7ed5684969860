// Decode through the C ABI (libkvjit.so) on the GPU: the launch options a C caller sets (split-KV, the CTA
// size, programmatic dependent launch) reach the kernel and give the CPU reference's result, a caller built
// against the first header's smaller struct still launches, and bad options are refused before a launch.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "kvjit.h"
#include "tests/gpu/decode_case.h"

namespace kvjit::test {
namespace {

// The first release's sizeof(kvjit_decode_args) on 64-bit hosts: everything up to and including pdl.
constexpr size_t kFirstDecodeArgsSize = 208;

struct CapiKernel {
  kvjit_engine* engine = nullptr;
  kvjit_kernel* kernel = nullptr;
  ~CapiKernel() {
    kvjit_kernel_release(kernel);
    kvjit_engine_destroy(engine);
  }
};

// One int8 decode problem on the device, launched through the C ABI with options set by `edit`.
class CapiDecode {
 public:
  CapiDecode()
      : paging_(ref::make_paging(spec(), kLens, 11, &num_pages_)),
        cache_(random_cache(spec(), num_pages_, kKvHeads, rng_)),
        q_(random_q(spec(), kLens.size() * kKvHeads * spec().gqa * spec().head_dim, rng_)),
        dev_(cache_, paging_),
        q_dev_(q_),
        o_dev_(q_.size() * 2) {}

  static Spec spec() { return parse_spec("decode:hd=128,gqa=4,kv=int8,arch=auto").value_or_throw(); }

  kvjit_decode_args args(void* workspace, size_t workspace_bytes) const {
    const DecodeArgs d = dev_.args(cache_, paging_);
    kvjit_decode_args a;
    kvjit_decode_args_init(&a);
    a.q = q_dev_.get();
    a.o = o_dev_.get();
    a.k_cache = d.k_cache;
    a.v_cache = d.v_cache;
    a.k_scales = d.k_scales;
    a.v_scales = d.v_scales;
    a.block_table = d.block_table;
    a.seq_lens = d.seq_lens;
    a.batch = d.batch;
    a.num_kv_heads = d.num_kv_heads;
    a.max_blocks_per_seq = d.max_blocks_per_seq;
    a.sm_scale = d.sm_scale;
    a.workspace = workspace;
    a.workspace_bytes = workspace_bytes;
    a.max_seq_len = workspace != nullptr ? kLens[0] : 0;
    return a;
  }

  // Launches and returns the output bits (poisoned before, so an unwritten element shows as NaN).
  kvjit_status launch(const kvjit_kernel* kernel, const kvjit_decode_args& a, std::vector<uint16_t>* out) {
    o_dev_.poison();
    const kvjit_status rc = kvjit_kernel_decode(kernel, nullptr, &a);
    sync();
    *out = o_dev_.download<uint16_t>();
    return rc;
  }

  // Relative L2 error against the CPU reference, rounded to the output dtype as the kernel's is.
  double error(const std::vector<uint16_t>& bits) const {
    const std::vector<double> want = ref::decode(cache_, paging_, q_, 1.0f / std::sqrt(128.0f), nullptr);
    std::vector<double> got(bits.size()), rounded(want.size());
    for (size_t i = 0; i < bits.size(); ++i) {
      got[i] = ref::q_to_f32(spec().q, bits[i]);
      rounded[i] = ref::q_to_f32(spec().q, ref::f32_to_q(spec().q, static_cast<float>(want[i])));
    }
    return ref::rel_l2(rounded, got);
  }

  static inline const std::vector<int> kLens = {4096, 1500, 77};
  static constexpr int kKvHeads = 2;

 private:
  std::mt19937 rng_{11};
  int num_pages_ = 0;
  ref::HostPaging paging_;
  ref::HostCache cache_;
  std::vector<uint16_t> q_;
  DeviceCache dev_;
  DeviceBuffer q_dev_, o_dev_;
};

bool all_written(const std::vector<uint16_t>& bits) {
  for (uint16_t b : bits)
    if ((b & 0x7c00) == 0x7c00 && (b & 0x3ff) != 0) return false;  // f16 NaN
  return true;
}

TEST(GpuCapi, LaunchOptionsReachTheKernel) {
  KVJIT_REQUIRE_GPU();
  CapiKernel k;
  ASSERT_EQ(kvjit_engine_create(&k.engine), KVJIT_OK) << kvjit_last_error();
  kvjit_spec spec;
  ASSERT_EQ(kvjit_spec_parse(to_string(CapiDecode::spec()).c_str(), &spec), KVJIT_OK) << kvjit_last_error();
  ASSERT_EQ(kvjit_engine_get(k.engine, &spec, &k.kernel), KVJIT_OK) << kvjit_last_error();

  CapiDecode problem;
  const int batch = static_cast<int>(CapiDecode::kLens.size());
  size_t ws_bytes = 0;
  ASSERT_EQ(kvjit_kernel_decode_workspace_bytes(k.kernel, batch, CapiDecode::kKvHeads, &ws_bytes), KVJIT_OK);
  DeviceBuffer workspace(ws_bytes);
  check(cu()->cuMemsetD8_(reinterpret_cast<CUdeviceptr>(workspace.get()), 0, ws_bytes), "cuMemsetD8");

  int32_t auto_warps = 0, auto_splits = 0;
  ASSERT_EQ(kvjit_kernel_decode_grid(k.kernel, batch, CapiDecode::kKvHeads, CapiDecode::kLens[0], &auto_warps,
                                     &auto_splits),
            KVJIT_OK)
      << kvjit_last_error();
  EXPECT_TRUE(auto_warps == 4 || auto_warps == 6) << auto_warps;
  EXPECT_GT(auto_splits, 1) << "3 sequences of 2 kv heads leave the GPU idle unsplit";
  int32_t unsplit_warps = 0, unsplit = 0;
  ASSERT_EQ(kvjit_kernel_decode_grid(k.kernel, batch, CapiDecode::kKvHeads, 0, &unsplit_warps, &unsplit), KVJIT_OK);
  EXPECT_EQ(unsplit, 1) << "no longest length: no split";

  const double budget = self_test_budget(CapiDecode::spec());
  std::vector<uint16_t> plain;
  ASSERT_EQ(problem.launch(k.kernel, problem.args(nullptr, 0), &plain), KVJIT_OK) << kvjit_last_error();
  ASSERT_TRUE(all_written(plain));
  EXPECT_LE(problem.error(plain), budget);

  // Every CTA size the kernel runs, split and unsplit, plain and programmatic: the reference's result, and a
  // programmatic launch the plain one's bits.
  for (int32_t warps : {4, 6}) {
    for (bool split : {false, true}) {
      SCOPED_TRACE(std::to_string(warps) + " warps, split " + std::to_string(split));
      kvjit_decode_args a = split ? problem.args(workspace.get(), ws_bytes) : problem.args(nullptr, 0);
      a.cta_warps = warps;
      std::vector<uint16_t> eager, chained;
      ASSERT_EQ(problem.launch(k.kernel, a, &eager), KVJIT_OK) << kvjit_last_error();
      ASSERT_TRUE(all_written(eager));
      EXPECT_LE(problem.error(eager), budget);
      a.pdl = 1;
      ASSERT_EQ(problem.launch(k.kernel, a, &chained), KVJIT_OK) << kvjit_last_error();
      EXPECT_TRUE(chained == eager) << "a programmatic launch differs from the plain one";
      if (!split && warps == unsplit_warps) {
        EXPECT_TRUE(eager == plain) << "the size the launch chooses unsplit gives its result";
      }
    }
  }

  // A caller built against the first header passes the smaller struct: cta_warps keeps its default (0, the
  // launch's choice), whatever lies past the struct's end in the caller's memory.
  kvjit_decode_args first = problem.args(nullptr, 0);
  first.struct_size = kFirstDecodeArgsSize;
  first.cta_warps = 5;  // past the first struct's end: not read
  std::vector<uint16_t> out;
  ASSERT_EQ(problem.launch(k.kernel, first, &out), KVJIT_OK) << kvjit_last_error();
  EXPECT_TRUE(out == plain);

  // Refused, nothing launched (the output stays poisoned).
  kvjit_decode_args bad = problem.args(nullptr, 0);
  bad.cta_warps = 5;
  EXPECT_EQ(problem.launch(k.kernel, bad, &out), KVJIT_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(kvjit_last_error()).find("cta_warps=5: this kernel runs CTAs of 4 or 6 warps"),
            std::string::npos)
      << kvjit_last_error();
  EXPECT_FALSE(all_written(out)) << "a refused launch wrote the output";
  bad = problem.args(nullptr, 0);
  bad.reserved_ = 1;  // a field this library does not know yet
  EXPECT_EQ(problem.launch(k.kernel, bad, &out), KVJIT_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(kvjit_last_error()).find("sets fields this library"), std::string::npos)
      << kvjit_last_error();
  EXPECT_EQ(kvjit_kernel_decode_grid(k.kernel, 0, 2, 0, nullptr, nullptr), KVJIT_ERROR_INVALID_ARGUMENT);
}

}  // namespace
}  // namespace kvjit::test
