#include "journal/record.hpp"

#include <zlib.h>

#include <cstring>

#include <fmt/format.h>

namespace kdr::journal {

namespace {

void put_u8(std::string& out, std::uint8_t v) { out.push_back(static_cast<char>(v)); }

void put_u32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void put_i64(std::string& out, std::int64_t value) {
  const auto v = static_cast<std::uint64_t>(value);
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void put_bytes(std::string& out, std::string_view bytes) {
  put_u32(out, static_cast<std::uint32_t>(bytes.size()));
  out.append(bytes);
}

void put_digest(std::string& out, const etcd::KeyspaceDigest& d) {
  for (const auto l : d.lanes) put_i64(out, static_cast<std::int64_t>(l));
  put_i64(out, d.keys);
}

std::uint32_t crc_of(std::string_view bytes) {
  return static_cast<std::uint32_t>(
      ::crc32(0L, reinterpret_cast<const Bytef*>(bytes.data()), static_cast<uInt>(bytes.size())));
}

// Reads fields from a payload; any read past its end sets `bad`.
class Reader {
 public:
  explicit Reader(std::string_view p) : p_(p) {}
  bool bad() const { return bad_; }
  bool at_end() const { return pos_ == p_.size(); }
  std::uint8_t u8() { return take(1) ? static_cast<std::uint8_t>(p_[pos_ - 1]) : 0; }
  std::uint32_t u32() {
    if (!take(4)) return 0;
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= static_cast<std::uint32_t>(static_cast<unsigned char>(p_[pos_ - 4 + static_cast<std::size_t>(i)])) << (8 * i);
    return v;
  }
  std::int64_t i64() {
    if (!take(8)) return 0;
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= static_cast<std::uint64_t>(static_cast<unsigned char>(p_[pos_ - 8 + static_cast<std::size_t>(i)])) << (8 * i);
    return static_cast<std::int64_t>(v);
  }
  std::string bytes() {
    const auto n = u32();
    if (bad_ || !take(n)) return {};
    return std::string(p_.substr(pos_ - n, n));
  }
  etcd::KeyspaceDigest digest() {
    etcd::KeyspaceDigest d;
    for (auto& l : d.lanes) l = static_cast<std::uint64_t>(i64());
    d.keys = i64();
    return d;
  }
  etcd::PairHash hash() {
    etcd::PairHash h{};
    if (take(h.size())) std::memcpy(h.data(), p_.data() + pos_ - h.size(), h.size());
    return h;
  }

 private:
  bool take(std::size_t n) {
    if (bad_ || p_.size() - pos_ < n) {
      bad_ = true;
      return false;
    }
    pos_ += n;
    return true;
  }
  std::string_view p_;
  std::size_t pos_ = 0;
  bool bad_ = false;
};

constexpr std::uint8_t flag_delete = 1, flag_last = 2, flag_previous = 4;

std::string payload_of(const Record& record) {
  std::string p;
  if (const auto* s = std::get_if<SegmentStart>(&record)) {
    put_u8(p, static_cast<std::uint8_t>(RecordType::segment_start));
    put_u32(p, s->epoch);
    put_i64(p, s->first_revision);
    put_i64(p, s->time_ms);
    put_bytes(p, s->cluster_id);
    put_digest(p, s->before);
  } else if (const auto* e = std::get_if<Event>(&record)) {
    p.reserve(64 + e->key.size() + e->value.size());
    put_u8(p, static_cast<std::uint8_t>(RecordType::event));
    put_i64(p, e->revision);
    put_i64(p, e->time_ms);
    std::uint8_t flags = 0;
    if (e->kind == EventKind::del) flags |= flag_delete;
    if (e->last_in_revision) flags |= flag_last;
    if (e->previous) flags |= flag_previous;
    put_u8(p, flags);
    put_i64(p, e->create_revision);
    put_i64(p, e->mod_revision);
    put_i64(p, e->version);
    put_i64(p, e->lease);
    put_bytes(p, e->key);
    put_bytes(p, e->value);
    if (e->previous) p.append(reinterpret_cast<const char*>(e->previous->data()), e->previous->size());
  } else if (const auto* c = std::get_if<Checkpoint>(&record)) {
    put_u8(p, static_cast<std::uint8_t>(RecordType::checkpoint));
    put_i64(p, c->revision);
    put_i64(p, c->time_ms);
    put_digest(p, c->digest);
  } else {
    const auto& seal = std::get<Seal>(record);
    put_u8(p, static_cast<std::uint8_t>(RecordType::seal));
    put_bytes(p, seal.key_id);
    p.append(reinterpret_cast<const char*>(seal.mac.data()), seal.mac.size());
  }
  return p;
}

std::optional<Record> parse_payload(std::string_view payload, std::string& problem) {
  Reader r(payload);
  const auto type = r.u8();
  Record out;
  switch (type) {
    case static_cast<std::uint8_t>(RecordType::segment_start): {
      SegmentStart s;
      s.epoch = r.u32();
      s.first_revision = r.i64();
      s.time_ms = r.i64();
      s.cluster_id = r.bytes();
      s.before = r.digest();
      out = s;
      break;
    }
    case static_cast<std::uint8_t>(RecordType::event): {
      Event e;
      e.revision = r.i64();
      e.time_ms = r.i64();
      const auto flags = r.u8();
      e.kind = (flags & flag_delete) != 0 ? EventKind::del : EventKind::put;
      e.last_in_revision = (flags & flag_last) != 0;
      e.create_revision = r.i64();
      e.mod_revision = r.i64();
      e.version = r.i64();
      e.lease = r.i64();
      e.key = r.bytes();
      e.value = r.bytes();
      if ((flags & flag_previous) != 0) e.previous = r.hash();
      if ((flags & ~(flag_delete | flag_last | flag_previous)) != 0) {
        problem = fmt::format("unknown event flags {:#x}", flags);
        return std::nullopt;
      }
      out = std::move(e);
      break;
    }
    case static_cast<std::uint8_t>(RecordType::checkpoint): {
      Checkpoint c;
      c.revision = r.i64();
      c.time_ms = r.i64();
      c.digest = r.digest();
      out = c;
      break;
    }
    case static_cast<std::uint8_t>(RecordType::seal): {
      Seal seal;
      seal.key_id = r.bytes();
      seal.mac = r.hash();
      out = std::move(seal);
      break;
    }
    default:
      problem = fmt::format("unknown record type {}", type);
      return std::nullopt;
  }
  if (r.bad() || !r.at_end()) {
    problem = fmt::format("record of type {} has {} bytes, which do not match its fields", type, payload.size());
    return std::nullopt;
  }
  return out;
}

}  // namespace

void encode_into(const Record& record, std::string& out) {
  const auto payload = payload_of(record);
  put_u32(out, static_cast<std::uint32_t>(payload.size()));
  put_u32(out, crc_of(payload));
  out += payload;
}

std::string encode(const Record& record) {
  std::string out;
  encode_into(record, out);
  return out;
}

Decoded decode(std::string_view buffer) {
  Decoded d;
  if (buffer.size() < record_header_size) {
    d.status = DecodeStatus::truncated;
    d.problem = fmt::format("{} bytes, shorter than a record header", buffer.size());
    return d;
  }
  Reader header(buffer.substr(0, record_header_size));
  const auto length = header.u32();
  const auto crc = header.u32();
  if (length == 0 || length > max_payload) {
    d.status = DecodeStatus::bad_payload;
    d.problem = fmt::format("record length {} is out of range", length);
    return d;
  }
  if (buffer.size() - record_header_size < length) {
    d.status = DecodeStatus::truncated;
    d.problem = fmt::format("the record needs {} bytes, {} are there", length + record_header_size, buffer.size());
    return d;
  }
  const auto payload = buffer.substr(record_header_size, length);
  if (crc_of(payload) != crc) {
    d.status = DecodeStatus::bad_checksum;
    d.problem = fmt::format("checksum {:08x} does not match the record's {:08x}", crc_of(payload), crc);
    return d;
  }
  auto record = parse_payload(payload, d.problem);
  if (!record) {
    d.status = DecodeStatus::bad_payload;
    return d;
  }
  d.record = std::move(*record);
  d.size = record_header_size + length;
  return d;
}

bool apply_to_digest(const Event& event, etcd::KeyspaceDigest& digest) {
  if (event.kind == EventKind::del) {
    if (!event.previous) return false;
    digest.remove(*event.previous);
    return true;
  }
  if (event.previous) digest.remove(*event.previous);
  else if (event.version != 1) return false;  // an existing key changed, and what it held is unknown
  digest.add(etcd::pair_hash(event.key, event.value));
  return true;
}

}  // namespace kdr::journal
