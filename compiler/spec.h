// Spec: the one value that describes a kernel. Its canonical text names the kernel symbol, the dump files,
// the cache key's first input, and is what users write in shape lists:
//
//   decode:hd=128,page=16,gqa=4,kv=e4m3,q=f16,layout=nhd,paging=table,arch=sm_90
//
// Input accepts fields in any order, long names (head_dim, page_size) and defaults for missing fields;
// to_string() prints every base field in the order above. Options added later print only when set, so
// adding one never renames an existing kernel or invalidates its cache entries.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "compiler/result.h"

namespace kvjit {

enum class Kind : uint8_t { decode, append };
enum class KvDtype : uint8_t { f16, bf16, int8, q8, e4m3, e5m2 };
enum class QDtype : uint8_t { f16, bf16 };
// The decode body (spec text mma=auto|0|1). auto, the default, takes the tensor cores (templates/kvjit/
// decode_mma.cuh) wherever mma_supported(): on an H100 that body was faster than the CUDA-core one for every
// format and shape measured (docs/BENCHMARKS.md). 0 forces the CUDA-core body; 1 requires the tensor cores
// and is an error where they are not supported.
enum class Mma : uint8_t { auto_, off, on };
// nhd = [pages, page_size, kv_heads, head_dim]; hnd = [pages, kv_heads, page_size, head_dim].
enum class Layout : uint8_t { nhd, hnd };
// table = block table + seq lens (vLLM); csr = indptr / indices / last_page_len (FlashInfer);
// contig = one [kv_heads, capacity, head_dim] cache per sequence (realizar, ferrum's contiguous cache).
enum class Paging : uint8_t { table, csr, contig };
// The compiler that turns the specialized source into PTX: NVRTC (PTX and cubin) or clang/LLVM's NVPTX
// backend (PTX only; the driver JIT makes the cubin). See compiler/backend.h.
enum class Backend : uint8_t { nvrtc, llvm };
// The element type of the int8 / q8 scale pools (spec text scale=f16|f32): f16 as vLLM and GGUF store them,
// f32 as realizar's Q8 cache does. Only kv=int8 and kv=q8 have scale pools.
enum class ScaleDtype : uint8_t { f16, f32 };

// Target architecture: sm_<sm>[a]; sm == 0 means "auto" (resolved from the device by the runtime).
struct Arch {
  int sm = 0;
  bool arch_specific = false;  // the 'a' suffix (sm_90a): arch-specific features, no forward compatibility
  bool is_auto() const { return sm == 0; }
  bool operator==(const Arch&) const = default;
};

struct Spec {
  Kind kind = Kind::decode;
  int head_dim = 128;
  int page_size = 16;
  int gqa = 1;  // query heads per KV head
  KvDtype kv = KvDtype::f16;
  QDtype q = QDtype::f16;
  Layout layout = Layout::nhd;
  Paging paging = Paging::table;
  Arch arch{};
  // Options: printed in the canonical text only when set.
  bool softcap = false;  // score = cap * tanh(score / cap), cap a launch argument (Gemma-2)
  ScaleDtype scale = ScaleDtype::f16;  // int8 / q8 scale pool elements
  Mma mma = Mma::auto_;  // which decode body; see uses_tensor_cores()
  Backend backend = Backend::nvrtc;

  bool operator==(const Spec&) const = default;
};

// Parses spec text; the result is validated. Errors name the field, the value given and what is allowed.
Result<Spec> parse_spec(std::string_view text);
// Checks ranges and cross-field rules of a spec built in code.
Status validate(const Spec& spec);

// Canonical text form (see above). parse_spec(to_string(s)) == s for every valid spec.
std::string to_string(const Spec& spec);
// C identifier for the kernel's extern "C" entry, derived from the canonical text.
std::string kernel_symbol(const Spec& spec);
// File name stem for dumps: the symbol without its prefix (no characters a shell or filesystem dislikes).
std::string file_stem(const Spec& spec);

std::string_view to_string(Kind v);
std::string_view to_string(KvDtype v);
std::string_view to_string(QDtype v);
std::string_view to_string(Layout v);
std::string_view to_string(Paging v);
std::string_view to_string(Backend v);
std::string_view to_string(ScaleDtype v);
std::string to_string(Arch v);

Result<Arch> parse_arch(std::string_view text);

// Whether the tensor-core decode body serves this spec: decode; kv f16 (head_dim up to 128), int8, q8
// (power-of-two head_dim), e4m3 or e5m2; head_dim a multiple of 32 up to 256. bf16 KV values are not all
// exact in f16, and larger tiles would spill.
bool mma_supported(const Spec& spec);
// Whether the decode kernel of `spec` runs on the tensor cores: mma=1, or mma=auto where supported.
bool uses_tensor_cores(const Spec& spec);
std::string mma_rule();

// Bytes of one stored KV element (q8 and int8: 1; scales are stored separately).
int kv_element_bytes(KvDtype v);
// Whether the format keeps a scale pool (int8: one scale per row, q8: one per 32 elements of a row).
bool has_scale_pool(KvDtype v);
// Scale-pool entries per cache row: 1 for int8, head_dim / 32 for q8, 0 for formats without a pool.
int scales_per_row(KvDtype kv, int head_dim);
// Bytes of one scale-pool entry: 2 (scale=f16) or 4 (scale=f32).
int scale_element_bytes(ScaleDtype v);
// Bytes of one cache row's scales in a pool (0 without a pool).
int scale_bytes_per_row(const Spec& spec);

}  // namespace kvjit
