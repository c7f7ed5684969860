// kvjit._kvjit: the thin native layer under the Python package (tools/python/kvjit). It speaks in canonical
// spec text, plain integers (device pointers) and dicts; the Python side owns the user-facing classes, tensor
// handling and argument checks. Library errors become the exception classes defined here.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/shared_ptr.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "compiler/models.h"
#include "compiler/nvrtc_backend.h"
#include "runtime/device.h"
#include "runtime/driver.h"
#include "runtime/engine.h"

namespace nb = nanobind;
using namespace nb::literals;

namespace {

// Exception classes, created at import (see NB_MODULE). SpecError and ArgumentError are also ValueErrors,
// NotFoundError a LookupError, so generic handlers catch them.
struct Exceptions {
  PyObject* error = nullptr;
  PyObject* spec = nullptr;
  PyObject* argument = nullptr;
  PyObject* compile = nullptr;
  PyObject* driver = nullptr;
  PyObject* io = nullptr;
  PyObject* not_found = nullptr;
};
Exceptions exceptions;

PyObject* exception_for(kvjit::ErrorKind kind) {
  switch (kind) {
    case kvjit::ErrorKind::invalid_spec:
      return exceptions.spec;
    case kvjit::ErrorKind::invalid_argument:
      return exceptions.argument;
    case kvjit::ErrorKind::compile_failed:
      return exceptions.compile;
    case kvjit::ErrorKind::driver:
      return exceptions.driver;
    case kvjit::ErrorKind::io:
      return exceptions.io;
    case kvjit::ErrorKind::not_found:
      return exceptions.not_found;
    case kvjit::ErrorKind::internal:
      return exceptions.error;
  }
  return exceptions.error;
}

template <typename T>
T unwrap(kvjit::Result<T> r) {
  return std::move(r).value_or_throw();  // KvjitError, translated below
}

kvjit::Spec parse(const std::string& text) { return unwrap(kvjit::parse_spec(text)); }

nb::dict spec_fields(const kvjit::Spec& s) {
  nb::dict d;
  d["kind"] = std::string(kvjit::to_string(s.kind));
  d["head_dim"] = s.head_dim;
  d["page_size"] = s.page_size;
  d["gqa"] = s.gqa;
  d["kv"] = std::string(kvjit::to_string(s.kv));
  d["q"] = std::string(kvjit::to_string(s.q));
  d["layout"] = std::string(kvjit::to_string(s.layout));
  d["paging"] = std::string(kvjit::to_string(s.paging));
  d["arch"] = kvjit::to_string(s.arch);
  d["softcap"] = s.softcap;
  d["scale_dtype"] = std::string(kvjit::to_string(s.scale));
  // None: auto (tensor cores where supported); True / False: mma=1 / mma=0.
  if (s.mma == kvjit::Mma::auto_)
    d["mma"] = nb::none();
  else
    d["mma"] = s.mma == kvjit::Mma::on;
  d["backend"] = std::string(kvjit::to_string(s.backend));
  d["text"] = kvjit::to_string(s);
  return d;
}

nb::dict compiled_dict(const kvjit::CompiledKernel& k) {
  nb::dict d;
  d["spec"] = kvjit::to_string(k.spec);
  d["symbol"] = k.symbol;
  d["ptx"] = k.ptx;
  d["cubin"] = nb::bytes(reinterpret_cast<const char*>(k.cubin.data()), k.cubin.size());
  d["log"] = k.log;
  d["options"] = k.options;
  d["backend"] = k.backend;
  d["compile_ms"] = k.compile_ms;
  d["registers"] = k.resources.registers;
  d["shared_bytes"] = k.resources.shared_bytes;
  d["stack_bytes"] = k.resources.stack_bytes;
  d["spill_store_bytes"] = k.resources.spill_store_bytes;
  d["spill_load_bytes"] = k.resources.spill_load_bytes;
  d["threads_per_cta"] = k.shape.threads();
  d["wide_threads_per_cta"] = 32 * k.shape.wide_warps;
  d["heads_per_cta"] = k.shape.heads_per_cta;
  return d;
}

// ---- device contexts ----

const kvjit::DriverApi* cu() { return unwrap(kvjit::driver()); }

void check(CUresult rc, const char* call) {
  if (rc != CUDA_SUCCESS) throw kvjit::KvjitError(kvjit::driver_error(rc, call));
}

// The device of the calling thread's current context, or -1 when none is current.
int current_device() {
  const kvjit::DriverApi* api = cu();
  CUcontext ctx = nullptr;
  check(api->cuCtxGetCurrent_(&ctx), "cuCtxGetCurrent");
  if (ctx == nullptr) return -1;
  CUdevice dev = 0;
  check(api->cuCtxGetDevice_(&dev), "cuCtxGetDevice");
  return static_cast<int>(dev);
}

// Makes `device`'s primary context current (what cudaSetDevice does) unless a context of that device
// already is; returns the previous context (as an integer) for restore_context.
uintptr_t use_device(int device) {
  const kvjit::DriverApi* api = cu();
  CUcontext previous = nullptr;
  check(api->cuCtxGetCurrent_(&previous), "cuCtxGetCurrent");
  if (previous != nullptr && current_device() == device) return reinterpret_cast<uintptr_t>(previous);
  CUdevice dev = 0;
  check(api->cuDeviceGet_(&dev, device), "cuDeviceGet");
  CUcontext primary = nullptr;
  // Retained once per device for the life of the process, like the CUDA runtime's primary contexts.
  static std::mutex mu;
  static std::map<int, CUcontext> retained;
  {
    std::lock_guard lock(mu);
    auto it = retained.find(device);
    if (it == retained.end()) {
      check(api->cuDevicePrimaryCtxRetain_(&primary, dev), "cuDevicePrimaryCtxRetain");
      retained[device] = primary;
    } else {
      primary = it->second;
    }
  }
  check(api->cuCtxSetCurrent_(primary), "cuCtxSetCurrent");
  return reinterpret_cast<uintptr_t>(previous);
}

void restore_context(uintptr_t ctx) {
  check(cu()->cuCtxSetCurrent_(reinterpret_cast<CUcontext>(ctx)), "cuCtxSetCurrent");
}

// ---- launches ----

struct PyKernel {
  std::shared_ptr<const kvjit::Kernel> kernel;
  int device = -1;  // device of the context it was loaded in
};

template <typename Args>
using Setter = std::function<void(Args&, nb::handle)>;

template <typename Args, typename Ptr>
Setter<Args> ptr_field(Ptr Args::*member) {
  return [member](Args& a, nb::handle v) { a.*member = reinterpret_cast<Ptr>(nb::cast<uintptr_t>(v)); };
}
template <typename Args, typename T>
Setter<Args> value_field(T Args::*member) {
  return [member](Args& a, nb::handle v) { a.*member = nb::cast<T>(v); };
}

const std::map<std::string, Setter<kvjit::DecodeArgs>>& decode_fields() {
  using A = kvjit::DecodeArgs;
  static const std::map<std::string, Setter<A>> table = {
      {"q", ptr_field(&A::q)},
      {"o", ptr_field(&A::o)},
      {"k_cache", ptr_field(&A::k_cache)},
      {"v_cache", ptr_field(&A::v_cache)},
      {"k_scales", ptr_field(&A::k_scales)},
      {"v_scales", ptr_field(&A::v_scales)},
      {"block_table", ptr_field(&A::block_table)},
      {"seq_lens", ptr_field(&A::seq_lens)},
      {"indptr", ptr_field(&A::indptr)},
      {"indices", ptr_field(&A::indices)},
      {"last_page_len", ptr_field(&A::last_page_len)},
      {"seq_k", ptr_field(&A::seq_k)},
      {"seq_v", ptr_field(&A::seq_v)},
      {"seq_k_scales", ptr_field(&A::seq_k_scales)},
      {"seq_v_scales", ptr_field(&A::seq_v_scales)},
      {"lse", ptr_field(&A::lse)},
      {"workspace", ptr_field(&A::workspace)},
      {"workspace_bytes", value_field(&A::workspace_bytes)},
      {"batch", value_field(&A::batch)},
      {"num_kv_heads", value_field(&A::num_kv_heads)},
      {"max_blocks_per_seq", value_field(&A::max_blocks_per_seq)},
      {"seq_capacity", value_field(&A::seq_capacity)},
      {"sm_scale", value_field(&A::sm_scale)},
      {"k_scale", value_field(&A::k_scale)},
      {"v_scale", value_field(&A::v_scale)},
      {"softcap", value_field(&A::softcap)},
      {"window", value_field(&A::window)},
      {"max_seq_len", value_field(&A::max_seq_len)},
      {"num_splits", value_field(&A::num_splits)},
      {"pdl", value_field(&A::pdl)},
      {"cta_warps", value_field(&A::cta_warps)},
  };
  return table;
}

const std::map<std::string, Setter<kvjit::AppendArgs>>& append_fields() {
  using A = kvjit::AppendArgs;
  static const std::map<std::string, Setter<A>> table = {
      {"k", ptr_field(&A::k)},
      {"v", ptr_field(&A::v)},
      {"k_cache", ptr_field(&A::k_cache)},
      {"v_cache", ptr_field(&A::v_cache)},
      {"k_scales", ptr_field(&A::k_scales)},
      {"v_scales", ptr_field(&A::v_scales)},
      {"slot_mapping", ptr_field(&A::slot_mapping)},
      {"seq_k", ptr_field(&A::seq_k)},
      {"seq_v", ptr_field(&A::seq_v)},
      {"seq_k_scales", ptr_field(&A::seq_k_scales)},
      {"seq_v_scales", ptr_field(&A::seq_v_scales)},
      {"seq_capacity", value_field(&A::seq_capacity)},
      {"num_tokens", value_field(&A::num_tokens)},
      {"num_kv_heads", value_field(&A::num_kv_heads)},
      {"k_scale", value_field(&A::k_scale)},
      {"v_scale", value_field(&A::v_scale)},
  };
  return table;
}

template <typename Args>
Args read_args(const nb::dict& values, const std::map<std::string, Setter<Args>>& fields) {
  Args args;
  for (auto [key, value] : values) {
    const std::string name = nb::cast<std::string>(key);
    auto it = fields.find(name);
    if (it == fields.end())
      throw kvjit::KvjitError(kvjit::make_error(kvjit::ErrorKind::invalid_argument, "unknown launch argument " + name));
    it->second(args, value);
  }
  return args;
}

void launch_decode(const PyKernel& k, uintptr_t stream, const nb::dict& values) {
  const kvjit::DecodeArgs args = read_args(values, decode_fields());
  unwrap(k.kernel->decode(reinterpret_cast<CUstream>(stream), args));
}

void launch_append(const PyKernel& k, uintptr_t stream, const nb::dict& values) {
  const kvjit::AppendArgs args = read_args(values, append_fields());
  unwrap(k.kernel->append(reinterpret_cast<CUstream>(stream), args));
}

// ---- tensors through DLPack (torch tensors and __cuda_array_interface__ are read in Python) ----

nb::dict dlpack_info(nb::ndarray<nb::ro> array) {
  nb::dict d;
  d["ptr"] = reinterpret_cast<uintptr_t>(array.data());
  nb::list shape, strides;
  for (size_t i = 0; i < array.ndim(); ++i) {
    shape.append(static_cast<int64_t>(array.shape(i)));
    strides.append(array.stride(i));
  }
  d["shape"] = nb::tuple(shape);
  d["strides"] = nb::tuple(strides);  // in elements
  d["code"] = static_cast<int>(array.dtype().code);
  d["bits"] = static_cast<int>(array.dtype().bits);
  d["lanes"] = static_cast<int>(array.dtype().lanes);
  d["device_type"] = array.device_type();
  d["device_id"] = array.device_id();
  return d;
}

}  // namespace

NB_MODULE(_kvjit, m) {
  m.doc() = "kvjit native layer; use the kvjit package";
  m.attr("__version__") = KVJIT_VERSION_STRING;

  auto make_exception = [&](const char* name, PyObject* bases) {
    const std::string qualified = std::string("kvjit.") + name;
    PyObject* type = PyErr_NewException(qualified.c_str(), bases, nullptr);
    if (type == nullptr) throw nb::python_error();
    m.attr(name) = nb::handle(type);
    return type;
  };
  exceptions.error = make_exception("Error", PyExc_RuntimeError);
  auto with = [&](PyObject* extra) {
    return nb::make_tuple(nb::handle(exceptions.error), nb::handle(extra)).release().ptr();
  };
  exceptions.spec = make_exception("SpecError", with(PyExc_ValueError));
  exceptions.argument = make_exception("ArgumentError", with(PyExc_ValueError));
  exceptions.compile = make_exception("CompileError", exceptions.error);
  exceptions.driver = make_exception("DriverError", exceptions.error);
  exceptions.io = make_exception("CacheError", exceptions.error);
  exceptions.not_found = make_exception("NotFoundError", with(PyExc_LookupError));
  nb::register_exception_translator([](const std::exception_ptr& p, void*) {
    try {
      std::rethrow_exception(p);
    } catch (const kvjit::KvjitError& e) {
      PyErr_SetString(exception_for(e.error().kind), e.what());
    }
  });

  m.def(
      "parse_spec", [](const std::string& text) { return spec_fields(parse(text)); }, "text"_a,
      "Parses spec text; returns its fields and canonical text.");
  m.def("nvrtc_version", &kvjit::nvrtc_version);

  m.def(
      "compile",
      [](const std::string& text, bool cubin) {
        const kvjit::Spec spec = parse(text);
        kvjit::CompileOptions options;
        options.cubin = cubin;
        kvjit::Result<kvjit::CompiledKernel> r = [&] {
          nb::gil_scoped_release release;
          return kvjit::compile_spec(spec, options);
        }();
        return compiled_dict(unwrap(std::move(r)));
      },
      "spec"_a, "cubin"_a = true);

  m.def(
      "specialize",
      [](const std::string& text) {
        const kvjit::SpecializedSource s = unwrap(kvjit::specialize(parse(text)));
        nb::dict d;
        d["source"] = s.source;
        d["file_name"] = s.file_name;
        d["symbol"] = s.symbol;
        return d;
      },
      "spec"_a);

  m.def(
      "file_stem", [](const std::string& text) { return kvjit::file_stem(parse(text)); }, "spec"_a);

  m.def("templates", [] {
    const kvjit::TemplateSet set = unwrap(kvjit::load_templates());
    std::vector<std::pair<std::string, std::string>> out;
    for (size_t i = 0; i < set.names.size(); ++i) out.emplace_back(set.names[i], set.texts[i]);
    return out;
  });

  m.def("models", [] {
    nb::list out;
    for (const kvjit::ModelPreset& p : kvjit::model_presets())
      out.append(nb::make_tuple(std::string(p.name), p.head_dim, p.num_q_heads, p.num_kv_heads, std::string(p.source)));
    return out;
  });

  m.def(
      "model_specs",
      [](const std::string& name, const std::string& base) {
        const kvjit::ModelPreset preset = unwrap(kvjit::find_model(name));
        std::vector<std::string> out;
        for (const kvjit::Spec& s : kvjit::model_specs(preset, parse(base))) out.push_back(kvjit::to_string(s));
        return out;
      },
      "name"_a, "base"_a);

  m.def("current_device", &current_device, "Device of the current context, -1 when none.");
  m.def("use_device", &use_device, "device"_a);
  m.def("restore_context", &restore_context, "ctx"_a);
  m.def("dlpack_info", &dlpack_info, "array"_a);

  nb::class_<PyKernel>(m, "Kernel")
      .def_prop_ro("spec", [](const PyKernel& k) { return kvjit::to_string(k.kernel->spec()); })
      .def_prop_ro("device", [](const PyKernel& k) { return k.device; })
      .def_prop_ro("loaded_from_cubin", [](const PyKernel& k) { return k.kernel->loaded_from_cubin(); })
      .def(
          "decode_workspace_bytes",
          [](const PyKernel& k, int batch, int num_kv_heads) {
            return k.kernel->decode_workspace_bytes(batch, num_kv_heads);
          },
          "batch"_a, "num_kv_heads"_a)
      .def(
          "decode_grid",
          [](const PyKernel& k, int batch, int num_kv_heads, int max_seq_len) {
            return std::make_pair(k.kernel->decode_cta_warps(batch, num_kv_heads, max_seq_len),
                                  k.kernel->decode_splits(batch, num_kv_heads, max_seq_len));
          },
          "batch"_a, "num_kv_heads"_a, "max_seq_len"_a)
      .def("decode", &launch_decode, "stream"_a, "args"_a)
      .def("append", &launch_append, "stream"_a, "args"_a);

  nb::class_<kvjit::Engine>(m, "Engine")
      .def(nb::init<>())
      .def(
          "get",
          [](kvjit::Engine& e, const std::string& text) {
            const kvjit::Spec spec = parse(text);
            kvjit::Result<std::shared_ptr<const kvjit::Kernel>> r = [&] {
              nb::gil_scoped_release release;
              return e.get(spec);
            }();
            PyKernel k{unwrap(std::move(r)), -1};
            k.device = current_device();
            return k;
          },
          "spec"_a)
      .def(
          "prefetch",
          [](kvjit::Engine& e, const std::vector<std::string>& texts) {
            std::vector<kvjit::Spec> specs;
            for (const std::string& t : texts) specs.push_back(parse(t));
            e.prefetch(specs);
          },
          "specs"_a)
      .def("wait_prefetch", [](kvjit::Engine& e) {
        nb::gil_scoped_release release;
        e.wait_prefetch();
      });
}
