// Encoders and the segment reader of the formats specified in queue_format.h.
// No I/O and no logging here: the reader works on bytes in memory, so that
// recovery, replay and the fuzz target all run the same code.
#include "mirror/queue_format.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "mirror/coding.h"

namespace mirror::queue_format {
namespace {

using coding::put;
using coding::Reader;

template <size_t N>
std::array<std::byte, N> to_array(const std::vector<std::byte>& v) {
  std::array<std::byte, N> a{};
  std::memcpy(a.data(), v.data(), N);
  return a;
}

uint64_t record_checksum(std::span<const std::byte> header24, std::span<const std::byte> head,
                         std::span<const std::byte> data) {
  XXH3_state_t state;
  XXH3_64bits_reset(&state);
  XXH3_64bits_update(&state, header24.data(), header24.size());
  if (!head.empty()) XXH3_64bits_update(&state, head.data(), head.size());
  if (!data.empty()) XXH3_64bits_update(&state, data.data(), data.size());
  return XXH3_64bits_digest(&state);
}

bool all_zero(std::span<const std::byte> s) {
  return std::all_of(s.begin(), s.end(), [](std::byte b) { return b == std::byte{0}; });
}

// One record header as read; `sound_bytes` says whether the bytes after it
// hold its whole payload and the checksum agrees.
struct RecordHeader {
  uint32_t magic = 0;
  uint32_t length = 0;
  uint64_t sequence = 0;
  uint64_t time_ms = 0;
  uint64_t checksum = 0;
};

RecordHeader read_record_header(std::span<const std::byte> raw) {
  Reader in(raw.first(kRecordHeaderSize));
  RecordHeader h;
  h.magic = in.get<uint32_t>();
  h.length = in.get<uint32_t>();
  h.sequence = in.get<uint64_t>();
  h.time_ms = in.get<uint64_t>();
  h.checksum = in.get<uint64_t>();
  return h;
}

// Whether a sound record starts at `pos`; sets `end` past it when so. Charges
// the bytes it hashes to `budget`, and sets `starved` when that ran out.
bool sound_record_at(std::span<const std::byte> file, size_t pos, size_t& end, uint64_t& budget,
                     bool& starved) {
  if (file.size() - pos < kRecordHeaderSize) return false;
  const RecordHeader h = read_record_header(file.subspan(pos));
  if (h.magic != kRecordMagic || h.length > kMaxRecordPayload) return false;
  if (file.size() - pos - kRecordHeaderSize < h.length) return false;
  const uint64_t cost = kRecordHeaderSize + h.length;
  if (budget < cost) {
    starved = true;
    return false;
  }
  budget -= cost;
  auto payload = file.subspan(pos + kRecordHeaderSize, h.length);
  if (record_checksum(file.subspan(pos, 24), payload, {}) != h.checksum) return false;
  end = pos + kRecordHeaderSize + h.length;
  return true;
}

// How many sound records lie in file[from..): what a fault before them costs.
// Work is bounded (a hostile file of magics with long lengths would otherwise
// cost quadratic time); `exhaustive` is false when the count is a lower bound.
uint64_t count_sound_records(std::span<const std::byte> file, size_t from, bool& exhaustive) {
  uint64_t budget = 2 * static_cast<uint64_t>(file.size()) + (64u << 10);
  uint64_t n = 0;
  bool starved = false;
  const auto first = static_cast<std::byte>(kRecordMagic & 0xff);
  for (size_t pos = from; pos + kRecordHeaderSize <= file.size() && !starved;) {
    size_t end = 0;
    if (file[pos] == first && sound_record_at(file, pos, end, budget, starved)) {
      ++n;
      pos = end;
    } else {
      ++pos;
    }
  }
  exhaustive = !starved;
  return n;
}

std::string at(size_t pos) {
  return " at offset " + std::to_string(pos);
}

std::optional<std::string> check_segment_header(std::span<const std::byte> file, uint64_t& number) {
  if (file.empty()) return "empty segment file (no header)";
  if (file.size() < kSegmentHeaderSize) {
    return "segment header torn: " + std::to_string(file.size()) + " of " +
           std::to_string(kSegmentHeaderSize) + " bytes";
  }
  Reader in(file.first(kSegmentHeaderSize));
  const uint32_t magic = in.get<uint32_t>();
  const uint8_t version = in.get<uint8_t>();
  const uint8_t r0 = in.get<uint8_t>();
  const uint16_t r1 = in.get<uint16_t>();
  number = in.get<uint64_t>();
  const uint64_t checksum = in.get<uint64_t>();
  if (magic != kSegmentMagic) {
    return all_zero(file.first(kSegmentHeaderSize)) ? "segment header is all zeros"
                                                    : "not a queue segment (bad magic)";
  }
  if (XXH3_64bits(file.data(), 16) != checksum) return "segment header checksum mismatch";
  if (version != kVersion) return "unknown segment version " + std::to_string(version);
  if (r0 != 0 || r1 != 0) return "reserved bytes of the segment header are not zero";
  return std::nullopt;
}

}  // namespace

std::array<std::byte, kSegmentHeaderSize> encode_segment_header(uint64_t number) {
  std::vector<std::byte> out;
  out.reserve(kSegmentHeaderSize);
  put<uint32_t>(out, kSegmentMagic);
  put<uint8_t>(out, kVersion);
  put<uint8_t>(out, 0);
  put<uint16_t>(out, 0);
  put<uint64_t>(out, number);
  put<uint64_t>(out, XXH3_64bits(out.data(), out.size()));
  return to_array<kSegmentHeaderSize>(out);
}

std::array<std::byte, kRecordHeaderSize> encode_record_header(uint64_t sequence,
                                                              uint64_t append_time_ms,
                                                              std::span<const std::byte> head,
                                                              std::span<const std::byte> data) {
  std::vector<std::byte> out;
  out.reserve(kRecordHeaderSize);
  put<uint32_t>(out, kRecordMagic);
  put<uint32_t>(out, static_cast<uint32_t>(head.size() + data.size()));
  put<uint64_t>(out, sequence);
  put<uint64_t>(out, append_time_ms);
  put<uint64_t>(out, record_checksum(out, head, data));
  return to_array<kRecordHeaderSize>(out);
}

std::array<std::byte, kStateSize> encode_state(const State& s) {
  std::vector<std::byte> out;
  out.reserve(kStateSize);
  put<uint32_t>(out, kStateMagic);
  put<uint8_t>(out, kVersion);
  put<uint8_t>(out, 0);
  put<uint16_t>(out, 0);
  put<uint64_t>(out, s.session);
  put<uint64_t>(out, s.acknowledged);
  put<uint64_t>(out, XXH3_64bits(out.data(), out.size()));
  return to_array<kStateSize>(out);
}

std::optional<std::string> decode_state(std::span<const std::byte> raw, State& out) {
  if (raw.size() != kStateSize) {
    return "state file has " + std::to_string(raw.size()) + " bytes, not " +
           std::to_string(kStateSize);
  }
  Reader in(raw);
  const uint32_t magic = in.get<uint32_t>();
  const uint8_t version = in.get<uint8_t>();
  const uint8_t r0 = in.get<uint8_t>();
  const uint16_t r1 = in.get<uint16_t>();
  State s;
  s.session = in.get<uint64_t>();
  s.acknowledged = in.get<uint64_t>();
  const uint64_t checksum = in.get<uint64_t>();
  if (magic != kStateMagic) return "not a queue state file (bad magic)";
  if (XXH3_64bits(raw.data(), 24) != checksum) return "state file checksum mismatch";
  if (version != kVersion) return "unknown state file version " + std::to_string(version);
  if (r0 != 0 || r1 != 0) return "reserved bytes of the state file are not zero";
  out = s;
  return std::nullopt;
}

SegmentScan parse_segment(std::span<const std::byte> file, uint64_t after_sequence,
                          const std::function<bool(const SegmentRecord&)>& visit) {
  SegmentScan scan;
  // Where the rest of the file is dropped: `begun` says whether a damaged
  // record started at `pos` (and where it claims to end, when plausible).
  auto cut = [&](size_t pos, std::string why, bool begun, size_t resume_from) {
    bool exhaustive = true;
    const uint64_t after = count_sound_records(file, resume_from, exhaustive);
    scan.good_bytes = pos;
    scan.dropped_bytes = file.size() - pos;
    scan.dropped_records = (begun ? 1 : 0) + after;
    if (after > 0) {
      why += "; " + std::string(exhaustive ? "" : "at least ") + std::to_string(after) +
             " sound record(s) after it dropped with it";
    }
    scan.fault = std::move(why);
    return scan;
  };

  if (auto fault = check_segment_header(file, scan.number)) {
    scan.number = 0;
    return cut(0, *fault, false, 0);
  }
  scan.header_ok = true;
  uint64_t last = after_sequence;
  size_t pos = kSegmentHeaderSize;
  while (pos < file.size()) {
    auto rest = file.subspan(pos);
    if (all_zero(rest)) {
      return cut(pos, "zero-filled tail of " + std::to_string(rest.size()) + " bytes" + at(pos),
                 false, file.size());
    }
    if (rest.size() < kRecordHeaderSize) {
      return cut(pos,
                 "torn record header" + at(pos) + ": " + std::to_string(rest.size()) + " of " +
                     std::to_string(kRecordHeaderSize) + " bytes",
                 true, file.size());
    }
    const RecordHeader h = read_record_header(rest);
    if (h.magic != kRecordMagic) return cut(pos, "bad record magic" + at(pos), false, pos + 1);
    if (h.length > kMaxRecordPayload) {
      return cut(pos,
                 "record" + at(pos) + " claims " + std::to_string(h.length) +
                     " payload bytes, beyond the limit of " + std::to_string(kMaxRecordPayload),
                 true, pos + 1);
    }
    const size_t present = rest.size() - kRecordHeaderSize;
    if (present < h.length) {
      return cut(pos,
                 "torn record" + at(pos) + ": " + std::to_string(h.length) +
                     " payload bytes announced, " + std::to_string(present) + " present",
                 true, pos + 1);
    }
    const size_t end = pos + kRecordHeaderSize + h.length;
    auto payload = rest.subspan(kRecordHeaderSize, h.length);
    if (record_checksum(rest.first(24), payload, {}) != h.checksum) {
      return cut(pos, "checksum mismatch in record" + at(pos), true, end);
    }
    if (h.sequence <= last) {
      return cut(pos,
                 "record" + at(pos) + " has sequence " + std::to_string(h.sequence) +
                     ", not above " + std::to_string(last),
                 true, end);
    }
    ++scan.records;
    scan.last_sequence = last = h.sequence;
    const bool more = visit(SegmentRecord{h.sequence, h.time_ms, pos, payload});
    pos = end;
    if (!more) {
      scan.good_bytes = pos;
      return scan;
    }
  }
  scan.good_bytes = file.size();
  return scan;
}

}  // namespace mirror::queue_format
