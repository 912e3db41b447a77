#include "etcd/range_reply.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <mutex>
#include <string>
#include <utility>

#include <fmt/format.h>
#include <simdjson.h>

#include "core/base64.hpp"
#include "core/error.hpp"
#include "etcd/grpc_range.hpp"
#include "etcd/snapshot_keys.hpp"

namespace kdr::etcd {

namespace {

namespace od = simdjson::ondemand;

// A number the gateway writes as a string (64-bit fields) or as a number.
std::int64_t number_of(od::value v, std::string_view origin, std::string_view field) {
  if (v.type() == od::json_type::string) {
    const std::string_view text = v.get_string();
    std::int64_t n = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc() || end != text.data() + text.size())
      throw core::Error(fmt::format("{}: field {} is not a number: '{}'", origin, field, text.substr(0, 40)));
    return n;
  }
  return v.get_int64();
}

// A base64 string's bytes, decoded from the answer's text in place (not unescaped into the
// parser's buffer first: base64 needs no escapes, and "\/" is the one a JSON writer may use).
std::string bytes_of_token(std::string_view token, std::string_view origin, std::size_t index, std::string_view field) {
  while (!token.empty() && (token.back() == ' ' || token.back() == '\n' || token.back() == '\r' || token.back() == '\t'))
    token.remove_suffix(1);
  if (token.size() < 2 || token.front() != '"' || token.back() != '"')
    throw core::Error(fmt::format("{}: key-value {}, field {}: not a string", origin, index, field));
  token = token.substr(1, token.size() - 2);
  std::string unescaped;
  if (token.find('\\') != std::string_view::npos) {
    for (std::size_t i = 0; i < token.size(); ++i) {
      if (token[i] == '\\' && i + 1 < token.size() && token[i + 1] == '/') continue;
      unescaped.push_back(token[i]);
    }
    token = unescaped;
  }
  try {
    return core::base64_decode(token);
  } catch (const core::Error& e) {
    throw core::Error(fmt::format("{}: key-value {}, field {}: {}", origin, index, field, e.what()));
  }
}

std::string bytes_of(od::value v, std::string_view origin, std::size_t index, std::string_view field) {
  return bytes_of_token(v.raw_json_token(), origin, index, field);
}

void read_key_value(od::object item, EtcdKeyValue& kv, std::string_view origin, std::size_t index) {
  for (auto field : item) {
    const std::string_view name = field.unescaped_key();
    if (name == "key") kv.key = bytes_of(field.value(), origin, index, name);
    else if (name == "value") kv.value = bytes_of(field.value(), origin, index, name);
    else if (name == "create_revision") kv.create_revision = number_of(field.value(), origin, name);
    else if (name == "mod_revision") kv.mod_revision = number_of(field.value(), origin, name);
    else if (name == "version") kv.version = number_of(field.value(), origin, name);
    else if (name == "lease") kv.lease = number_of(field.value(), origin, name);
  }
}

}  // namespace

namespace {
constexpr std::size_t chunk_bytes = 1u << 20;

// The pieces answers are read into, kept for the next answer instead of freed. A piece of
// 1 MiB is above glibc's mmap threshold (fixed at 1 MiB in main: cli/cli.cpp), so a new one is
// mapped, faulted in a page at a time and unmapped again: `kdr get configmaps -A` of an 8 GiB
// database took 3.9 million page faults and 17.5 s of system time. The pool holds no more
// pieces than were in use at once (each comes back once its answer is copied out), up to
// `most` of them.
class ChunkPool {
 public:
  std::string take() {
    {
      const std::lock_guard lock(mutex_);
      if (!free_.empty()) {
        std::string piece = std::move(free_.back());
        free_.pop_back();
        piece.clear();  // keeps its capacity
        return piece;
      }
    }
    std::string piece;
    piece.reserve(chunk_bytes);
    return piece;
  }
  void give_back(std::string&& piece) {
    if (piece.capacity() < chunk_bytes) return;
    const std::lock_guard lock(mutex_);
    if (free_.size() < most) free_.push_back(std::move(piece));
  }

 private:
  static constexpr std::size_t most = 16;
  std::mutex mutex_;
  std::vector<std::string> free_;
};

// Never destroyed: a read on another thread may still give a piece back while the process
// exits.
ChunkPool& chunk_pool() {
  static auto* pool = new ChunkPool;
  return *pool;
}
}  // namespace

TextChunks::~TextChunks() {
  for (auto& part : parts_) chunk_pool().give_back(std::move(part));
}

TextChunks& TextChunks::operator=(TextChunks&& other) noexcept {
  if (this != &other) {
    for (auto& part : parts_) chunk_pool().give_back(std::move(part));
    parts_ = std::exchange(other.parts_, {});
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

void TextChunks::give_back(std::string&& part) { chunk_pool().give_back(std::move(part)); }

void TextChunks::append(const char* data, std::size_t n) {
  size_ += n;
  while (n > 0) {
    if (parts_.empty() || parts_.back().size() == chunk_bytes) parts_.push_back(chunk_pool().take());
    const auto take = std::min(n, chunk_bytes - parts_.back().size());
    parts_.back().append(data, take);
    data += take;
    n -= take;
  }
}

std::vector<std::string> TextChunks::take_parts() {
  size_ = 0;
  return std::exchange(parts_, {});
}

std::string TextChunks::joined() const {
  std::string s;
  s.reserve(size_);
  for (const auto& p : parts_) s += p;
  return s;
}

struct RangeReplyParser::State {
  std::unique_ptr<char[]> buffer;  // the page's text, padded as simdjson reads past its end
  std::size_t capacity = 0;
  od::parser parser;
  od::document doc;         // the loaded page
  std::string origin;
  bool loaded = false;
  bool grpc = false;                   // the loaded page is a gRPC answer: its key-values are
  std::vector<std::string_view> kvs;   // these messages in the buffer
};

RangeReplyParser::RangeReplyParser() : state_(std::make_unique<State>()) {}
RangeReplyParser::~RangeReplyParser() = default;

namespace {

// The page's fields in order: `kvs` given each key-value's object, the others read into `page`.
template <class KeyValues>
void read_page(od::document& doc, RangePage& page, std::string_view origin, KeyValues&& kvs) {
  for (auto field : doc.get_object()) {
    const std::string_view name = field.unescaped_key();
    if (name == "error") {
      page.error = true;
      return;
    } else if (name == "header") {
      for (auto h : field.value().get_object())
        if (std::string_view(h.unescaped_key()) == "revision") page.revision = number_of(h.value(), origin, "revision");
    } else if (name == "more") {
      page.more = field.value().get_bool();
    } else if (name == "count") {
      page.count = number_of(field.value(), origin, "count");
    } else if (name == "kvs") {
      for (auto item : field.value().get_array()) kvs(item.get_object());
    }
  }
  // a token still in bounds after the object is text after it (simdjson 3.0's document has
  // no at_end())
  if (doc.current_location().error() == simdjson::SUCCESS)
    throw core::Error(fmt::format("{}: not a range answer: text after its JSON object", origin));
}

}  // namespace

namespace {

// The page's text in one padded buffer of the parser's, its pieces given back as they are
// copied.
char* take_text(TextChunks& body, std::unique_ptr<char[]>& buffer, std::size_t& capacity) {
  const std::size_t size = body.size();
  if (capacity < size + simdjson::SIMDJSON_PADDING) {
    buffer.reset();
    capacity = size + size / 4 + simdjson::SIMDJSON_PADDING;
    buffer.reset(new char[capacity]);  // not zeroed: only what a page fills is touched
  }
  char* text = buffer.get();
  std::size_t at = 0;
  auto parts = body.take_parts();
  for (auto& part : parts) {
    std::memcpy(text + at, part.data(), part.size());
    at += part.size();
    TextChunks::give_back(std::move(part));
  }
  parts.clear();
  std::memset(text + size, 0, simdjson::SIMDJSON_PADDING);
  return text;
}

}  // namespace

RangePage RangeReplyParser::load_grpc(TextChunks& body, std::string_view origin) {
  auto& st = *state_;
  st.loaded = false;
  const std::size_t size = body.size();
  const char* text = take_text(body, st.buffer, st.capacity);
  auto answer = read_grpc_range_answer(std::string_view(text, size), origin);
  RangePage page;
  page.revision = answer.revision;
  page.more = answer.more;
  page.count = answer.count;
  page.kvs = answer.kvs.size();
  if (!answer.kvs.empty()) {
    std::string_view last;
    if (!mvcc_key(answer.kvs.back(), last))
      throw core::Error(fmt::format("{}: key-value {} of the answer names no key", origin, answer.kvs.size()));
    page.last_key = last;
  }
  st.origin = origin;
  st.kvs = std::move(answer.kvs);
  st.grpc = true;
  st.loaded = true;
  return page;
}

RangePage RangeReplyParser::load(TextChunks& body, std::string_view origin) {
  // One padded copy of the page for simdjson's on-demand parser, which reads it in place (its
  // buffers are touched only for the structure and the strings taken; whatever the kernel, a
  // few GB/s); fields the gateway may add are skipped.
  auto& st = *state_;
  st.loaded = false;
  st.grpc = false;
  const std::size_t size = body.size();
  char* text = take_text(body, st.buffer, st.capacity);
  RangePage page;
  st.origin = origin;
  try {
    if (const auto error = st.parser.iterate(text, size, st.capacity).get(st.doc))
      throw simdjson::simdjson_error(error);
    // the keys only (the last one's bytes), the values skipped
    std::string_view last;
    std::size_t index = 0;
    read_page(st.doc, page, origin, [&](od::object item) {
      ++index;
      for (auto field : item)
        if (std::string_view(field.unescaped_key()) == "key") last = field.value().raw_json_token();
    });
    if (page.error) {
      body.append(text, size);
      return page;
    }
    page.kvs = index;
    if (index > 0) page.last_key = bytes_of_token(last, origin, index, "key");
    st.doc.rewind();  // for each()
  } catch (const simdjson::simdjson_error& e) {
    throw core::Error(fmt::format("{}: not a range answer: {}", origin, e.what()));
  }
  st.loaded = true;
  return page;
}

void RangeReplyParser::each(const std::function<void(EtcdKeyValue&&)>& each) {
  auto& st = *state_;
  if (!st.loaded) throw core::Error("the range answer's key-values were read already, or none was loaded");
  st.loaded = false;
  if (st.grpc) {
    std::size_t index = 0;
    for (const auto m : st.kvs) {
      EtcdKeyValue kv;
      if (!parse_mvcc_key_value(m, kv))
        throw core::Error(fmt::format("{}: key-value {} of the answer is not an etcd key-value", st.origin, index + 1));
      ++index;
      each(std::move(kv));
    }
    return;
  }
  RangePage again;
  std::size_t index = 0;
  try {
    read_page(st.doc, again, st.origin, [&](od::object item) {
      EtcdKeyValue kv;
      read_key_value(item, kv, st.origin, ++index);
      each(std::move(kv));
    });
  } catch (const simdjson::simdjson_error& e) {
    throw core::Error(fmt::format("{}: not a range answer: {}", st.origin, e.what()));
  }
}

RangeReply RangeReplyParser::parse(TextChunks& body, std::string_view origin) {
  const auto page = load(body, origin);
  RangeReply out;
  out.revision = page.revision;
  out.more = page.more;
  out.count = page.count;
  out.error = page.error;
  if (!page.error) each([&](EtcdKeyValue&& kv) { out.kvs.push_back(std::move(kv)); });
  return out;
}

RangeReply parse_range_reply(TextChunks& body, std::string_view origin) {
  RangeReplyParser parser;
  return parser.parse(body, origin);
}

}  // namespace kdr::etcd
