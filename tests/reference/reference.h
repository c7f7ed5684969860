// CPU reference for every KV format, paging scheme and layout, and for the attention the kernels compute.
// GPU tests fill a HostCache (or append into one), upload its bytes, and compare the kernel's output with
// decode() here. docs/FORMATS.md is the prose form of what this library defines.
//
// Conversions are bit-exact (they define the stored bytes); attention accumulates in double so that the
// reference error is far below any kernel's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "compiler/spec.h"

namespace kvjit::ref {

// ---- Scalar conversions (round to nearest, ties to even) -------------------------------------------------
// f16: subnormals kept, overflow -> inf, NaN stays NaN (quiet, sign and top payload bits kept).
uint16_t f32_to_f16(float x);
float f16_to_f32(uint16_t h);
// bf16: overflow -> inf, NaN stays NaN (quiet).
uint16_t f32_to_bf16(float x);
float bf16_to_f32(uint16_t h);
// FP8, as CUDA's __NV_SATFINITE conversions: finite values and infinities saturate to the largest finite
// magnitude (E4M3 448 = 0x7e, E5M2 57344 = 0x7b), NaN encodes as 0x7f, underflow keeps the sign.
// E4M3: bias 7, no infinity, NaN = 0x7f / 0xff. E5M2: bias 15, inf = 0x7c / 0xfc, NaN = exponent 31, mantissa != 0.
uint8_t f32_to_e4m3(float x);
float e4m3_to_f32(uint8_t v);
uint8_t f32_to_e5m2(float x);
float e5m2_to_f32(uint8_t v);
// The query / output dtype (f16 or bf16) of a spec.
float q_to_f32(QDtype q, uint16_t bits);
uint16_t f32_to_q(QDtype q, float x);
std::vector<uint16_t> to_q_bits(QDtype q, const std::vector<float>& x);

// ---- Host cache -----------------------------------------------------------------------------------------
// Elements in one q8 scale block (along head_dim).
inline constexpr int kQ8Block = 32;

// A paged KV cache on the host, in the spec's layout and format. A row is one (page, slot, kv_head) vector of
// head_dim elements; row() gives its index (the layout), the byte offset of its first element is
// row * head_dim * element bytes.
struct HostCache {
  Spec spec;
  int num_pages = 0;
  int num_kv_heads = 0;
  std::vector<uint8_t> k, v;                 // rows() * head_dim elements * kv_element_bytes(spec.kv)
  // Scale pools as 16-bit little-endian words, scale_words_per_row() a row (int8: one scale a row, q8: one per
  // 32 elements; else empty): an f16 scale is one word, an f32 scale two (low half first), so the vector's
  // bytes are the device pool's bytes.
  std::vector<uint16_t> k_scales, v_scales;
  float k_tensor_scale = 1.0f;               // e4m3 / e5m2: value = fp8 * tensor scale; ignored otherwise
  float v_tensor_scale = 1.0f;

  size_t row(int page, int slot, int kv_head) const;  // layout formula (templates/kvjit/paging.cuh)
  size_t rows() const;                                // num_pages * page_size * num_kv_heads
};

// Zero-filled cache (all rows decode to 0).
HostCache make_cache(const Spec& spec, int num_pages, int num_kv_heads);
// Scales per row in the scale pools: 1 for int8, head_dim / 32 for q8, 0 otherwise.
int scales_per_row(KvDtype kv, int head_dim);
// 16-bit words of one row's scales: scales_per_row times 1 (scale=f16) or 2 (scale=f32).
int scale_words_per_row(const Spec& spec);
// Scale i of a row whose scales start at `words`, in the spec's scale dtype.
double scale_at(const Spec& spec, const uint16_t* words, int i);

// The symmetric int8 quantizer shared by int8 (a block is a row) and q8 (a block is 32 elements): returns the
// f16 scale bits, f16(max|x| / 127) with the division in float, and writes q = rint(x * (1 / scale))
// clamped to [-127, 127] (all 0 when the scale is 0).
uint16_t quantize_int8(const float* x, int n, int8_t* q);
// The same with an f32 scale (spec scale=f32): returns max|x| / 127 in float, unrounded.
float quantize_int8_f32(const float* x, int n, int8_t* q);

// Quantizes one row of head_dim floats into the cache (the append reference; formats in docs/FORMATS.md).
void store_row(HostCache& cache, bool is_k, size_t row, const float* x);
// Dequantizes one row to head_dim doubles: stored value * scale, evaluated exactly.
void load_row(const HostCache& cache, bool is_k, size_t row, double* out);

// Append: k, v are [num_tokens, num_kv_heads, head_dim] in spec.q bits; slot_mapping [num_tokens] holds
// page * page_size + slot, and a negative entry skips its token.
void append(HostCache& cache, const std::vector<uint16_t>& k, const std::vector<uint16_t>& v, int num_tokens,
            const std::vector<int64_t>& slot_mapping);

// ---- Paging ---------------------------------------------------------------------------------------------
struct HostPaging {  // which fields are used depends on spec.paging; make_paging fills both
  int batch = 0;
  // paging=table
  std::vector<int> block_table;  // [batch, max_blocks_per_seq]; entries past a sequence's pages are -1
  int max_blocks_per_seq = 0;
  std::vector<int> seq_lens;  // [batch]
  // paging=csr
  std::vector<int> indptr;         // [batch + 1]
  std::vector<int> indices;        // [indptr[batch]]
  std::vector<int> last_page_len;  // [batch]: 1..page_size; 0 (and ignored) for an empty sequence
};

int seq_len(const Spec& spec, const HostPaging& p, int b);
int page_of(const Spec& spec, const HostPaging& p, int b, int n);  // physical page of sequence b's n-th page
// Paging for the given sequence lengths. Physical pages are distinct and handed out in a shuffled order
// (deterministic in seed) so tests exercise non-contiguous pages; *num_pages receives the pages needed.
HostPaging make_paging(const Spec& spec, const std::vector<int>& seq_lens, uint32_t seed, int* num_pages);
// slot_mapping entry (page * page_size + slot) for token t of sequence b.
int64_t slot_of(const Spec& spec, const HostPaging& p, int b, int t);

// ---- Attention ------------------------------------------------------------------------------------------
// Decode, double accumulation. q: [batch, num_kv_heads * gqa, head_dim] in spec.q bits; query head qh uses
// kv head qh / gqa. Returns O [batch, num_q_heads, head_dim]; writes the natural-log LSE
// [batch, num_q_heads] when lse != nullptr. An empty sequence gives O = 0 and LSE = -inf.
std::vector<double> decode(const HostCache& cache, const HostPaging& paging, const std::vector<uint16_t>& q,
                           float sm_scale, std::vector<double>* lse = nullptr);
// The same attention on unquantized K/V: k[b], v[b] are [tokens, num_kv_heads, head_dim]; q is
// [batch, num_kv_heads * gqa, head_dim] (batch = k.size()).
std::vector<double> attend(const std::vector<std::vector<double>>& k, const std::vector<std::vector<double>>& v,
                           const std::vector<double>& q, int num_kv_heads, int gqa, int head_dim, double sm_scale,
                           std::vector<double>* lse = nullptr);

// ---- Metrics --------------------------------------------------------------------------------------------
// ||got - ref|| / ||ref||; when ref is all zero, ||got|| (so exact zeros compare as 0).
double rel_l2(const std::vector<double>& ref, const std::vector<double>& got);
// a.b / (|a| |b|); 1 when both are all zero, 0 when only one is.
double cosine(const std::vector<double>& a, const std::vector<double>& b);
double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b);

}  // namespace kvjit::ref
