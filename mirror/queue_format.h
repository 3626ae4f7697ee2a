// The durable queue's files (see mirror/queue.h): the one place their bytes
// are specified. All integers are little-endian.
//
// A queue directory holds segment files named by their number, zero-padded to
// twelve digits ("000000000001.log"), a "state" file and a "LOCK" file.
//
// Segment file := segment header, record*
//
//   segment header (24 bytes)
//    0       4     5          8                 16               24
//    +-------+-----+----------+-----------------+----------------+
//    | magic | ver | reserved | segment number  | checksum       |
//    | MQSG  |  1  | 0 0 0    | u64             | u64            |
//    +-------+-----+----------+-----------------+----------------+
//    checksum: XXH3-64 of bytes 0..15. The number equals the file name's.
//
//   record (32-byte header, then `length` payload bytes)
//    0       4        8             16                24           32
//    +-------+--------+-------------+-----------------+------------+----------------+
//    | magic | length | sequence    | append time ms  | checksum   | payload        |
//    | MQRC  | u32    | u64         | u64 (Unix time) | u64        | length bytes   |
//    +-------+--------+-------------+-----------------+------------+----------------+
//    checksum: XXH3-64 (seed 0) of header bytes 0..23 followed by the payload.
//    length <= kMaxRecordPayload; sequences strictly increase along the queue.
//
// Example: segment 1 holding one record, sequence 7, payload "hi":
//   4d 51 53 47 01 00 00 00  01 00 00 00 00 00 00 00  <checksum of the 16 bytes before>
//   4d 51 52 43 02 00 00 00  07 00 00 00 00 00 00 00  <time ms>  <checksum>  68 69
//
// Records are appended whole and never rewritten, so a crash leaves at most
// one torn record, at the end of the newest segment. A reader believes a
// segment's records up to the first one that is torn, corrupt (checksum),
// malformed (magic, length bound) or out of order, and drops the rest of that
// segment: after a fault, a record's place in the order cannot be trusted.
// Both magics have no zero byte, so a zero-filled (preallocated) tail is
// never taken for a record.
//
// State file (32 bytes), replaced atomically (written to "state.tmp",
// synced, renamed):
//    0 magic "MQST" u32 | 4 version u8 | 5 reserved [3] | 8 session u64 |
//    16 acknowledged sequence u64 | 24 checksum u64 (XXH3-64 of bytes 0..23)
//
// Version rule: a reader refuses a segment or state file whose version it
// does not know; reserved bytes must be zero in version 1.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>

namespace mirror::queue_format {

inline constexpr uint32_t kSegmentMagic = 0x4753514D;  // "MQSG" on disk
inline constexpr uint32_t kRecordMagic = 0x4352514D;   // "MQRC" on disk
inline constexpr uint32_t kStateMagic = 0x5453514D;    // "MQST" on disk
inline constexpr uint8_t kVersion = 1;
inline constexpr size_t kSegmentHeaderSize = 24;
inline constexpr size_t kRecordHeaderSize = 32;
inline constexpr size_t kStateSize = 32;
inline constexpr uint32_t kMaxRecordPayload = 64u << 20;

std::array<std::byte, kSegmentHeaderSize> encode_segment_header(uint64_t number);

// The header of a record whose payload is `head` followed by `data`.
std::array<std::byte, kRecordHeaderSize> encode_record_header(uint64_t sequence,
                                                              uint64_t append_time_ms,
                                                              std::span<const std::byte> head,
                                                              std::span<const std::byte> data);

struct State {
  uint64_t session = 0;
  uint64_t acknowledged = 0;
};
std::array<std::byte, kStateSize> encode_state(const State& s);
// The fault in a sentence, or nothing when `raw` is a sound state file.
std::optional<std::string> decode_state(std::span<const std::byte> raw, State& out);

// A sound record as found in a segment; `payload` points into the segment.
struct SegmentRecord {
  uint64_t sequence = 0;
  uint64_t append_time_ms = 0;
  uint64_t offset = 0;  // of the record header within the segment file
  std::span<const std::byte> payload;
};

// What a reader made of one segment file.
struct SegmentScan {
  bool header_ok = false;            // false: nothing in the file is believed
  uint64_t number = 0;               // from a sound header
  uint64_t good_bytes = 0;           // header plus whole sound records: where to cut
  uint64_t records = 0;              // sound records, each given to the visitor
  uint64_t last_sequence = 0;        // of the last sound record (0: none)
  uint64_t dropped_bytes = 0;        // file size - good_bytes
  uint64_t dropped_records = 0;      // the damaged record, if one was begun, plus the
                                     // sound records recognised after it
  std::optional<std::string> fault;  // why the bytes after good_bytes are dropped
};

// Reads a whole segment file from memory, giving each sound record, in order,
// to `visit`, and stopping early (good_bytes just past that record) when it
// returns false. Records must have sequences above `after_sequence` and
// rising. Never reads outside `file`, never throws, whatever the bytes hold.
SegmentScan parse_segment(std::span<const std::byte> file, uint64_t after_sequence,
                          const std::function<bool(const SegmentRecord&)>& visit);

}  // namespace mirror::queue_format
