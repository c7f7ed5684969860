// Little-endian encoding helpers for the entry format: explicit byte order, so an entry written on one host
// reads the same on another, and bounds-checked reads, so a short or hostile file is an error, not a crash.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace kvjit::bytes {

class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}
  void u32(uint32_t v) { put(v, 4); }
  void u64(uint64_t v) { put(v, 8); }
  void i32(int32_t v) { u32(static_cast<uint32_t>(v)); }
  void f64(double v) { u64(std::bit_cast<uint64_t>(v)); }
  void raw(std::string_view bytes) { out_.append(bytes); }
  void str(std::string_view s) {
    u32(static_cast<uint32_t>(s.size()));
    raw(s);
  }

 private:
  void put(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) out_.push_back(static_cast<char>(v >> (8 * i)));
  }
  std::string& out_;
};

// Each read returns false, consuming nothing, when fewer bytes remain than it needs.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  size_t remaining() const { return in_.size(); }
  bool u32(uint32_t& v) {
    uint64_t w;
    if (!get(w, 4)) return false;
    v = static_cast<uint32_t>(w);
    return true;
  }
  bool u64(uint64_t& v) { return get(v, 8); }
  bool i32(int32_t& v) {
    uint32_t w;
    if (!u32(w)) return false;
    v = static_cast<int32_t>(w);
    return true;
  }
  bool f64(double& v) {
    uint64_t w;
    if (!u64(w)) return false;
    v = std::bit_cast<double>(w);
    return true;
  }
  bool raw(size_t n, std::string_view& v) {
    if (in_.size() < n) return false;
    v = in_.substr(0, n);
    in_.remove_prefix(n);
    return true;
  }
  template <typename S>
  bool str(S& out) {
    uint32_t n;
    std::string_view v;
    Reader saved = *this;
    if (!u32(n) || !raw(n, v)) {
      *this = saved;
      return false;
    }
    out.assign(v.begin(), v.end());
    return true;
  }

 private:
  bool get(uint64_t& v, int n) {
    if (in_.size() < static_cast<size_t>(n)) return false;
    v = 0;
    for (int i = 0; i < n; ++i) v |= static_cast<uint64_t>(static_cast<unsigned char>(in_[i])) << (8 * i);
    in_.remove_prefix(n);
    return true;
  }
  std::string_view in_;
};

}  // namespace kvjit::bytes
