#include "cache/entry_format.h"

#include <fmt/format.h>
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include "cache/byte_io.h"

namespace kvjit {
namespace {

constexpr std::string_view kMagic = "KVJM";

Error format_error(std::string message) { return make_error(ErrorKind::io, std::move(message)); }

Key checksum_of(std::string_view payload) {
  const XXH128_hash_t h = XXH3_128bits(payload.data(), payload.size());
  return Key{h.high64, h.low64};
}

std::string serialize_meta(const Entry& e) {
  std::string meta;
  bytes::Writer w(meta);
  w.str(e.spec);
  w.str(e.symbol);
  w.str(e.backend);
  w.u32(static_cast<uint32_t>(e.options.size()));
  for (const std::string& o : e.options) w.str(o);
  w.str(e.log);
  for (int v : {e.resources.registers, e.resources.shared_bytes, e.resources.stack_bytes,
                e.resources.spill_store_bytes, e.resources.spill_load_bytes, e.shape.warps, e.shape.heads_per_cta,
                e.shape.unroll, e.shape.tensor_cores ? 1 : 0, e.shape.wide_warps})
    w.i32(v);
  w.f64(e.compile_ms);
  return meta;
}

Status parse_meta(std::string_view meta, Entry& e) {
  bytes::Reader r(meta);
  uint32_t count = 0;
  if (!r.str(e.spec) || !r.str(e.symbol) || !r.str(e.backend) || !r.u32(count))
    return format_error("bad metadata: names cut short");
  // Each option takes at least its 4-byte size: bound the count before reserving.
  if (count > r.remaining() / 4) return format_error(fmt::format("bad metadata: {} options", count));
  e.options.resize(count);
  for (std::string& o : e.options)
    if (!r.str(o)) return format_error("bad metadata: options cut short");
  int32_t* ints[] = {&e.resources.registers,        &e.resources.shared_bytes,    &e.resources.stack_bytes,
                     &e.resources.spill_store_bytes, &e.resources.spill_load_bytes, &e.shape.warps,
                     &e.shape.heads_per_cta,         &e.shape.unroll};
  int32_t tensor_cores = 0;
  if (!r.str(e.log)) return format_error("bad metadata: log cut short");
  for (int32_t* v : ints)
    if (!r.i32(*v)) return format_error("bad metadata: report cut short");
  if (!r.i32(tensor_cores)) return format_error("bad metadata: report cut short");
  if (tensor_cores != 0 && tensor_cores != 1)
    return format_error(fmt::format("bad metadata: tensor_cores {} (0 or 1)", tensor_cores));
  e.shape.tensor_cores = tensor_cores == 1;
  if (!r.i32(e.shape.wide_warps)) return format_error("bad metadata: report cut short");
  // A CTA holds at most 32 warps; the launch plan takes this many when it fits the waves better.
  if (e.shape.wide_warps != 0 && (e.shape.wide_warps <= e.shape.warps || e.shape.wide_warps > 32))
    return format_error(fmt::format("bad metadata: wide_warps {} (0, or more than warps {} and at most 32)",
                                    e.shape.wide_warps, e.shape.warps));
  if (!r.f64(e.compile_ms)) return format_error("bad metadata: compile time cut short");
  if (r.remaining() != 0) return format_error(fmt::format("bad metadata: {} trailing bytes", r.remaining()));
  return Ok{};
}

}  // namespace

std::string serialize_entry(const Entry& e) {
  const std::string meta = serialize_meta(e);
  std::string payload = meta;
  payload.append(e.ptx);
  payload.append(reinterpret_cast<const char*>(e.cubin.data()), e.cubin.size());
  const Key sum = checksum_of(payload);

  std::string out;
  out.reserve(kEntryHeaderBytes + payload.size());
  bytes::Writer w(out);
  w.raw(kMagic);
  w.u32(kEntryFormatVersion);
  w.u64(e.key.high);
  w.u64(e.key.low);
  w.u64(meta.size());
  w.u64(e.ptx.size());
  w.u64(e.cubin.size());
  w.u64(sum.high);
  w.u64(sum.low);
  out.append(payload);
  return out;
}

Result<EntryHeader> parse_entry_header(std::string_view bytes_in, uint64_t size) {
  if (bytes_in.size() < kEntryHeaderBytes || size < kEntryHeaderBytes)
    return format_error(fmt::format("truncated: {} bytes, the header needs {}", std::min<uint64_t>(size, bytes_in.size()),
                                    kEntryHeaderBytes));
  bytes::Reader r(bytes_in);
  std::string_view magic;
  EntryHeader h;
  (void)r.raw(kMagic.size(), magic);
  if (magic != kMagic) return format_error("bad magic");
  (void)r.u32(h.version);
  if (h.version != kEntryFormatVersion)
    return format_error(fmt::format("unsupported format version {} (this build reads {})", h.version,
                                    kEntryFormatVersion));
  (void)(r.u64(h.key.high) && r.u64(h.key.low) && r.u64(h.meta_size) && r.u64(h.ptx_size) &&
         r.u64(h.cubin_size) && r.u64(h.checksum.high) && r.u64(h.checksum.low));
  // Compare piecewise against what the file holds so hostile sizes cannot overflow the sum.
  const uint64_t available = size - kEntryHeaderBytes;
  const bool fits = h.meta_size <= available && h.ptx_size <= available - h.meta_size &&
                    h.cubin_size <= available - h.meta_size - h.ptx_size;
  if (!fits)
    return format_error(fmt::format("truncated: header promises {}+{}+{} payload bytes, the file has {}", h.meta_size,
                                    h.ptx_size, h.cubin_size, available));
  const uint64_t payload = h.meta_size + h.ptx_size + h.cubin_size;
  if (payload != available)
    return format_error(fmt::format("size mismatch: {} bytes after a {}-byte payload", available - payload, payload));
  return h;
}

Result<Entry> parse_entry(std::string_view bytes_in, const Key& expected) {
  auto header = parse_entry_header(bytes_in, bytes_in.size());
  if (!header) return header.error();
  const EntryHeader& h = *header;
  if (h.key != expected)
    return format_error(fmt::format("key mismatch: the entry is for {}, expected {}", h.key.hex(), expected.hex()));
  const std::string_view payload = bytes_in.substr(kEntryHeaderBytes);
  if (checksum_of(payload) != h.checksum) return format_error("checksum mismatch");

  Entry e;
  e.key = h.key;
  KVJIT_TRY(parse_meta(payload.substr(0, h.meta_size), e));
  e.ptx.assign(payload.substr(h.meta_size, h.ptx_size));
  const std::string_view cubin = payload.substr(h.meta_size + h.ptx_size);
  e.cubin.assign(cubin.begin(), cubin.end());
  return e;
}

}  // namespace kvjit
