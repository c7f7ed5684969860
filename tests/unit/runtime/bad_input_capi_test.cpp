// The bad-input sweep of the C ABI (runtime/capi/kvjit.h), through libkvjit.so as a C caller links it: null
// pointers, unknown enum values, out-of-range fields, over-long and non-UTF-8 strings, buffers too small. Every
// row gives its documented status and message, nothing crashes, and nothing is written to the cache (a
// temporary KVJIT_CACHE_DIR; CTest points KVJIT_LIBCUDA at nothing, so there is no driver).
#include <gtest/gtest.h>

#include <climits>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "kvjit.h"
#include "tests/unit/runtime/bad_input_support.h"

namespace {

[[maybe_unused]] ::testing::Environment* const cache_env =
    ::testing::AddGlobalTestEnvironment(new kvjit::bad_input::TempCacheDir);

kvjit_spec default_spec() {
  kvjit_spec s;
  kvjit_spec_init(&s);
  s.arch_sm = 90;
  return s;
}

struct Row {
  const char* name;
  std::function<kvjit_status()> call;
  kvjit_status status;
  std::string message;  // exact; "" for a successful call
};

void check(const std::vector<Row>& rows) {
  for (const Row& row : rows) {
    SCOPED_TRACE(row.name);
    const kvjit_status status = row.call();
    EXPECT_EQ(status, row.status) << kvjit_status_name(status) << ": " << kvjit_last_error();
    EXPECT_EQ(std::string(kvjit_last_error()), row.message);
    EXPECT_EQ(kvjit::bad_input::cache_files(), std::vector<std::string>{});
  }
}

// A spec with one field set out of range.
std::function<kvjit_status()> validate_with(void (*mutate)(kvjit_spec&)) {
  return [mutate] {
    kvjit_spec s = default_spec();
    mutate(s);
    return kvjit_spec_validate(&s);
  };
}

const std::string kArchRule =
    "must be one of auto, sm_80, sm_86, sm_87, sm_89, sm_90, sm_90a, sm_100, sm_100a, sm_103, sm_103a, sm_120, "
    "sm_120a";

TEST(BadInputCapi, SpecStructFields) {
  check({
      {"kind 2", validate_with([](kvjit_spec& s) { s.kind = 2; }), KVJIT_ERROR_INVALID_SPEC,
       "kind=2: must be in [0, 1] (see the enum in kvjit.h)"},
      {"kind negative", validate_with([](kvjit_spec& s) { s.kind = -1; }), KVJIT_ERROR_INVALID_SPEC,
       "kind=-1: must be in [0, 1] (see the enum in kvjit.h)"},
      {"kv INT_MAX", validate_with([](kvjit_spec& s) { s.kv = INT_MAX; }), KVJIT_ERROR_INVALID_SPEC,
       "kv=2147483647: must be in [0, 5] (see the enum in kvjit.h)"},
      {"q 2", validate_with([](kvjit_spec& s) { s.q = 2; }), KVJIT_ERROR_INVALID_SPEC,
       "q=2: must be in [0, 1] (see the enum in kvjit.h)"},
      {"layout INT_MIN", validate_with([](kvjit_spec& s) { s.layout = INT_MIN; }), KVJIT_ERROR_INVALID_SPEC,
       "layout=-2147483648: must be in [0, 1] (see the enum in kvjit.h)"},
      {"paging 3", validate_with([](kvjit_spec& s) { s.paging = 3; }), KVJIT_ERROR_INVALID_SPEC,
       "paging=3: must be in [0, 2] (see the enum in kvjit.h)"},
      {"arch_specific 2", validate_with([](kvjit_spec& s) { s.arch_specific = 2; }), KVJIT_ERROR_INVALID_SPEC,
       "arch_specific=2: must be in [0, 1] (see the enum in kvjit.h)"},
      {"softcap -1", validate_with([](kvjit_spec& s) { s.softcap = -1; }), KVJIT_ERROR_INVALID_SPEC,
       "softcap=-1: must be in [0, 1] (see the enum in kvjit.h)"},
      {"scale_dtype 2", validate_with([](kvjit_spec& s) { s.scale_dtype = 2; }), KVJIT_ERROR_INVALID_SPEC,
       "scale_dtype=2: must be in [0, 1] (see the enum in kvjit.h)"},
      {"f32 scales on f16", validate_with([](kvjit_spec& s) { s.scale_dtype = KVJIT_SCALE_F32; }),
       KVJIT_ERROR_INVALID_SPEC,
       "scale_dtype=f32: needs kv=int8 or kv=q8 (the formats with scale pools); kv=f16 has none"},
      {"reserved set", validate_with([](kvjit_spec& s) { s.reserved[3] = 1; }), KVJIT_ERROR_INVALID_SPEC,
       "reserved fields of kvjit_spec must be zero"},
      {"head_dim negative", validate_with([](kvjit_spec& s) { s.head_dim = -128; }), KVJIT_ERROR_INVALID_SPEC,
       "head_dim=-128: must be a multiple of 16 in [32, 512]"},
      {"head_dim INT_MAX", validate_with([](kvjit_spec& s) { s.head_dim = INT_MAX; }), KVJIT_ERROR_INVALID_SPEC,
       "head_dim=2147483647: must be a multiple of 16 in [32, 512]"},
      {"page zero", validate_with([](kvjit_spec& s) { s.page_size = 0; }), KVJIT_ERROR_INVALID_SPEC,
       "page_size=0: must be a power of two in [1, 256]"},
      {"gqa INT_MIN", validate_with([](kvjit_spec& s) { s.gqa = INT_MIN; }), KVJIT_ERROR_INVALID_SPEC,
       "gqa=-2147483648: must be an integer in [1, 64]"},
      {"arch negative", validate_with([](kvjit_spec& s) { s.arch_sm = -1; }), KVJIT_ERROR_INVALID_SPEC,
       "arch=sm_-1: " + kArchRule},
      {"arch 75", validate_with([](kvjit_spec& s) { s.arch_sm = 75; }), KVJIT_ERROR_INVALID_SPEC,
       "arch=sm_75: " + kArchRule},
      {"auto with a suffix", validate_with([](kvjit_spec& s) {
         s.arch_sm = 0;
         s.arch_specific = 1;
       }),
       KVJIT_ERROR_INVALID_SPEC, "arch=sm_0a: " + kArchRule},
      {"valid", validate_with([](kvjit_spec&) {}), KVJIT_OK, ""},
  });
}

TEST(BadInputCapi, NullPointers) {
  kvjit_spec spec = default_spec();
  kvjit_engine* engine = nullptr;
  ASSERT_EQ(kvjit_engine_create(&engine), KVJIT_OK);
  kvjit_kernel* kernel = nullptr;
  char buf[KVJIT_SPEC_TEXT_MAX];
  size_t n = 0;
  kvjit_decode_args decode;
  kvjit_decode_args_init(&decode);
  kvjit_append_args append;
  kvjit_append_args_init(&append);
  const kvjit_status bad = KVJIT_ERROR_INVALID_ARGUMENT;
  check({
      {"spec_parse text", [&] { return kvjit_spec_parse(nullptr, &spec); }, bad,
       "kvjit_spec_parse: text and out must be non-null"},
      {"spec_parse out", [&] { return kvjit_spec_parse("decode", nullptr); }, bad,
       "kvjit_spec_parse: text and out must be non-null"},
      {"spec_validate", [&] { return kvjit_spec_validate(nullptr); }, bad,
       "kvjit_spec_validate: spec must be non-null"},
      {"spec_to_string spec", [&] { return kvjit_spec_to_string(nullptr, buf, sizeof buf); }, bad,
       "kvjit_spec_to_string: spec and buf must be non-null"},
      {"spec_to_string buf", [&] { return kvjit_spec_to_string(&spec, nullptr, 100); }, bad,
       "kvjit_spec_to_string: spec and buf must be non-null"},
      {"compile_ptx spec", [&] { return kvjit_compile_ptx(nullptr, buf, sizeof buf, &n); }, bad,
       "kvjit_compile_ptx: spec must be non-null"},
      {"model_specs model", [&] { return kvjit_model_specs(nullptr, nullptr, &spec, 1, &n); }, bad,
       "kvjit_model_specs: model and count must be non-null, and out when capacity > 0"},
      {"model_specs count", [&] { return kvjit_model_specs("llama-3-8b", nullptr, &spec, 1, nullptr); }, bad,
       "kvjit_model_specs: model and count must be non-null, and out when capacity > 0"},
      {"model_specs out", [&] { return kvjit_model_specs("llama-3-8b", nullptr, nullptr, 4, &n); }, bad,
       "kvjit_model_specs: model and count must be non-null, and out when capacity > 0"},
      {"engine_create", [&] { return kvjit_engine_create(nullptr); }, bad, "kvjit_engine_create: out must be non-null"},
      {"engine_get engine", [&] { return kvjit_engine_get(nullptr, &spec, &kernel); }, bad,
       "kvjit_engine_get: engine, spec and out must be non-null"},
      {"engine_get spec", [&] { return kvjit_engine_get(engine, nullptr, &kernel); }, bad,
       "kvjit_engine_get: engine, spec and out must be non-null"},
      {"engine_get out", [&] { return kvjit_engine_get(engine, &spec, nullptr); }, bad,
       "kvjit_engine_get: engine, spec and out must be non-null"},
      {"prefetch engine", [&] { return kvjit_engine_prefetch(nullptr, &spec, 1); }, bad,
       "kvjit_engine_prefetch: engine must be non-null, and specs when count > 0"},
      {"prefetch specs", [&] { return kvjit_engine_prefetch(engine, nullptr, 3); }, bad,
       "kvjit_engine_prefetch: engine must be non-null, and specs when count > 0"},
      {"wait_prefetch", [&] { return kvjit_engine_wait_prefetch(nullptr); }, bad,
       "kvjit_engine_wait_prefetch: engine must be non-null"},
      {"kernel_spec kernel", [&] { return kvjit_kernel_spec(nullptr, &spec); }, bad,
       "kvjit_kernel_spec: kernel and out must be non-null"},
      {"workspace kernel", [&] { return kvjit_kernel_decode_workspace_bytes(nullptr, 1, 1, &n); }, bad,
       "kvjit_kernel_decode_workspace_bytes: kernel and bytes must be non-null"},
      {"grid kernel", [&] { return kvjit_kernel_decode_grid(nullptr, 1, 1, 0, nullptr, nullptr); }, bad,
       "kvjit_kernel_decode_grid: kernel must be non-null"},
      {"decode kernel", [&] { return kvjit_kernel_decode(nullptr, nullptr, &decode); }, bad,
       "kvjit_kernel_decode: kernel and args must be non-null"},
      {"append kernel", [&] { return kvjit_kernel_append(nullptr, nullptr, &append); }, bad,
       "kvjit_kernel_append: kernel and args must be non-null"},
      {"prefetch nothing", [&] { return kvjit_engine_prefetch(engine, nullptr, 0); }, KVJIT_OK, ""},
  });
  // The release functions and the initializers accept NULL.
  kvjit_engine_destroy(nullptr);
  kvjit_kernel_release(nullptr);
  kvjit_spec_init(nullptr);
  kvjit_decode_args_init(nullptr);
  kvjit_append_args_init(nullptr);
  EXPECT_EQ(kernel, nullptr);
  kvjit_engine_destroy(engine);
}

TEST(BadInputCapi, SpecTextAndBuffers) {
  kvjit_spec spec = default_spec();
  char buf[KVJIT_SPEC_TEXT_MAX];
  const std::string long_value(1 << 20, '7');
  const std::string long_text = "decode:hd=" + long_value;
  const std::string canonical = "decode:hd=128,page=16,gqa=1,kv=f16,q=f16,layout=nhd,paging=table,arch=sm_90";
  const std::string needed = std::to_string(canonical.size() + 1);
  check({
      {"empty", [&] { return kvjit_spec_parse("", &spec); }, KVJIT_ERROR_INVALID_SPEC,
       "empty spec: expected <kind>:<field>=<value>,... (kind: decode, append)"},
      {"1 MiB value", [&] { return kvjit_spec_parse(long_text.c_str(), &spec); }, KVJIT_ERROR_INVALID_SPEC,
       "head_dim=" + long_value + ": must be a decimal integer; a multiple of 16 in [32, 512]"},
      {"non-UTF-8 value", [&] { return kvjit_spec_parse("decode:kv=\xff\xfe", &spec); }, KVJIT_ERROR_INVALID_SPEC,
       "kv=\xff\xfe: must be one of f16, bf16, int8, q8, e4m3, e5m2"},
      {"negative number", [&] { return kvjit_spec_parse("decode:gqa=-4", &spec); }, KVJIT_ERROR_INVALID_SPEC,
       "gqa=-4: must be a decimal integer; an integer in [1, 64]"},
      {"ten digits", [&] { return kvjit_spec_parse("decode:page=4294967312", &spec); }, KVJIT_ERROR_INVALID_SPEC,
       "page_size=4294967312: must be a decimal integer; a power of two in [1, 256]"},
      {"buffer of 0", [&] { return kvjit_spec_to_string(&spec, buf, 0); }, KVJIT_ERROR_BUFFER_TOO_SMALL,
       "kvjit_spec_to_string: " + canonical + " needs " + needed + " bytes, 0 given"},
      {"buffer one short", [&] { return kvjit_spec_to_string(&spec, buf, canonical.size()); },
       KVJIT_ERROR_BUFFER_TOO_SMALL,
       "kvjit_spec_to_string: " + canonical + " needs " + needed + " bytes, " + std::to_string(canonical.size()) +
           " given"},
      {"invalid spec to string",
       [&] {
         kvjit_spec s = spec;
         s.kv = 6;
         return kvjit_spec_to_string(&s, buf, sizeof buf);
       },
       KVJIT_ERROR_INVALID_SPEC, "kv=6: must be in [0, 5] (see the enum in kvjit.h)"},
      {"exact fit", [&] { return kvjit_spec_to_string(&spec, buf, canonical.size() + 1); }, KVJIT_OK, ""},
  });
  EXPECT_EQ(std::string(buf), canonical);
  // A failed parse leaves `out` untouched.
  kvjit_spec before = spec;
  EXPECT_EQ(kvjit_spec_parse("decode:hd=100", &spec), KVJIT_ERROR_INVALID_SPEC);
  EXPECT_EQ(std::memcmp(&before, &spec, sizeof spec), 0);
}

TEST(BadInputCapi, CompileAndModels) {
  kvjit_spec spec = default_spec();
  kvjit_spec out[64];
  size_t n = 12345;
  const std::string long_name(100000, 'm');
  check({
      {"compile arch auto",
       [&] {
         kvjit_spec s = spec;
         s.arch_sm = 0;
         return kvjit_compile_ptx(&s, nullptr, 0, &n);
       },
       KVJIT_ERROR_INVALID_SPEC,
       "decode:hd=128,page=16,gqa=1,kv=f16,q=f16,layout=nhd,paging=table,arch=auto: kvjit_compile_ptx needs a "
       "concrete arch (arch=auto is resolved from a device, and compiling needs none)"},
      {"compile invalid spec",
       [&] {
         kvjit_spec s = spec;
         s.gqa = 0;
         return kvjit_compile_ptx(&s, nullptr, 0, &n);
       },
       KVJIT_ERROR_INVALID_SPEC, "gqa=0: must be an integer in [1, 64]"},
      {"invalid base spec",
       [&] {
         kvjit_spec base = spec;
         base.layout = 7;
         return kvjit_model_specs("llama-3-8b", &base, out, 64, &n);
       },
       KVJIT_ERROR_INVALID_SPEC, "layout=7: must be in [0, 1] (see the enum in kvjit.h)"},
  });
  // Messages that list every known model are checked by their start.
  for (const char* name : {"no-such-model", "", "\xff\xfe", long_name.c_str()}) {
    SCOPED_TRACE(std::string(name).substr(0, 20));
    EXPECT_EQ(kvjit_model_specs(name, nullptr, out, 64, &n), KVJIT_ERROR_NOT_FOUND);
    EXPECT_EQ(std::string(kvjit_last_error()).rfind(std::string("model=") + name + ": unknown model (known: ", 0), 0u);
  }
  // Capacity 0 reports the count without writing.
  EXPECT_EQ(kvjit_model_specs("llama-3-8b", nullptr, nullptr, 0, &n), KVJIT_ERROR_BUFFER_TOO_SMALL);
  EXPECT_GT(n, 0u);
  EXPECT_EQ(kvjit::bad_input::cache_files(), std::vector<std::string>{});
}

TEST(BadInputCapi, EngineWithBadSpecsAndNoDriver) {
  kvjit_engine* engine = nullptr;
  ASSERT_EQ(kvjit_engine_create(&engine), KVJIT_OK);
  kvjit_kernel* kernel = reinterpret_cast<kvjit_kernel*>(&engine);  // must be reset to NULL on failure
  kvjit_spec specs[3] = {default_spec(), default_spec(), default_spec()};
  specs[1].page_size = 3;
  check({
      {"get invalid spec",
       [&] {
         kvjit_spec s = default_spec();
         s.paging = 9;
         return kvjit_engine_get(engine, &s, &kernel);
       },
       KVJIT_ERROR_INVALID_SPEC, "paging=9: must be in [0, 2] (see the enum in kvjit.h)"},
      {"prefetch with one invalid spec", [&] { return kvjit_engine_prefetch(engine, specs, 3); },
       KVJIT_ERROR_INVALID_SPEC, "kvjit_engine_prefetch: specs[1]: page_size=3: must be a power of two in [1, 256]"},
      {"wait", [&] { return kvjit_engine_wait_prefetch(engine); }, KVJIT_OK, ""},
  });
  EXPECT_EQ(kernel, nullptr);
  kvjit_spec valid = default_spec();
  EXPECT_EQ(kvjit_engine_get(engine, &valid, &kernel), KVJIT_ERROR_DRIVER);
  EXPECT_EQ(std::string(kvjit_last_error()).rfind("no CUDA driver found: ", 0), 0u) << kvjit_last_error();
  EXPECT_EQ(kernel, nullptr);
  EXPECT_EQ(kvjit::bad_input::cache_files(), std::vector<std::string>{});
  kvjit_engine_destroy(engine);
}

TEST(BadInputCapi, StatusNames) {
  EXPECT_STREQ(kvjit_status_name(-1), "unknown");
  EXPECT_STREQ(kvjit_status_name(INT_MAX), "unknown");
  EXPECT_STREQ(kvjit_status_name(INT_MIN), "unknown");
  EXPECT_STREQ(kvjit_status_name(KVJIT_ERROR_BUFFER_TOO_SMALL), "KVJIT_ERROR_BUFFER_TOO_SMALL");
}

}  // namespace
