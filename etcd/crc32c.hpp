// CRC-32C (Castagnoli), the checksum etcd puts in its WAL records and in its Hash and HashKV
// answers. On x86-64 with SSE 4.2 the processor's crc32 instruction computes it (about 20 times
// as fast as a table: a 1 GiB database hashes in a fraction of a second); elsewhere a table does.
#pragma once

#include <cstdint>
#include <string_view>

namespace kdr::etcd {

// The CRC of `data`, continuing from `crc` as Go's crc32.Update does (0 to start).
std::uint32_t crc32c(std::uint32_t crc, std::string_view data);

// The same, always by the table (tests compare the two paths).
std::uint32_t crc32c_table(std::uint32_t crc, std::string_view data);

}  // namespace kdr::etcd
