// One page of a range read, decoded straight from the JSON gateway's answer by simdjson's
// on-demand parser (or from etcd's gRPC answer, grpc_range.hpp): keys and values come out as bytes without a JSON tree of their base64 text
// beside them, one at a time, so a page costs its answer and the value being handled.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "etcd/api.hpp"

namespace kdr::etcd {

// An answer as it arrives, in pieces of up to 1 MiB: it grows without a copy (one string
// that doubles as it grows holds the old copy and the new one at once).
class TextChunks {
 public:
  TextChunks() = default;
  ~TextChunks();  // its pieces go back for the next answer
  TextChunks(TextChunks&& other) noexcept
      : parts_(std::exchange(other.parts_, {})), size_(std::exchange(other.size_, 0)) {}
  TextChunks& operator=(TextChunks&& other) noexcept;
  TextChunks(const TextChunks&) = delete;
  TextChunks& operator=(const TextChunks&) = delete;
  // A piece taken with take_parts, once read: kept for the next answer.
  static void give_back(std::string&& part);

  void append(const char* data, std::size_t n);
  std::size_t size() const { return size_; }
  const std::vector<std::string>& parts() const { return parts_; }
  // The pieces, given away: the text is empty afterwards.
  std::vector<std::string> take_parts();
  // The whole text in one string (small answers, error messages).
  std::string joined() const;

 private:
  std::vector<std::string> parts_;
  std::size_t size_ = 0;
};

struct RangeReply {
  std::int64_t revision = 0;  // the header's: the revision the page was read at
  bool more = false;          // more keys in the range after this page
  std::int64_t count = 0;     // keys in the whole range
  std::vector<EtcdKeyValue> kvs;
  // The answer carries an "error" (the gateway's error shape): the caller reads it whole.
  bool error = false;
};

// A page read by RangeReplyParser::load: its header and the last of its keys, its values not
// decoded yet.
struct RangePage {
  std::int64_t revision = 0;
  bool more = false;
  std::int64_t count = 0;
  std::size_t kvs = 0;    // key-values on the page
  std::string last_key;   // where the next page starts (after it)
  bool error = false;     // as RangeReply::error
};

// Parses the pages of one range read, one at a time (from any thread, never two at once): its
// buffer and simdjson's are kept from page to page, so that a read of many pages does not
// allocate and free a page's worth each time (glibc's heap then grows with the pages read).
class RangeReplyParser {
 public:
  RangeReplyParser();
  ~RangeReplyParser();
  RangeReplyParser(const RangeReplyParser&) = delete;
  RangeReplyParser& operator=(const RangeReplyParser&) = delete;
  // Takes the page's text and reads all of it but the values: throws Error naming `origin`
  // when `body` is not JSON or a field is not what the gateway writes. `body`'s pieces are
  // released as they are copied for the parser (the page is not held twice); an error answer
  // (`error`) is left in `body` for the caller to read whole.
  RangePage load(TextChunks& body, std::string_view origin);
  // The same for a gRPC RangeResponse (grpc_range.hpp): its key-values are decoded by each().
  RangePage load_grpc(TextChunks& body, std::string_view origin);
  // The loaded page's key-values, decoded one at a time from its text and handed to `each`:
  // a page costs its text and one value, not its text and all of its values. Throws Error as
  // load does (a value that is not base64).
  void each(const std::function<void(EtcdKeyValue&&)>& each);
  // load, and every key-value kept.
  RangeReply parse(TextChunks& body, std::string_view origin);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// One page with a parser of its own.
RangeReply parse_range_reply(TextChunks& body, std::string_view origin);

}  // namespace kdr::etcd
