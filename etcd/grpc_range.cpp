#include "etcd/grpc_range.hpp"

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/protobuf_wire.hpp"

namespace kdr::etcd {

namespace {

void number_field(std::string& out, unsigned field, std::int64_t v) {
  if (v != 0) core::put_number(out, field, static_cast<std::uint64_t>(v));  // proto3 leaves out zeros
}

}  // namespace

std::string grpc_range_request(const RangeAsk& ask) {
  std::string m;
  core::put_bytes(m, 1, ask.key);
  if (!ask.range_end.empty()) core::put_bytes(m, 2, ask.range_end);
  number_field(m, 3, ask.limit);
  number_field(m, 4, ask.revision);
  number_field(m, 7, ask.serializable ? 1 : 0);
  number_field(m, 8, ask.keys_only ? 1 : 0);
  number_field(m, 10, ask.min_mod_revision);
  const auto n = static_cast<std::uint32_t>(m.size());
  std::string framed{'\0', static_cast<char>(n >> 24), static_cast<char>(n >> 16), static_cast<char>(n >> 8),
                     static_cast<char>(n)};
  return framed + m;
}

GrpcRangeAnswer read_grpc_range_answer(std::string_view framed, std::string_view origin) {
  if (framed.size() < 5) throw core::Error(fmt::format("{}: not a gRPC answer: {} bytes", origin, framed.size()));
  if (framed[0] != '\0') throw core::Error(fmt::format("{}: a compressed gRPC answer, which was not asked for", origin));
  std::uint32_t n = 0;
  for (std::size_t i = 1; i < 5; ++i) n = n << 8 | static_cast<unsigned char>(framed[i]);
  if (framed.size() - 5 != n)
    throw core::Error(fmt::format("{}: a gRPC answer of {} bytes says it holds {}", origin, framed.size() - 5, n));
  GrpcRangeAnswer out;
  bool header_ok = true;
  const bool ok = core::for_each_field(framed.substr(5), [&](std::uint64_t field, unsigned wire, std::uint64_t v,
                                                             std::string_view bytes) {
    if (field == 1 && wire == 2) {
      header_ok = core::for_each_field(bytes, [&](std::uint64_t f, unsigned w, std::uint64_t hv, std::string_view) {
        if (f == 3 && w == 0) out.revision = static_cast<std::int64_t>(hv);
        return true;
      });
    } else if (field == 2 && wire == 2) {
      out.kvs.push_back(bytes);
    } else if (field == 3 && wire == 0) {
      out.more = v != 0;
    } else if (field == 4 && wire == 0) {
      out.count = static_cast<std::int64_t>(v);
    }
    return true;
  });
  if (!ok || !header_ok) throw core::Error(fmt::format("{}: not a range answer: its message does not parse", origin));
  return out;
}

}  // namespace kdr::etcd
