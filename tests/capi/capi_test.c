/* The C API from C99, no GPU: specs, errors, compiling to PTX, the no-driver path, null arguments.
 * CTest runs it with KVJIT_LIBCUDA pointing nowhere, so the engine path fails the same way on GPU machines. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvjit.h"

static int failures = 0;
static int checks = 0;

#define CHECK(cond)                                                                    \
  do {                                                                                 \
    ++checks;                                                                          \
    if (!(cond)) {                                                                     \
      ++failures;                                                                      \
      fprintf(stderr, "%s:%d: CHECK(%s) failed; last error: %s\n", __FILE__, __LINE__, \
              #cond, kvjit_last_error());                                              \
    }                                                                                  \
  } while (0)

#define CHECK_STATUS(call, expected)                                                              \
  do {                                                                                            \
    int status_ = (call);                                                                         \
    ++checks;                                                                                     \
    if (status_ != (expected)) {                                                                  \
      ++failures;                                                                                 \
      fprintf(stderr, "%s:%d: %s returned %s, expected %s; last error: %s\n", __FILE__, __LINE__, \
              #call, kvjit_status_name(status_), #expected, kvjit_last_error());                  \
    }                                                                                             \
  } while (0)

static int contains(const char* text, const char* part) { return text != NULL && strstr(text, part) != NULL; }

static void test_version(void) {
  CHECK(kvjit_abi_version() == KVJIT_ABI_VERSION);
  CHECK(strlen(kvjit_version()) >= 5); /* "0.1.0" */
  CHECK(strcmp(kvjit_status_name(KVJIT_ERROR_DRIVER), "KVJIT_ERROR_DRIVER") == 0);
  CHECK(strcmp(kvjit_status_name(12345), "unknown") == 0);
}

static void test_default_spec(void) {
  kvjit_spec spec;
  char text[KVJIT_SPEC_TEXT_MAX];
  kvjit_spec_init(&spec);
  CHECK_STATUS(kvjit_spec_to_string(&spec, text, sizeof text), KVJIT_OK);
  CHECK(strcmp(text, "decode:hd=128,page=16,gqa=1,kv=f16,q=f16,layout=nhd,paging=table,arch=auto") == 0);
}

static void test_parse_print_round_trip(void) {
  const char* inputs[] = {
      "decode:gqa=4,kv=int8,hd=64",
      "append:head_dim=256,page_size=32,kv=e4m3,q=bf16,layout=hnd,paging=csr,arch=sm_90a",
      "decode:kv=q8,hd=96,arch=sm_89,paging=contig",
      "decode:softcap=1,gqa=2",
      "decode:kv=q8,scale=f32,paging=contig",
  };
  size_t i;
  for (i = 0; i < sizeof inputs / sizeof inputs[0]; ++i) {
    kvjit_spec a, b;
    char text[KVJIT_SPEC_TEXT_MAX], again[KVJIT_SPEC_TEXT_MAX];
    CHECK_STATUS(kvjit_spec_parse(inputs[i], &a), KVJIT_OK);
    CHECK_STATUS(kvjit_spec_to_string(&a, text, sizeof text), KVJIT_OK);
    CHECK_STATUS(kvjit_spec_parse(text, &b), KVJIT_OK);
    CHECK(memcmp(&a, &b, sizeof a) == 0);
    CHECK_STATUS(kvjit_spec_to_string(&b, again, sizeof again), KVJIT_OK);
    CHECK(strcmp(text, again) == 0);
    CHECK(strlen(kvjit_last_error()) == 0);
  }
  {
    kvjit_spec s;
    CHECK_STATUS(kvjit_spec_parse("append:head_dim=256,page_size=32,kv=e4m3,q=bf16,layout=hnd,paging=csr,arch=sm_90a", &s),
                 KVJIT_OK);
    CHECK(s.kind == KVJIT_KIND_APPEND && s.head_dim == 256 && s.page_size == 32 && s.gqa == 1);
    CHECK(s.kv == KVJIT_KV_E4M3 && s.q == KVJIT_Q_BF16 && s.layout == KVJIT_LAYOUT_HND);
    CHECK(s.paging == KVJIT_PAGING_CSR && s.arch_sm == 90 && s.arch_specific == 1 && s.softcap == 0);
    CHECK(s.scale_dtype == KVJIT_SCALE_F16);
    CHECK_STATUS(kvjit_spec_parse("decode:kv=int8,scale=f32", &s), KVJIT_OK);
    CHECK(s.kv == KVJIT_KV_INT8 && s.scale_dtype == KVJIT_SCALE_F32);
  }
}

static void test_invalid_specs(void) {
  kvjit_spec spec;
  char text[KVJIT_SPEC_TEXT_MAX];
  kvjit_spec_init(&spec);
  CHECK_STATUS(kvjit_spec_parse("decode:hd=100", &spec), KVJIT_ERROR_INVALID_SPEC);
  CHECK(contains(kvjit_last_error(), "head_dim=100: must be a multiple of 16 in [32, 512]"));
  CHECK(spec.head_dim == 128); /* untouched on failure */
  CHECK_STATUS(kvjit_spec_parse("decode:color=red", &spec), KVJIT_ERROR_INVALID_SPEC);
  CHECK(contains(kvjit_last_error(), "unknown field 'color'"));
  CHECK_STATUS(kvjit_spec_parse("", &spec), KVJIT_ERROR_INVALID_SPEC);

  /* A spec built in code is validated by every call that takes one. */
  spec.kv = 99;
  CHECK_STATUS(kvjit_spec_validate(&spec), KVJIT_ERROR_INVALID_SPEC);
  CHECK(contains(kvjit_last_error(), "kv=99"));
  CHECK_STATUS(kvjit_spec_to_string(&spec, text, sizeof text), KVJIT_ERROR_INVALID_SPEC);
  kvjit_spec_init(&spec);
  spec.page_size = 24;
  CHECK_STATUS(kvjit_spec_validate(&spec), KVJIT_ERROR_INVALID_SPEC);
  CHECK(contains(kvjit_last_error(), "page_size=24"));
  kvjit_spec_init(&spec);
  spec.reserved[2] = 1;
  CHECK_STATUS(kvjit_spec_validate(&spec), KVJIT_ERROR_INVALID_SPEC);
  CHECK(contains(kvjit_last_error(), "reserved"));
  kvjit_spec_init(&spec);
  spec.arch_sm = 75;
  CHECK_STATUS(kvjit_spec_validate(&spec), KVJIT_ERROR_INVALID_SPEC);
  CHECK(contains(kvjit_last_error(), "arch=sm_75"));

  /* A successful call clears the message. */
  kvjit_spec_init(&spec);
  CHECK_STATUS(kvjit_spec_validate(&spec), KVJIT_OK);
  CHECK(strcmp(kvjit_last_error(), "") == 0);
}

static void test_buffer_too_small(void) {
  kvjit_spec spec;
  char small[8];
  kvjit_spec_init(&spec);
  CHECK_STATUS(kvjit_spec_to_string(&spec, small, sizeof small), KVJIT_ERROR_BUFFER_TOO_SMALL);
  CHECK(contains(kvjit_last_error(), "needs 75 bytes, 8 given"));
}

static void test_compile_ptx(void) {
  kvjit_spec spec;
  size_t needed = 0;
  char* ptx;
  CHECK_STATUS(kvjit_spec_parse("decode:hd=64,gqa=4,kv=int8,arch=sm_90", &spec), KVJIT_OK);
  CHECK_STATUS(kvjit_compile_ptx(&spec, NULL, 0, &needed), KVJIT_ERROR_BUFFER_TOO_SMALL);
  CHECK(needed > 1000);
  ptx = (char*)malloc(needed);
  if (ptx == NULL) return;
  CHECK_STATUS(kvjit_compile_ptx(&spec, ptx, needed, NULL), KVJIT_OK);
  CHECK(strlen(ptx) + 1 == needed);
  CHECK(contains(ptx, ".target sm_90"));
  CHECK(contains(ptx, ".entry kvjit_decode_hd_64_page_16_gqa_4_kv_int8"));
  free(ptx);

  /* arch=auto means "the device's arch": compiling without a device needs a concrete one. */
  spec.arch_sm = 0;
  CHECK_STATUS(kvjit_compile_ptx(&spec, NULL, 0, &needed), KVJIT_ERROR_INVALID_SPEC);
  CHECK(contains(kvjit_last_error(), "concrete arch"));
}

static void test_model_specs(void) {
  kvjit_spec specs[4], base;
  size_t count = 0;
  CHECK_STATUS(kvjit_model_specs("llama-3-8b", NULL, NULL, 0, &count), KVJIT_ERROR_BUFFER_TOO_SMALL);
  CHECK(count == 2);
  CHECK_STATUS(kvjit_spec_parse("decode:kv=int8,arch=sm_90", &base), KVJIT_OK);
  CHECK_STATUS(kvjit_model_specs("llama-3-8b", &base, specs, 4, &count), KVJIT_OK);
  CHECK(count == 2);
  CHECK(specs[0].kind == KVJIT_KIND_APPEND && specs[1].kind == KVJIT_KIND_DECODE);
  CHECK(specs[1].gqa == 4 && specs[1].head_dim == 128 && specs[1].kv == KVJIT_KV_INT8 && specs[1].arch_sm == 90);
  CHECK_STATUS(kvjit_model_specs("no-such-model", NULL, specs, 4, &count), KVJIT_ERROR_NOT_FOUND);
  CHECK(contains(kvjit_last_error(), "unknown model"));
}

static void test_engine_without_driver(void) {
  kvjit_engine* engine = NULL;
  kvjit_kernel* kernel = (kvjit_kernel*)&engine; /* set to NULL on failure */
  kvjit_spec spec, concrete;
  kvjit_spec_init(&spec);
  CHECK_STATUS(kvjit_engine_create(&engine), KVJIT_OK);
  CHECK(engine != NULL);
  CHECK_STATUS(kvjit_engine_get(engine, &spec, &kernel), KVJIT_ERROR_DRIVER);
  CHECK(contains(kvjit_last_error(), "no CUDA driver found"));
  CHECK(kernel == NULL);

  /* An invalid spec is reported as such, before the driver. */
  spec.head_dim = 100;
  CHECK_STATUS(kvjit_engine_get(engine, &spec, &kernel), KVJIT_ERROR_INVALID_SPEC);

  /* Prefetch compiles without a driver; specs are checked first, naming the bad one. */
  CHECK_STATUS(kvjit_spec_parse("append:hd=64,kv=int8,arch=sm_80", &concrete), KVJIT_OK);
  CHECK_STATUS(kvjit_engine_prefetch(engine, &concrete, 1), KVJIT_OK);
  CHECK_STATUS(kvjit_engine_wait_prefetch(engine), KVJIT_OK);
  {
    kvjit_spec two[2];
    two[0] = concrete;
    two[1] = spec;
    CHECK_STATUS(kvjit_engine_prefetch(engine, two, 2), KVJIT_ERROR_INVALID_SPEC);
    CHECK(contains(kvjit_last_error(), "specs[1]"));
  }
  kvjit_engine_destroy(engine);
}

static void test_null_arguments(void) {
  kvjit_spec spec;
  kvjit_engine* engine = NULL;
  kvjit_kernel* kernel = NULL;
  kvjit_decode_args decode;
  kvjit_append_args append;
  size_t n = 0;
  char buf[16];
  kvjit_spec_init(&spec);
  CHECK_STATUS(kvjit_spec_parse(NULL, &spec), KVJIT_ERROR_INVALID_ARGUMENT);
  CHECK(contains(kvjit_last_error(), "kvjit_spec_parse"));
  CHECK_STATUS(kvjit_spec_parse("decode", NULL), KVJIT_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(kvjit_spec_validate(NULL), KVJIT_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(kvjit_spec_to_string(NULL, buf, sizeof buf), KVJIT_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(kvjit_spec_to_string(&spec, NULL, 0), KVJIT_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(kvjit_compile_ptx(NULL, NULL, 0, &n), KVJIT_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(kvjit_model_specs(NULL, NULL, NULL, 0, &n), KVJIT_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(kvjit_model_specs("llama-3-8b", NULL, NULL, 0, NULL), KVJIT_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(kvjit_engine_create(NULL), KVJIT_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(kvjit_engine_get(NULL, &spec, &kernel), KVJIT_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(kvjit_engine_prefetch(NULL, &spec, 1), KVJIT_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(kvjit_engine_wait_prefetch(NULL), KVJIT_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(kvjit_engine_create(&engine), KVJIT_OK);
  CHECK_STATUS(kvjit_engine_get(engine, NULL, &kernel), KVJIT_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(kvjit_engine_get(engine, &spec, NULL), KVJIT_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(kvjit_engine_prefetch(engine, NULL, 1), KVJIT_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(kvjit_engine_prefetch(engine, NULL, 0), KVJIT_OK);
  kvjit_engine_destroy(engine);
  CHECK_STATUS(kvjit_kernel_spec(NULL, &spec), KVJIT_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(kvjit_kernel_decode_workspace_bytes(NULL, 1, 1, &n), KVJIT_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(kvjit_kernel_decode_grid(NULL, 1, 1, 0, NULL, NULL), KVJIT_ERROR_INVALID_ARGUMENT);
  kvjit_decode_args_init(&decode);
  kvjit_append_args_init(&append);
  CHECK(decode.struct_size == sizeof decode && decode.k_scale == 1.0f && decode.v_scale == 1.0f && decode.q == NULL &&
        decode.pdl == 0 && decode.cta_warps == 0);
  CHECK(append.struct_size == sizeof append && append.k_scale == 1.0f && append.num_tokens == 0);
  CHECK_STATUS(kvjit_kernel_decode(NULL, NULL, &decode), KVJIT_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(kvjit_kernel_append(NULL, NULL, &append), KVJIT_ERROR_INVALID_ARGUMENT);
  /* These accept NULL. */
  kvjit_engine_destroy(NULL);
  kvjit_kernel_release(NULL);
  kvjit_spec_init(NULL);
  kvjit_decode_args_init(NULL);
  kvjit_append_args_init(NULL);
}

int main(void) {
  test_version();
  test_default_spec();
  test_parse_print_round_trip();
  test_invalid_specs();
  test_buffer_too_small();
  test_compile_ptx();
  test_model_specs();
  test_engine_without_driver();
  test_null_arguments();
  printf("capi_test: %d checks, %d failed\n", checks, failures);
  return failures == 0 ? 0 : 1;
}
