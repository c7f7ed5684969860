// The bad-input sweep of the C++ host-engine API (runtime/engine.h, runtime/launch_plan.h): one row per bad
// input with its exact error. Runs without a driver (CTest points KVJIT_LIBCUDA at nothing), so Engine::get
// reaches validation and the driver check, and launch arguments are checked by the host validation every launch
// goes through (plan_decode / plan_append). Nothing may be written to the cache (a temporary KVJIT_CACHE_DIR).
#include <gtest/gtest.h>

#include <climits>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "runtime/engine.h"
#include "runtime/launch_plan.h"
#include "tests/unit/runtime/bad_input_support.h"

namespace kvjit {
namespace {

[[maybe_unused]] ::testing::Environment* const cache_env =
    ::testing::AddGlobalTestEnvironment(new bad_input::TempCacheDir);

const std::string kArchRule =
    "must be one of auto, sm_80, sm_86, sm_87, sm_89, sm_90, sm_90a, sm_100, sm_100a, sm_103, sm_103a, sm_120, "
    "sm_120a";
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

struct BadSpec {
  const char* name;
  void (*mutate)(Spec&);
  std::string message;
};

// Specs built in code with values no parser would produce: unknown enum values, negative and extreme ints.
const std::vector<BadSpec>& bad_specs() {
  static const std::vector<BadSpec> rows = {
      {"kind unknown", [](Spec& s) { s.kind = static_cast<Kind>(2); }, "kind=2: must be one of decode, append"},
      {"kv unknown", [](Spec& s) { s.kv = static_cast<KvDtype>(6); },
       "kv=6: must be one of f16, bf16, int8, q8, e4m3, e5m2"},
      {"kv 255", [](Spec& s) { s.kv = static_cast<KvDtype>(255); },
       "kv=255: must be one of f16, bf16, int8, q8, e4m3, e5m2"},
      {"q unknown", [](Spec& s) { s.q = static_cast<QDtype>(2); }, "q=2: must be one of f16, bf16"},
      {"layout unknown", [](Spec& s) { s.layout = static_cast<Layout>(200); }, "layout=200: must be one of nhd, hnd"},
      {"paging unknown", [](Spec& s) { s.paging = static_cast<Paging>(3); },
       "paging=3: must be one of table, csr, contig"},
      {"backend unknown", [](Spec& s) { s.backend = static_cast<Backend>(2); },
       "backend=2: must be one of nvrtc, llvm"},
      {"head_dim zero", [](Spec& s) { s.head_dim = 0; }, "head_dim=0: must be a multiple of 16 in [32, 512]"},
      {"head_dim negative", [](Spec& s) { s.head_dim = -128; }, "head_dim=-128: must be a multiple of 16 in [32, 512]"},
      {"head_dim INT_MIN", [](Spec& s) { s.head_dim = INT_MIN; },
       "head_dim=-2147483648: must be a multiple of 16 in [32, 512]"},
      {"head_dim INT_MAX", [](Spec& s) { s.head_dim = INT_MAX; },
       "head_dim=2147483647: must be a multiple of 16 in [32, 512]"},
      {"q8 head_dim",
       [](Spec& s) {
         s.kv = KvDtype::q8;
         s.head_dim = 48;
       },
       "head_dim=48: must be a multiple of 32 in [32, 512] for kv=q8"},
      {"page negative", [](Spec& s) { s.page_size = -16; }, "page_size=-16: must be a power of two in [1, 256]"},
      {"page INT_MIN", [](Spec& s) { s.page_size = INT_MIN; },
       "page_size=-2147483648: must be a power of two in [1, 256]"},
      {"page 2^30", [](Spec& s) { s.page_size = 1 << 30; }, "page_size=1073741824: must be a power of two in [1, 256]"},
      {"gqa zero", [](Spec& s) { s.gqa = 0; }, "gqa=0: must be an integer in [1, 64]"},
      {"gqa negative", [](Spec& s) { s.gqa = -4; }, "gqa=-4: must be an integer in [1, 64]"},
      {"gqa INT_MAX", [](Spec& s) { s.gqa = INT_MAX; }, "gqa=2147483647: must be an integer in [1, 64]"},
      {"arch negative",
       [](Spec& s) {
         s.arch = Arch{-90, false};
       },
       "arch=sm_-90: " + kArchRule},
      {"arch 0a",
       [](Spec& s) {
         s.arch = Arch{0, true};
       },
       "arch=sm_0a: " + kArchRule},
      {"arch too old",
       [](Spec& s) {
         s.arch = Arch{75, false};
       },
       "arch=sm_75: " + kArchRule},
      {"arch 89a",
       [](Spec& s) {
         s.arch = Arch{89, true};
       },
       "arch=sm_89a: " + kArchRule},
      {"arch huge",
       [](Spec& s) {
         s.arch = Arch{INT_MAX, false};
       },
       "arch=sm_2147483647: " + kArchRule},
  };
  return rows;
}

TEST(BadInputEngine, InvalidSpecsAreRejectedBeforeTheDriverAndWriteNothing) {
  Engine engine;
  for (const BadSpec& row : bad_specs()) {
    SCOPED_TRACE(row.name);
    Spec spec;
    spec.arch = Arch{90, false};
    row.mutate(spec);
    auto kernel = engine.get(spec);
    ASSERT_FALSE(kernel.ok());
    EXPECT_EQ(kernel.error().kind, ErrorKind::invalid_spec);
    EXPECT_EQ(kernel.error().message, row.message);
    EXPECT_EQ(bad_input::cache_files(), std::vector<std::string>{});
  }
}

TEST(BadInputEngine, PrefetchOfInvalidSpecsCompilesAndWritesNothing) {
  Engine engine;
  std::vector<Spec> specs;
  for (const BadSpec& row : bad_specs()) {
    Spec spec;
    spec.arch = Arch{90, false};
    row.mutate(spec);
    specs.push_back(spec);
  }
  engine.prefetch(specs);
  engine.prefetch({});
  engine.wait_prefetch();
  engine.wait_prefetch();  // twice: nothing left to wait for
  EXPECT_EQ(bad_input::cache_files(), std::vector<std::string>{});
  // The errors surface again on get().
  auto kernel = engine.get(specs.front());
  ASSERT_FALSE(kernel.ok());
  EXPECT_EQ(kernel.error().kind, ErrorKind::invalid_spec);
}

TEST(BadInputEngine, ValidSpecWithoutADriverFailsOnTheDriverAndWritesNothing) {
  Engine engine;
  for (const char* text : {"decode:hd=128,gqa=4,kv=int8", "append:kv=e4m3,arch=sm_90", "decode:arch=sm_120a"}) {
    SCOPED_TRACE(text);
    auto kernel = engine.get(parse_spec(text).value());
    ASSERT_FALSE(kernel.ok());
    EXPECT_EQ(kernel.error().kind, ErrorKind::driver);
    EXPECT_EQ(kernel.error().message.rfind("no CUDA driver found: ", 0), 0u) << kernel.error().message;
  }
  EXPECT_EQ(bad_input::cache_files(), std::vector<std::string>{});
}

// ---- launch arguments (host validation: every launch runs it before touching the driver) ----

alignas(16) int dummy[16];
int64_t slots[16];

Spec spec_of(const char* text) { return parse_spec(text).value(); }

DecodeArgs valid_decode() {
  DecodeArgs a;
  a.q = a.k_cache = a.v_cache = a.k_scales = a.v_scales = dummy;
  a.o = dummy;
  a.batch = 2;
  a.num_kv_heads = 8;
  a.block_table = a.seq_lens = a.indptr = a.indices = a.last_page_len = dummy;
  a.max_blocks_per_seq = 4;
  static const void* seqs[2] = {dummy, dummy};
  a.seq_k = a.seq_v = a.seq_k_scales = a.seq_v_scales = seqs;
  a.seq_capacity = 64;
  a.sm_scale = 0.125f;
  a.softcap = 30.0f;
  return a;
}

AppendArgs valid_append() {
  AppendArgs a;
  a.k = a.v = dummy;
  a.k_cache = a.v_cache = a.k_scales = a.v_scales = dummy;
  a.slot_mapping = slots;
  static void* seqs[2] = {dummy, dummy};
  a.seq_k = a.seq_v = a.seq_k_scales = a.seq_v_scales = seqs;
  a.seq_capacity = 64;
  a.num_tokens = 3;
  a.num_kv_heads = 8;
  return a;
}

constexpr const char* kDecodeInt8 = "decode:hd=128,gqa=4,kv=int8,arch=sm_90";
constexpr const char* kAppendInt8 = "append:hd=128,kv=int8,arch=sm_90";

struct BadDecode {
  const char* name;
  const char* spec;
  void (*mutate)(DecodeArgs&);
  std::string message;  // after "<canonical spec>: "
};

Spec other_spec = spec_of("decode:hd=128,gqa=4,kv=f16,arch=sm_90");
Spec garbage_spec = [] {
  Spec s = spec_of(kDecodeInt8);
  s.kv = static_cast<KvDtype>(99);
  return s;
}();

TEST(BadInputLaunch, DecodeArguments) {
  const BadDecode rows[] = {
      {"batch zero", kDecodeInt8, [](DecodeArgs& a) { a.batch = 0; }, "batch=0: must be positive"},
      {"batch negative", kDecodeInt8, [](DecodeArgs& a) { a.batch = -1; }, "batch=-1: must be positive"},
      {"batch INT_MIN", kDecodeInt8, [](DecodeArgs& a) { a.batch = INT_MIN; }, "batch=-2147483648: must be positive"},
      {"batch past the grid", kDecodeInt8, [](DecodeArgs& a) { a.batch = 65536; },
       "batch=65536: must be at most 65535"},
      {"batch INT_MAX", kDecodeInt8, [](DecodeArgs& a) { a.batch = INT_MAX; },
       "batch=2147483647: must be at most 65535"},
      {"kv heads zero", kDecodeInt8, [](DecodeArgs& a) { a.num_kv_heads = 0; }, "num_kv_heads=0: must be positive"},
      {"kv heads INT_MIN", kDecodeInt8, [](DecodeArgs& a) { a.num_kv_heads = INT_MIN; },
       "num_kv_heads=-2147483648: must be positive"},
      {"kv heads past the grid", "decode:gqa=16,arch=sm_90", [](DecodeArgs& a) { a.num_kv_heads = INT_MAX; },
       "num_kv_heads too large"},
      {"null q", kDecodeInt8, [](DecodeArgs& a) { a.q = nullptr; }, "q and o must be non-null"},
      {"null o", kDecodeInt8, [](DecodeArgs& a) { a.o = nullptr; }, "q and o must be non-null"},
      {"null k cache", kDecodeInt8, [](DecodeArgs& a) { a.k_cache = nullptr; }, "k_cache and v_cache must be non-null"},
      {"null v scales", kDecodeInt8, [](DecodeArgs& a) { a.v_scales = nullptr; },
       "kv=int8 needs k_scales and v_scales"},
      {"q8 null scales", "decode:hd=128,kv=q8,arch=sm_90", [](DecodeArgs& a) { a.k_scales = nullptr; },
       "kv=q8 needs k_scales and v_scales"},
      {"null block table", kDecodeInt8, [](DecodeArgs& a) { a.block_table = nullptr; },
       "paging=table needs block_table and seq_lens"},
      {"null seq lens", kDecodeInt8, [](DecodeArgs& a) { a.seq_lens = nullptr; },
       "paging=table needs block_table and seq_lens"},
      {"blocks per seq zero", kDecodeInt8, [](DecodeArgs& a) { a.max_blocks_per_seq = 0; },
       "max_blocks_per_seq=0: must be positive"},
      {"blocks per seq negative", kDecodeInt8, [](DecodeArgs& a) { a.max_blocks_per_seq = -5; },
       "max_blocks_per_seq=-5: must be positive"},
      {"csr null indptr", "decode:paging=csr,arch=sm_90", [](DecodeArgs& a) { a.indptr = nullptr; },
       "paging=csr needs indptr, indices and last_page_len"},
      {"csr null last page", "decode:paging=csr,arch=sm_90", [](DecodeArgs& a) { a.last_page_len = nullptr; },
       "paging=csr needs indptr, indices and last_page_len"},
      {"contig null seq_v", "decode:paging=contig,arch=sm_90", [](DecodeArgs& a) { a.seq_v = nullptr; },
       "paging=contig needs seq_k, seq_v and seq_lens"},
      {"contig null seq lens", "decode:paging=contig,arch=sm_90", [](DecodeArgs& a) { a.seq_lens = nullptr; },
       "paging=contig needs seq_k, seq_v and seq_lens"},
      {"contig capacity zero", "decode:paging=contig,arch=sm_90", [](DecodeArgs& a) { a.seq_capacity = 0; },
       "seq_capacity=0: must be positive"},
      {"contig capacity negative", "decode:paging=contig,arch=sm_90", [](DecodeArgs& a) { a.seq_capacity = -64; },
       "seq_capacity=-64: must be positive"},
      {"contig int8 null scales", "decode:paging=contig,kv=int8,arch=sm_90",
       [](DecodeArgs& a) { a.seq_k_scales = nullptr; }, "kv=int8 needs seq_k_scales and seq_v_scales"},
      {"sm_scale zero", kDecodeInt8, [](DecodeArgs& a) { a.sm_scale = 0.0f; },
       "sm_scale=0: must be positive and finite"},
      {"sm_scale negative", kDecodeInt8, [](DecodeArgs& a) { a.sm_scale = -0.5f; },
       "sm_scale=-0.5: must be positive and finite"},
      {"sm_scale NaN", kDecodeInt8, [](DecodeArgs& a) { a.sm_scale = kNaN; },
       "sm_scale=nan: must be positive and finite"},
      {"sm_scale inf", kDecodeInt8, [](DecodeArgs& a) { a.sm_scale = kInf; },
       "sm_scale=inf: must be positive and finite"},
      {"k_scale inf", "decode:kv=e4m3,arch=sm_90", [](DecodeArgs& a) { a.k_scale = kInf; },
       "k_scale and v_scale must be finite"},
      {"v_scale NaN", "decode:kv=e4m3,arch=sm_90", [](DecodeArgs& a) { a.v_scale = kNaN; },
       "k_scale and v_scale must be finite"},
      {"softcap zero", "decode:softcap=1,arch=sm_90", [](DecodeArgs& a) { a.softcap = 0.0f; },
       "softcap=0: must be positive and finite for a softcap=1 spec"},
      {"softcap NaN", "decode:softcap=1,arch=sm_90", [](DecodeArgs& a) { a.softcap = kNaN; },
       "softcap=nan: must be positive and finite for a softcap=1 spec"},
      {"softcap -inf", "decode:softcap=1,arch=sm_90", [](DecodeArgs& a) { a.softcap = -kInf; },
       "softcap=-inf: must be positive and finite for a softcap=1 spec"},
      {"window negative", kDecodeInt8, [](DecodeArgs& a) { a.window = INT_MIN; },
       "window=-2147483648: must not be negative"},
      {"splits negative", kDecodeInt8, [](DecodeArgs& a) { a.num_splits = -1; }, "num_splits=-1: must be in [0, 128]"},
      {"splits huge", kDecodeInt8, [](DecodeArgs& a) { a.num_splits = INT_MAX; },
       "num_splits=2147483647: must be in [0, 128]"},
      {"splits without workspace", kDecodeInt8, [](DecodeArgs& a) { a.num_splits = 2; },
       "num_splits=2 needs a workspace"},
      {"max_seq_len negative", kDecodeInt8, [](DecodeArgs& a) { a.max_seq_len = -1; },
       "max_seq_len=-1: must not be negative"},
      {"shaped for another spec", kDecodeInt8, [](DecodeArgs& a) { a.expected_spec = &other_spec; },
       "arguments were shaped for decode:hd=128,page=16,gqa=4,kv=f16,q=f16,layout=nhd,paging=table,arch=sm_90"},
      {"shaped for an invalid spec", kDecodeInt8, [](DecodeArgs& a) { a.expected_spec = &garbage_spec; },
       "expected_spec: kv=99: must be one of f16, bf16, int8, q8, e4m3, e5m2"},
      {"append kernel", "append:arch=sm_90", [](DecodeArgs&) {},
       "this kernel is a append kernel; decode arguments given"},
  };
  for (const BadDecode& row : rows) {
    SCOPED_TRACE(row.name);
    const Spec spec = spec_of(row.spec);
    DecodeArgs a = valid_decode();
    row.mutate(a);
    DecodeParams p;
    auto plan = plan_decode(spec, launch_shape(spec), a, 132, &p);
    ASSERT_FALSE(plan.ok());
    EXPECT_EQ(plan.error().kind, ErrorKind::invalid_argument);
    EXPECT_EQ(plan.error().message, to_string(spec) + ": " + row.message);
  }
}

TEST(BadInputLaunch, ValidDecodeRowsPassSoEachBadRowFailsOnItsOwnField) {
  for (const char* text : {kDecodeInt8, "decode:paging=csr,arch=sm_90", "decode:paging=contig,kv=int8,arch=sm_90",
                           "decode:softcap=1,arch=sm_90", "decode:kv=e4m3,arch=sm_90"}) {
    SCOPED_TRACE(text);
    const Spec spec = spec_of(text);
    DecodeParams p;
    auto plan = plan_decode(spec, launch_shape(spec), valid_decode(), 132, &p);
    EXPECT_TRUE(plan.ok()) << plan.error().message;
  }
}

struct BadAppend {
  const char* name;
  const char* spec;
  void (*mutate)(AppendArgs&);
  std::string message;
};

TEST(BadInputLaunch, AppendArguments) {
  const BadAppend rows[] = {
      {"tokens negative", kAppendInt8, [](AppendArgs& a) { a.num_tokens = -1; }, "num_tokens=-1: must not be negative"},
      {"tokens INT_MIN", kAppendInt8, [](AppendArgs& a) { a.num_tokens = INT_MIN; },
       "num_tokens=-2147483648: must not be negative"},
      {"kv heads zero", kAppendInt8, [](AppendArgs& a) { a.num_kv_heads = 0; }, "num_kv_heads=0: must be positive"},
      {"kv heads negative", kAppendInt8, [](AppendArgs& a) { a.num_kv_heads = -8; },
       "num_kv_heads=-8: must be positive"},
      {"kv heads past the grid", kAppendInt8, [](AppendArgs& a) { a.num_kv_heads = INT_MAX; },
       "num_kv_heads=2147483647: must be at most 262140"},
      {"null k", kAppendInt8, [](AppendArgs& a) { a.k = nullptr; }, "k, v and slot_mapping must be non-null"},
      {"null slot mapping", kAppendInt8, [](AppendArgs& a) { a.slot_mapping = nullptr; },
       "k, v and slot_mapping must be non-null"},
      {"null v cache", kAppendInt8, [](AppendArgs& a) { a.v_cache = nullptr; }, "k_cache and v_cache must be non-null"},
      {"null scales", kAppendInt8, [](AppendArgs& a) { a.k_scales = nullptr; }, "kv=int8 needs k_scales and v_scales"},
      {"contig null seq_k", "append:paging=contig,arch=sm_90", [](AppendArgs& a) { a.seq_k = nullptr; },
       "paging=contig needs seq_k and seq_v"},
      {"contig capacity", "append:paging=contig,arch=sm_90", [](AppendArgs& a) { a.seq_capacity = INT_MIN; },
       "seq_capacity=-2147483648: must be positive"},
      {"contig q8 null scales", "append:paging=contig,kv=q8,arch=sm_90",
       [](AppendArgs& a) { a.seq_v_scales = nullptr; }, "kv=q8 needs seq_k_scales and seq_v_scales"},
      {"k_scale zero", "append:kv=e4m3,arch=sm_90", [](AppendArgs& a) { a.k_scale = 0.0f; },
       "k_scale and v_scale must be finite and non-zero"},
      {"v_scale NaN", "append:kv=e5m2,arch=sm_90", [](AppendArgs& a) { a.v_scale = kNaN; },
       "k_scale and v_scale must be finite and non-zero"},
      {"k_scale -inf", "append:kv=e4m3,arch=sm_90", [](AppendArgs& a) { a.k_scale = -kInf; },
       "k_scale and v_scale must be finite and non-zero"},
      {"decode kernel", kDecodeInt8, [](AppendArgs&) {}, "this kernel is a decode kernel; append arguments given"},
      {"shaped for an invalid spec", kAppendInt8, [](AppendArgs& a) { a.expected_spec = &garbage_spec; },
       "expected_spec: kv=99: must be one of f16, bf16, int8, q8, e4m3, e5m2"},
  };
  for (const BadAppend& row : rows) {
    SCOPED_TRACE(row.name);
    const Spec spec = spec_of(row.spec);
    AppendArgs a = valid_append();
    row.mutate(a);
    AppendParams p;
    auto plan = plan_append(spec, launch_shape(spec), a, &p);
    ASSERT_FALSE(plan.ok());
    EXPECT_EQ(plan.error().kind, ErrorKind::invalid_argument);
    EXPECT_EQ(plan.error().message, to_string(spec) + ": " + row.message);
  }
}

TEST(BadInputLaunch, HugeButValidSizesDoNotOverflow) {
  // The largest grid a launch can ask for is planned without wrapping around.
  const Spec append = spec_of(kAppendInt8);
  AppendArgs a = valid_append();
  a.num_tokens = INT_MAX;
  a.num_kv_heads = 65535 * launch_shape(append).warps;
  AppendParams ap;
  auto plan = plan_append(append, launch_shape(append), a, &ap);
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  EXPECT_EQ(plan->grid[0], static_cast<unsigned>(INT_MAX));
  EXPECT_EQ(plan->grid[1], 65535u);

  const Spec decode = spec_of(kDecodeInt8);
  DecodeArgs d = valid_decode();
  d.batch = 65535;
  d.max_seq_len = INT_MAX;
  d.workspace = dummy;
  d.workspace_bytes = SIZE_MAX;
  DecodeParams dp;
  auto dplan = plan_decode(decode, launch_shape(decode), d, 132, &dp);
  ASSERT_TRUE(dplan.ok()) << dplan.error().message;
  EXPECT_EQ(dp.workspace_words, INT_MAX);  // clamped, not wrapped
}

}  // namespace
}  // namespace kvjit
