#include "compiler/spec.h"

#include <array>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace kvjit {
namespace {

// One name table per enum: the single registry of spelled values (parse, print and error text use it).
constexpr std::array<std::string_view, 2> kKindNames{"decode", "append"};
constexpr std::array<std::string_view, 6> kKvNames{"f16", "bf16", "int8", "q8", "e4m3", "e5m2"};
constexpr std::array<std::string_view, 2> kQNames{"f16", "bf16"};
constexpr std::array<std::string_view, 2> kLayoutNames{"nhd", "hnd"};
constexpr std::array<std::string_view, 3> kPagingNames{"table", "csr", "contig"};
constexpr std::array<std::string_view, 2> kFlagNames{"0", "1"};
constexpr std::array<std::string_view, 3> kMmaNames{"auto", "0", "1"};  // order of enum Mma
constexpr std::array<std::string_view, 2> kBackendNames{"nvrtc", "llvm"};
constexpr std::array<std::string_view, 2> kScaleNames{"f16", "f32"};

// Architectures the templates are written for (Ampere and newer: cp.async, bf16, ldmatrix).
struct ArchName {
  int sm;
  bool arch_specific;
};
constexpr std::array<ArchName, 13> kArchs{{{0, false},
                                           {80, false},
                                           {86, false},
                                           {87, false},
                                           {89, false},
                                           {90, false},
                                           {90, true},
                                           {100, false},
                                           {100, true},
                                           {103, false},
                                           {103, true},
                                           {120, false},
                                           {120, true}}};

template <size_t N>
std::string join(const std::array<std::string_view, N>& names) {
  std::string out;
  for (size_t i = 0; i < N; ++i) out += (i ? ", " : "") + std::string(names[i]);
  return out;
}

std::string allowed_archs() {
  std::string out;
  for (const ArchName& a : kArchs) out += (out.empty() ? "" : ", ") + to_string(Arch{a.sm, a.arch_specific});
  return out;
}

template <typename E, size_t N>
std::optional<E> lookup(const std::array<std::string_view, N>& names, std::string_view text) {
  for (size_t i = 0; i < N; ++i)
    if (names[i] == text) return static_cast<E>(i);
  return std::nullopt;
}

// Strict decimal: digits only, no sign, no hex, no float, at most 9 digits (no overflow).
std::optional<int> parse_int(std::string_view text) {
  if (text.empty() || text.size() > 9) return std::nullopt;
  int v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

bool is_pow2(int v) { return v > 0 && (v & (v - 1)) == 0; }

Error field_error(std::string_view name, std::string_view value, std::string_view rule) {
  return make_error(ErrorKind::invalid_spec,
                    std::string(name) + "=" + std::string(value) + ": " + std::string(rule));
}

// What each range rule allows, shared by parse (value as typed) and validate (value as stored). Errors say
// "must be " + allowed; a value that is not a number at all says "must be a decimal integer; " + allowed.
std::string head_dim_allowed(KvDtype kv) {
  return kv == KvDtype::q8 ? "a multiple of 32 in [32, 512] for kv=q8" : "a multiple of 16 in [32, 512]";
}
constexpr std::string_view kPageAllowed = "a power of two in [1, 256]";
constexpr std::string_view kGqaAllowed = "an integer in [1, 64]";

std::string must_be(std::string_view allowed) { return "must be " + std::string(allowed); }

bool head_dim_ok(int v, KvDtype kv) {
  int step = kv == KvDtype::q8 ? 32 : 16;
  return v >= 32 && v <= 512 && v % step == 0;
}
bool page_ok(int v) { return is_pow2(v) && v <= 256; }
bool gqa_ok(int v) { return v >= 1 && v <= 64; }

// The field table: order here is the canonical print order.
struct Field {
  std::string_view key;        // canonical key
  std::string_view long_name;  // accepted on input, used in errors
  // Numeric rules may depend on other fields (head_dim on kv), so parse_spec reads the other fields first.
  bool numeric;
  std::function<std::string(const Spec&)> allowed;  // what the rule allows, given the fields read so far
  std::function<std::optional<std::string>(Spec&, std::string_view)> parse;  // returns the rule on failure
  std::function<std::string(const Spec&)> print;
  // Options (fields added after the base set) print only when not at their default, so adding one never
  // renames existing kernels or invalidates their cache entries.
  bool (*at_default)(const Spec&) = nullptr;
};

template <typename E, size_t N>
Field enum_field(std::string_view key, std::string_view long_name, E Spec::*member,
                 const std::array<std::string_view, N>& names) {
  return Field{key,
               long_name,
               false,
               [&names](const Spec&) { return "one of " + join(names); },
               [member, &names](Spec& s, std::string_view v) -> std::optional<std::string> {
                 auto e = lookup<E>(names, v);
                 if (!e) return must_be("one of " + join(names));
                 s.*member = *e;
                 return std::nullopt;
               },
               [member, &names](const Spec& s) { return std::string(names[static_cast<size_t>(s.*member)]); }};
}

// An option: printed only when not at its default.
Field with_default(Field field, bool (*at_default)(const Spec&)) {
  field.at_default = at_default;
  return field;
}

Field int_field(std::string_view key, std::string_view long_name, int Spec::*member,
                std::string (*allowed)(const Spec&), bool (*ok)(int, const Spec&)) {
  return Field{key,
               long_name,
               true,
               allowed,
               [member, allowed, ok](Spec& s, std::string_view v) -> std::optional<std::string> {
                 auto n = parse_int(v);
                 if (!n) return "must be a decimal integer; " + allowed(s);
                 if (!ok(*n, s)) return must_be(allowed(s));
                 s.*member = *n;
                 return std::nullopt;
               },
               [member](const Spec& s) { return std::to_string(s.*member); }};
}

const std::vector<Field>& fields() {
  static const std::vector<Field> table = {
      int_field(
          "hd", "head_dim", &Spec::head_dim, [](const Spec& s) { return head_dim_allowed(s.kv); },
          [](int v, const Spec& s) { return head_dim_ok(v, s.kv); }),
      int_field(
          "page", "page_size", &Spec::page_size, [](const Spec&) { return std::string(kPageAllowed); },
          [](int v, const Spec&) { return page_ok(v); }),
      int_field(
          "gqa", "gqa", &Spec::gqa, [](const Spec&) { return std::string(kGqaAllowed); },
          [](int v, const Spec&) { return gqa_ok(v); }),
      enum_field("kv", "kv", &Spec::kv, kKvNames),
      enum_field("q", "q", &Spec::q, kQNames),
      enum_field("layout", "layout", &Spec::layout, kLayoutNames),
      enum_field("paging", "paging", &Spec::paging, kPagingNames),
      Field{"arch", "arch", false, [](const Spec&) { return "one of " + allowed_archs(); },
            [](Spec& s, std::string_view v) -> std::optional<std::string> {
              auto a = parse_arch(v);
              if (!a) return must_be("one of " + allowed_archs());
              s.arch = *a;
              return std::nullopt;
            },
            [](const Spec& s) { return to_string(s.arch); }},
      Field{"softcap", "softcap", false, [](const Spec&) { return "one of " + join(kFlagNames); },
            [](Spec& s, std::string_view v) -> std::optional<std::string> {
              auto flag = lookup<int>(kFlagNames, v);
              if (!flag) return must_be("one of " + join(kFlagNames));
              s.softcap = *flag == 1;
              return std::nullopt;
            },
            [](const Spec& s) { return std::string(s.softcap ? "1" : "0"); },
            [](const Spec& s) { return !s.softcap; }},
      with_default(enum_field("scale", "scale_dtype", &Spec::scale, kScaleNames),
                   [](const Spec& s) { return s.scale == ScaleDtype::f16; }),
      // Printed only where it changes the kernel: mma=0 on a spec without a tensor-core body is auto.
      with_default(enum_field("mma", "mma", &Spec::mma, kMmaNames),
                   [](const Spec& s) { return s.mma == Mma::auto_ || (s.mma == Mma::off && !mma_supported(s)); }),
      with_default(enum_field("backend", "backend", &Spec::backend, kBackendNames),
                   [](const Spec& s) { return s.backend == Backend::nvrtc; }),
  };
  return table;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string known_fields() {
  std::string out;
  for (const Field& f : fields()) {
    out += (out.empty() ? "" : ", ") + std::string(f.key);
    if (f.long_name != f.key) out += " (" + std::string(f.long_name) + ")";
  }
  return out;
}

Error spec_error(std::string message) { return make_error(ErrorKind::invalid_spec, std::move(message)); }

// One field=value item as typed (trimmed), split at its first '='.
struct Item {
  std::string_view text;
  std::string_view value;
};

// Splits the items after the kind and checks their structure (a known name, '=', no field twice), in text
// order. Returns the item given for each field of the table, or an empty one where the field was omitted.
Result<std::vector<std::optional<Item>>> split_items(std::string_view rest) {
  std::vector<std::optional<Item>> items(fields().size());
  while (!trim(rest).empty()) {
    size_t comma = rest.find(',');
    std::string_view text = trim(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    size_t eq = text.find('=');
    if (text.empty() || eq == std::string_view::npos)
      return spec_error("'" + std::string(text) + "': expected <field>=<value> (fields: " + known_fields() + ")");
    std::string_view key = trim(text.substr(0, eq));
    if (key.empty())
      return spec_error("'" + std::string(text) + "': missing field name before '=' (fields: " + known_fields() + ")");
    size_t index = 0;
    while (index < fields().size() && fields()[index].key != key && fields()[index].long_name != key) ++index;
    if (index == fields().size())
      return spec_error("unknown field '" + std::string(key) + "' (fields: " + known_fields() + ")");
    if (items[index])
      return spec_error(std::string(fields()[index].long_name) + " given twice (" + std::string(items[index]->text) +
                        " and " + std::string(text) + ")");
    items[index] = Item{text, trim(text.substr(eq + 1))};
  }
  return items;
}

}  // namespace

std::string_view to_string(Kind v) { return kKindNames[static_cast<size_t>(v)]; }
std::string_view to_string(KvDtype v) { return kKvNames[static_cast<size_t>(v)]; }
std::string_view to_string(QDtype v) { return kQNames[static_cast<size_t>(v)]; }
std::string_view to_string(Layout v) { return kLayoutNames[static_cast<size_t>(v)]; }
std::string_view to_string(Paging v) { return kPagingNames[static_cast<size_t>(v)]; }
std::string_view to_string(Backend v) { return kBackendNames[static_cast<size_t>(v)]; }
std::string_view to_string(ScaleDtype v) { return kScaleNames[static_cast<size_t>(v)]; }

std::string to_string(Arch v) {
  // Only the real auto prints as such; {0, arch_specific} is invalid and prints as typed in code (sm_0a),
  // so validate() names the bad value instead of "auto".
  if (v.sm == 0 && !v.arch_specific) return "auto";
  return "sm_" + std::to_string(v.sm) + (v.arch_specific ? "a" : "");
}

Result<Arch> parse_arch(std::string_view text) {
  for (const ArchName& a : kArchs) {
    Arch arch{a.sm, a.arch_specific};
    if (to_string(arch) == text) return arch;
  }
  return field_error("arch", text, "must be one of " + allowed_archs());
}

int kv_element_bytes(KvDtype v) { return v == KvDtype::f16 || v == KvDtype::bf16 ? 2 : 1; }
bool has_scale_pool(KvDtype v) { return v == KvDtype::int8 || v == KvDtype::q8; }
int scales_per_row(KvDtype kv, int head_dim) {
  return kv == KvDtype::int8 ? 1 : kv == KvDtype::q8 ? head_dim / 32 : 0;
}
int scale_element_bytes(ScaleDtype v) { return v == ScaleDtype::f32 ? 4 : 2; }
int scale_bytes_per_row(const Spec& spec) {
  return scales_per_row(spec.kv, spec.head_dim) * scale_element_bytes(spec.scale);
}

Status validate(const Spec& s) {
  if (static_cast<size_t>(s.kind) >= kKindNames.size())
    return field_error("kind", std::to_string(static_cast<int>(s.kind)), "must be one of " + join(kKindNames));
  if (static_cast<size_t>(s.kv) >= kKvNames.size())
    return field_error("kv", std::to_string(static_cast<int>(s.kv)), "must be one of " + join(kKvNames));
  if (static_cast<size_t>(s.q) >= kQNames.size())
    return field_error("q", std::to_string(static_cast<int>(s.q)), "must be one of " + join(kQNames));
  if (static_cast<size_t>(s.layout) >= kLayoutNames.size())
    return field_error("layout", std::to_string(static_cast<int>(s.layout)),
                       "must be one of " + join(kLayoutNames));
  if (static_cast<size_t>(s.paging) >= kPagingNames.size())
    return field_error("paging", std::to_string(static_cast<int>(s.paging)),
                       "must be one of " + join(kPagingNames));
  if (static_cast<size_t>(s.backend) >= kBackendNames.size())
    return field_error("backend", std::to_string(static_cast<int>(s.backend)),
                       "must be one of " + join(kBackendNames));
  if (static_cast<size_t>(s.scale) >= kScaleNames.size())
    return field_error("scale_dtype", std::to_string(static_cast<int>(s.scale)),
                       "must be one of " + join(kScaleNames));
  if (s.scale == ScaleDtype::f32 && !has_scale_pool(s.kv))
    return field_error("scale_dtype", "f32",
                       "needs kv=int8 or kv=q8 (the formats with scale pools); kv=" + std::string(to_string(s.kv)) +
                           " has none");
  if (!head_dim_ok(s.head_dim, s.kv))
    return field_error("head_dim", std::to_string(s.head_dim), must_be(head_dim_allowed(s.kv)));
  if (!page_ok(s.page_size)) return field_error("page_size", std::to_string(s.page_size), must_be(kPageAllowed));
  if (!gqa_ok(s.gqa)) return field_error("gqa", std::to_string(s.gqa), must_be(kGqaAllowed));
  bool arch_known = false;
  for (const ArchName& a : kArchs) arch_known |= (a.sm == s.arch.sm && a.arch_specific == s.arch.arch_specific);
  if (!arch_known) return field_error("arch", to_string(s.arch), "must be one of " + allowed_archs());
  if (static_cast<size_t>(s.mma) >= kMmaNames.size())
    return field_error("mma", std::to_string(static_cast<int>(s.mma)), "must be one of " + join(kMmaNames));
  if (s.mma == Mma::on && !mma_supported(s)) return field_error("mma", "1", mma_rule());
  return Ok{};
}

bool mma_supported(const Spec& s) {
  if (s.kind != Kind::decode) return false;
  if (s.head_dim % 32 != 0 || s.head_dim > 256) return false;
  if (kv_element_bytes(s.kv) == 2 && s.head_dim > 128) return false;
  if (s.kv == KvDtype::q8 && (s.head_dim & (s.head_dim - 1)) != 0) return false;
  return true;
}

bool uses_tensor_cores(const Spec& s) {
  return s.mma == Mma::on || (s.mma == Mma::auto_ && mma_supported(s));
}

std::string mma_rule() {
  return "needs a decode kernel with kv=f16 or bf16 (hd up to 128), int8, e4m3, e5m2 or q8 (hd a power of two) and "
         "hd a multiple of 32 up to 256";
}

Result<Spec> parse_spec(std::string_view text) {
  std::string_view rest = trim(text);
  if (rest.empty())
    return spec_error("empty spec: expected <kind>:<field>=<value>,... (kind: " + join(kKindNames) + ")");
  Spec spec;
  size_t colon = rest.find(':');
  std::string_view kind_text = trim(rest.substr(0, colon));
  const std::string kind_rule = must_be("one of " + join(kKindNames));
  if (kind_text.empty()) return field_error("kind", kind_text, "missing value; " + kind_rule);
  auto kind = lookup<Kind>(kKindNames, kind_text);
  if (!kind) {
    // "decode,hd=128": the ':' after the kind is missing, so the whole text was read as the kind.
    const bool looks_like_fields = kind_text.find_first_of(",=") != std::string_view::npos;
    return field_error("kind", kind_text,
                       kind_rule + (looks_like_fields ? " (expected <kind>:<field>=<value>,...)" : ""));
  }
  spec.kind = *kind;
  auto items = split_items(colon == std::string_view::npos ? std::string_view{} : rest.substr(colon + 1));
  if (!items) return items.error();

  // Values are read once the whole text is split, enum fields before numeric ones: head_dim's rule depends
  // on kv, and the order of the fields in the text must not change the result or the message.
  for (bool numeric : {false, true})
    for (size_t i = 0; i < fields().size(); ++i) {
      const Field& field = fields()[i];
      const std::optional<Item>& item = (*items)[i];
      if (field.numeric != numeric || !item) continue;
      if (item->value.empty())
        return field_error(field.long_name, item->value, "missing value; " + must_be(field.allowed(spec)));
      if (auto rule = field.parse(spec, item->value)) return field_error(field.long_name, item->value, *rule);
    }
  KVJIT_TRY(validate(spec));
  // One value per kernel: mma=0 where there is no tensor-core body is the same kernel as auto.
  if (spec.mma == Mma::off && !mma_supported(spec)) spec.mma = Mma::auto_;
  return spec;
}

std::string to_string(const Spec& spec) {
  std::string out(to_string(spec.kind));
  char sep = ':';
  for (const Field& f : fields()) {
    if (f.at_default && f.at_default(spec)) continue;
    out += sep;
    out += f.key;
    out += '=';
    out += f.print(spec);
    sep = ',';
  }
  return out;
}

std::string file_stem(const Spec& spec) {
  std::string out;
  for (char c : to_string(spec)) out += (c == ':' || c == ',' || c == '=') ? '_' : c;
  return out;
}

std::string kernel_symbol(const Spec& spec) { return "kvjit_" + file_stem(spec); }

}  // namespace kvjit
