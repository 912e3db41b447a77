#include "k8s/object_json.hpp"

#include <google/protobuf/reflection.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <set>

#include <fmt/format.h>

#include "core/base64.hpp"
#include "core/clock.hpp"

namespace kdr::k8s {

namespace {

using FD = pb::FieldDescriptor;

std::string rfc3339(std::int64_t seconds, int micros, bool with_micros) {
  const auto t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  if (with_micros)
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                       tm.tm_min, tm.tm_sec, micros);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                     tm.tm_min, tm.tm_sec);
}

std::string trimmed_fraction(std::uint64_t frac, int digits) {
  std::string s = fmt::format("{:0{}}", frac, digits);
  while (!s.empty() && s.back() == '0') s.pop_back();
  return s.empty() ? "" : "." + s;
}

bool is_zero(const ojson& v) {
  if (v.is_null()) return true;
  if (v.is_string()) return v.get_ref<const std::string&>().empty();
  if (v.is_boolean()) return !v.get<bool>();
  if (v.is_number()) return v == 0;
  if (v.is_array() || v.is_object()) return v.empty();
  return false;
}

// What Go prints for a field that holds its zero value (absent from the bytes).
ojson zero_json(const FieldPlan& fp) {
  const auto& info = fp.info;
  if (info.kind != GoKind::value || fp.field->is_repeated()) return nullptr;
  switch (fp.field->cpp_type()) {
    case FD::CPPTYPE_STRING: return "";
    case FD::CPPTYPE_BOOL: return false;
    case FD::CPPTYPE_MESSAGE:
      switch (fp.special) {
        case Special::quantity: return "0";
        case Special::int_or_string: return 0;
        case Special::duration: return "0s";
        case Special::none: return ojson::object();
        default: return nullptr;
      }
    default: return 0;
  }
}

// Whether encoding/json prints the field: omitempty leaves out false, 0, "", nil, and empty
// slices and maps; never a struct; a pointer that is set prints even when it points at zero.
bool printed(const FieldPlan& fp, const ojson& v, bool present) {
  const auto& info = fp.info;
  if (!info.omitempty) return true;
  if (info.kind == GoKind::pointer) return present;
  const bool is_struct = !fp.field->is_repeated() && fp.field->cpp_type() == FD::CPPTYPE_MESSAGE;
  return is_struct || !is_zero(v);
}

// Puts `v` under `key` of an object being built in field order (no lookup: keys are distinct).
void append(ojson& object, const std::string& key, ojson v) {
  object.get_ref<ojson::object_t&>().emplace_back(key, std::move(v));
}

// ---- the wire, read with the schema's types -------------------------------------------

}  // namespace

namespace {

// The length of the UTF-8 sequence at s[i], 0 when it is not one (overlong forms, surrogates
// and code points past U+10FFFF included).
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  const std::size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k)
    if ((static_cast<unsigned char>(s[i + k]) >> 6) != 0x2) return 0;
  if (n > 1) {
    const auto c1 = static_cast<unsigned char>(s[i + 1]);
    if (c == 0xc0 || c == 0xc1 || (c == 0xe0 && c1 < 0xa0) || (c == 0xed && c1 >= 0xa0) || (c == 0xf0 && c1 < 0x90) ||
        (c == 0xf4 && c1 >= 0x90) || c > 0xf4)
      return 0;
  }
  return n;
}

bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    // Eight ASCII bytes at a time: most of what Kubernetes stores.
    if (i + 8 <= s.size()) {
      std::uint64_t word = 0;
      std::memcpy(&word, s.data() + i, 8);
      if ((word & 0x8080808080808080ULL) == 0) {
        i += 8;
        continue;
      }
    }
    const auto n = utf8_sequence(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

}  // namespace

std::string utf8(std::string_view s) {
  if (valid_utf8(s)) return std::string(s);
  std::string out;
  out.reserve(s.size() + 8);
  for (std::size_t i = 0; i < s.size();) {
    const auto n = utf8_sequence(s, i);
    if (n > 0) {
      out.append(s.substr(i, n));
      i += n;
    } else {
      out += "\xef\xbf\xbd";
      ++i;
    }
  }
  return out;
}

namespace {

class Wire {
 public:
  Wire(std::string_view bytes, const std::string& where) : m_(bytes), where_(where) {}
  bool done() const { return pos_ >= m_.size(); }
  std::uint64_t varint() {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= m_.size()) damaged("a number runs past the end");
      const auto b = static_cast<unsigned char>(m_[pos_++]);
      v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return v;
    }
    damaged("a number is too long");
  }
  std::string_view bytes() {
    const auto n = varint();
    if (n > m_.size() - pos_) damaged("a field runs past the end");
    const auto out = m_.substr(pos_, static_cast<std::size_t>(n));
    pos_ += static_cast<std::size_t>(n);
    return out;
  }
  std::uint64_t fixed(std::size_t n) {
    if (m_.size() - pos_ < n) damaged("a field runs past the end");
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < n; ++i) v |= static_cast<std::uint64_t>(static_cast<unsigned char>(m_[pos_ + i])) << (8 * i);
    pos_ += n;
    return v;
  }
  void skip(std::uint32_t wire) {
    switch (wire) {
      case 0: varint(); return;
      case 1: fixed(8); return;
      case 2: bytes(); return;
      case 5: fixed(4); return;
      default: damaged(fmt::format("wire type {} is not one Kubernetes writes", wire));
    }
  }
  [[noreturn]] void damaged(const std::string& what) const {
    throw DamagedObject(fmt::format("{} at byte {} of {}", what, pos_, where_));
  }

 private:
  std::string_view m_;
  std::size_t pos_ = 0;
  const std::string& where_;
};

ojson message_from_wire(std::string_view bytes, const MessagePlan& plan, const Schema& schema, const std::string& where,
                        int depth = 0);
// Kubernetes' objects nest a few levels deep; bytes that nest further are damaged, not a reason
// to run out of stack.
constexpr int max_depth = 64;

ojson scalar_from_wire(Wire& w, std::uint32_t wire, const FD* f) {
  auto want = [&](std::uint32_t expected) {
    if (wire != expected) w.damaged(fmt::format("field {} has wire type {}, not {}", f->name(), wire, expected));
  };
  switch (f->type()) {
    case FD::TYPE_INT32: want(0); return static_cast<std::int32_t>(w.varint());
    case FD::TYPE_INT64: want(0); return static_cast<std::int64_t>(w.varint());
    case FD::TYPE_UINT32: want(0); return static_cast<std::uint32_t>(w.varint());
    case FD::TYPE_UINT64: want(0); return w.varint();
    case FD::TYPE_SINT32: {
      want(0);
      const auto v = static_cast<std::uint32_t>(w.varint());
      return static_cast<std::int32_t>((v >> 1) ^ (~(v & 1) + 1));
    }
    case FD::TYPE_SINT64: {
      want(0);
      const auto v = w.varint();
      return static_cast<std::int64_t>((v >> 1) ^ (~(v & 1) + 1));
    }
    case FD::TYPE_BOOL: want(0); return w.varint() != 0;
    case FD::TYPE_ENUM: {
      want(0);
      const auto v = static_cast<int>(w.varint());
      const auto* e = f->enum_type()->FindValueByNumber(v);
      return e != nullptr ? ojson(e->name()) : ojson(v);
    }
    case FD::TYPE_FIXED32: want(5); return static_cast<std::uint32_t>(w.fixed(4));
    case FD::TYPE_SFIXED32: want(5); return static_cast<std::int32_t>(static_cast<std::uint32_t>(w.fixed(4)));
    case FD::TYPE_FLOAT: {
      want(5);
      const auto bits = static_cast<std::uint32_t>(w.fixed(4));
      float v = 0;
      std::memcpy(&v, &bits, sizeof v);
      return v;
    }
    case FD::TYPE_FIXED64: want(1); return w.fixed(8);
    case FD::TYPE_SFIXED64: want(1); return static_cast<std::int64_t>(w.fixed(8));
    case FD::TYPE_DOUBLE: {
      want(1);
      const auto bits = w.fixed(8);
      double v = 0;
      std::memcpy(&v, &bits, sizeof v);
      return v;
    }
    case FD::TYPE_STRING: want(2); return utf8(w.bytes());
    case FD::TYPE_BYTES: want(2); return core::base64_encode(w.bytes());
    default: break;
  }
  w.damaged(fmt::format("field {} has a type kdr does not read", f->name()));
}

// The few fields of a special message, by number.
struct SpecialFields {
  std::int64_t n1 = 0, n2 = 0;
  std::string_view s1, s3;
  std::vector<std::string_view> items;
};

ojson special_from_wire(std::string_view bytes, Special kind, const std::string& where) {
  Wire w(bytes, where);
  SpecialFields f;
  while (!w.done()) {
    const auto tag = w.varint();
    const auto number = tag >> 3;
    const auto wire = static_cast<std::uint32_t>(tag & 7);
    if (wire == 0 && number == 1) f.n1 = static_cast<std::int64_t>(w.varint());
    else if (wire == 0 && number == 2) f.n2 = static_cast<std::int64_t>(w.varint());
    else if (wire == 2 && number == 1) (kind == Special::list ? f.items.push_back(w.bytes()) : void(f.s1 = w.bytes()));
    else if (wire == 2 && number == 3) f.s3 = w.bytes();
    else w.skip(wire);
  }
  switch (kind) {
    case Special::time:
      if (f.n1 == 0 && f.n2 == 0) return nullptr;  // the zero time.Time
      return rfc3339(f.n1, 0, false);
    case Special::micro_time:
      if (f.n1 == 0 && f.n2 == 0) return nullptr;
      return rfc3339(f.n1, static_cast<int>(f.n2 / 1000), true);
    case Special::duration: return go_duration(f.n1);
    case Special::quantity: return f.s1.empty() ? std::string("0") : utf8(f.s1);
    case Special::int_or_string:
      if (f.n1 == 1) return utf8(f.s3);
      return f.n2;
    case Special::raw_json: {
      if (f.s1.empty()) return nullptr;
      auto parsed = ojson::parse(f.s1, nullptr, false);
      if (parsed.is_discarded()) return core::base64_encode(f.s1);
      return parsed;
    }
    case Special::list: {
      ojson out = ojson::array();
      for (const auto& item : f.items) out.push_back(utf8(item));
      return out;
    }
    case Special::none: break;
  }
  return nullptr;
}

ojson value_from_wire(Wire& w, std::uint32_t wire, const FieldPlan& fp, const Schema& schema, const std::string& where,
                      int depth) {
  if (fp.field->cpp_type() != FD::CPPTYPE_MESSAGE) return scalar_from_wire(w, wire, fp.field);
  if (wire != 2) w.damaged(fmt::format("field {} has wire type {}, not a message", fp.field->name(), wire));
  const auto bytes = w.bytes();
  if (fp.special != Special::none) return special_from_wire(bytes, fp.special, where);
  return message_from_wire(bytes, schema.plan(fp.field->message_type()), schema, where, depth + 1);
}

// A map entry: key (1) and value (2).
std::pair<std::string, ojson> entry_from_wire(std::string_view bytes, const FieldPlan& fp, const Schema& schema,
                                              const std::string& where, int depth) {
  const auto& entry = schema.plan(fp.field->message_type());
  Wire w(bytes, where);
  std::string key;
  ojson value;
  bool has_value = false;
  while (!w.done()) {
    const auto tag = w.varint();
    const auto* f = entry.by_number(tag >> 3);
    const auto wire = static_cast<std::uint32_t>(tag & 7);
    if (f == nullptr) {
      w.skip(wire);
    } else if (f->field->number() == 1) {
      const auto k = scalar_from_wire(w, wire, f->field);
      key = k.is_string() ? k.get<std::string>() : k.dump();
    } else {
      value = value_from_wire(w, wire, *f, schema, where, depth);
      has_value = true;
    }
  }
  if (!has_value) {
    const auto* f = entry.by_number(2);
    if (f != nullptr) value = f->field->cpp_type() == FD::CPPTYPE_MESSAGE ? ojson(ojson::object()) : zero_json(*f);
  }
  return {std::move(key), std::move(value)};
}

ojson message_from_wire(std::string_view bytes, const MessagePlan& plan, const Schema& schema, const std::string& where,
                        int depth) {
  if (plan.special != Special::none) return special_from_wire(bytes, plan.special, where);
  if (depth > max_depth) throw DamagedObject(fmt::format("messages nest deeper than {} in {}", max_depth, where));
  // One slot per field; "discarded" marks a field the bytes do not hold. The slot vectors are
  // kept per nesting depth and reused from object to object (no allocation per message).
  // (Sized once: a nested call must never move the vectors of the calls around it.)
  thread_local std::vector<std::vector<ojson>> slot_pool(max_depth + 1);
  auto& slots = slot_pool.at(static_cast<std::size_t>(depth));
  slots.assign(plan.fields.size(), ojson(ojson::value_t::discarded));
  Wire w(bytes, where);
  while (!w.done()) {
    const auto tag = w.varint();
    const auto wire = static_cast<std::uint32_t>(tag & 7);
    const auto* fp = plan.by_number(tag >> 3);
    if (fp == nullptr) {  // a field these types do not know (a newer Kubernetes): left out
      w.skip(wire);
      continue;
    }
    const auto i = static_cast<std::size_t>(fp - plan.fields.data());
    auto& slot = slots[i];
    if (fp->field->is_map()) {
      if (wire != 2) w.damaged(fmt::format("map field {} has wire type {}", fp->field->name(), wire));
      auto [k, v] = entry_from_wire(w.bytes(), *fp, schema, where, depth + 1);
      if (!slot.is_object()) slot = ojson::object();
      slot[k] = std::move(v);
    } else if (fp->field->is_repeated()) {
      if (!slot.is_array()) slot = ojson::array();
      if (wire == 2 && fp->field->cpp_type() != FD::CPPTYPE_STRING && fp->field->cpp_type() != FD::CPPTYPE_MESSAGE) {
        Wire packed(w.bytes(), where);  // packed numbers
        const auto element = fp->field->type() == FD::TYPE_DOUBLE || fp->field->type() == FD::TYPE_FIXED64 ||
                                     fp->field->type() == FD::TYPE_SFIXED64
                                 ? 1u
                                 : fp->field->type() == FD::TYPE_FLOAT || fp->field->type() == FD::TYPE_FIXED32 ||
                                           fp->field->type() == FD::TYPE_SFIXED32
                                       ? 5u
                                       : 0u;
        while (!packed.done()) slot.push_back(scalar_from_wire(packed, element, fp->field));
      } else {
        slot.push_back(value_from_wire(w, wire, *fp, schema, where, depth));
      }
    } else {
      slot = value_from_wire(w, wire, *fp, schema, where, depth);
    }
  }
  ojson out = ojson::object();
  out.get_ref<ojson::object_t&>().reserve(plan.fields.size());
  for (std::size_t i = 0; i < plan.fields.size(); ++i) {
    const auto& fp = plan.fields[i];
    const bool present = !slots[i].is_discarded();
    // Absent and omitempty: left out unless it is a struct (printed even when zero).
    if (!present && fp.info.omitempty &&
        (fp.info.kind != GoKind::value || fp.field->is_repeated() || fp.field->cpp_type() != FD::CPPTYPE_MESSAGE))
      continue;
    ojson v = present ? std::move(slots[i]) : zero_json(fp);
    if (fp.field->is_map() && v.is_object()) {
      // Printed sorted by key, as Go prints maps (kube-apiserver stores them sorted already).
      auto& entries = v.get_ref<ojson::object_t&>();
      if (!std::is_sorted(entries.begin(), entries.end(), [](auto& a, auto& b) { return a.first < b.first; })) {
        std::vector<std::pair<std::string, ojson>> sorted(entries.begin(), entries.end());
        std::sort(sorted.begin(), sorted.end(), [](auto& a, auto& b) { return a.first < b.first; });
        v = ojson::object();
        for (auto& [k, val] : sorted) append(v, k, std::move(val));
      }
    }
    if (!printed(fp, v, present)) continue;
    if (fp.info.inline_fields() && v.is_object()) {
      for (auto& [k, inner] : v.items()) append(out, k, std::move(inner));
      continue;
    }
    append(out, fp.info.json, std::move(v));
  }
  return out;
}

// ---- JSON -> message -------------------------------------------------------------------

void fill_message(const ojson& j, pb::Message& m, const Schema& schema, const std::string& path, bool whole = true);

[[noreturn]] void misfit(const std::string& path, const std::string& what) {
  throw core::Error(fmt::format("{}: {}", path.empty() ? "the object" : path, what));
}

void set_scalar(pb::Message& m, const FD* f, const ojson& v, bool add, const std::string& path) {
  const auto* r = m.GetReflection();
  auto number = [&]() {
    if (!v.is_number()) misfit(path, "a number is expected, not " + v.dump());
  };
  switch (f->cpp_type()) {
    case FD::CPPTYPE_INT32:
      number();
      add ? r->AddInt32(&m, f, v.get<std::int32_t>()) : r->SetInt32(&m, f, v.get<std::int32_t>());
      return;
    case FD::CPPTYPE_INT64:
      number();
      add ? r->AddInt64(&m, f, v.get<std::int64_t>()) : r->SetInt64(&m, f, v.get<std::int64_t>());
      return;
    case FD::CPPTYPE_UINT32:
      number();
      add ? r->AddUInt32(&m, f, v.get<std::uint32_t>()) : r->SetUInt32(&m, f, v.get<std::uint32_t>());
      return;
    case FD::CPPTYPE_UINT64:
      number();
      add ? r->AddUInt64(&m, f, v.get<std::uint64_t>()) : r->SetUInt64(&m, f, v.get<std::uint64_t>());
      return;
    case FD::CPPTYPE_DOUBLE:
      number();
      add ? r->AddDouble(&m, f, v.get<double>()) : r->SetDouble(&m, f, v.get<double>());
      return;
    case FD::CPPTYPE_FLOAT:
      number();
      add ? r->AddFloat(&m, f, v.get<float>()) : r->SetFloat(&m, f, v.get<float>());
      return;
    case FD::CPPTYPE_BOOL:
      if (!v.is_boolean()) misfit(path, "true or false is expected, not " + v.dump());
      add ? r->AddBool(&m, f, v.get<bool>()) : r->SetBool(&m, f, v.get<bool>());
      return;
    case FD::CPPTYPE_STRING: {
      if (!v.is_string()) misfit(path, "a string is expected, not " + v.dump());
      auto s = v.get<std::string>();
      if (f->type() == FD::TYPE_BYTES) {
        try {
          s = core::base64_decode(s);
        } catch (const core::Error&) {
          misfit(path, "base64 is expected");
        }
      }
      add ? r->AddString(&m, f, std::move(s)) : r->SetString(&m, f, std::move(s));
      return;
    }
    default: misfit(path, "kdr cannot set a field of this type");
  }
}

void fill_special(const ojson& j, pb::Message& m, Special kind, const std::string& path) {
  const auto* d = m.GetDescriptor();
  const auto* r = m.GetReflection();
  auto set_int = [&](const char* name, std::int64_t v) {
    const auto* f = d->FindFieldByName(name);
    if (f->cpp_type() == FD::CPPTYPE_INT64) r->SetInt64(&m, f, v);
    else r->SetInt32(&m, f, static_cast<std::int32_t>(v));
  };
  switch (kind) {
    case Special::time:
    case Special::micro_time: {
      if (j.is_null()) return;  // the zero time: an empty message
      if (!j.is_string()) misfit(path, "an RFC 3339 time is expected, not " + j.dump());
      const auto t = core::parse_rfc3339(j.get<std::string>());
      if (!t) misfit(path, "an RFC 3339 time is expected, not " + j.dump());
      set_int("seconds", t->seconds);
      // meta/v1 Time keeps seconds only; MicroTime microseconds.
      set_int("nanos", kind == Special::micro_time ? t->nanos / 1000 * 1000 : 0);
      return;
    }
    case Special::duration: misfit(path, "durations are not read from JSON by kdr");
    case Special::quantity:
      if (j.is_string()) r->SetString(&m, d->FindFieldByName("string"), j.get<std::string>());
      else if (j.is_number()) r->SetString(&m, d->FindFieldByName("string"), j.dump());
      else misfit(path, "a quantity is expected, not " + j.dump());
      return;
    case Special::int_or_string:
      // intstr.IntOrString's Marshal writes all three fields.
      set_int("type", j.is_string() ? 1 : 0);
      set_int("intVal", j.is_number() ? j.get<std::int64_t>() : 0);
      r->SetString(&m, d->FindFieldByName("strVal"), j.is_string() ? j.get<std::string>() : "");
      return;
    case Special::raw_json:
      if (!j.is_null()) r->SetString(&m, d->field(0), j.dump());
      return;
    case Special::list: {
      if (!j.is_array()) misfit(path, "a list is expected");
      for (std::size_t i = 0; i < j.size(); ++i) set_scalar(m, d->field(0), j[i], true, fmt::format("{}[{}]", path, i));
      return;
    }
    case Special::none: break;
  }
}

void set_field(const ojson& v, pb::Message& m, const FD* f, const Schema& schema, const std::string& path) {
  const auto* r = m.GetReflection();
  if (f->is_map()) {
    if (v.is_null()) return;
    if (!v.is_object()) misfit(path, "an object is expected");
    const auto* entry_type = f->message_type();
    for (const auto& [k, val] : v.items()) {
      auto* entry = r->AddMessage(&m, f);
      set_scalar(*entry, entry_type->map_key(), ojson(k), false, path);
      const auto* value_f = entry_type->map_value();
      if (value_f->cpp_type() == FD::CPPTYPE_MESSAGE)
        fill_message(val, *entry->GetReflection()->MutableMessage(entry, value_f), schema, path + "." + k);
      else
        set_scalar(*entry, value_f, val, false, path + "." + k);
    }
    return;
  }
  if (f->is_repeated()) {
    if (v.is_null()) return;
    if (!v.is_array()) misfit(path, "a list is expected");
    for (std::size_t i = 0; i < v.size(); ++i) {
      const auto item_path = fmt::format("{}[{}]", path, i);
      if (f->cpp_type() == FD::CPPTYPE_MESSAGE) fill_message(v[i], *r->AddMessage(&m, f), schema, item_path);
      else set_scalar(m, f, v[i], true, item_path);
    }
    return;
  }
  if (f->cpp_type() == FD::CPPTYPE_MESSAGE) fill_message(v, *r->MutableMessage(&m, f), schema, path);
  else set_scalar(m, f, v, false, path);
}

// A field the JSON leaves out, as Go's zero value would be written.
void set_zero(pb::Message& m, const FieldPlan& fp, const Schema& schema, const std::string& path) {
  if (fp.info.kind != GoKind::value || fp.field->is_repeated()) return;  // nil: not written
  const auto* r = m.GetReflection();
  if (fp.field->cpp_type() == FD::CPPTYPE_MESSAGE) {
    auto& sub = *r->MutableMessage(&m, fp.field);
    if (fp.special == Special::quantity) return fill_message("0", sub, schema, path);
    if (fp.special == Special::int_or_string) return fill_message(0, sub, schema, path);
    return fill_message(nullptr, sub, schema, path);
  }
  set_scalar(m, fp.field, zero_json(fp), false, path);
}

// The JSON names a message's fields take, those of its inline structs included.
void json_names(const pb::Descriptor* d, const Schema& schema, std::set<std::string>& out) {
  for (const auto& fp : schema.plan(d).fields) {
    if (fp.info.inline_fields() && fp.field->cpp_type() == FD::CPPTYPE_MESSAGE) json_names(fp.field->message_type(), schema, out);
    else out.insert(fp.info.json);
  }
}

// `whole`: j is this message's own object (else the outer object of an inline struct, whose
// other fields are not this message's).
void fill_message(const ojson& j, pb::Message& m, const Schema& schema, const std::string& path, bool whole) {
  const auto& plan = schema.plan(m.GetDescriptor());
  if (plan.special != Special::none) return fill_special(j, m, plan.special, path);
  if (!j.is_null() && !j.is_object()) misfit(path, "an object is expected, not " + j.dump());
  for (const auto& fp : plan.fields) {
    if (fp.info.inline_fields() && fp.field->cpp_type() == FD::CPPTYPE_MESSAGE) {
      fill_message(j, *m.GetReflection()->MutableMessage(&m, fp.field), schema, path, false);
      continue;
    }
    const auto& name = fp.info.json;
    const auto field_path = path.empty() ? name : path + "." + name;
    if (j.is_object() && j.contains(name) && !(j[name].is_null() && fp.info.kind == GoKind::value))
      set_field(j[name], m, fp.field, schema, field_path);
    else
      set_zero(m, fp, schema, field_path);
  }
  if (!whole || !j.is_object()) return;
  std::set<std::string> known;
  json_names(m.GetDescriptor(), schema, known);
  for (const auto& [k, v] : j.items())
    if (known.count(k) == 0 && !(path.empty() && (k == "apiVersion" || k == "kind")))
      misfit(path.empty() ? k : path + "." + k, "no such field in " + m.GetDescriptor()->name());
}

}  // namespace

std::string go_duration(std::int64_t nanoseconds) {
  if (nanoseconds == 0) return "0s";
  const bool negative = nanoseconds < 0;
  const std::uint64_t u = negative ? ~static_cast<std::uint64_t>(nanoseconds) + 1 : static_cast<std::uint64_t>(nanoseconds);
  std::string out;
  if (u < 1000000000) {
    if (u < 1000) out = fmt::format("{}ns", u);
    else if (u < 1000000) out = fmt::format("{}{}µs", u / 1000, trimmed_fraction(u % 1000, 3));
    else out = fmt::format("{}{}ms", u / 1000000, trimmed_fraction(u % 1000000, 6));
  } else {
    const auto seconds = u / 1000000000;
    out = fmt::format("{}{}s", seconds % 60, trimmed_fraction(u % 1000000000, 9));
    const auto minutes = seconds / 60;
    if (minutes > 0) {
      out = fmt::format("{}m", minutes % 60) + out;
      if (minutes / 60 > 0) out = fmt::format("{}h", minutes / 60) + out;
    }
  }
  return negative ? "-" + out : out;
}

ojson decode_json(std::string_view raw, const pb::Descriptor* type, const Schema& schema) {
  const auto where = type->name();
  return message_from_wire(raw, schema.plan(type), schema, where);
}

std::unique_ptr<pb::Message> from_json(const ojson& object, const pb::Descriptor* type, const Schema& schema) {
  std::unique_ptr<pb::Message> m(schema.prototype(type)->New());
  fill_message(object, *m, schema, "");
  return m;
}

}  // namespace kdr::k8s
