// The C API (runtime/capi/kvjit.h) over the C++ host-engine API. Its one job is translation: C structs to
// C++ values, Result errors to status codes plus a thread-local message, and exceptions to KVJIT_ERROR_INTERNAL
// (nothing may unwind into a C caller).
#include <cstddef>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "compiler/models.h"
#include "compiler/nvrtc_backend.h"
#include "kvjit.h"
#include "runtime/engine.h"

#ifndef KVJIT_VERSION_STRING
#error "KVJIT_VERSION_STRING must be defined by the build"
#endif

struct kvjit_engine {
  kvjit::Engine engine;
};

struct kvjit_kernel {
  std::shared_ptr<const kvjit::Kernel> kernel;
};

namespace {

using kvjit::Error;
using kvjit::ErrorKind;

// The size of each argument struct in ABI version 1's first release. Later versions only append fields, so
// these are the smallest struct_size ever valid; the asserts keep an edit of the header from silently
// changing them or the current sizes.
constexpr size_t kDecodeArgsV1Size = 208;
constexpr size_t kAppendArgsV1Size = 128;
constexpr size_t kDecodeArgsSize = 216;  // cta_warps appended
static_assert(sizeof(void*) != 8 || sizeof(kvjit_decode_args) == kDecodeArgsSize,
              "kvjit_decode_args changed: append fields only, and keep kDecodeArgsV1Size");
static_assert(offsetof(kvjit_decode_args, cta_warps) >= kDecodeArgsV1Size, "fields are appended only");
static_assert(sizeof(void*) != 8 || sizeof(kvjit_append_args) == kAppendArgsV1Size,
              "kvjit_append_args changed: append fields only, and keep kAppendArgsV1Size");
static_assert(sizeof(kvjit_spec) == 16 * sizeof(int32_t), "kvjit_spec is 16 int32 fields");

thread_local std::string last_error;

kvjit_status status_of(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::invalid_spec:
      return KVJIT_ERROR_INVALID_SPEC;
    case ErrorKind::invalid_argument:
      return KVJIT_ERROR_INVALID_ARGUMENT;
    case ErrorKind::compile_failed:
      return KVJIT_ERROR_COMPILE;
    case ErrorKind::io:
      return KVJIT_ERROR_IO;
    case ErrorKind::driver:
      return KVJIT_ERROR_DRIVER;
    case ErrorKind::not_found:
      return KVJIT_ERROR_NOT_FOUND;
    case ErrorKind::internal:
      return KVJIT_ERROR_INTERNAL;
  }
  return KVJIT_ERROR_INTERNAL;
}

kvjit_status fail(kvjit_status status, std::string message) {
  last_error = std::move(message);
  return status;
}
kvjit_status fail(const Error& e) { return fail(status_of(e.kind), e.message); }
kvjit_status invalid_argument(const char* call, const std::string& what) {
  return fail(KVJIT_ERROR_INVALID_ARGUMENT, std::string(call) + ": " + what);
}

// Runs `body` (returning kvjit_status) with every exception turned into a status; clears the message first
// so that a successful call leaves "".
template <typename Body>
kvjit_status guarded(const char* call, Body&& body) noexcept {
  try {
    last_error.clear();
    return body();
  } catch (const kvjit::KvjitError& e) {
    return fail(e.error());
  } catch (const std::bad_alloc&) {
    return fail(KVJIT_ERROR_INTERNAL, std::string(call) + ": out of memory");
  } catch (const std::exception& e) {
    return fail(KVJIT_ERROR_INTERNAL, std::string(call) + ": " + e.what());
  } catch (...) {
    return fail(KVJIT_ERROR_INTERNAL, std::string(call) + ": unknown exception");
  }
}

// ---- spec conversion ----

kvjit::Result<kvjit::Spec> to_cpp(const kvjit_spec& c) {
  auto enum_value = [](const char* name, int32_t v, int32_t count) -> kvjit::Status {
    if (v < 0 || v >= count)
      return kvjit::make_error(ErrorKind::invalid_spec, std::string(name) + "=" + std::to_string(v) +
                                                            ": must be in [0, " + std::to_string(count - 1) +
                                                            "] (see the enum in kvjit.h)");
    return kvjit::Ok{};
  };
  KVJIT_TRY(enum_value("kind", c.kind, 2));
  KVJIT_TRY(enum_value("kv", c.kv, 6));
  KVJIT_TRY(enum_value("q", c.q, 2));
  KVJIT_TRY(enum_value("layout", c.layout, 2));
  KVJIT_TRY(enum_value("paging", c.paging, 3));
  KVJIT_TRY(enum_value("arch_specific", c.arch_specific, 2));
  KVJIT_TRY(enum_value("softcap", c.softcap, 2));
  KVJIT_TRY(enum_value("scale_dtype", c.scale_dtype, 2));
  for (int32_t r : c.reserved)
    if (r != 0) return kvjit::make_error(ErrorKind::invalid_spec, "reserved fields of kvjit_spec must be zero");
  kvjit::Spec s;
  s.kind = static_cast<kvjit::Kind>(c.kind);
  s.head_dim = c.head_dim;
  s.page_size = c.page_size;
  s.gqa = c.gqa;
  s.kv = static_cast<kvjit::KvDtype>(c.kv);
  s.q = static_cast<kvjit::QDtype>(c.q);
  s.layout = static_cast<kvjit::Layout>(c.layout);
  s.paging = static_cast<kvjit::Paging>(c.paging);
  s.arch = kvjit::Arch{c.arch_sm, c.arch_specific != 0};
  s.softcap = c.softcap != 0;
  s.scale = static_cast<kvjit::ScaleDtype>(c.scale_dtype);
  KVJIT_TRY(kvjit::validate(s));
  return s;
}

kvjit_spec to_c(const kvjit::Spec& s) {
  kvjit_spec c{};
  c.kind = static_cast<int32_t>(s.kind);
  c.head_dim = s.head_dim;
  c.page_size = s.page_size;
  c.gqa = s.gqa;
  c.kv = static_cast<int32_t>(s.kv);
  c.q = static_cast<int32_t>(s.q);
  c.layout = static_cast<int32_t>(s.layout);
  c.paging = static_cast<int32_t>(s.paging);
  c.arch_sm = s.arch.sm;
  c.arch_specific = s.arch.arch_specific ? 1 : 0;
  c.softcap = s.softcap ? 1 : 0;
  c.scale_dtype = static_cast<int32_t>(s.scale);
  return c;
}

// ---- argument structs ----

// Copies a caller's struct of `struct_size` bytes over the defaults: fields the caller's header did not have
// keep their defaults; fields this library does not know must be zero: those past its struct and reserved_,
// where the next field will go.
template <typename T>
kvjit::Result<T> read_args(const char* call, const T* in, size_t v1_size, void (*init)(T*)) {
  T out;
  init(&out);
  const size_t given = in->struct_size;
  if (given < v1_size)
    return kvjit::make_error(ErrorKind::invalid_argument, std::string(call) + ": struct_size=" + std::to_string(given) +
                                                              " is smaller than any version of the struct (" +
                                                              std::to_string(v1_size) +
                                                              "); set it with the _init function");
  const auto unknown_fields = [&] {
    return kvjit::make_error(ErrorKind::invalid_argument, std::string(call) +
                                                              ": the argument struct sets fields this library (ABI " +
                                                              std::to_string(KVJIT_ABI_VERSION) + ", version " +
                                                              KVJIT_VERSION_STRING + ") does not know");
  };
  const auto* bytes = reinterpret_cast<const unsigned char*>(in);
  for (size_t i = sizeof(T); i < given; ++i)
    if (bytes[i] != 0) return unknown_fields();
  std::memcpy(static_cast<void*>(&out), in, given < sizeof(T) ? given : sizeof(T));
  if (out.reserved_ != 0) return unknown_fields();
  out.struct_size = sizeof(T);
  return out;
}

// The expected spec of a launch, converted; `storage` keeps it alive for the launch.
kvjit::Result<const kvjit::Spec*> expected_spec(const kvjit_spec* c, kvjit::Spec* storage) {
  if (c == nullptr) return static_cast<const kvjit::Spec*>(nullptr);
  auto s = to_cpp(*c);
  if (!s) return s.error();
  *storage = *s;
  return static_cast<const kvjit::Spec*>(storage);
}

kvjit::DecodeArgs to_cpp(const kvjit_decode_args& a) {
  kvjit::DecodeArgs d;
  d.q = a.q;
  d.o = a.o;
  d.k_cache = a.k_cache;
  d.v_cache = a.v_cache;
  d.k_scales = a.k_scales;
  d.v_scales = a.v_scales;
  d.batch = a.batch;
  d.num_kv_heads = a.num_kv_heads;
  d.block_table = a.block_table;
  d.seq_lens = a.seq_lens;
  d.max_blocks_per_seq = a.max_blocks_per_seq;
  d.indptr = a.indptr;
  d.indices = a.indices;
  d.last_page_len = a.last_page_len;
  d.seq_k = a.seq_k;
  d.seq_v = a.seq_v;
  d.seq_k_scales = a.seq_k_scales;
  d.seq_v_scales = a.seq_v_scales;
  d.seq_capacity = a.seq_capacity;
  d.sm_scale = a.sm_scale;
  d.k_scale = a.k_scale;
  d.v_scale = a.v_scale;
  d.softcap = a.softcap;
  d.window = a.window;
  d.lse = a.lse;
  d.max_seq_len = a.max_seq_len;
  d.workspace = a.workspace;
  d.workspace_bytes = a.workspace_bytes;
  d.num_splits = a.num_splits;
  d.pdl = a.pdl != 0;
  d.cta_warps = a.cta_warps;
  return d;
}

kvjit::AppendArgs to_cpp(const kvjit_append_args& a) {
  kvjit::AppendArgs d;
  d.k = a.k;
  d.v = a.v;
  d.k_cache = a.k_cache;
  d.v_cache = a.v_cache;
  d.k_scales = a.k_scales;
  d.v_scales = a.v_scales;
  d.slot_mapping = a.slot_mapping;
  d.seq_k = a.seq_k;
  d.seq_v = a.seq_v;
  d.seq_k_scales = a.seq_k_scales;
  d.seq_v_scales = a.seq_v_scales;
  d.seq_capacity = a.seq_capacity;
  d.num_tokens = a.num_tokens;
  d.num_kv_heads = a.num_kv_heads;
  d.k_scale = a.k_scale;
  d.v_scale = a.v_scale;
  return d;
}

// The last PTX compiled on this thread, so that a size query followed by the real call compiles once.
struct PtxMemo {
  std::string spec_text;
  std::string ptx;
};
thread_local PtxMemo ptx_memo;

}  // namespace

extern "C" {

const char* kvjit_version(void) { return KVJIT_VERSION_STRING; }

int kvjit_abi_version(void) { return KVJIT_ABI_VERSION; }

const char* kvjit_last_error(void) { return last_error.c_str(); }

const char* kvjit_status_name(int status) {
  switch (status) {
    case KVJIT_OK:
      return "KVJIT_OK";
    case KVJIT_ERROR_INVALID_SPEC:
      return "KVJIT_ERROR_INVALID_SPEC";
    case KVJIT_ERROR_INVALID_ARGUMENT:
      return "KVJIT_ERROR_INVALID_ARGUMENT";
    case KVJIT_ERROR_COMPILE:
      return "KVJIT_ERROR_COMPILE";
    case KVJIT_ERROR_DRIVER:
      return "KVJIT_ERROR_DRIVER";
    case KVJIT_ERROR_IO:
      return "KVJIT_ERROR_IO";
    case KVJIT_ERROR_NOT_FOUND:
      return "KVJIT_ERROR_NOT_FOUND";
    case KVJIT_ERROR_BUFFER_TOO_SMALL:
      return "KVJIT_ERROR_BUFFER_TOO_SMALL";
    case KVJIT_ERROR_INTERNAL:
      return "KVJIT_ERROR_INTERNAL";
    default:
      return "unknown";
  }
}

void kvjit_spec_init(kvjit_spec* spec) {
  if (spec != nullptr) *spec = to_c(kvjit::Spec{});
}

kvjit_status kvjit_spec_parse(const char* text, kvjit_spec* out) {
  return guarded("kvjit_spec_parse", [&] {
    if (text == nullptr || out == nullptr) return invalid_argument("kvjit_spec_parse", "text and out must be non-null");
    auto spec = kvjit::parse_spec(text);
    if (!spec) return fail(spec.error());
    *out = to_c(*spec);
    return KVJIT_OK;
  });
}

kvjit_status kvjit_spec_validate(const kvjit_spec* spec) {
  return guarded("kvjit_spec_validate", [&] {
    if (spec == nullptr) return invalid_argument("kvjit_spec_validate", "spec must be non-null");
    auto s = to_cpp(*spec);
    return s ? KVJIT_OK : fail(s.error());
  });
}

kvjit_status kvjit_spec_to_string(const kvjit_spec* spec, char* buf, size_t len) {
  return guarded("kvjit_spec_to_string", [&] {
    if (spec == nullptr || buf == nullptr)
      return invalid_argument("kvjit_spec_to_string", "spec and buf must be non-null");
    auto s = to_cpp(*spec);
    if (!s) return fail(s.error());
    const std::string text = kvjit::to_string(*s);
    if (text.size() + 1 > len)
      return fail(KVJIT_ERROR_BUFFER_TOO_SMALL, "kvjit_spec_to_string: " + text + " needs " +
                                                    std::to_string(text.size() + 1) + " bytes, " + std::to_string(len) +
                                                    " given");
    std::memcpy(buf, text.c_str(), text.size() + 1);
    return KVJIT_OK;
  });
}

kvjit_status kvjit_compile_ptx(const kvjit_spec* spec, char* buf, size_t len, size_t* needed) {
  return guarded("kvjit_compile_ptx", [&] {
    if (spec == nullptr) return invalid_argument("kvjit_compile_ptx", "spec must be non-null");
    auto s = to_cpp(*spec);
    if (!s) return fail(s.error());
    if (s->arch.is_auto())
      return fail(KVJIT_ERROR_INVALID_SPEC, kvjit::to_string(*s) +
                                                ": kvjit_compile_ptx needs a concrete arch (arch=auto is resolved "
                                                "from a device, and compiling needs none)");
    const std::string text = kvjit::to_string(*s);
    if (ptx_memo.spec_text != text) {
      kvjit::CompileOptions options;
      options.cubin = false;
      auto compiled = kvjit::compile_spec(*s, options);
      if (!compiled) return fail(compiled.error());
      ptx_memo.ptx = std::move(compiled->ptx);
      ptx_memo.spec_text = text;
    }
    const size_t size = ptx_memo.ptx.size() + 1;
    if (needed != nullptr) *needed = size;
    if (buf == nullptr || len < size)
      return fail(KVJIT_ERROR_BUFFER_TOO_SMALL, "kvjit_compile_ptx: the PTX of " + text + " needs " +
                                                    std::to_string(size) + " bytes, " + std::to_string(len) + " given");
    std::memcpy(buf, ptx_memo.ptx.c_str(), size);
    return KVJIT_OK;
  });
}

kvjit_status kvjit_model_specs(const char* model, const kvjit_spec* base, kvjit_spec* out, size_t capacity,
                               size_t* count) {
  return guarded("kvjit_model_specs", [&] {
    if (model == nullptr || count == nullptr || (out == nullptr && capacity > 0))
      return invalid_argument("kvjit_model_specs", "model and count must be non-null, and out when capacity > 0");
    auto preset = kvjit::find_model(model);
    if (!preset) return fail(preset.error());
    kvjit::Spec base_spec;
    if (base != nullptr) {
      auto b = to_cpp(*base);
      if (!b) return fail(b.error());
      base_spec = *b;
    }
    const std::vector<kvjit::Spec> specs = kvjit::model_specs(*preset, base_spec);
    *count = specs.size();
    if (capacity < specs.size())
      return fail(KVJIT_ERROR_BUFFER_TOO_SMALL, "kvjit_model_specs: " + std::string(model) + " needs " +
                                                    std::to_string(specs.size()) + " specs, capacity " +
                                                    std::to_string(capacity));
    for (size_t i = 0; i < specs.size(); ++i) out[i] = to_c(specs[i]);
    return KVJIT_OK;
  });
}

kvjit_status kvjit_engine_create(kvjit_engine** out) {
  return guarded("kvjit_engine_create", [&] {
    if (out == nullptr) return invalid_argument("kvjit_engine_create", "out must be non-null");
    *out = new kvjit_engine();
    return KVJIT_OK;
  });
}

void kvjit_engine_destroy(kvjit_engine* engine) { delete engine; }  // ~Engine waits for prefetches

kvjit_status kvjit_engine_get(kvjit_engine* engine, const kvjit_spec* spec, kvjit_kernel** out) {
  return guarded("kvjit_engine_get", [&] {
    if (engine == nullptr || spec == nullptr || out == nullptr)
      return invalid_argument("kvjit_engine_get", "engine, spec and out must be non-null");
    *out = nullptr;
    auto s = to_cpp(*spec);
    if (!s) return fail(s.error());
    auto kernel = engine->engine.get(*s);
    if (!kernel) return fail(kernel.error());
    *out = new kvjit_kernel{std::move(*kernel)};
    return KVJIT_OK;
  });
}

kvjit_status kvjit_engine_prefetch(kvjit_engine* engine, const kvjit_spec* specs, size_t count) {
  return guarded("kvjit_engine_prefetch", [&] {
    if (engine == nullptr || (specs == nullptr && count > 0))
      return invalid_argument("kvjit_engine_prefetch", "engine must be non-null, and specs when count > 0");
    std::vector<kvjit::Spec> todo;
    for (size_t i = 0; i < count; ++i) {
      auto s = to_cpp(specs[i]);
      if (!s)
        return fail(status_of(s.error().kind),
                    "kvjit_engine_prefetch: specs[" + std::to_string(i) + "]: " + s.error().message);
      todo.push_back(*s);
    }
    engine->engine.prefetch(todo);
    return KVJIT_OK;
  });
}

kvjit_status kvjit_engine_wait_prefetch(kvjit_engine* engine) {
  return guarded("kvjit_engine_wait_prefetch", [&] {
    if (engine == nullptr) return invalid_argument("kvjit_engine_wait_prefetch", "engine must be non-null");
    engine->engine.wait_prefetch();
    return KVJIT_OK;
  });
}

void kvjit_kernel_release(kvjit_kernel* kernel) { delete kernel; }

kvjit_status kvjit_kernel_spec(const kvjit_kernel* kernel, kvjit_spec* out) {
  return guarded("kvjit_kernel_spec", [&] {
    if (kernel == nullptr || out == nullptr)
      return invalid_argument("kvjit_kernel_spec", "kernel and out must be non-null");
    *out = to_c(kernel->kernel->spec());
    return KVJIT_OK;
  });
}

kvjit_status kvjit_kernel_decode_workspace_bytes(const kvjit_kernel* kernel, int32_t batch, int32_t num_kv_heads,
                                                 size_t* bytes) {
  return guarded("kvjit_kernel_decode_workspace_bytes", [&] {
    if (kernel == nullptr || bytes == nullptr)
      return invalid_argument("kvjit_kernel_decode_workspace_bytes", "kernel and bytes must be non-null");
    if (batch <= 0 || num_kv_heads <= 0)
      return invalid_argument("kvjit_kernel_decode_workspace_bytes", "batch and num_kv_heads must be positive");
    *bytes = kernel->kernel->decode_workspace_bytes(batch, num_kv_heads);
    return KVJIT_OK;
  });
}

kvjit_status kvjit_kernel_decode_grid(const kvjit_kernel* kernel, int32_t batch, int32_t num_kv_heads,
                                      int32_t max_seq_len, int32_t* cta_warps, int32_t* splits) {
  return guarded("kvjit_kernel_decode_grid", [&] {
    if (kernel == nullptr) return invalid_argument("kvjit_kernel_decode_grid", "kernel must be non-null");
    if (batch <= 0 || num_kv_heads <= 0 || max_seq_len < 0)
      return invalid_argument("kvjit_kernel_decode_grid",
                              "batch and num_kv_heads must be positive, max_seq_len not negative");
    if (cta_warps != nullptr) *cta_warps = kernel->kernel->decode_cta_warps(batch, num_kv_heads, max_seq_len);
    if (splits != nullptr) *splits = kernel->kernel->decode_splits(batch, num_kv_heads, max_seq_len);
    return KVJIT_OK;
  });
}

void kvjit_decode_args_init(kvjit_decode_args* args) {
  if (args == nullptr) return;
  *args = kvjit_decode_args{};
  args->struct_size = sizeof(kvjit_decode_args);
  args->k_scale = 1.0f;
  args->v_scale = 1.0f;
}

void kvjit_append_args_init(kvjit_append_args* args) {
  if (args == nullptr) return;
  *args = kvjit_append_args{};
  args->struct_size = sizeof(kvjit_append_args);
  args->k_scale = 1.0f;
  args->v_scale = 1.0f;
}

kvjit_status kvjit_kernel_decode(const kvjit_kernel* kernel, void* stream, const kvjit_decode_args* args) {
  return guarded("kvjit_kernel_decode", [&] {
    if (kernel == nullptr || args == nullptr)
      return invalid_argument("kvjit_kernel_decode", "kernel and args must be non-null");
    auto a = read_args("kvjit_kernel_decode", args, kDecodeArgsV1Size, &kvjit_decode_args_init);
    if (!a) return fail(a.error());
    kvjit::Spec expected;
    auto expected_ptr = expected_spec(a->expected_spec, &expected);
    if (!expected_ptr) return fail(expected_ptr.error());
    kvjit::DecodeArgs d = to_cpp(*a);
    d.expected_spec = *expected_ptr;
    auto r = kernel->kernel->decode(static_cast<CUstream>(stream), d);
    return r ? KVJIT_OK : fail(r.error());
  });
}

kvjit_status kvjit_kernel_append(const kvjit_kernel* kernel, void* stream, const kvjit_append_args* args) {
  return guarded("kvjit_kernel_append", [&] {
    if (kernel == nullptr || args == nullptr)
      return invalid_argument("kvjit_kernel_append", "kernel and args must be non-null");
    auto a = read_args("kvjit_kernel_append", args, kAppendArgsV1Size, &kvjit_append_args_init);
    if (!a) return fail(a.error());
    kvjit::Spec expected;
    auto expected_ptr = expected_spec(a->expected_spec, &expected);
    if (!expected_ptr) return fail(expected_ptr.error());
    kvjit::AppendArgs d = to_cpp(*a);
    d.expected_spec = *expected_ptr;
    auto r = kernel->kernel->append(static_cast<CUstream>(stream), d);
    return r ? KVJIT_OK : fail(r.error());
  });
}

}  // extern "C"
