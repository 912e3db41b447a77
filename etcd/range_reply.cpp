#include "etcd/range_reply.hpp"

#include <algorithm>
#include <charconv>
#include <iterator>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/base64.hpp"
#include "core/error.hpp"

namespace kdr::core {

namespace {

using nlohmann::json;

// Where the parser is: the answer's top object, its "header", its "kvs" array, or one key-value
// of it. Anything else (fields the gateway may add) is skipped, however deep.
enum class Place { top, header, kvs, kv, other };

class RangeSax final : public nlohmann::json_sax<json> {
 public:
  RangeSax(RangeReply& out, std::string_view origin) : out_(out), origin_(origin) {}

  bool null() override { return true; }
  bool boolean(bool v) override {
    if (place() == Place::top && key_ == "more") out_.more = v;
    return true;
  }
  bool number_integer(number_integer_t v) override { return number(v); }
  bool number_unsigned(number_unsigned_t v) override { return number(static_cast<std::int64_t>(v)); }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool string(string_t& v) override {
    if (place() == Place::kv && key_ == "key") {
      out_.kvs.back().key = bytes(v);
    } else if (place() == Place::kv && key_ == "value") {
      out_.kvs.back().value = bytes(v);
      v = string_t();  // the base64 text goes as soon as it is decoded
    } else if (numeric()) {
      number(parse_number(v));  // the gateway writes 64-bit numbers as strings
    }
    return true;
  }
  bool start_object(std::size_t) override {
    Place next = Place::other;
    if (stack_.empty()) {
      next = Place::top;
    } else if (place() == Place::top && key_ == "header") {
      next = Place::header;
    } else if (place() == Place::kvs) {
      next = Place::kv;
      out_.kvs.emplace_back();
    }
    stack_.push_back(next);
    key_.clear();
    return true;
  }
  bool end_object() override { return leave(); }
  bool start_array(std::size_t) override {
    stack_.push_back(place() == Place::top && key_ == "kvs" ? Place::kvs : Place::other);
    return true;
  }
  bool end_array() override { return leave(); }
  bool key(string_t& k) override {
    key_ = k;
    if (place() == Place::top && k == "error") out_.error = true;
    return true;
  }
  bool parse_error(std::size_t at, const std::string&, const nlohmann::detail::exception& e) override {
    throw Error(fmt::format("{}: not a range answer at byte {}: {}", origin_, at, e.what()));
  }

 private:
  Place place() const { return stack_.empty() ? Place::other : stack_.back(); }
  // A field this reader keeps a number of (the rest, ids and messages, are skipped).
  bool numeric() const {
    switch (place()) {
      case Place::top:
        return key_ == "count";
      case Place::header:
        return key_ == "revision";
      case Place::kv:
        return key_ == "create_revision" || key_ == "mod_revision" || key_ == "version" || key_ == "lease";
      default:
        return false;
    }
  }
  bool leave() {
    if (!stack_.empty()) stack_.pop_back();
    key_.clear();
    return true;
  }
  std::string bytes(const std::string& text) const {
    try {
      return base64_decode(text);
    } catch (const Error& e) {
      throw Error(fmt::format("{}: key-value {}, field {}: {}", origin_, out_.kvs.size(), key_, e.what()));
    }
  }
  std::int64_t parse_number(const std::string& text) const {
    std::int64_t n = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc() || end != text.data() + text.size())
      throw Error(fmt::format("{}: field {} is not a number: '{}'", origin_, key_, text.substr(0, 40)));
    return n;
  }
  bool number(std::int64_t v) {
    if (!numeric()) return true;
    switch (place()) {
      case Place::top:
        if (key_ == "count") out_.count = v;
        break;
      case Place::header:
        if (key_ == "revision") out_.revision = v;
        break;
      case Place::kv: {
        auto& kv = out_.kvs.back();
        if (key_ == "create_revision") kv.create_revision = v;
        else if (key_ == "mod_revision") kv.mod_revision = v;
        else if (key_ == "version") kv.version = v;
        else if (key_ == "lease") kv.lease = v;
        break;
      }
      default:
        break;
    }
    return true;
  }

  RangeReply& out_;
  std::string_view origin_;
  std::vector<Place> stack_;
  std::string key_;
};

// The chunks' characters one after the other, for the parser's input.
class ChunkIterator {
 public:
  using iterator_category = std::forward_iterator_tag;
  using value_type = char;
  using difference_type = std::ptrdiff_t;
  using pointer = const char*;
  using reference = const char&;

  ChunkIterator() = default;
  ChunkIterator(const std::vector<std::string>* parts, std::size_t part) : parts_(parts), part_(part) { skip_empty(); }
  reference operator*() const { return (*parts_)[part_][at_]; }
  ChunkIterator& operator++() {
    if (++at_ == (*parts_)[part_].size()) {
      ++part_;
      at_ = 0;
      skip_empty();
    }
    return *this;
  }
  ChunkIterator operator++(int) {
    auto old = *this;
    ++*this;
    return old;
  }
  bool operator==(const ChunkIterator& o) const { return part_ == o.part_ && at_ == o.at_; }
  bool operator!=(const ChunkIterator& o) const { return !(*this == o); }

 private:
  void skip_empty() {
    while (parts_ != nullptr && part_ < parts_->size() && (*parts_)[part_].empty()) ++part_;
  }
  const std::vector<std::string>* parts_ = nullptr;
  std::size_t part_ = 0;
  std::size_t at_ = 0;
};

constexpr std::size_t chunk_bytes = 1u << 20;

}  // namespace

void TextChunks::append(const char* data, std::size_t n) {
  size_ += n;
  while (n > 0) {
    if (parts_.empty() || parts_.back().size() == chunk_bytes) {
      parts_.emplace_back();
      parts_.back().reserve(chunk_bytes);
    }
    const auto take = std::min(n, chunk_bytes - parts_.back().size());
    parts_.back().append(data, take);
    data += take;
    n -= take;
  }
}

std::string TextChunks::joined() const {
  std::string s;
  s.reserve(size_);
  for (const auto& p : parts_) s += p;
  return s;
}

RangeReply parse_range_reply(const TextChunks& body, std::string_view origin) {
  RangeReply out;
  RangeSax sax(out, origin);
  json::sax_parse(ChunkIterator(&body.parts(), 0), ChunkIterator(&body.parts(), body.parts().size()), &sax);
  return out;
}

}  // namespace kdr::core
