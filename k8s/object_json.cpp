#include "k8s/object_json.hpp"

#include <google/protobuf/reflection.h>

#include <ctime>

#include <fmt/format.h>

#include "core/base64.hpp"
#include "core/error.hpp"

namespace kdr::k8s {

namespace {

using FD = pb::FieldDescriptor;

// The messages with a JSON form of their own (k8s.io/apimachinery's MarshalJSON methods).
enum class Special { none, time, micro_time, duration, quantity, int_or_string, raw_json, list };

Special special_of(const pb::Descriptor* d, const Schema& schema) {
  const auto& n = d->full_name();
  if (n == "k8s.io.apimachinery.pkg.apis.meta.v1.Time") return Special::time;
  if (n == "k8s.io.apimachinery.pkg.apis.meta.v1.MicroTime") return Special::micro_time;
  if (n == "k8s.io.apimachinery.pkg.apis.meta.v1.Duration") return Special::duration;
  if (n == "k8s.io.apimachinery.pkg.api.resource.Quantity" || n == "k8s.io.apimachinery.pkg.api.resource.QuantityValue")
    return Special::quantity;
  if (n == "k8s.io.apimachinery.pkg.util.intstr.IntOrString") return Special::int_or_string;
  if (n == "k8s.io.apimachinery.pkg.runtime.RawExtension" || n == "k8s.io.apimachinery.pkg.apis.meta.v1.FieldsV1")
    return Special::raw_json;
  if (schema.is_list_type(d)) return Special::list;
  return Special::none;
}

// The field's print rules: its json tag when the Go struct was read, else its proto name,
// omitempty, and a pointer for a message (nil when absent).
FieldInfo info_of(const FD* f, const Schema& schema) {
  if (const auto* info = schema.field(f)) return *info;
  FieldInfo info{f->name(), true, GoKind::value, 0};
  if (f->is_map()) info.kind = GoKind::map;
  else if (f->is_repeated()) info.kind = GoKind::slice;
  else if (f->cpp_type() == FD::CPPTYPE_MESSAGE) info.kind = GoKind::pointer;
  return info;
}

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

// Parses "2024-03-01T03:14:00Z" or with a fraction or an offset; nullopt when it is not RFC 3339.
std::optional<std::pair<std::int64_t, int>> parse_rfc3339(const std::string& text) {
  std::tm tm{};
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0, consumed = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &year, &month, &day, &hour, &minute, &second, &consumed) != 6)
    return std::nullopt;
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  auto rest = std::string_view(text).substr(static_cast<std::size_t>(consumed));
  int nanos = 0;
  if (!rest.empty() && rest.front() == '.') {
    rest.remove_prefix(1);
    int digits = 0;
    while (!rest.empty() && rest.front() >= '0' && rest.front() <= '9') {
      if (digits < 9) nanos = nanos * 10 + (rest.front() - '0'), ++digits;
      rest.remove_prefix(1);
    }
    for (; digits < 9; ++digits) nanos *= 10;
  }
  std::int64_t offset = 0;
  if (rest == "Z") {
  } else if (rest.size() == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':') {
    const int h = (rest[1] - '0') * 10 + (rest[2] - '0'), m = (rest[4] - '0') * 10 + (rest[5] - '0');
    offset = (rest[0] == '-' ? -1 : 1) * (h * 3600 + m * 60);
  } else {
    return std::nullopt;
  }
  return std::pair{static_cast<std::int64_t>(timegm(&tm)) - offset, nanos};
}

std::string trimmed_fraction(std::uint64_t frac, int digits) {
  std::string s = fmt::format("{:0{}}", frac, digits);
  while (!s.empty() && s.back() == '0') s.pop_back();
  return s.empty() ? "" : "." + s;
}

// ---- message -> JSON -------------------------------------------------------------------

ojson message_json(const pb::Message& m, const Schema& schema);

ojson scalar_json(const pb::Message& m, const FD* f, int index) {
  const auto* r = m.GetReflection();
  const bool rep = index >= 0;
  switch (f->cpp_type()) {
    case FD::CPPTYPE_INT32: return rep ? r->GetRepeatedInt32(m, f, index) : r->GetInt32(m, f);
    case FD::CPPTYPE_INT64: return rep ? r->GetRepeatedInt64(m, f, index) : r->GetInt64(m, f);
    case FD::CPPTYPE_UINT32: return rep ? r->GetRepeatedUInt32(m, f, index) : r->GetUInt32(m, f);
    case FD::CPPTYPE_UINT64: return rep ? r->GetRepeatedUInt64(m, f, index) : r->GetUInt64(m, f);
    case FD::CPPTYPE_DOUBLE: return rep ? r->GetRepeatedDouble(m, f, index) : r->GetDouble(m, f);
    case FD::CPPTYPE_FLOAT: return rep ? r->GetRepeatedFloat(m, f, index) : r->GetFloat(m, f);
    case FD::CPPTYPE_BOOL: return rep ? r->GetRepeatedBool(m, f, index) : r->GetBool(m, f);
    case FD::CPPTYPE_ENUM: return rep ? r->GetRepeatedEnum(m, f, index)->name() : r->GetEnum(m, f)->name();
    case FD::CPPTYPE_STRING: {
      std::string scratch;
      const auto& s = rep ? r->GetRepeatedStringReference(m, f, index, &scratch) : r->GetStringReference(m, f, &scratch);
      if (f->type() == FD::TYPE_BYTES) return core::base64_encode(s);
      return s;
    }
    case FD::CPPTYPE_MESSAGE: break;
  }
  return nullptr;
}

ojson value_json(const pb::Message& m, const FD* f, int index, const Schema& schema) {
  if (f->cpp_type() != FD::CPPTYPE_MESSAGE) return scalar_json(m, f, index);
  const auto* r = m.GetReflection();
  return message_json(index >= 0 ? r->GetRepeatedMessage(m, f, index) : r->GetMessage(m, f), schema);
}

bool is_zero(const ojson& v) {
  if (v.is_null()) return true;
  if (v.is_string()) return v.get_ref<const std::string&>().empty();
  if (v.is_boolean()) return !v.get<bool>();
  if (v.is_number()) return v == 0;
  if (v.is_array() || v.is_object()) return v.empty();
  return false;
}

ojson special_json(const pb::Message& m, Special kind, const Schema& schema) {
  const auto* d = m.GetDescriptor();
  const auto* r = m.GetReflection();
  auto int_field = [&](const char* name) -> std::int64_t {
    const auto* f = d->FindFieldByName(name);
    if (f == nullptr) return 0;
    return f->cpp_type() == FD::CPPTYPE_INT64 ? r->GetInt64(m, f) : r->GetInt32(m, f);
  };
  auto string_field = [&](const char* name) -> std::string {
    const auto* f = d->FindFieldByName(name);
    return f == nullptr ? std::string() : r->GetString(m, f);
  };
  switch (kind) {
    case Special::time: {
      const auto seconds = int_field("seconds");
      if (seconds == 0 && int_field("nanos") == 0) return nullptr;  // the zero time.Time
      return rfc3339(seconds, 0, false);
    }
    case Special::micro_time: {
      const auto seconds = int_field("seconds");
      const auto nanos = int_field("nanos");
      if (seconds == 0 && nanos == 0) return nullptr;
      return rfc3339(seconds, static_cast<int>(nanos / 1000), true);
    }
    case Special::duration: return go_duration(int_field("duration"));
    case Special::quantity: {
      auto s = string_field("string");
      return s.empty() ? "0" : s;
    }
    case Special::int_or_string:
      if (int_field("type") == 1) return string_field("strVal");
      return int_field("intVal");
    case Special::raw_json: {
      const auto* f = d->field(0);
      const auto& raw = r->GetString(m, f);
      if (raw.empty()) return nullptr;
      auto parsed = ojson::parse(raw, nullptr, false);
      if (parsed.is_discarded()) return core::base64_encode(raw);
      return parsed;
    }
    case Special::list: {
      ojson out = ojson::array();
      const auto* f = d->field(0);
      for (int i = 0; i < r->FieldSize(m, f); ++i) out.push_back(value_json(m, f, i, schema));
      return out;
    }
    case Special::none: break;
  }
  return nullptr;
}

// What Go prints for a field that holds its zero value (the field absent from the message).
ojson zero_json(const FD* f, const FieldInfo& info, const Schema& schema) {
  if (info.kind == GoKind::pointer || info.kind == GoKind::slice || info.kind == GoKind::map) return nullptr;
  if (f->is_repeated()) return nullptr;
  switch (f->cpp_type()) {
    case FD::CPPTYPE_STRING: return "";
    case FD::CPPTYPE_BOOL: return false;
    case FD::CPPTYPE_MESSAGE: {
      const auto kind = special_of(f->message_type(), schema);
      if (kind == Special::quantity) return "0";
      if (kind == Special::int_or_string) return 0;
      if (kind == Special::duration) return "0s";
      if (kind != Special::none) return nullptr;
      return ojson::object();
    }
    default: return 0;
  }
}

ojson message_json(const pb::Message& m, const Schema& schema) {
  const auto* d = m.GetDescriptor();
  if (const auto kind = special_of(d, schema); kind != Special::none) return special_json(m, kind, schema);
  const auto* r = m.GetReflection();
  ojson out = ojson::object();
  for (const auto* f : schema.fields_in_order(d)) {
    const auto info = info_of(f, schema);
    ojson v;
    if (f->is_map()) {
      const int n = r->FieldSize(m, f);
      if (n > 0) {
        v = ojson::object();
        const auto* key_f = f->message_type()->map_key();
        const auto* value_f = f->message_type()->map_value();
        // Entries as stored (kube-apiserver sorts them); printed sorted by key, as Go does.
        std::vector<std::pair<std::string, ojson>> entries;
        for (int i = 0; i < n; ++i) {
          const auto& entry = r->GetRepeatedMessage(m, f, i);
          auto key = scalar_json(entry, key_f, -1);
          entries.emplace_back(key.is_string() ? key.get<std::string>() : key.dump(), value_json(entry, value_f, -1, schema));
        }
        std::stable_sort(entries.begin(), entries.end(), [](auto& a, auto& b) { return a.first < b.first; });
        for (auto& [k, val] : entries) v[k] = std::move(val);
      }
    } else if (f->is_repeated()) {
      const int n = r->FieldSize(m, f);
      if (n > 0) {
        v = ojson::array();
        for (int i = 0; i < n; ++i) v.push_back(value_json(m, f, i, schema));
      }
    } else if (r->HasField(m, f)) {
      v = value_json(m, f, -1, schema);
    } else {
      v = zero_json(f, info, schema);
    }
    // encoding/json: omitempty leaves out false, 0, "", nil and empty slices and maps; never a struct.
    const bool is_struct = !f->is_repeated() && f->cpp_type() == FD::CPPTYPE_MESSAGE && info.kind == GoKind::value;
    if (info.omitempty && !is_struct && is_zero(v) && !(info.kind == GoKind::pointer && r->HasField(m, f))) continue;
    if (info.omitempty && info.kind == GoKind::pointer && !r->HasField(m, f)) continue;
    if (info.inline_fields() && v.is_object()) {
      for (auto& [k, inner] : v.items()) out[k] = std::move(inner);
      continue;
    }
    out[info.json] = std::move(v);
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
      const auto t = parse_rfc3339(j.get<std::string>());
      if (!t) misfit(path, "an RFC 3339 time is expected, not " + j.dump());
      set_int("seconds", t->first);
      // meta/v1 Time keeps seconds only; MicroTime microseconds.
      if (kind == Special::micro_time) set_int("nanos", t->second / 1000 * 1000);
      else set_int("nanos", 0);
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
void set_zero(pb::Message& m, const FD* f, const FieldInfo& info, const Schema& schema, const std::string& path) {
  if (info.kind != GoKind::value || f->is_repeated()) return;  // nil: not written
  const auto* r = m.GetReflection();
  if (f->cpp_type() == FD::CPPTYPE_MESSAGE) {
    const auto kind = special_of(f->message_type(), schema);
    if (kind == Special::quantity) return fill_message("0", *r->MutableMessage(&m, f), schema, path);
    if (kind == Special::int_or_string) return fill_message(0, *r->MutableMessage(&m, f), schema, path);
    return fill_message(nullptr, *r->MutableMessage(&m, f), schema, path);
  }
  set_scalar(m, f, zero_json(f, info, schema), false, path);
}

// The JSON names a message's fields take, those of its inline structs included.
void json_names(const pb::Descriptor* d, const Schema& schema, std::set<std::string>& out) {
  for (const auto* f : schema.fields_in_order(d)) {
    const auto info = info_of(f, schema);
    if (info.inline_fields() && f->cpp_type() == FD::CPPTYPE_MESSAGE) json_names(f->message_type(), schema, out);
    else out.insert(info.json);
  }
}

// `whole`: j is this message's own object (else the outer object of an inline struct, whose
// other fields are not this message's).
void fill_message(const ojson& j, pb::Message& m, const Schema& schema, const std::string& path, bool whole) {
  const auto* d = m.GetDescriptor();
  if (const auto kind = special_of(d, schema); kind != Special::none) return fill_special(j, m, kind, path);
  if (!j.is_null() && !j.is_object()) misfit(path, "an object is expected, not " + j.dump());
  for (const auto* f : schema.fields_in_order(d)) {
    const auto info = info_of(f, schema);
    if (info.inline_fields() && f->cpp_type() == FD::CPPTYPE_MESSAGE) {
      fill_message(j, *m.GetReflection()->MutableMessage(&m, f), schema, path, false);
      continue;
    }
    const auto field_path = path.empty() ? info.json : path + "." + info.json;
    if (j.is_object() && j.contains(info.json) && !(j[info.json].is_null() && info.kind == GoKind::value))
      set_field(j[info.json], m, f, schema, field_path);
    else
      set_zero(m, f, info, schema, field_path);
  }
  if (!whole || !j.is_object()) return;
  std::set<std::string> known;
  json_names(d, schema, known);
  for (const auto& [k, v] : j.items())
    if (known.count(k) == 0 && !(path.empty() && (k == "apiVersion" || k == "kind")))
      misfit(path.empty() ? k : path + "." + k, "no such field in " + d->name());
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

ojson to_json(const pb::Message& message, const Schema& schema) { return message_json(message, schema); }

std::unique_ptr<pb::Message> from_json(const ojson& object, const pb::Descriptor* type, const Schema& schema) {
  std::unique_ptr<pb::Message> m(schema.prototype(type)->New());
  fill_message(object, *m, schema, "");
  return m;
}

}  // namespace kdr::k8s
