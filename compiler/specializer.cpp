#include "compiler/specializer.h"

#include <fmt/format.h>

namespace kvjit {
namespace {

std::string_view elem_type(QDtype q) { return q == QDtype::f16 ? "kvjit::ElemF16" : "kvjit::ElemBF16"; }

}  // namespace

// The format trait for a spec. FP8 uses the sm_89+ conversion instructions when the arch has them.
std::string format_type(const Spec& spec) {
  const bool fp8_hardware = spec.arch.sm >= 89;
  switch (spec.kv) {
    case KvDtype::f16: return "kvjit::FormatF16";
    case KvDtype::bf16: return "kvjit::FormatBF16";
    case KvDtype::int8: return spec.scale == ScaleDtype::f32 ? "kvjit::FormatInt8F32" : "kvjit::FormatInt8";
    case KvDtype::q8: return spec.scale == ScaleDtype::f32 ? "kvjit::FormatQ8F32" : "kvjit::FormatQ8";
    case KvDtype::e4m3: return fmt::format("kvjit::FormatFp8<kvjit::E4M3, {}>", fp8_hardware);
    case KvDtype::e5m2: return fmt::format("kvjit::FormatFp8<kvjit::E5M2, {}>", fp8_hardware);
  }
  return "";
}

namespace {

std::string_view paging_type(Paging paging) {
  switch (paging) {
    case Paging::table: return "PagingTable";
    case Paging::csr: return "PagingCsr";
    case Paging::contig: return "PagingContig";
  }
  return "";
}

}  // namespace

Result<SpecializedSource> specialize(const Spec& spec) {
  KVJIT_TRY(validate(spec));
  if (spec.arch.is_auto())
    return make_error(ErrorKind::invalid_spec,
                      "arch=auto: compiling needs a concrete arch (e.g. sm_90); the runtime resolves auto from the device");

  SpecializedSource out;
  out.spec = spec;
  out.symbol = kernel_symbol(spec);
  out.file_name = file_stem(spec) + ".cu";
  out.shape = launch_shape(spec);
  const LaunchShape& shape = out.shape;
  const bool decode = spec.kind == Kind::decode;
  const std::string page = std::to_string(spec.page_size);

  const std::string layout = fmt::format("kvjit::{}<{}>", spec.layout == Layout::nhd ? "LayoutNhd" : "LayoutHnd", page);
  std::string config = fmt::format(
      "struct Config {{\n"
      "  static constexpr int kHeadDim = {};\n"
      "  static constexpr int kPageSize = {};\n"
      "  static constexpr int kGqa = {};\n"
      "  static constexpr int kHeadsPerCta = {};\n"
      "  static constexpr int kWarps = {};\n"
      "  static constexpr bool kWarpsFromLaunch = {};\n"
      "  static constexpr int kUnroll = {};\n"
      "  static constexpr bool kSoftcap = {};\n"
      "  static constexpr bool kContig = {};\n"
      "  static constexpr bool kGridDependency = {};\n"
      "  typedef {} QElem;\n"
      "  typedef {} Format;\n"
      "  typedef {} Layout;\n"
      "  typedef kvjit::{}<{}, Layout> Paging;\n"
      "}};\n",
      spec.head_dim, spec.page_size, spec.gqa, shape.heads_per_cta, shape.bound_threads() / 32, shape.wide_warps > 0,
      shape.unroll, spec.softcap,
      spec.paging == Paging::contig, uses_grid_dependency(spec), elem_type(spec.q), format_type(spec), layout,
      paging_type(spec.paging), page);
  const std::string marker =
      uses_grid_dependency(spec) ? fmt::format("extern \"C\" __device__ int {} = 1;\n\n", kGridDependencyMarker) : "";

  out.source = fmt::format(
      "// kvjit specialized kernel\n"
      "// spec: {spec}\n"
      "#include \"kvjit/{header}.cuh\"\n"
      "\n"
      "namespace {{\n"
      "{config}"
      "}}  // namespace\n"
      "\n"
      "{marker}"
      "extern \"C\" __global__ void __launch_bounds__({threads})\n"
      "{symbol}(const __grid_constant__ kvjit::{params} p) {{\n"
      "  kvjit::{body}<Config>(p);\n"
      "}}\n",
      fmt::arg("spec", to_string(spec)),
      fmt::arg("header", !decode ? "append" : shape.tensor_cores ? "decode_mma" : "decode"),
      fmt::arg("config", config), fmt::arg("marker", marker), fmt::arg("threads", shape.bound_threads()), fmt::arg("symbol", out.symbol),
      fmt::arg("params", decode ? "DecodeParams" : "AppendParams"),
      fmt::arg("body", !decode ? "append_body" : shape.tensor_cores ? "decode_mma_body" : "decode_body"));
  return out;
}

}  // namespace kvjit
